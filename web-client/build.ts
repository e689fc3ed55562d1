/**
 * Builds the browser softphone into web-client/dist/: the TypeScript sources bundled by esbuild
 * (no CDN at run time: sip.js, libsodium and the rest are in the bundle) and the static files of
 * web-client/public/ copied next to them. The server serves dist/ (server/src/http/web-client.ts).
 *
 *   node web-client/build.ts            build once (npm run build:web)
 *   node web-client/build.ts --watch    rebuild on change
 *
 * Entry points: src/main.ts (the page) and every src/**\/*.worker.ts (module workers, e.g. the E2EE
 * frame transformer, which the page starts with `new Worker('/<name>.worker.js', { type: 'module' })`).
 */
import { cpSync, existsSync, mkdirSync, readdirSync, rmSync, statSync } from 'node:fs';
import { basename, join, relative } from 'node:path';
import * as esbuild from 'esbuild';

const HERE = import.meta.dirname;
const SRC = join(HERE, 'src');
const PUBLIC = join(HERE, 'public');
const OUT = join(HERE, 'dist');

function workerEntries(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...workerEntries(p));
    else if (name.endsWith('.worker.ts')) out.push(p);
  }
  return out;
}

/** The esbuild options, shared by the one-shot and the watch build. */
export function buildOptions(): esbuild.BuildOptions {
  const workers = workerEntries(SRC);
  return {
    entryPoints: [
      { in: join(SRC, 'main.ts'), out: 'app' },
      // The group call page (group.html).
      { in: join(SRC, 'group', 'main.ts'), out: 'group' },
      // Workers are flat in dist/ under their own file name, whatever folder they live in.
      ...workers.map((w) => ({ in: w, out: basename(w, '.ts') })),
    ],
    outdir: OUT,
    bundle: true,
    // ESM with code splitting: libsodium (large) is loaded by a dynamic import only when the
    // encrypted history is opened, not on first paint.
    format: 'esm',
    splitting: true,
    chunkNames: 'chunks/[name]-[hash]',
    platform: 'browser',
    // What the media code needs anyway (RTCRtpScriptTransform, top-level await in workers).
    target: ['chrome120', 'firefox120', 'safari17'],
    minify: true,
    sourcemap: 'linked',
    legalComments: 'linked',
    logLevel: 'warning',
    define: { 'process.env.NODE_ENV': '"production"' },
  };
}

function copyPublic(): void {
  mkdirSync(OUT, { recursive: true });
  if (existsSync(PUBLIC)) cpSync(PUBLIC, OUT, { recursive: true });
}

async function main(): Promise<void> {
  const watch = process.argv.includes('--watch');
  rmSync(OUT, { recursive: true, force: true });
  copyPublic();
  if (watch) {
    const ctx = await esbuild.context(buildOptions());
    await ctx.watch();
    process.stderr.write(`web-client: watching ${relative(process.cwd(), SRC)} (public/ is copied at start only)\n`);
    return;
  }
  const result = await esbuild.build({ ...buildOptions(), metafile: true });
  const bytes = Object.values(result.metafile?.outputs ?? {}).reduce((n, o) => n + o.bytes, 0);
  process.stderr.write(`web-client: built ${relative(process.cwd(), OUT)}/ (${Math.round(bytes / 1024)} KiB)\n`);
}

if (import.meta.main) await main();
