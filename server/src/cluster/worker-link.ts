/**
 * A worker's side of the cluster: which messages it owns, forwarding the rest to their owner
 * over the peer link, writing on connections other workers hold, and the IPC that keeps every
 * worker's copy of the location service and the ban list the same.
 */
import type { BindingChange } from '../registrar/location-store.ts';
import type { Peer } from '../sip/message.ts';
import type { Distributor } from '../sip/transport/transport-layer.ts';
import { decodeBindingChanges, encodeBindingChanges } from './binding-codec.ts';
import { isPrimaryMessage, type PrimaryToWorker, type WorkerToPrimary } from './messages.ts';
import { PeerLink, type Frame } from './peer-link.ts';
import { extractCallId, shardOf } from './shard.ts';

export interface WorkerLinkHandlers {
  /** Process a message another worker received for us. */
  inbound(payload: Buffer, source: Peer): void;
  /** Write on a connection we hold, for another worker. */
  send(payload: Buffer, dest: Peer): void;
  /** Changes another worker made to the location service. */
  bindings(changes: BindingChange[]): void;
  ban(address: string, until: number): void;
  /** A group-call room of the rooms host was created or closed. */
  room(name: string, live: boolean): void;
  /** The rooms host's live rooms, replacing what was known. */
  rooms(names: string[]): void;
}

const REGISTER = Buffer.from('REGISTER ', 'latin1');

/** How long a binding change may wait for others to share its IPC message. */
export const REPLICATION_DELAY_MS = 20;

/**
 * REGISTER is handled by whichever worker reads it: every worker holds the whole location
 * service and accepts the nonces any other issued, so nothing ties a registration to one worker.
 * A retransmission read by another worker is answered as a retransmission there (the registrar
 * changes nothing for a Call-ID and CSeq it already has), and a nonce-count may then be accepted
 * once per worker rather than once (RFC 7616 §3.4 asks only that the server may detect replays;
 * Kamailio does not track nonce-counts by default). Saves a hop for half of all registrations.
 */
export function isRegister(buf: Buffer): boolean {
  return buf.length > REGISTER.length && buf.compare(REGISTER, 0, REGISTER.length, 0, REGISTER.length) === 0;
}

/** Connection ids carry their worker: "w1.tcp-3". */
export function connectionOwner(id: string): number | undefined {
  const m = /^w(\d+)\./.exec(id);
  return m ? Number(m[1]) : undefined;
}

export class WorkerLink implements Distributor {
  readonly index: number;
  readonly count: number;
  readonly #link: PeerLink;
  #handlers: WorkerLinkHandlers | undefined;
  readonly #stats = { forwarded: 0, received: 0 };
  #pending: BindingChange[] = [];

  private constructor(index: number, count: number, link: PeerLink) {
    this.index = index;
    this.count = count;
    this.#link = link;
    link.onFrame((f: Frame) => {
      this.#stats.received++;
      if (f.kind === 'inbound') this.#handlers?.inbound(f.payload, f.peer);
      else this.#handlers?.send(f.payload, f.peer);
    });
    process.on('message', (m: unknown) => {
      if (!isPrimaryMessage(m)) return;
      this.#onControl(m);
    });
  }

  /** Join the cluster: open the peer link and tell the primary where it listens. */
  static async join(index: number, count: number): Promise<WorkerLink> {
    const link = await PeerLink.open();
    const w = new WorkerLink(index, count, link);
    w.#toPrimary({ type: 'link', port: link.port });
    return w;
  }

  get connectionPrefix(): string {
    return `w${this.index}.`;
  }

  get stats(): Readonly<Record<'forwarded' | 'received', number>> {
    return this.#stats;
  }

  attach(handlers: WorkerLinkHandlers): void {
    this.#handlers = handlers;
  }

  /** Distributor: hand a message to the worker that owns its Call-ID. */
  route(buf: Buffer, source: Peer): boolean {
    if (!this.#link.ready) return false;
    if (isRegister(buf)) return false;
    const callId = extractCallId(buf);
    if (callId === undefined) return false;
    const owner = shardOf(callId, this.count);
    if (owner === this.index) return false;
    if (!this.#link.send(owner, { kind: 'inbound', peer: source, payload: buf })) return false;
    this.#stats.forwarded++;
    return true;
  }

  /** Distributor: is this connection ours? */
  ownsConnection(id: string): boolean {
    const owner = connectionOwner(id);
    return owner === undefined || owner === this.index;
  }

  /** Distributor: write on a connection another worker holds. */
  sendRemote(data: Buffer, dest: Peer): boolean {
    const owner = dest.connectionId !== undefined ? connectionOwner(dest.connectionId) : undefined;
    if (owner === undefined) return false;
    return this.#link.send(owner, { kind: 'send', peer: dest, payload: data });
  }

  /**
   * Queue a change for the other workers. Changes travel in batches, at most REPLICATION_DELAY_MS
   * after they were made: one IPC message costs about as much as a REGISTER's own processing, so
   * under load a batch of many changes per message is what keeps replication cheap. The price: a
   * registration made in the last few milliseconds before its worker crashes is lost until the
   * UA refreshes it, as registrations are with Kamailio's in-memory usrloc when it restarts.
   */
  publishBinding(change: BindingChange): void {
    if (this.#pending.push(change) === 1) setTimeout(this.#flush, REPLICATION_DELAY_MS);
  }

  readonly #flush = (): void => {
    const changes = this.#pending;
    this.#pending = [];
    if (changes.length) this.#toPrimary({ type: 'bindings', data: encodeBindingChanges(changes) });
  };

  announceReady(listening: string): void {
    this.#toPrimary({ type: 'ready', listening });
  }

  publishBan(address: string, until: number): void {
    this.#toPrimary({ type: 'ban', address, until });
  }

  /** On the rooms host: tell the other workers that a room opened or closed. */
  publishRoom(name: string, live: boolean): void {
    this.#toPrimary({ type: 'room', name, live });
  }

  close(): void {
    this.#link.close();
  }

  #onControl(m: PrimaryToWorker): void {
    switch (m.type) {
      case 'peers':
        this.#link.setPeers(m.ports);
        return;
      case 'bindings':
        this.#handlers?.bindings(decodeBindingChanges(m.data));
        return;
      case 'ban':
        this.#handlers?.ban(m.address, m.until);
        return;
      case 'room':
        this.#handlers?.room(m.name, m.live);
        return;
      case 'rooms':
        this.#handlers?.rooms(m.names);
        return;
    }
  }

  #toPrimary(m: WorkerToPrimary): void {
    process.send?.(m);
  }
}
