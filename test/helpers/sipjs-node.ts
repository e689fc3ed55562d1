/**
 * sip.js (the library the web client uses) in Node, for integration tests of SIP over WebSocket
 * (RFC 7118): a WebSocket built on the `ws` package that trusts the test certificate, and a
 * signalling-only SessionDescriptionHandler that offers and answers a fixed PCMU SDP, so calls
 * are set up and torn down without WebRTC.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  UserAgent,
  Web,
  type BodyAndContentType,
  type LogLevel,
  type SessionDescriptionHandler,
  type SessionDescriptionHandlerFactory,
  type Transport,
  type UserAgentOptions,
} from 'sip.js';
import { WebSocket as WsWebSocket, type ClientOptions } from 'ws';
import { ROOT } from './server.ts';

/** The self-signed certificate scripts/setup.sh creates for localhost and 127.0.0.1. */
export function testCa(): Buffer {
  return readFileSync(join(ROOT, 'var/tls/localhost.crt'));
}

/**
 * A browser-shaped WebSocket class (`new WebSocket(url, protocols)`, addEventListener,
 * binaryType) on `ws`, with TLS options Node's built-in WebSocket does not take.
 */
export function webSocketClass(tls: ClientOptions): new (url: string | URL, protocols?: string | string[]) => WsWebSocket {
  return class NodeWebSocket extends WsWebSocket {
    constructor(url: string | URL, protocols?: string | string[]) {
      super(url, protocols, tls);
    }
  };
}

type TransportConstructor = new (logger: ConstructorParameters<typeof Web.Transport>[0], options: Web.TransportOptions) => Transport;

/**
 * sip.js's Web transport calls the global `WebSocket` constructor inside connect(). This subclass
 * puts the given class there for exactly that synchronous call, so nothing else in the process
 * sees it.
 */
export function nodeTransport(WebSocketClass: unknown): TransportConstructor {
  return class NodeTransport extends Web.Transport {
    override connect(): Promise<void> {
      const g = globalThis as { WebSocket?: unknown };
      const saved = Object.getOwnPropertyDescriptor(g, 'WebSocket');
      Object.defineProperty(g, 'WebSocket', { value: WebSocketClass, configurable: true, writable: true });
      try {
        return super.connect();
      } finally {
        if (saved) Object.defineProperty(g, 'WebSocket', saved);
        else delete g.WebSocket;
      }
    }
  };
}

/** Offer/answer SDP for a PCMU audio stream on 127.0.0.1 (RFC 4566, RFC 3264); no media is sent. */
export function fixedSdp(sessionId: number, rtpPort: number): string {
  return (
    [
      'v=0',
      `o=- ${sessionId} 1 IN IP4 127.0.0.1`,
      's=-',
      'c=IN IP4 127.0.0.1',
      't=0 0',
      `m=audio ${rtpPort} RTP/AVP 0`,
      'a=rtpmap:0 PCMU/8000',
      'a=sendrecv',
    ].join('\r\n') + '\r\n'
  );
}

/** What a signalling-only handler saw: the remote descriptions it was given, in order. */
export interface SdhRecord {
  remote: string[];
  local: string[];
  closed: boolean;
}

/**
 * A SessionDescriptionHandler that returns the same SDP as offer and answer and records the
 * remote SDP. `records` gets one entry per session the user agent creates.
 */
export function signallingOnlySdhFactory(rtpPort: number, records: SdhRecord[] = []): SessionDescriptionHandlerFactory {
  let n = 0;
  return () => {
    const rec: SdhRecord = { remote: [], local: [], closed: false };
    records.push(rec);
    const sdp = fixedSdp(Date.now() + n++, rtpPort);
    const sdh: SessionDescriptionHandler = {
      close: () => {
        rec.closed = true;
      },
      getDescription: async (): Promise<BodyAndContentType> => {
        rec.local.push(sdp);
        return { body: sdp, contentType: 'application/sdp' };
      },
      hasDescription: (contentType: string) => contentType === 'application/sdp',
      setDescription: async (remote: string) => {
        if (!/^v=0/m.test(remote) || !/^m=audio /m.test(remote)) throw new Error(`not an audio SDP: ${remote}`);
        rec.remote.push(remote);
      },
      sendDtmf: () => false,
    };
    return sdh;
  };
}

export interface NodeUserAgentOptions {
  /** wss://127.0.0.1:port or ws://... */
  server: string;
  user: string;
  password: string;
  domain: string;
  rtpPort: number;
  /** Every SIP message sent and received, and sip.js's own log lines. */
  log?: string[];
  logLevel?: LogLevel;
  sdh?: SdhRecord[];
  delegate?: UserAgentOptions['delegate'];
}

/** A sip.js UserAgent wired for Node: not started. */
export function createNodeUserAgent(o: NodeUserAgentOptions): UserAgent {
  const WebSocketClass = webSocketClass({ ca: testCa() });
  const log = o.log;
  return new UserAgent({
    uri: UserAgent.makeURI(`sip:${o.user}@${o.domain}`)!,
    authorizationUsername: o.user,
    authorizationPassword: o.password,
    transportConstructor: nodeTransport(WebSocketClass),
    transportOptions: { server: o.server, traceSip: true, connectionTimeout: 5 },
    sessionDescriptionHandlerFactory: signallingOnlySdhFactory(o.rtpPort, o.sdh),
    logBuiltinEnabled: false,
    logConfiguration: false,
    logLevel: o.logLevel ?? 'debug',
    logConnector: (level, category, _label, content) => {
      log?.push(`[${level}] ${category} ${content}`);
    },
    noAnswerTimeout: 20,
    ...(o.delegate ? { delegate: o.delegate } : {}),
  });
}
