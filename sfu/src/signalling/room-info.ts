/**
 * What clients are told about a room: its link, its SIP URI (sip:ROOM@DOMAIN, reserved for joining
 * by phone) and its rules. Used by the room signalling's join answer and by the HTTPS room API.
 */
import type { Room } from '../room.ts';
import type { RoomInfo } from './protocol.ts';

/** `origin` is https://host[:port] as the client reached us; '' gives a relative link. */
export function roomInfo(room: Room, origin: string, domain: string): RoomInfo {
  return {
    id: room.id,
    link: `${origin}/group.html?room=${room.id}`,
    sipUri: `sip:${room.id}@${domain}`,
    e2eeRequired: room.settings.e2eeRequired,
    hasPassword: room.settings.password !== null,
    maxParticipants: room.settings.maxParticipants,
  };
}

/** https://HOST from a Host header that looks like a host name or address, else ''. */
export function originFromHost(host: string | undefined): string {
  return host && /^[A-Za-z0-9.\-:[\]]{1,255}$/.test(host) ? `https://${host}` : '';
}
