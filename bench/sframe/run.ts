/**
 * SFrame throughput in Node: `node bench/sframe/run.ts` (env RUNS, default 7). The paths and the
 * table are in paths.ts; browser.ts measures the same in Chromium, where the E2EE worker runs
 * (npm run bench:sfu prints both). Node's WebCrypto is not the browser's: its figures are for
 * reference and for quick checks of the SFrame code without a browser.
 */
import { sframeTable } from './paths.ts';

console.log(`node ${process.version}`);
await sframeTable(Number(process.env.RUNS ?? 7), (line) => console.log(line));
