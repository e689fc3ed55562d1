/**
 * `npm run bench:sfu`: the three figures of the group-call SFU, each the median of several runs,
 * with its ratio to the target.
 *
 *   consumers   consumers one mediasoup worker forwards at <= 80 % of a core (bench/sfu/consumers.ts)
 *               target >= 500
 *   join        click → first decoded remote frame in Chromium, Sotto (sign-in done, E2EE) next to
 *               a bare mediasoup join in the same run (bench/sfu/join.ts); target Sotto <= 1.3 x bare
 *   sframe      SFrame encrypt+decrypt throughput next to raw WebCrypto AES-GCM on the same frames,
 *               in Node (bench/sframe/run.ts, for reference) and in headless Chromium
 *               (bench/sframe/browser.ts); target >= 0.8 x raw, checked on Chromium's figures
 *
 * Environment: RUNS=3 (consumer ramps), JOIN_RUNS=5, SFRAME_RUNS=5, SKIP=<comma list>.
 * Output also goes to bench-out/sfu/<date-time>.txt.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { sframeInChromium } from '../sframe/browser.ts';
import { consumersBenchmark } from './consumers.ts';
import { joinBenchmark, median } from './join.ts';

const ROOT = join(import.meta.dirname, '../..');
const SKIP = new Set((process.env.SKIP ?? '').split(',').filter(Boolean));
const lines: string[] = [];
const log = (line: string): void => {
  lines.push(line);
  console.log(line);
};

interface Figure {
  name: string;
  value: string;
  target: string;
  ratio: number;
}
const figures: Figure[] = [];

log(`Sotto SFU benchmark: node ${process.version}, ${cpus().length} cores (${cpus()[0]?.model ?? '?'}), ${new Date().toISOString()}`);

if (!SKIP.has('sframe')) {
  // Node's WebCrypto first (reference), then Chromium's, where the E2EE worker really runs: the
  // target is checked on Chromium's figures.
  log('\n== SFrame encrypt+decrypt vs raw WebCrypto AES-GCM, in Node (bench/sframe/run.ts; reference)');
  const r = spawnSync(process.execPath, [join(ROOT, 'bench/sframe/run.ts')], { env: { ...process.env, RUNS: process.env.SFRAME_RUNS ?? '5' }, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`bench/sframe/run.ts failed: ${r.stderr}`);
  for (const l of r.stdout.trimEnd().split('\n')) log(`  ${l}`);
  log('\n== SFrame encrypt+decrypt vs raw WebCrypto AES-GCM, in headless Chromium (bench/sframe/browser.ts)');
  const lines = await sframeInChromium(Number(process.env.SFRAME_RUNS ?? '5'));
  for (const l of lines) log(`  ${l}`);
  // Per frame size, the "x raw" column of the SFrame GCM row (the default suite).
  let size = '';
  for (const l of lines) {
    const m = /^(\d+) B frames/.exec(l);
    if (m) size = m[1]!;
    const row = /^SFrame AES_128_GCM_SHA256_128\s+[\d.]+\s+\d+\s+([\d.]+)$/.exec(l.trim());
    if (row) figures.push({ name: `SFrame GCM in Chromium, ${size} B frames`, value: `${row[1]} x raw AES-GCM`, target: '>= 0.8 x raw', ratio: Number(row[1]) / 0.8 });
  }
}

if (!SKIP.has('consumers')) {
  log('\n== Consumers one worker forwards at <= 80 % of a core (bench/sfu/consumers.ts)');
  const runs = await consumersBenchmark(Number(process.env.RUNS ?? 3), log);
  const m = median(runs);
  log(`  median of ${runs.length}: ${Math.round(m)} consumers (runs: ${runs.join(', ')})`);
  figures.push({ name: 'consumers per worker at 80 % CPU', value: String(Math.round(m)), target: '>= 500', ratio: m / 500 });
}

if (!SKIP.has('join')) {
  log('\n== Join: click → first decoded remote frame in Chromium (bench/sfu/join.ts)');
  log('  (Sotto: signed in before the click; the E2EE worker and libsodium start when the lobby shows)');
  const r = await joinBenchmark(log);
  const s = median(r.sotto);
  const b = median(r.bare);
  log(`  median of ${r.sotto.length}: Sotto ${Math.round(s)} ms, bare mediasoup ${Math.round(b)} ms, Sotto/bare ${(s / b).toFixed(2)}`);
  figures.push({ name: 'join time, Sotto / bare mediasoup', value: `${Math.round(s)} ms / ${Math.round(b)} ms = ${(s / b).toFixed(2)}`, target: '<= 1.3', ratio: 1.3 / (s / b) });
}

log('\n== Summary (ratio to target: >= 1.00 meets it)');
for (const f of figures) log(`  ${f.name.padEnd(40)} ${f.value.padEnd(28)} target ${f.target.padEnd(14)} ${f.ratio.toFixed(2)}`);

const outDir = join(ROOT, 'bench-out/sfu');
mkdirSync(outDir, { recursive: true });
const file = join(outDir, `${new Date().toISOString().replace(/[:.]/g, '-')}.txt`);
writeFileSync(file, lines.join('\n') + '\n');
console.log(`\n(written to ${file})`);
process.exit(0);
