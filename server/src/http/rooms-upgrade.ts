/**
 * One HTTPS port, two kinds of WebSocket: SIP over WSS (RFC 7118, any path, subprotocol "sip")
 * and the room signalling (path /rooms). Node emits every upgrade to every 'upgrade' listener, and
 * SIP's listener answers 400 to anything that is not SIP, so the two cannot simply both listen.
 * This splitter is the server's only 'upgrade' listener: /rooms upgrades go to the room
 * signalling, all others are re-emitted on the returned emitter, which SIP attaches to as if it
 * were the server.
 */
import { EventEmitter } from 'node:events';
import type { IncomingMessage, Server } from 'node:http';
import type { Duplex } from 'node:stream';

export interface UpgradeTarget {
  wants(req: IncomingMessage): boolean;
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void;
}

/** Returns the emitter that receives every upgrade `rooms` does not want. */
export function splitUpgrades(server: Server, rooms: UpgradeTarget): EventEmitter {
  const others = new EventEmitter();
  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    if (rooms.wants(req)) rooms.handleUpgrade(req, socket, head);
    else if (others.listenerCount('upgrade') > 0) others.emit('upgrade', req, socket, head);
    else socket.destroy();
  });
  return others;
}
