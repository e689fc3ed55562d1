import type { TransportName } from '../message.ts';

/**
 * One connection-oriented flow (TCP, TLS, WS or WSS). Requests to a client registered over a
 * connection go back down that connection (RFC 5626 §5.3, RFC 7118 §5), so connections are
 * kept in a table by id and by remote address.
 */
export interface Connection {
  readonly id: string;
  readonly transport: TransportName;
  readonly remoteAddress: string;
  readonly remotePort: number;
  /** Write one complete, serialized SIP message (or a keep-alive). */
  send(data: Buffer): void;
  close(): void;
  /** Last time (ms, monotonic) anything was received: for the idle sweep. */
  lastActivity: number;
}

let counter = 0;
/** Connection ids are process-local and never reused; they carry no address. */
export function nextConnectionId(transport: TransportName): string {
  return `${transport}-${(++counter).toString(36)}`;
}
