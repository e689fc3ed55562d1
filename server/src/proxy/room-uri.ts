/**
 * A group-call room's SIP URI, sip:ROOM@DOMAIN, as the proxy answers it.
 *
 * Rooms are end-to-end encrypted between browsers (SFrame, RFC 9605): nothing that is not a
 * browser running the group call page can take part, and the server holds no key that would let
 * it bridge a phone in. So the URI does what a redirect server does (RFC 3261 §8.3): an INVITE
 * gets 302 Moved Temporarily (§21.3.3) whose Contact is the room's page,
 * <https://DOMAIN:PORT/group.html?room=ROOM>. A 3xx Contact may carry any URI scheme (§20.10,
 * §8.1.3.4: the UAC uses the contacts it understands); the Sotto web client opens that page, a
 * desk phone cannot use an https: URI and ends the call with the reason phrase and the Warning
 * (§20.43) on its display.
 *
 * Pure: `RoomDirectory` is an in-memory set that the composition root keeps up to date (from the
 * RoomManager's roomcreated/roomclosed events, or from the cluster link in a SIP worker that does
 * not host the rooms); `roomAnswer()` decides the response. No I/O in this module.
 */

/** What the proxy needs to answer a request for a live room. */
export interface RoomTarget {
  readonly room: string;
  /** https://DOMAIN[:PORT]/group.html?room=ROOM */
  readonly link: string;
  /** warn-agent of the Warning header (§20.43): the server's SIP domain. */
  readonly agent: string;
}

/** The live rooms of this server, by name, and where their page is served. */
export class RoomDirectory {
  readonly #names = new Set<string>();
  readonly #domain: string;
  #origin: string | undefined;

  constructor(domain: string) {
    this.#domain = domain;
  }

  /**
   * The page's origin, once the HTTPS port listens: https://DOMAIN, with the port unless it is
   * 443. Rooms are announced with the SIP domain as host (sfu/src/signalling/room-info.ts), so
   * the operator's certificate and DNS for the domain serve both.
   */
  setHttpsPort(port: number): void {
    this.#origin = `https://${this.#domain}${port === 443 ? '' : `:${port}`}`;
  }

  add(name: string): void {
    this.#names.add(name);
  }

  remove(name: string): void {
    this.#names.delete(name);
  }

  /** Replace every name (a snapshot from the cluster primary). */
  reset(names: Iterable<string>): void {
    this.#names.clear();
    for (const n of names) this.#names.add(n);
  }

  get size(): number {
    return this.#names.size;
  }

  /**
   * The room a Request-URI user part names, if it is live here. User parts compare
   * case-sensitively (RFC 3261 §19.1.4) and room names are lower-case, so "Standup" is not the
   * room "standup" (it stays an unknown user).
   */
  lookup(user: string): RoomTarget | undefined {
    if (this.#origin === undefined || !this.#names.has(user)) return undefined;
    return { room: user, link: `${this.#origin}/group.html?room=${user}`, agent: this.#domain };
  }
}

/** Methods a room URI answers, for Allow in a 405 (§21.4.6: "MUST include an Allow header field"). */
export const ROOM_ALLOW = 'INVITE, ACK, CANCEL, OPTIONS';

/** Methods that only make sense inside a dialog: out of one they match nothing (§12.2.2, §15.1.2). */
const DIALOG_ONLY = new Set(['BYE', 'PRACK', 'UPDATE', 'INFO']);

export interface RoomAnswer {
  readonly status: 302 | 405 | 481;
  readonly reason: string;
  readonly headers: readonly { name: string; value: string }[];
  /**
   * Whether the caller must first pass the proxy's policy for calls to a local user
   * (authenticated when its From is in our domain, RFC 3261 §22.3 407). Only the 302 carries
   * anything, and only what the room's name already implies; refusals need no credentials.
   */
  readonly authenticate: boolean;
}

/**
 * The response to a request whose Request-URI names a live room, acting as its UAS / redirect
 * server (RFC 3261 §8.2, §8.3). `inDialog` is true when the request has a To tag. ACK and CANCEL
 * never get here: the transaction layer absorbs the ACK of our non-2xx, and CANCEL is matched
 * to its INVITE before the proxy core (§9.2).
 */
export function roomAnswer(method: string, inDialog: boolean, target: RoomTarget): RoomAnswer {
  // §12.2.2: a request with a To tag that matches no dialog of ours (we never make one here).
  if (inDialog || DIALOG_ONLY.has(method)) return { status: 481, reason: 'Call/Transaction Does Not Exist', headers: [], authenticate: false };
  if (method === 'INVITE' || method === 'OPTIONS') {
    // §11.2: an OPTIONS is answered with the code an INVITE would get, so a UA that asks first
    // learns the same thing (where the room is) without starting a call.
    return {
      status: 302,
      reason: 'Moved Temporarily (group call: join in a web browser)',
      headers: [
        // §20.10: the URI contains "?", so it MUST be in name-addr form, between < and >.
        { name: 'Contact', value: `<${target.link}>` },
        // §20.43: warn-code 399 (miscellaneous), warn-agent, quoted warn-text a phone can show.
        { name: 'Warning', value: `399 ${target.agent} "${target.room} is an end-to-end encrypted group call: open ${target.link} in a web browser"` },
        ...(method === 'OPTIONS' ? [{ name: 'Allow', value: ROOM_ALLOW }] : []),
      ],
      authenticate: true,
    };
  }
  // §21.4.6: understood, but not allowed for this address. A SIP MESSAGE (RFC 3428) would reach
  // the room in clear text; the room's chat is end-to-end encrypted between the browsers.
  return { status: 405, reason: 'Method Not Allowed', headers: [{ name: 'Allow', value: ROOM_ALLOW }], authenticate: false };
}
