/**
 * The "bare mediasoup join" of the join-time benchmark, in the browser: the mediasoup-demo's
 * sequence with nothing of Sotto's (no sign-in, no E2EE, no room rules), as a baseline.
 * On click: camera + microphone, WebSocket, join (router capabilities and the producers there),
 * Device.load, a send and a receive transport, produce (the same 3-layer simulcast and Opus),
 * consume what is there, resume. Bundled by join.ts with esbuild; served by its bare server.
 * `window.__bare` = { clickedAt, firstFrameAt, ready } for the benchmark.
 */
import { Device } from 'mediasoup-client';

interface Hooks {
  clickedAt: number | null;
  firstFrameAt: number | null;
  ready: boolean;
}
const hooks: Hooks = { clickedAt: null, firstFrameAt: null, ready: false };
(globalThis as unknown as { __bare: Hooks }).__bare = hooks;

const ENCODINGS = [
  { scaleResolutionDownBy: 4, maxBitrate: 150_000, scalabilityMode: 'L1T3' },
  { scaleResolutionDownBy: 2, maxBitrate: 500_000, scalabilityMode: 'L1T3' },
  { scaleResolutionDownBy: 1, maxBitrate: 1_500_000, scalabilityMode: 'L1T3' },
];

function rpc(ws: WebSocket) {
  let next = 1;
  const pending = new Map<number, (v: any) => void>();
  const listeners: ((n: any) => void)[] = [];
  ws.onmessage = (ev) => {
    const m = JSON.parse(ev.data as string);
    if (m.notification) listeners.forEach((l) => l(m));
    else pending.get(m.id)?.(m.data), pending.delete(m.id);
  };
  return {
    request: (method: string, data: unknown = {}) =>
      new Promise<any>((resolve) => {
        const id = next++;
        pending.set(id, resolve);
        ws.send(JSON.stringify({ id, method, data }));
      }),
    onNotification: (l: (n: any) => void) => listeners.push(l),
  };
}

async function join(): Promise<void> {
  const params = new URLSearchParams(location.search);
  const [w, h] = (params.get('camera') ?? '640x360').split('x').map(Number);
  const media = navigator.mediaDevices.getUserMedia({ audio: true, video: { width: { ideal: w }, height: { ideal: h }, frameRate: { ideal: 30 } } });
  const ws = new WebSocket(`wss://${location.host}/bare`);
  await new Promise((r) => (ws.onopen = r));
  const sig = rpc(ws);
  const joined = await sig.request('join');
  const device = new Device();
  await device.load({ routerRtpCapabilities: joined.routerRtpCapabilities });
  const [sendInfo, recvInfo] = await Promise.all([sig.request('createTransport'), sig.request('createTransport')]);
  const send = device.createSendTransport(sendInfo);
  const recv = device.createRecvTransport(recvInfo);
  for (const t of [send, recv]) t.on('connect', ({ dtlsParameters }, ok) => void sig.request('connect', { transportId: t.id, dtlsParameters }).then(ok));
  send.on('produce', ({ kind, rtpParameters }, ok) => void sig.request('produce', { transportId: send.id, kind, rtpParameters }).then(ok));
  const consume = async (producerId: string) => {
    const info = await sig.request('consume', { transportId: recv.id, producerId, rtpCapabilities: device.rtpCapabilities });
    const consumer = await recv.consume(info);
    if (consumer.kind === 'video') {
      const video = document.createElement('video');
      video.muted = true;
      video.autoplay = true;
      video.srcObject = new MediaStream([consumer.track]);
      document.body.append(video);
      video.requestVideoFrameCallback(() => (hooks.firstFrameAt ??= performance.now()));
    }
    await sig.request('resume', { consumerId: consumer.id });
  };
  sig.onNotification((n) => n.notification === 'newProducer' && void consume(n.data.producerId));
  const consuming = Promise.all(joined.producers.map(consume));
  const stream = await media;
  for (const track of stream.getTracks()) {
    await send.produce({ track, ...(track.kind === 'video' && { encodings: ENCODINGS.map((e) => ({ ...e })) }) });
  }
  await consuming;
  hooks.ready = true;
}

document.getElementById('join')!.addEventListener('click', () => {
  hooks.clickedAt = performance.now();
  void join();
});
