/**
 * SFrame throughput in headless Chromium, where Sotto's E2EE worker runs: the paths of paths.ts
 * bundled with esbuild and served from 127.0.0.1 (a secure context, which WebCrypto needs) to a
 * page that runs them on its main thread with the browser's own WebCrypto.
 *
 * Runs the browser like the tests do (test/helpers/browser.ts: Debian's Chromium); call it from
 * inside a loopback-only network namespace (bench/sfu/run.sh does).
 */
import { createServer } from 'node:http';
import { join } from 'node:path';
import * as esbuild from 'esbuild';
import { launchBrowser } from '../../test/helpers/browser.ts';

export async function sframeInChromium(runs: number): Promise<string[]> {
  const bundle = await esbuild.build({
    entryPoints: [join(import.meta.dirname, 'browser-entry.ts')],
    bundle: true,
    format: 'esm',
    target: 'es2022',
    write: false,
  });
  const script = bundle.outputFiles[0]!.text;
  const page = `<!doctype html><meta charset="utf-8"><title>SFrame bench</title><script type="module">${script.replaceAll('</script', '<\\/script')}</script>`;
  const server = createServer((_req, res) => res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' }).end(page));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const addr = server.address();
  const port = typeof addr === 'object' && addr ? addr.port : 0;
  const browser = await launchBrowser();
  try {
    await browser.page.goto(`http://127.0.0.1:${port}/`);
    await browser.page.waitForFunction(() => 'sframeBench' in globalThis);
    const version = browser.context.browser()?.version() ?? '';
    const lines = await browser.page.evaluate((n) => (globalThis as unknown as { sframeBench: (runs: number) => Promise<string[]> }).sframeBench(n), runs);
    return [`Chromium ${version}`.trim(), ...lines];
  } finally {
    await browser.close();
    server.close();
  }
}

if (import.meta.main) {
  for (const line of await sframeInChromium(Number(process.env.RUNS ?? 7))) console.log(line);
}
