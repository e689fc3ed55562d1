/**
 * The pieces of server/src/http/rooms-forward.ts on real sockets, without a cluster: a "front"
 * HTTP server plays a worker that does not host the rooms (RoomsForwarder), and the private Unix
 * socket of the rooms host (listenRoomsHost) serves a tiny fastify app and an upgrade handler that
 * record what they were told. The client's address crosses over in its field and nowhere else: a
 * client that writes the field itself is not believed, through the front or directly. Bytes of an
 * upgraded connection pass both ways unchanged; a rooms host that is down gives 503.
 */
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { createServer, request, type IncomingMessage, type Server } from 'node:http';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Duplex } from 'node:stream';
import Fastify from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { clientAddress, CLIENT_ADDRESS_HEADER, listenRoomsHost, RoomsForwarder } from '../../server/src/http/rooms-forward.ts';

describe('rooms-forward: the room API and /rooms sockets passed to the rooms host', () => {
  const dir = mkdtempSync(join(tmpdir(), 'sotto-fwd-'));
  const socketPath = join(dir, 'rooms.sock');
  const app = Fastify();
  const upgrades: { address: string | undefined; url: string | undefined }[] = [];
  let host: Server;
  let front: Server;
  let frontPort = 0;
  const forwarder = new RoomsForwarder(socketPath);

  beforeAll(async () => {
    app.all('/api/session', async (req) => ({ address: clientAddress(req.raw), host: req.headers.host, body: req.body ?? null, spoof: req.headers[CLIENT_ADDRESS_HEADER] ?? null }));
    await app.ready();
    host = await listenRoomsHost({
      socketPath,
      app,
      sockets: {
        wants: (req) => req.url === '/rooms',
        // An echo server behind a 101: what the room signalling would be.
        handleUpgrade: (req: IncomingMessage, socket: Duplex, head: Buffer) => {
          upgrades.push({ address: req.socket.remoteAddress, url: req.url });
          socket.write('HTTP/1.1 101 Switching Protocols\r\nUpgrade: test\r\nConnection: Upgrade\r\n\r\n');
          if (head.length) socket.write(head);
          socket.pipe(socket);
        },
      },
    });
    front = createServer((req, res) => forwarder.forwardRequest(req, res));
    front.on('upgrade', (req, socket, head) => (forwarder.wants(req) ? forwarder.handleUpgrade(req, socket, head) : socket.destroy()));
    await new Promise<void>((r) => front.listen(0, '127.0.0.1', () => r()));
    frontPort = (front.address() as { port: number }).port;
  });

  afterAll(async () => {
    forwarder.close();
    front?.close();
    host?.close();
    await app.close();
    rmSync(dir, { recursive: true, force: true });
  });

  function post(path: string, body: string, headers: Record<string, string>, o: { port?: number; socketPath?: string } = {}): Promise<{ status: number; json: Record<string, unknown> }> {
    return new Promise((resolve, reject) => {
      const req = request(
        { ...(o.socketPath ? { socketPath: o.socketPath } : { host: '127.0.0.1', port: o.port ?? frontPort }), method: 'POST', path, agent: false, headers: { 'content-type': 'application/json', ...headers } },
        (res) => {
          let text = '';
          res.on('data', (c: Buffer) => (text += c.toString()));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, json: JSON.parse(text) as Record<string, unknown> }));
        },
      );
      req.on('error', reject);
      req.end(body);
    });
  }

  it('the private socket is the owner’s only (0600 in a 0700 directory made by the caller)', () => {
    expect(statSync(socketPath).mode & 0o777).toBe(0o600);
  });

  it('forwards an API request with its body and Host; the client’s own address field is replaced', async () => {
    const r = await post('/api/session', '{"username":"alice"}', { host: 'sotto.example:8443', [CLIENT_ADDRESS_HEADER]: '203.0.113.9' });
    expect(r.status).toBe(200);
    expect(r.json).toEqual({ address: '127.0.0.1', host: 'sotto.example:8443', body: { username: 'alice' }, spoof: '127.0.0.1' });
    expect(forwarder.stats.requests).toBe(1);
  });

  it('a client that writes the field on a connection of its own is not believed', async () => {
    const direct = Fastify();
    direct.post('/', async (req) => ({ address: clientAddress(req.raw) }));
    await direct.listen({ host: '127.0.0.1', port: 0 });
    const r = await post('/', '{}', { [CLIENT_ADDRESS_HEADER]: '203.0.113.9' }, { port: (direct.server.address() as { port: number }).port });
    await direct.close();
    expect(r.json).toEqual({ address: '127.0.0.1' });
  });

  it('pipes an upgrade both ways as raw bytes; the host sees the client’s address on the socket', async () => {
    const sock = connect(frontPort, '127.0.0.1');
    await new Promise<void>((r) => sock.once('connect', () => r()));
    let got = '';
    sock.on('data', (d: Buffer) => (got += d.toString('latin1')));
    sock.write(`GET /rooms HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: test\r\n${CLIENT_ADDRESS_HEADER}: 203.0.113.9\r\n\r\n`);
    const deadline = Date.now() + 3000;
    while (!got.includes('\r\n\r\n') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    expect(got).toMatch(/^HTTP\/1\.1 101 /);
    const binary = Buffer.from([0x81, 0x05, 0x00, 0xff, 0x0d, 0x0a, 0x68]);
    got = '';
    sock.write(binary);
    while (got.length < binary.length && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    expect(Buffer.from(got, 'latin1')).toEqual(binary);
    sock.destroy();
    expect(upgrades).toEqual([{ address: '127.0.0.1', url: '/rooms' }]);
    expect(forwarder.stats.upgrades).toBe(1);
  });

  it('with the rooms host down: 503 for the API (JSON, with the code) and for upgrades', async () => {
    const down = new RoomsForwarder(join(dir, 'nobody.sock'));
    const srv = createServer((req, res) => down.forwardRequest(req, res));
    srv.on('upgrade', (req, socket, head) => down.handleUpgrade(req, socket, head));
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
    const port = (srv.address() as { port: number }).port;
    const r = await post('/api/rooms', '{}', {}, { port });
    expect(r.status).toBe(503);
    expect(r.json).toMatchObject({ error: { code: 'UNAVAILABLE' } });
    const sock = connect(port, '127.0.0.1');
    let got = '';
    sock.on('data', (d: Buffer) => (got += d.toString()));
    sock.write('GET /rooms HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: test\r\n\r\n');
    await new Promise<void>((r) => sock.once('close', () => r()));
    expect(got).toMatch(/^HTTP\/1\.1 503 /);
    expect(down.stats.failures).toBe(2);
    srv.close();
    down.close();
  });
});
