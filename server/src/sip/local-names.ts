/**
 * "Is this us?" for Request-URIs, Route entries and Via sent-by (RFC 3261 §16.4, §16.5): a host
 * is ours when it is the SIP domain, an alias or an address we listen on, and the port is absent
 * (the domain) or one we listen on. Another port on our own address is someone else (a phone on
 * 127.0.0.1:5090 is not the proxy on 127.0.0.1:5060).
 */
export class LocalNames {
  readonly #domains: Set<string>;
  readonly #addresses: Set<string>;
  readonly #ports = new Set<number>();

  constructor(domains: string[], addresses: string[]) {
    this.#domains = new Set(domains.map((d) => d.toLowerCase()));
    this.#addresses = new Set(addresses.map(bare));
  }

  addPort(port: number): void {
    this.#ports.add(port);
  }

  addAddress(address: string): void {
    this.#addresses.add(bare(address));
  }

  /** The host names users are registered under (the SIP domain and its aliases, and our addresses). */
  isLocalDomain(host: string): boolean {
    const h = bare(host).toLowerCase();
    return this.#domains.has(h) || this.#addresses.has(h);
  }

  isMyself(host: string, port: number | undefined): boolean {
    const h = bare(host).toLowerCase();
    if (this.#domains.has(h)) return port === undefined || this.#ports.has(port);
    if (this.#addresses.has(h)) return this.#ports.has(port ?? 5060);
    return false;
  }
}

function bare(host: string): string {
  return host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
}
