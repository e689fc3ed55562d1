import { describe, expect, it } from 'vitest';
import { BANDWIDTH_HEADROOM, layersFromEncodings, selectLayers, type SpatialLayer } from '../../../sfu/src/layer-selection.ts';

// The web client's 3-layer VP8 simulcast from a 1280x720 camera (web-client/src/group/).
const LAYERS: SpatialLayer[] = [
  { width: 320, height: 180, maxBitrate: 150_000 },
  { width: 640, height: 360, maxBitrate: 500_000 },
  { width: 1280, height: 720, maxBitrate: 1_500_000 },
];

describe('selectLayers: rendered size (RFC 8853 simulcast, L1T3)', () => {
  it.each([
    [{ width: 160, height: 90 }, 0],
    [{ width: 320, height: 180 }, 0],
    // 90 % tolerance: a 330x186 tile still gets the 320x180 layer.
    [{ width: 330, height: 186 }, 0],
    [{ width: 400, height: 225 }, 1],
    [{ width: 640, height: 360 }, 1],
    [{ width: 720, height: 405 }, 2],
    [{ width: 1920, height: 1080 }, 2],
    // A tall narrow tile needs the height.
    [{ width: 200, height: 600 }, 2],
  ])('%o → spatial %i, all temporal layers', (rendered, spatial) => {
    expect(selectLayers({ layers: LAYERS, temporalLayers: 3, rendered })).toEqual({ pause: false, spatialLayer: spatial, temporalLayer: 2 });
  });

  it.each([
    [{ width: 0, height: 0 }],
    [{ width: 0, height: 100 }],
    [{ width: -1, height: 100 }],
  ])('a hidden video (%o) is paused', (rendered) => {
    expect(selectLayers({ layers: LAYERS, temporalLayers: 3, rendered })).toEqual({ pause: true });
  });
});

describe('selectLayers: available bandwidth', () => {
  const big = { width: 1280, height: 720 };

  it('unknown or ample bandwidth keeps the size choice', () => {
    expect(selectLayers({ layers: LAYERS, temporalLayers: 3, rendered: big })).toMatchObject({ spatialLayer: 2, temporalLayer: 2 });
    expect(selectLayers({ layers: LAYERS, temporalLayers: 3, rendered: big, availableBitrate: 10_000_000 })).toMatchObject({ spatialLayer: 2, temporalLayer: 2 });
  });

  it('steps down spatially until the layer fits with headroom', () => {
    // 1.5 Mbit/s does not fit in 0.85 x 1.6 Mbit/s... it does: 1.36 < 1.5, so layer 1.
    expect(selectLayers({ layers: LAYERS, temporalLayers: 3, rendered: big, availableBitrate: 1_600_000 })).toMatchObject({ spatialLayer: 1, temporalLayer: 2 });
    expect(selectLayers({ layers: LAYERS, temporalLayers: 3, rendered: big, availableBitrate: 1_500_000 / BANDWIDTH_HEADROOM })).toMatchObject({ spatialLayer: 2 });
    expect(selectLayers({ layers: LAYERS, temporalLayers: 3, rendered: big, availableBitrate: 400_000 })).toMatchObject({ spatialLayer: 0, temporalLayer: 2 });
  });

  it('on the lowest layer, drops temporal layers, never below the base layer', () => {
    // 150 kbit/s layer: T0+T1 = 75 % = 112.5k, T0 = 50 % = 75k.
    expect(selectLayers({ layers: LAYERS, temporalLayers: 3, rendered: big, availableBitrate: 140_000 })).toMatchObject({ spatialLayer: 0, temporalLayer: 1 });
    expect(selectLayers({ layers: LAYERS, temporalLayers: 3, rendered: big, availableBitrate: 100_000 })).toMatchObject({ spatialLayer: 0, temporalLayer: 0 });
    expect(selectLayers({ layers: LAYERS, temporalLayers: 3, rendered: big, availableBitrate: 1_000 })).toMatchObject({ spatialLayer: 0, temporalLayer: 0 });
    expect(selectLayers({ layers: LAYERS, temporalLayers: 3, rendered: big, availableBitrate: 0 })).toMatchObject({ spatialLayer: 0, temporalLayer: 0 });
  });

  it('bandwidth never raises the layer above what the size asks for', () => {
    expect(selectLayers({ layers: LAYERS, temporalLayers: 3, rendered: { width: 320, height: 180 }, availableBitrate: 50_000_000 })).toMatchObject({ spatialLayer: 0 });
  });

  it('one layer without temporal scalability', () => {
    expect(selectLayers({ layers: [LAYERS[2]!], temporalLayers: 1, rendered: big, availableBitrate: 10 })).toEqual({ pause: false, spatialLayer: 0, temporalLayer: 0 });
  });

  it('refuses nonsense input', () => {
    expect(() => selectLayers({ layers: [], temporalLayers: 3, rendered: big })).toThrow(RangeError);
    expect(() => selectLayers({ layers: LAYERS, temporalLayers: 0, rendered: big })).toThrow(RangeError);
    expect(() => selectLayers({ layers: [{ width: 0, height: 1, maxBitrate: 1 }], temporalLayers: 1, rendered: big })).toThrow(RangeError);
  });
});

describe('layersFromEncodings', () => {
  it('derives sizes from scaleResolutionDownBy and keeps maxBitrate', () => {
    expect(
      layersFromEncodings({ width: 1280, height: 720 }, [
        { scaleResolutionDownBy: 4, maxBitrate: 150_000 },
        { scaleResolutionDownBy: 2, maxBitrate: 500_000 },
        { scaleResolutionDownBy: 1, maxBitrate: 1_500_000 },
      ]),
    ).toEqual(LAYERS);
  });

  it('estimates a bitrate when the sender set none, and treats a missing scale as 1', () => {
    const [l] = layersFromEncodings({ width: 640, height: 480 }, [{}]);
    expect(l).toMatchObject({ width: 640, height: 480 });
    expect(l!.maxBitrate).toBeGreaterThan(100_000);
  });
});
