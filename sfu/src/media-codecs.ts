/**
 * The codecs every room's Router offers (mediasoup RouterOptions.mediaCodecs).
 *
 * Opus and VP8 are what end-to-end encryption has been measured to work with through mediasoup
 * 3.12 (/work/shared/e2ee-sfu-findings.md): Opus fully encrypted, VP8 with its payload header
 * clear (web-client/src/e2ee/frame-codec.ts). VP8 comes first, so mediasoup-client sends it
 * unless told otherwise. H.264 (constrained baseline, packetization-mode 1, RFC 6184) is there
 * for clients that cannot send VP8; its frame layout keeps the NAL structure clear, which has
 * only been unit-tested so far.
 */
import type { types } from 'mediasoup';

export const MEDIA_CODECS: types.RtpCodecCapability[] = [
  { kind: 'audio', mimeType: 'audio/opus', clockRate: 48000, channels: 2 },
  { kind: 'video', mimeType: 'video/VP8', clockRate: 90000, parameters: { 'x-google-start-bitrate': 500 } },
  {
    kind: 'video',
    mimeType: 'video/H264',
    clockRate: 90000,
    parameters: { 'packetization-mode': 1, 'profile-level-id': '42e01f', 'level-asymmetry-allowed': 1 },
  },
];
