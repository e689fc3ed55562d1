/**
 * A bare SIP endpoint on a UDP socket for protocol tests: it sends the exact text a test writes
 * and hands back what arrives, with just enough help (digest answers, waiting for a message) to
 * drive the proxy through the cases RFC 3261 §16 describes. Digest is computed here with
 * node:crypto, independently of the server's own digest module.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createSocket, type Socket } from 'node:dgram';

export interface RawMessage {
  text: string;
  startLine: string;
  status?: number;
  method?: string;
  headers: Map<string, string[]>;
  header(name: string): string | undefined;
  from: { address: string; port: number };
}

function parse(text: string, from: { address: string; port: number }): RawMessage {
  const [head = ''] = text.split('\r\n\r\n');
  const lines = head.split('\r\n');
  const startLine = lines[0] ?? '';
  const headers = new Map<string, string[]>();
  for (const l of lines.slice(1)) {
    const i = l.indexOf(':');
    if (i < 0) continue;
    const name = l.slice(0, i).trim().toLowerCase();
    headers.set(name, [...(headers.get(name) ?? []), l.slice(i + 1).trim()]);
  }
  const m = /^SIP\/2\.0 (\d{3})/.exec(startLine);
  return {
    text,
    startLine,
    ...(m ? { status: Number(m[1]) } : { method: startLine.split(' ')[0]! }),
    headers,
    header: (name) => headers.get(name.toLowerCase())?.[0],
    from,
  };
}

export class RawUa {
  readonly sock: Socket;
  readonly user: string;
  readonly password: string;
  readonly #queue: RawMessage[] = [];
  #waiters: { pred: (m: RawMessage) => boolean; resolve: (m: RawMessage) => void }[] = [];
  port = 0;
  #cseq = 1;
  #nc = 0;

  constructor(user: string, password = '') {
    this.user = user;
    this.password = password;
    this.sock = createSocket('udp4');
    this.sock.on('message', (buf, rinfo) => {
      const msg = parse(buf.toString('latin1'), { address: rinfo.address, port: rinfo.port });
      const i = this.#waiters.findIndex((w) => w.pred(msg));
      if (i >= 0) this.#waiters.splice(i, 1)[0]!.resolve(msg);
      else this.#queue.push(msg);
    });
  }

  async bind(): Promise<this> {
    await new Promise<void>((r) => this.sock.bind(0, '127.0.0.1', () => r()));
    this.port = this.sock.address().port;
    return this;
  }

  close(): void {
    this.sock.close();
  }

  send(text: string, port: number): void {
    this.sock.send(Buffer.from(text.replace(/\r?\n/g, '\r\n'), 'latin1'), port, '127.0.0.1');
  }

  /** Next message matching `pred` (queued or future); rejects after `ms`. */
  next(pred: (m: RawMessage) => boolean = () => true, ms = 3000): Promise<RawMessage> {
    const i = this.#queue.findIndex(pred);
    if (i >= 0) return Promise.resolve(this.#queue.splice(i, 1)[0]!);
    return new Promise((resolve, reject) => {
      const w = { pred, resolve: (m: RawMessage) => (clearTimeout(t), resolve(m)) };
      const t = setTimeout(() => {
        this.#waiters = this.#waiters.filter((x) => x !== w);
        reject(new Error(`${this.user}: no matching message within ${ms} ms; queued: ${this.#queue.map((m) => m.startLine).join(' | ')}`));
      }, ms);
      this.#waiters.push(w);
    });
  }

  /** Nothing matching arrives within `ms`. */
  async nothing(pred: (m: RawMessage) => boolean, ms = 700): Promise<boolean> {
    try {
      await this.next(pred, ms);
      return false;
    } catch {
      return true;
    }
  }

  nextCseq(): number {
    return this.#cseq++;
  }

  /** An Authorization/Proxy-Authorization value answering a challenge (RFC 7616 §3.4, qop=auth). */
  answer(challenge: string, method: string, uri: string): string {
    const p = new Map<string, string>();
    for (const m of challenge.replace(/^Digest\s+/i, '').matchAll(/([a-z-]+)=("([^"]*)"|[^,\s]+)/gi)) p.set(m[1]!.toLowerCase(), m[3] ?? m[2]!);
    const alg = p.get('algorithm') ?? 'MD5';
    const h = (s: string) => createHash(alg === 'SHA-256' ? 'sha256' : 'md5').update(s).digest('hex');
    const nc = (++this.#nc).toString(16).padStart(8, '0');
    const cnonce = randomBytes(6).toString('hex');
    const ha1 = h(`${this.user}:${p.get('realm')}:${this.password}`);
    const response = h(`${ha1}:${p.get('nonce')}:${nc}:${cnonce}:auth:${h(`${method}:${uri}`)}`);
    return (
      `Digest username="${this.user}", realm="${p.get('realm')}", nonce="${p.get('nonce')}", uri="${uri}", ` +
      `response="${response}", algorithm=${alg}, qop=auth, nc=${nc}, cnonce="${cnonce}"` +
      (p.has('opaque') ? `, opaque="${p.get('opaque')}"` : '')
    );
  }

  /** REGISTER with digest auth; resolves to the final response. */
  async register(serverPort: number, opts: { expires?: number; contact?: string; extraHeaders?: string[]; rport?: boolean } = {}): Promise<RawMessage> {
    const callId = `reg-${randomBytes(4).toString('hex')}`;
    const build = (auth?: string) =>
      [
        'REGISTER sip:localhost SIP/2.0',
        `Via: SIP/2.0/UDP 127.0.0.1:${this.port};branch=z9hG4bK${randomBytes(6).toString('hex')}${opts.rport === false ? '' : ';rport'}`,
        'Max-Forwards: 70',
        `From: <sip:${this.user}@localhost>;tag=${randomBytes(4).toString('hex')}`,
        `To: <sip:${this.user}@localhost>`,
        `Call-ID: ${callId}`,
        `CSeq: ${this.nextCseq()} REGISTER`,
        `Contact: ${opts.contact ?? `<sip:${this.user}@127.0.0.1:${this.port}>`}`,
        `Expires: ${opts.expires ?? 600}`,
        ...(auth ? [`Authorization: ${auth}`] : []),
        ...(opts.extraHeaders ?? []),
        'Content-Length: 0',
        '',
        '',
      ].join('\r\n');
    this.send(build(), serverPort);
    let res = await this.next((m) => m.status !== undefined && m.status >= 200);
    if (res.status === 401) {
      this.send(build(this.answer(res.header('WWW-Authenticate')!, 'REGISTER', 'sip:localhost')), serverPort);
      res = await this.next((m) => m.status !== undefined && m.status >= 200);
    }
    return res;
  }
}

/** A response to `req` with the headers a UAS must copy (RFC 3261 §8.2.6.2). */
export function respondTo(req: RawMessage, status: number, reason: string, opts: { toTag?: string; extra?: string[]; body?: string } = {}): string {
  const lines = [`SIP/2.0 ${status} ${reason}`];
  for (const v of req.headers.get('via') ?? []) lines.push(`Via: ${v}`);
  for (const v of req.headers.get('record-route') ?? []) lines.push(`Record-Route: ${v}`);
  lines.push(`From: ${req.header('from')}`);
  const to = req.header('to')!;
  lines.push(`To: ${opts.toTag && !/;tag=/.test(to) ? `${to};tag=${opts.toTag}` : to}`);
  lines.push(`Call-ID: ${req.header('call-id')}`, `CSeq: ${req.header('cseq')}`, ...(opts.extra ?? []));
  const body = opts.body ?? '';
  lines.push(`Content-Length: ${Buffer.byteLength(body)}`, '', body);
  return lines.join('\r\n');
}
