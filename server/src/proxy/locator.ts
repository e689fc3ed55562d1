/**
 * Locating a SIP server from a URI (RFC 3263 §4): transport, then port and address, for
 * requests the proxy forwards to another domain (federation) or to a Contact by host name.
 */
import { Resolver } from 'node:dns/promises';
import { isIP } from 'node:net';
import type { Peer, TransportName } from '../sip/message.ts';
import type { SipUri } from '../sip/uri.ts';

export interface DnsLike {
  resolveNaptr(name: string): Promise<{ flags: string; service: string; regexp: string; replacement: string; order: number; preference: number }[]>;
  resolveSrv(name: string): Promise<{ name: string; port: number; priority: number; weight: number }[]>;
  resolve4(name: string): Promise<string[]>;
  resolve6(name: string): Promise<string[]>;
}

const NAPTR_SERVICES: Record<string, TransportName> = { 'SIP+D2U': 'udp', 'SIP+D2T': 'tcp', 'SIPS+D2T': 'tls', 'SIP+D2W': 'ws', 'SIPS+D2W': 'wss' };
const SRV_PREFIX: Partial<Record<TransportName, string>> = { udp: '_sip._udp', tcp: '_sip._tcp', tls: '_sips._tcp' };

function defaultPort(t: TransportName): number {
  return t === 'tls' ? 5061 : t === 'ws' ? 80 : t === 'wss' ? 443 : 5060;
}

function transportParam(uri: SipUri): TransportName | undefined {
  const t = uri.params.get('transport')?.toLowerCase();
  if (t === 'udp' || t === 'tcp' || t === 'tls' || t === 'ws' || t === 'wss') return t;
  return undefined;
}

function bareHost(host: string): string {
  return host.startsWith('[') ? host.slice(1, -1) : host;
}

/**
 * The answer when no DNS is needed: a numeric host, or an explicit port (§4.1: "if the URI
 * specifies a port, the transport is UDP" unless a transport parameter says otherwise; §4.2: an
 * explicit port or numeric IP means an A/AAAA lookup at most).
 */
export function locateStatic(uri: SipUri): Peer | undefined {
  const host = bareHost(uri.host);
  const secure = uri.scheme === 'sips';
  let transport = transportParam(uri) ?? (secure ? 'tls' : 'udp');
  if (secure && transport === 'tcp') transport = 'tls';
  if (!isIP(host)) return undefined;
  return { transport, address: host, port: uri.port ?? defaultPort(transport) };
}

export class Locator {
  readonly #dns: DnsLike;

  constructor(dns: DnsLike = new Resolver({ timeout: 2000, tries: 2 })) {
    this.#dns = dns;
  }

  /** Ordered candidate destinations for a URI; empty when nothing resolves. */
  async locate(uri: SipUri): Promise<Peer[]> {
    const s = locateStatic(uri);
    if (s) return [s];
    const host = bareHost(uri.host).toLowerCase();
    const secure = uri.scheme === 'sips';
    const explicit = transportParam(uri);
    // §4.1/§4.2 with an explicit port: no NAPTR/SRV, only the address lookup.
    if (uri.port !== undefined) {
      const t = explicit ?? (secure ? 'tls' : 'udp');
      return (await this.#addresses(host)).map((address) => ({ transport: t, address, port: uri.port! }));
    }
    // §4.1: NAPTR picks the transport when none is given; otherwise SRV for the transports we speak.
    let srvOrder: { transport: TransportName; name: string }[] = [];
    if (!explicit) {
      const naptr = await this.#dns.resolveNaptr(host).catch(() => []);
      srvOrder = naptr
        .filter((r) => r.flags.toLowerCase() === 's' && NAPTR_SERVICES[r.service.toUpperCase()] && (!secure || r.service.toUpperCase().startsWith('SIPS')))
        .sort((a, b) => a.order - b.order || a.preference - b.preference)
        .map((r) => ({ transport: NAPTR_SERVICES[r.service.toUpperCase()]!, name: r.replacement }));
    }
    if (srvOrder.length === 0) {
      const ts: TransportName[] = explicit ? [explicit] : secure ? ['tls'] : ['udp', 'tcp', 'tls'];
      srvOrder = ts.filter((t) => SRV_PREFIX[t]).map((t) => ({ transport: t, name: `${SRV_PREFIX[t]}.${host}` }));
    }
    const out: Peer[] = [];
    for (const { transport, name } of srvOrder) {
      const srv = await this.#dns.resolveSrv(name).catch(() => []);
      // §4.4 of RFC 2782: lowest priority first; weight ordering is left to the order returned.
      for (const r of srv.sort((a, b) => a.priority - b.priority)) {
        for (const address of await this.#addresses(r.name)) out.push({ transport, address, port: r.port });
      }
      if (out.length) return out;
    }
    // §4.2: no SRV records: the host's address with the transport's default port.
    const t = explicit ?? (secure ? 'tls' : 'udp');
    return (await this.#addresses(host)).map((address) => ({ transport: t, address, port: defaultPort(t) }));
  }

  async #addresses(host: string): Promise<string[]> {
    if (isIP(host)) return [host];
    if (host === 'localhost') return ['127.0.0.1'];
    const [v4, v6] = await Promise.all([this.#dns.resolve4(host).catch(() => []), this.#dns.resolve6(host).catch(() => [])]);
    return [...v4, ...v6];
  }
}
