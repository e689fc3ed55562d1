/**
 * The cluster primary: one worker process per core, like Kamailio's SIP worker processes. Node's
 * cluster module shares the UDP socket among the workers (every worker reads the same socket,
 * so the kernel spreads datagrams even from a single source) and hands out TCP connections
 * round-robin. The primary relays state changes (bindings, bans) between workers, keeps a copy
 * so that a worker that is replaced starts with the current location service, and replaces a
 * worker that dies.
 *
 * Group calls live in worker ROOMS_HOST (server/src/http/rooms-forward.ts): the primary makes the
 * private directory (mode 0700) for the socket the other workers reach it on, and relays the names
 * of its live rooms, so that every worker's proxy can answer sip:ROOM@DOMAIN. When the rooms host
 * dies its rooms are gone: the others forget them at once, and its replacement starts empty.
 */
import cluster, { type Worker } from 'node:cluster';
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Logger } from '../logger.ts';
import { LocationStore } from '../registrar/location-store.ts';
import { decodeBindingChanges, encodeBindingChanges } from './binding-codec.ts';
import { isWorkerMessage, ROOMS_HOST, type PrimaryToWorker, type WorkerToPrimary } from './messages.ts';

/** Passed from the primary to its workers; the SOTTO_INTERNAL_ prefix keeps them out of the config. */
export const WORKER_ENV = {
  index: 'SOTTO_INTERNAL_WORKER_INDEX',
  count: 'SOTTO_INTERNAL_WORKER_COUNT',
  secret: 'SOTTO_INTERNAL_CLUSTER_SECRET',
  /** Path of the rooms host's private Unix socket. */
  roomsSocket: 'SOTTO_INTERNAL_ROOMS_SOCKET',
} as const;

export interface PrimaryHandle {
  stop(): Promise<void>;
}

/** `onReady` runs once, when every worker first reports its listeners up. */
export function runPrimary(workers: number, logger: Logger, onReady: (listening: string) => void = () => {}): PrimaryHandle {
  const log = logger.child({ part: 'cluster' });
  // Shared by every worker so that any of them accepts a nonce or a flow token another issued.
  const secret = randomBytes(32).toString('hex');
  const ports: number[] = new Array<number>(workers).fill(0);
  const byIndex = new Map<number, Worker>();
  const location = new LocationStore();
  /** Live rooms of the rooms host. */
  const rooms = new Set<string>();
  // mkdtemp makes the directory 0700 already; chmod says so where it matters.
  const socketDir = mkdtempSync(join(tmpdir(), 'sotto-'));
  chmodSync(socketDir, 0o700);
  const roomsSocket = join(socketDir, 'rooms.sock');
  let stopping = false;
  const ready = new Set<number>();

  const send = (w: Worker | undefined, m: PrimaryToWorker) => {
    if (w && w.isConnected()) w.send(m);
  };
  const others = (index: number, m: PrimaryToWorker) => {
    for (const [i, w] of byIndex) if (i !== index) send(w, m);
  };

  const fork = (index: number) => {
    const w = cluster.fork({ [WORKER_ENV.index]: String(index), [WORKER_ENV.count]: String(workers), [WORKER_ENV.secret]: secret, [WORKER_ENV.roomsSocket]: roomsSocket });
    byIndex.set(index, w);
    w.on('message', (m: unknown) => {
      if (!isWorkerMessage(m)) return;
      onMessage(index, w, m);
    });
    w.on('exit', (code, signal) => {
      if (byIndex.get(index) === w) byIndex.delete(index);
      ports[index] = 0;
      if (stopping) return;
      if (index === ROOMS_HOST && rooms.size) {
        rooms.clear();
        others(index, { type: 'rooms', names: [] });
      }
      log.error({ worker: index, code, signal }, 'worker died; starting a new one');
      setTimeout(() => fork(index), 200).unref();
    });
  };

  const onMessage = (index: number, w: Worker, m: WorkerToPrimary) => {
    switch (m.type) {
      case 'link': {
        ports[index] = m.port;
        // A new worker learns the current location service before it takes traffic.
        location.sweep();
        const all = [...location.entries()].map((b) => ({ aor: b.aor, key: b.key, binding: b }));
        // In slices, so one IPC message stays small even with many registrations.
        for (let i = 0; i < all.length; i += 1000) send(w, { type: 'bindings', data: encodeBindingChanges(all.slice(i, i + 1000)) });
        if (index !== ROOMS_HOST) send(w, { type: 'rooms', names: [...rooms] });
        for (const x of byIndex.values()) send(x, { type: 'peers', ports: [...ports] });
        return;
      }
      case 'bindings': {
        let changes;
        try {
          changes = decodeBindingChanges(m.data);
        } catch (err) {
          log.error({ worker: index, err }, 'malformed binding changes from a worker; not relayed');
          return;
        }
        // Relayed as it came: the string is not encoded again for each worker.
        others(index, m);
        for (const c of changes) location.apply(c);
        return;
      }
      case 'ban':
        others(index, m);
        return;
      case 'room':
        // Only the rooms host has rooms; anything else is ignored.
        if (index !== ROOMS_HOST || typeof m.name !== 'string') return;
        if (m.live) rooms.add(m.name);
        else rooms.delete(m.name);
        others(index, { type: 'room', name: m.name, live: m.live === true });
        return;
      case 'ready':
        if (ready.size < workers) {
          ready.add(index);
          if (ready.size === workers) onReady(m.listening);
        }
        return;
    }
  };

  for (let i = 0; i < workers; i++) fork(i);
  log.info({ workers }, 'cluster started');

  return {
    async stop() {
      stopping = true;
      await Promise.all(
        [...byIndex.values()].map(
          (w) =>
            new Promise<void>((resolve) => {
              if (w.isDead()) return resolve();
              w.once('exit', () => resolve());
              w.process.kill('SIGTERM');
              setTimeout(() => w.process.kill('SIGKILL'), 4000).unref();
            }),
        ),
      );
      rmSync(socketDir, { recursive: true, force: true });
    },
  };
}
