/**
 * Entry point of the E2EE worker (bundled as e2ee.worker.js by web-client/build.ts, which builds
 * every *.worker.ts). Started by the page with `new Worker('/e2ee.worker.js', { type: 'module' })`.
 *
 * Importing this file only registers the message and rtctransform handlers on the worker's
 * global scope; everything else waits for the page's `init` (see worker-protocol.ts).
 */
import { installE2eeWorker, type TimersLike, type WorkerScopeLike } from './worker-host.ts';

installE2eeWorker(globalThis as unknown as WorkerScopeLike, globalThis as unknown as TimersLike);
