import { test } from 'node:test';
import assert from 'node:assert/strict';
import sharp from 'sharp';
import { blendOverlay, escapeXml, jet, JET_BYTES, jetIndex, renderCamGrid, renderOverlayPng, upsampleBilinear } from '../../server/src/engine/explain/render';
import { CxrError } from '../../server/src/engine/errors';

test("jet equals matplotlib's plt.cm.jet(v)[:3]", () => {
  // matplotlib samples the segments at x = i/255 and picks entry floor(256 v): v = 0.5 -> entry 128 -> x = 0.50196,
  // red = (x - 0.35) / 0.31 = 0.490196, blue = 1 - (x - 0.34) / 0.31 = 0.477546 (matplotlib 3.x prints exactly these).
  const expected: [number, [number, number, number]][] = [
    [0, [0, 0, 0.5]],
    [0.125, [0, 0.00196078431372549, 1]], // entry 32: green = (32/255 - 0.125) / 0.25
    [0.375, [0.08538899430740036, 1, 0.8823529411764706]], // entry 96
    [0.5, [0.4901960784313725, 1, 0.4775458570524984]],
    [0.625, [0.8950031625553446, 1, 0.07273877292852626]], // entry 160
    [0.875, [1, 0.11692084241103862, 0]], // entry 224
    [1, [0.5, 0, 0]], // 1.0 maps to the last entry, not past it
  ];
  for (const [v, rgb] of expected) {
    const got = jet(v);
    rgb.forEach((e, c) => assert.ok(Math.abs(got[c] - e) < 1e-12, `jet(${v})[${c}] = ${got[c]}, matplotlib ${e}`));
  }
  assert.deepEqual(jet(-0.2), jet(0)); // under -> first entry
  assert.deepEqual(jet(1.7), jet(1)); // over -> last entry
  assert.deepEqual(jet(Number.NaN), [0, 0, 0]);
});

test("jet's byte table (what the heatmap viewer draws) gives Math.round(255 * jet(v)) for every v", () => {
  for (let k = -20; k <= 1020; k++) {
    const v = k / 1000;
    const j = jetIndex(v) * 3;
    assert.deepEqual([JET_BYTES[j], JET_BYTES[j + 1], JET_BYTES[j + 2]], jet(v).map((c) => Math.round(255 * c)), `v = ${v}`);
  }
});

test('bilinear upsampling uses half-pixel centres like cv2.resize(INTER_LINEAR)', () => {
  const map = new Float32Array([0, 1, 2, 3]); // [[0, 1], [2, 3]]
  // 2 -> 4: source coordinates (d + 0.5) / 2 - 0.5 = -0.25 (clamped to 0), 0.25, 0.75, 1.25 (clamped to 1),
  // so each row is a, 0.75a + 0.25b, 0.25a + 0.75b, b and value = x + 2y.
  assert.deepEqual(Array.from(upsampleBilinear(map, 2, 2, 4, 4)), [
    0, 0.25, 0.75, 1,
    0.5, 0.75, 1.25, 1.5,
    1.5, 1.75, 2.25, 2.5,
    2, 2.25, 2.75, 3,
  ]);
  // 2 -> 3 (non-integer scale): coordinates -1/6 (clamped), 0.5, 7/6 (clamped).
  assert.deepEqual(Array.from(upsampleBilinear(map, 2, 2, 3, 3)), [0, 0.5, 1, 1, 1.5, 2, 2, 2.5, 3]);
  // Non-square: a 3x1 row to 6x2 keeps rows identical and orientation (left stays left).
  const row = upsampleBilinear(new Float32Array([0, 1, 2]), 3, 1, 6, 2);
  assert.deepEqual(Array.from(row.slice(0, 6)), Array.from(row.slice(6)));
  assert.deepEqual(Array.from(row.slice(0, 6)), [0, 0.25, 0.75, 1.25, 1.75, 2]);
  // Same size is the identity.
  assert.deepEqual(Array.from(upsampleBilinear(map, 2, 2, 2, 2)), [0, 1, 2, 3]);
  assert.throws(() => upsampleBilinear(map, 3, 2, 4, 4), CxrError);
});

