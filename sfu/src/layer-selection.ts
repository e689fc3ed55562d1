/**
 * Which simulcast layer a receiver should get: pure arithmetic on the sizes and bitrates of the
 * producer's layers, the size the receiver renders the video at, and the bandwidth the SFU
 * estimates towards that receiver. No I/O; unit-tested in test/unit/sfu/layer-selection.test.ts.
 *
 * Why both inputs: sending a 1280x720 layer to a 320x180 tile wastes the receiver's downlink and
 * CPU (it decodes four times the pixels it shows), and sending the layer that fits the tile is
 * useless if the link cannot carry it. mediasoup treats the preferred layers as a ceiling and
 * already drops lower on its own bandwidth estimate (Consumer.setPreferredLayers: "the consumer
 * will try to use the preferred layers"); this module chooses the ceiling so that it also follows
 * the rendered size, and leaves headroom so that audio and RTCP fit next to the video.
 *
 * Simulcast here follows RFC 8853 with VP8 temporal scalability (L1T3 per encoding): spatial
 * layer i is the i-th encoding, lowest resolution first (as mediasoup numbers them), and each has
 * temporal layers 0..T-1, where dropping the top temporal layer halves the frame rate.
 */

export interface SpatialLayer {
  /** Frame size of this encoding, in pixels. */
  readonly width: number;
  readonly height: number;
  /** Bitrate the sender allows this encoding (RTCRtpEncodingParameters.maxBitrate), bits/s. */
  readonly maxBitrate: number;
}

export interface LayerRequest {
  /** The producer's encodings, lowest resolution first. */
  readonly layers: readonly SpatialLayer[];
  /** Temporal layers per encoding (3 for L1T3). */
  readonly temporalLayers: number;
  /** The size the receiver renders the video at, in device pixels; 0x0 means not shown. */
  readonly rendered: { readonly width: number; readonly height: number };
  /** Bandwidth estimated towards the receiver for this consumer, bits/s; undefined = unknown. */
  readonly availableBitrate?: number;
}

export type LayerChoice =
  /** Forward these layers (or lower, if mediasoup's own estimate demands it). */
  | { readonly pause: false; readonly spatialLayer: number; readonly temporalLayer: number }
  /** The video is not shown: forward nothing. */
  | { readonly pause: true };

/**
 * A layer is good enough when it has at least this share of the rendered size in both
 * directions: a 90 % downscale is not visible, and it keeps a 320x180 layer for a 330x186 tile.
 */
export const SIZE_TOLERANCE = 0.9;

/** Share of the estimated bandwidth the video may take (the rest is audio, RTCP, probing). */
export const BANDWIDTH_HEADROOM = 0.85;

/**
 * Share of an encoding's bitrate carried by its temporal layers 0..t (for T = 3). VP8 spends
 * more bits on the frames other frames depend on: the base layer (a quarter of the frames) takes
 * about half of the bits, the base plus the middle layer (half the frames) about three quarters.
 */
const TEMPORAL_SHARE_T3 = [0.5, 0.75, 1];

function temporalShare(t: number, count: number): number {
  if (count === 3) return TEMPORAL_SHARE_T3[t]!;
  // Other counts: halving the frame rate saves about a third of the bits per layer dropped.
  return Math.pow(2 / 3, count - 1 - t);
}

function checkRequest(r: LayerRequest): void {
  if (r.layers.length === 0) throw new RangeError('a simulcast producer has at least one layer');
  if (!Number.isInteger(r.temporalLayers) || r.temporalLayers < 1 || r.temporalLayers > 4) {
    throw new RangeError(`temporalLayers must be 1..4, got ${r.temporalLayers}`);
  }
  for (const l of r.layers) {
    if (!(l.width > 0 && l.height > 0 && l.maxBitrate > 0)) throw new RangeError('layer sizes and bitrates must be positive');
  }
}

/**
 * The layers to forward. Rules, in order:
 *  1. Not rendered (a zero or negative size) → pause.
 *  2. Spatial: the lowest layer that covers the rendered size (SIZE_TOLERANCE in both
 *     directions); the highest layer when none does.
 *  3. Bandwidth, when known: step down spatially while the layer (all temporal layers) does not
 *     fit in BANDWIDTH_HEADROOM of it; on the lowest layer, drop temporal layers until it fits.
 *     The lowest layer's base temporal layer is always allowed: a frozen tile is worse than a
 *     choppy one, and mediasoup will still pause it if even that does not get through.
 */
export function selectLayers(r: LayerRequest): LayerChoice {
  checkRequest(r);
  const { width, height } = r.rendered;
  if (!(width > 0 && height > 0)) return { pause: true };

  let spatial = r.layers.length - 1;
  for (let i = 0; i < r.layers.length; i++) {
    const l = r.layers[i]!;
    if (l.width >= width * SIZE_TOLERANCE && l.height >= height * SIZE_TOLERANCE) {
      spatial = i;
      break;
    }
  }
  let temporal = r.temporalLayers - 1;

  if (r.availableBitrate !== undefined && Number.isFinite(r.availableBitrate)) {
    const budget = Math.max(0, r.availableBitrate) * BANDWIDTH_HEADROOM;
    while (spatial > 0 && r.layers[spatial]!.maxBitrate > budget) spatial--;
    const base = r.layers[spatial]!.maxBitrate;
    while (temporal > 0 && base * temporalShare(temporal, r.temporalLayers) > budget) temporal--;
  }
  return { pause: false, spatialLayer: spatial, temporalLayer: temporal };
}

/**
 * The spatial layers of a simulcast producer from what the sender declared: its source size and
 * each encoding's scaleResolutionDownBy and maxBitrate (RTCRtpEncodingParameters, W3C WebRTC
 * §5.2), lowest resolution first. Encodings without maxBitrate get an estimate for their size
 * (about 0.1 bit per pixel per frame at 30 fps), so that bandwidth can still be weighed.
 */
export function layersFromEncodings(
  source: { readonly width: number; readonly height: number },
  encodings: readonly { readonly scaleResolutionDownBy?: number; readonly maxBitrate?: number }[],
): SpatialLayer[] {
  const layers = encodings.map((e) => {
    const scale = e.scaleResolutionDownBy !== undefined && e.scaleResolutionDownBy >= 1 ? e.scaleResolutionDownBy : 1;
    const width = Math.max(1, Math.round(source.width / scale));
    const height = Math.max(1, Math.round(source.height / scale));
    const maxBitrate = e.maxBitrate !== undefined && e.maxBitrate > 0 ? e.maxBitrate : Math.round(width * height * 30 * 0.1);
    return { width, height, maxBitrate };
  });
  // RFC 8853 leaves the order to the sender; mediasoup numbers spatial layers by encoding
  // order, and browsers send them lowest first when scaleResolutionDownBy decreases.
  return layers;
}
