/** The WCAG contrast arithmetic behind the e2e theme test (test/e2e/contrast.ts), against published values. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { contrastRatio, effectiveBackground, parseColor, textContrast } from '../e2e/contrast';

test('contrast ratios match WCAG reference values', () => {
  assert.equal(contrastRatio([0, 0, 0], [255, 255, 255]), 21);
  assert.equal(contrastRatio([255, 255, 255], [255, 255, 255]), 1);
  // #777777 on white is the classic "just fails AA" grey: 4.48:1.
  assert.ok(Math.abs(contrastRatio([0x77, 0x77, 0x77], [255, 255, 255]) - 4.48) < 0.01);
  // #767676 on white, the lightest grey that passes AA: 4.54:1.
  assert.ok(Math.abs(contrastRatio([0x76, 0x76, 0x76], [255, 255, 255]) - 4.54) < 0.01);
});

test('computed colours parse, and translucent layers and opacity are composited', () => {
  assert.deepEqual(parseColor('rgb(12, 34, 56)'), [12, 34, 56, 1]);
  assert.deepEqual(parseColor('rgba(0, 0, 0, 0)'), [0, 0, 0, 0]);
  assert.deepEqual(parseColor('#ff000080')?.slice(0, 3), [255, 0, 0]);
  assert.equal(parseColor('transparent'), null);
  assert.deepEqual(effectiveBackground(['rgba(0, 0, 0, 0)', 'rgb(255, 255, 255)'], [0, 0, 0]), [255, 255, 255]);
  assert.deepEqual(effectiveBackground(['rgba(0, 0, 0, 0.5)', 'rgb(255, 255, 255)'], [0, 0, 0]), [127.5, 127.5, 127.5]);
  const black = { what: 'p', color: 'rgb(0, 0, 0)', backgrounds: ['rgb(255, 255, 255)'], large: false };
  assert.equal(textContrast({ ...black, opacity: 1 }, [255, 255, 255]).ratio, 21);
  // Half-transparent black text on white is mid grey.
  const faded = textContrast({ ...black, opacity: 0.5 }, [255, 255, 255]);
  assert.ok(faded.ratio > 3.9 && faded.ratio < 4.1, String(faded.ratio));
  assert.equal(faded.needed, 4.5);
});