test('overlay = (1 - alpha) * image + alpha * jet(heat), RGB order, written as PNG', async () => {
  const size = 4;
  const image = new Float32Array(size * size * 3).fill(0.6);
  const heat = new Float32Array(size * size);
  heat[0] = 1; // top-left hot
  heat[size * size - 1] = 0; // bottom-right cold
  heat[1] = 0.5;
  const png = await renderOverlayPng(image, size, heat, 0.4);
  const { data, info } = await sharp(png).raw().toBuffer({ resolveWithObject: true });
  assert.deepEqual([info.width, info.height, info.channels, info.format], [size, size, 3, 'raw']);
  const px = (i: number) => Array.from(data.subarray(3 * i, 3 * i + 3));
  // hot: 0.6 * 0.6 + 0.4 * (0.5, 0, 0) = (0.56, 0.36, 0.36) -> * 255 = (142.8, 91.8, 91.8) -> (143, 92, 92)
  assert.deepEqual(px(0), [143, 92, 92]);
  // cold: 0.36 + 0.4 * (0, 0, 0.5) = (0.36, 0.36, 0.56) -> (92, 92, 143)
  assert.deepEqual(px(size * size - 1), [92, 92, 143]);
  // middle: 0.36 + 0.4 * (0.490196, 1, 0.477546) = (0.556078, 0.76, 0.551018) -> (141.8, 193.8, 140.5) -> (142, 194, 141)
  assert.deepEqual(px(1), [142, 194, 141]);
  assert.deepEqual(Array.from(blendOverlay(image, size, heat, 0.4).subarray(0, 3)), [143, 92, 92]);
  await assert.rejects(renderOverlayPng(image, size, new Float32Array(3)), /upsample it to 4x4/);
  assert.throws(() => blendOverlay(image, size, heat, 2), /alpha must be in \[0, 1\]/);
});

test('CAM grid: size, tile placement and green/red "Predicted / Real" captions', async () => {
  const size = 24;
  const tile = (predicted: string, real: string) => ({
    unitRgb: new Float32Array(size * size * 3).fill(0.5),
    size,
    heatmap01: new Float32Array(size * size), // all cold: each tile is (0.325, 0.325, 0.5) grey-blue
    predicted,
    real,
  });
  const tiles = [tile('Covid', 'Covid'), tile('Normal', 'Viral Pneumonia'), tile('Viral Pneumonia', 'Viral Pneumonia')];
  const png = await renderCamGrid(tiles, { columns: 2, tileSize: 64, title: 'toy <cam> & "grid"' });
  const { data, info } = await sharp(png).raw().toBuffer({ resolveWithObject: true });
  // Layout: gap 8, caption max(16, round(0.12 * 64)) = 16, title round(1.6 * 16) = 26.
  // width = 8 + 2 * (64 + 8) = 152; height = 8 + 26 + 2 rows * (16 + 64 + 8) = 210.
  assert.deepEqual([info.width, info.height, info.channels], [152, 210, 3]);
  const at = (x: number, y: number) => Array.from(data.subarray((y * info.width + x) * 3, (y * info.width + x) * 3 + 3));
  const cellLeft = (i: number) => 8 + (i % 2) * 72;
  const cellTop = (i: number) => 8 + 26 + Math.floor(i / 2) * 88;
  // Tile images sit under their captions: overlay colour 0.65 * 0.5 + 0.35 * jet(0) = (0.325, 0.325, 0.5).
  for (let i = 0; i < 3; i++) assert.deepEqual(at(cellLeft(i) + 32, cellTop(i) + 16 + 32), [83, 83, 128]);

  const captionColours = (i: number) => {
    let green = 0;
    let red = 0;
    for (let y = cellTop(i); y < cellTop(i) + 16; y++) for (let x = cellLeft(i); x < cellLeft(i) + 64; x++) {
      const [r, g, b] = at(x, y);
      if (g > 100 && r < 60 && b < 60) green++;
      if (r > 150 && g < 60 && b < 60) red++;
    }
    return { green, red };
  };
  const [c0, c1, c2] = [0, 1, 2].map(captionColours);
  assert.ok(c0.green > 20 && c0.red === 0, `match caption should be green: ${JSON.stringify(c0)}`);
  assert.ok(c1.red > 20 && c1.green === 0, `mismatch caption should be red: ${JSON.stringify(c1)}`);
  assert.ok(c2.green > 20 && c2.red === 0, `match caption should be green: ${JSON.stringify(c2)}`);
  // The title (escaped: '<', '&' and '"' must not break the SVG) is drawn in dark text.
  let dark = 0;
  for (let y = 8; y < 34; y++) for (let x = 0; x < info.width; x++) if (at(x, y).every((v) => v < 90)) dark++;
  assert.ok(dark > 20, `title pixels: ${dark}`);
  // The empty fourth cell stays background.
  assert.deepEqual(at(cellLeft(3) + 32, cellTop(3) + 48), [255, 255, 255]);

  await assert.rejects(renderCamGrid([]), CxrError);
  assert.equal(escapeXml(`a<b>&"c'\u0001`), 'a&lt;b&gt;&amp;&quot;c&apos;');
});
