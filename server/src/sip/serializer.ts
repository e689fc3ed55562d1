/**
 * SIP message serializer (RFC 3261 §7): start line, one `Name: value` line per HeaderField in
 * order, an empty line, then the body. Content-Length always states the body length (§20.14:
 * required on streams, harmless on datagrams); any Content-Length in the model is replaced.
 *
 * Text is written as UTF-8, the charset of SIP text (TEXT-UTF8, §25.1), so values the parser
 * decoded come back byte for byte.
 */
import type { SipMessage } from './message.ts';
import { isToken } from './header-values.ts';

export class SipSerializeError extends Error {
  override name = 'SipSerializeError';
}

const checkedNames = new Set<string>();

function checkName(name: string): void {
  if (checkedNames.has(name)) return;
  if (!isToken(name)) throw new SipSerializeError(`invalid header name ${JSON.stringify(name)}`);
  if (checkedNames.size < 2048) checkedNames.add(name);
}

/** CR or LF inside a value would start a new header line at the receiver: refuse to write it. */
function checkText(text: string, what: string): void {
  if (text.indexOf('\r') >= 0 || text.indexOf('\n') >= 0) throw new SipSerializeError(`line break in ${what}`);
}

function isContentLength(name: string): boolean {
  // Compact form "l" too, in case a caller built the header by hand (§7.3.3).
  return name.length === 14 ? name.toLowerCase() === 'content-length' : name === 'l' || name === 'L';
}

/** Serialize a message to wire form. Throws SipSerializeError for values that cannot be written safely. */
export function serializeMessage(msg: SipMessage): Buffer {
  let head: string;
  if (msg.kind === 'request') {
    if (!isToken(msg.method)) throw new SipSerializeError('invalid method');
    if (msg.uri.length === 0 || /[\s]/.test(msg.uri)) throw new SipSerializeError('invalid Request-URI');
    head = `${msg.method} ${msg.uri} SIP/2.0\r\n`;
  } else {
    if (!Number.isInteger(msg.status) || msg.status < 100 || msg.status > 699) throw new SipSerializeError('invalid status code');
    checkText(msg.reason, 'reason phrase');
    head = `SIP/2.0 ${msg.status} ${msg.reason}\r\n`;
  }
  const body = msg.body ?? Buffer.alloc(0);
  const cl = `Content-Length: ${body.length}\r\n`;
  let clWritten = false;
  for (const h of msg.headers) {
    if (isContentLength(h.name)) {
      // Keep Content-Length where it was, once.
      if (!clWritten) head += cl;
      clWritten = true;
      continue;
    }
    checkName(h.name);
    checkText(h.value, `header ${h.name}`);
    head += `${h.name}: ${h.value}\r\n`;
  }
  if (!clWritten) head += cl;
  head += '\r\n';
  const headLen = Buffer.byteLength(head, 'utf8');
  const out = Buffer.allocUnsafe(headLen + body.length);
  out.write(head, 0, 'utf8');
  body.copy(out, headLen);
  return out;
}
