/**
 * Install-time smoke check for the mediasoup worker that scripts/mediasoup-worker.sh built or
 * copied from its cache: mediasoup starts it as a child process and creates a Router through it.
 * A binary that links but cannot start (a missing or changed Debian shared library, a worker
 * built from other sources than this mediasoup's JS) fails here, at install time, rather than
 * at the first group call. Exit code 0 and one line on success; 1 and the reason on failure.
 */
import * as mediasoup from 'mediasoup';

// Starting a worker takes well under a second; a hang means the channel between Node and the
// worker never came up, which should fail the install rather than block it.
const timer = setTimeout(() => fail(new Error('no answer from the worker within 20 s')), 20_000);
timer.unref();

function fail(err: unknown): never {
  const msg = err instanceof Error ? err.message : String(err);
  console.error(`check-worker: the mediasoup worker at ${mediasoup.workerBin} does not work: ${msg}`);
  process.exit(1);
}

try {
  const worker = await mediasoup.createWorker({ logLevel: 'warn' });
  const router = await worker.createRouter({
    mediaCodecs: [{ kind: 'audio', mimeType: 'audio/opus', clockRate: 48000, channels: 2 }],
  });
  const { ru_maxrss } = await worker.getResourceUsage();
  router.close();
  worker.close();
  console.log(`mediasoup-worker ${mediasoup.version} runs (pid ${worker.pid}, ${ru_maxrss} kB resident)`);
  clearTimeout(timer);
} catch (err) {
  fail(err);
}
