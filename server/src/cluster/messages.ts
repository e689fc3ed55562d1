/**
 * Control messages between the cluster primary and its workers (Node cluster IPC). The data
 * plane (SIP messages) goes over the peer link instead; these carry only state changes, which
 * are rare next to SIP traffic: registrations, bans, and the names of the live group-call rooms
 * (hosted by worker ROOMS_HOST, see server/src/http/rooms-forward.ts; every worker's proxy answers
 * their sip:ROOM@DOMAIN, server/src/proxy/room-uri.ts). Binding changes are batched (all those
 * made within a few milliseconds travel in one message), so a busy registrar pays for one IPC
 * round per batch rather than per REGISTER.
 */

/** The worker that hosts every group-call room (server/src/http/rooms-forward.ts). */
export const ROOMS_HOST = 0;

export type WorkerToPrimary =
  /** The worker's peer-link port, once it listens. */
  | { type: 'link'; port: number }
  /** The worker's SIP and HTTP listeners are up. */
  | { type: 'ready'; listening: string }
  /** Changes to the location service, in the order they were made (binding-codec.ts). */
  | { type: 'bindings'; data: string }
  /** A source banned after repeated authentication failures, until `until` (ms since the epoch). */
  | { type: 'ban'; address: string; until: number }
  /** From the rooms host: a room was created (live) or closed. */
  | { type: 'room'; name: string; live: boolean };

export type PrimaryToWorker =
  /** Peer-link ports of all workers, by worker index. */
  | { type: 'peers'; ports: number[] }
  | { type: 'bindings'; data: string }
  | { type: 'ban'; address: string; until: number }
  | { type: 'room'; name: string; live: boolean }
  /** Every live room: to a worker that starts, and to all when the rooms host died (none then). */
  | { type: 'rooms'; names: string[] };

export function isWorkerMessage(m: unknown): m is WorkerToPrimary {
  return typeof m === 'object' && m !== null && typeof (m as { type?: unknown }).type === 'string';
}

export const isPrimaryMessage = isWorkerMessage as (m: unknown) => m is PrimaryToWorker;
