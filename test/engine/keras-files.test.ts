/**
 * Keras's own file formats: the real Keras 3 `.weights.h5` in ../shared (written by Keras 3.15.1), and files built
 * here from its data in the exact layouts Keras writes (a whole model saved as .h5, a .keras archive, a VGG16
 * .weights.h5). Each builder names the Keras source it follows.
 */
import { after, before, describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import * as tfl from '@tensorflow/tfjs-layers';
import { buildClassifier, isHeadWeight } from '../../server/src/engine/models/classifier';
import { getBackbone } from '../../server/src/engine/models/registry';
import { applyNamedWeights, disposeNamedWeights, readWeightsFile, type NamedWeights } from '../../server/src/engine/models/weights';
import { Rng } from '../../server/src/engine/util/rng';
import { MOBILENET_NOTOP_KERAS3, MOBILENET_NOTOP_MANIFEST, requireShared, tmpDir } from '../helpers/shared';
import { expectError, randomWeight, sameBits } from '../helpers/weightAsserts';
import { writeZip } from '../helpers/zipWriter';

type H5 = typeof import('h5wasm/node', { with: { 'resolution-mode': 'import' } });
type H5Group = InstanceType<H5['Group']>;
let h5: H5;
const tmp = tmpDir('keras-files');
const mobilenet = getBackbone('mobilenet_v2');
const vgg16 = getBackbone('vgg16');
/** Built once (VGG16 has 14.7M weights): each test loads into them and checks every weight it loaded. */
let mobilenetModel: tfl.LayersModel;
let vggModel: tfl.LayersModel;
let vggLayers: KerasLayer[];

interface Weight {
  shape: number[];
  data: Float32Array;
}
/** One layer of the real Keras 3 file: its group ('conv2d_3'), the name Keras stored for it, its vars in order. */
interface KerasLayer {
  group: string;
  name: string;
  vars: Weight[];
}

/** Reads the real Keras 3 file with h5wasm directly (not with the code under test): every layer group with vars. */
function readKeras3Layers(file: string): KerasLayer[] {
  const f = new h5.File(file, 'r');
  try {
    const layers = f.get('layers') as H5Group;
    return layers.keys().flatMap((group) => {
      const vars = (layers.get(group) as H5Group).get('vars') as H5Group;
      const keys = vars.keys().sort((a, b) => Number(a) - Number(b));
      const name = vars.attrs['name'].value as string;
      return [{ group, name, vars: keys.map((k) => {
        const ds = vars.get(k) as InstanceType<H5['Dataset']>;
        return { shape: ds.shape as number[], data: ds.value as Float32Array };
      }) }];
    });
  } finally {
    f.close();
  }
}

/** Every model weight against `expected` ('layer/weight' -> values): the keys that are not bit-identical. */
function differing(model: tfl.LayersModel, expected: NamedWeights): string[] {
  const bad: string[] = [];
  for (const layer of model.layers) {
    for (const v of layer.weights) {
      const key = `${layer.name}/${v.originalName.split('/').pop()}`;
      const want = expected.get(key);
      if (!want || !sameBits(v.read(), want)) bad.push(key);
    }
  }
  return bad;
}

/**
 * A `.weights.h5` in the layout of Keras 3 `model.save_weights()` (keras/src/saving/saving_lib.py `_save_state`,
 * `_save_container_state`, `H5IOStore.make` / `_create_h5_group`): `layers/<snake class>[_<n>]/vars/<i>`, a counter
 * per class in `model.layers` order. With `storedNames` (Keras 3.6 and later), every layer's vars group is created
 * with the attribute name=<layer name>, weightless layers included, and the model's own root `vars`; without (Keras
 * 3.0-3.5) only layers that hold variables get a group.
 */
function writeKeras3WeightsFile(file: string, modelName: string, layers: KerasLayer[], storedNames: boolean): void {
  const f = new h5.File(file, 'w');
  const root = f.create_group('layers');
  for (const layer of layers) {
    if (layer.vars.length === 0 && !storedNames) continue;
    const vars = root.create_group(layer.group).create_group('vars');
    if (storedNames) vars.create_attribute('name', layer.name);
    layer.vars.forEach((v, i) => vars.create_dataset({ name: String(i), data: v.data, shape: v.shape }));
  }
  if (storedNames) f.create_group('vars').create_attribute('name', modelName);
  f.close();
}

/** Keras 3 variable names per layer class, in vars order (Keras 3 calls the depthwise kernel 'kernel'). */
const KERAS3_VAR_NAMES: Record<string, string[]> = {
  conv2d: ['kernel', 'bias'],
  depthwise_conv2d: ['kernel', 'bias'],
  batch_normalization: ['gamma', 'beta', 'moving_mean', 'moving_variance'],
  dense: ['kernel', 'bias'],
};

/**
 * A whole model saved as HDF5, the layout of keras/src/legacy/saving/legacy_h5_format.py `save_model_to_hdf5`
 * (Keras 3 `model.save('m.h5')`; tf.keras 2.x hdf5_format.py is the same up to the names): root attributes
 * backend, keras_version, model_config (JSON); group `model_weights` with attributes layer_names (every layer,
 * `model.layers` order), backend, keras_version; one group per layer (Keras 3: sorted by name) with attribute
 * weight_names = the variables' paths ('Conv1/kernel'; tf.keras 2: 'Conv1/kernel:0', depthwise 'depthwise_kernel')
 * and the datasets at those paths inside it; Keras 3 adds `top_level_model_weights`. Empty name lists are
 * float64[0], as np.asarray([]) writes them. h5py writes fixed-length byte strings; h5wasm does the same here.
 * The optimizer (`optimizer_weights`, only for a compiled model) is left out.
 */
function writeFullModelH5(file: string, style: 'keras3' | 'keras2', model: { name: string; layers: KerasLayer[] }): void {
  const f = new h5.File(file, 'w');
  const fixed = (names: string[]) => `S${Math.max(1, ...names.map((n) => Buffer.byteLength(n)))}`;
  const strings = (g: H5Group, attr: string, names: string[]) =>
    names.length > 0 ? g.create_attribute(attr, names, [names.length], fixed(names)) : g.create_attribute(attr, new Float64Array(0), [0]);
  const version = style === 'keras3' ? '3.15.1' : '2.15.0';
  f.create_attribute('backend', 'tensorflow');
  f.create_attribute('keras_version', version);
  f.create_attribute('model_config', JSON.stringify({ class_name: 'Functional', config: { name: model.name, layers: model.layers.map((l) => ({ name: l.name })) } }));
  const mw = f.create_group('model_weights');
  strings(mw, 'layer_names', model.layers.map((l) => l.name));
  mw.create_attribute('backend', 'tensorflow');
  mw.create_attribute('keras_version', version);
  const order = style === 'keras3' ? [...model.layers].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0)) : model.layers;
  for (const layer of order) {
    const g = mw.create_group(layer.name);
    const className = layer.group.replace(/_\d+$/, '');
    const varNames = (KERAS3_VAR_NAMES[className] ?? []).slice(0, layer.vars.length).map((n) =>
      style === 'keras2' ? `${className === 'depthwise_conv2d' && n === 'kernel' ? 'depthwise_kernel' : n}:0` : n,
    );
    strings(g, 'weight_names', varNames.map((n) => `${layer.name}/${n}`));
    if (layer.vars.length > 0) {
      const inner = g.create_group(layer.name); // h5py creates this intermediate group for the path 'Conv1/kernel'
      layer.vars.forEach((v, i) => inner.create_dataset({ name: varNames[i], data: v.data, shape: v.shape }));
    }
  }
  if (style === 'keras3') strings(mw.create_group('top_level_model_weights'), 'weight_names', []);
  f.close();
}

/**
 * A `.keras` archive as keras/src/saving/saving_lib.py `_save_model_to_fileobj` writes it: zipfile entries
 * metadata.json, config.json, then model.weights.h5 (the .weights.h5 layout), stored uncompressed.
 */
function writeKerasArchive(file: string, modelName: string, weightsH5: string, opts: { deflate?: boolean } = {}): void {
  const metadata = { keras_version: '3.15.1', date_saved: '2026-11-30@12:00:00' };
  const config = { module: 'keras.src.models.functional', class_name: 'Functional', config: { name: modelName, trainable: true }, registered_name: 'Functional' };
  writeZip(
    file,
    [
      { name: 'metadata.json', data: Buffer.from(JSON.stringify(metadata)) },
      { name: 'config.json', data: Buffer.from(JSON.stringify(config)) },
      { name: 'model.weights.h5', data: fs.readFileSync(weightsH5) },
    ],
    opts,
  );
}

/** The MobileNetV2 layers in Keras's model.layers order (the tfjs model's order), with the real file's values. */
function mobilenetLayersInOrder(real: KerasLayer[]): KerasLayer[] {
  const byName = new Map(real.map((l) => [l.name, l]));
  return mobilenetModel.layers.map((l) => byName.get(l.name) ?? { group: l.getClassName(), name: l.name === 'input_1' ? 'input_layer' : l.name, vars: [] });
}

/** VGG16 (no top) as Keras 3 names its groups: input_layer, conv2d, conv2d_1, max_pooling2d, conv2d_2, ..., conv2d_12. */
function vgg16Keras3Layers(model: tfl.LayersModel, seed: number): KerasLayer[] {
  const rng = new Rng(seed);
  const groupOf: Record<string, string> = { InputLayer: 'input_layer', Conv2D: 'conv2d', MaxPooling2D: 'max_pooling2d' };
  const seen = new Map<string, number>();
  const layers = model.layers.map((layer) => {
    const cls = groupOf[layer.getClassName()];
    const n = seen.get(cls) ?? 0;
    seen.set(cls, n + 1);
    const vars = layer.weights.map((w) => {
      const shape = w.shape as number[];
      return { shape, data: randomWeight(rng, shape, 0.05) };
    });
    return { group: n === 0 ? cls : `${cls}_${n}`, name: layer.name === 'input_1' ? 'input_layer' : layer.name, vars };
  });
  return layers;
}

before(async () => {
  await tf.setBackend('cpu');
  h5 = await import('h5wasm/node');
  await h5.ready;
  mobilenetModel = mobilenet.build();
  vggModel = vgg16.build({ inputSize: 32 }); // the input size changes no weight
  vggLayers = vgg16Keras3Layers(vggModel, 11);
});
after(() => {
  mobilenetModel.dispose();
  vggModel.dispose();
  fs.rmSync(tmp, { recursive: true, force: true });
});

describe('Keras 3 .weights.h5 written by Keras 3.15.1 (../shared/models/mobilenet_v2_imagenet/keras3)', () => {
  let tfjs: NamedWeights;
  let real: KerasLayer[];
  before(async () => {
    tfjs = await readWeightsFile(requireShared(MOBILENET_NOTOP_MANIFEST));
    real = readKeras3Layers(requireShared(MOBILENET_NOTOP_KERAS3));
  });
  after(() => disposeNamedWeights(tfjs));

  it('is the layout the issue describes: groups by class and counter, not by layer name', () => {
    const groups = real.map((l) => l.group);
    for (const g of ['conv2d', 'conv2d_10', 'conv2d_34', 'depthwise_conv2d_16', 'batch_normalization_51']) assert.ok(groups.includes(g), g);
    assert.ok(!groups.includes('Conv1') && !groups.includes('block_1_depthwise'));
    assert.equal(real.find((l) => l.group === 'conv2d')!.name, 'Conv1');
  });

  it('loads into MobileNetV2 by class and order, bit-identical to the TF.js weights, every group on the layer Keras saved it from', async () => {
    const weights = await readWeightsFile(MOBILENET_NOTOP_KERAS3);
    const model = mobilenetModel;
    const report = applyNamedWeights(model, weights);
    assert.deepEqual([report.loaded.length, report.missing, report.unused], [260, [], []]);
    assert.deepEqual(differing(model, tfjs), []);
    // The stored names (not used for matching) agree with the layer each group was matched to.
    const byName = new Map(model.layers.map((l) => [l.name, l]));
    const misplaced = real.filter((l) => l.vars.length > 0 && !sameBits(byName.get(l.name)!.weights[0].read(), l.vars[0].data));
    assert.deepEqual(misplaced.map((l) => l.group), []);
    // Numeric order: conv2d_10 is the 11th Conv2D of the model, not the 3rd (as a text sort would have it).
    const convs = model.layers.filter((l) => l.getClassName() === 'Conv2D');
    assert.ok(sameBits(convs[10].weights[0].read(), real.find((l) => l.group === 'conv2d_10')!.vars[0].data));
    disposeNamedWeights(weights);
  });

  it('loads into the classifier the trainer builds (the head left to the trainer)', async () => {
    const weights = await readWeightsFile(MOBILENET_NOTOP_KERAS3);
    const model = buildClassifier(mobilenet, 3, 224);
    const report = applyNamedWeights(model, weights, { ignore: isHeadWeight });
    assert.deepEqual([report.loaded.length, report.missing], [260, []]);
    assert.deepEqual(differing(model, tfjs).filter((k) => !isHeadWeight(k)), []);
    disposeNamedWeights(weights);
    model.dispose();
  });

  it('is refused by VGG16 with a message naming the file and what it holds', async () => {
    const weights = await readWeightsFile(MOBILENET_NOTOP_KERAS3);
    const model = vggModel;
    const before = model.getLayer('block1_conv1').getWeights()[0].dataSync().slice() as Float32Array;
    assert.throws(
      () => applyNamedWeights(model, weights),
      expectError('WEIGHTS_INVALID', /mobilenet_v2_1\.0_224_no_top\.weights\.h5 holds a different network than the chosen backbone 'vgg16'/, /looks like MobileNetV2/, /35 conv2d/),
    );
    assert.ok(sameBits(before, model.getLayer('block1_conv1').getWeights()[0]), 'nothing written');
    disposeNamedWeights(weights);
  });
});

describe('VGG16 .weights.h5 in the Keras 3 layout', () => {
  for (const storedNames of [false, true]) {
    it(`loads every layer in numeric order (conv2d_10 after conv2d_9), ${storedNames ? 'with' : 'without'} stored layer names`, async () => {
      const layers = vggLayers;
      const file = path.join(tmp, `vgg16_${storedNames}.weights.h5`);
      writeKeras3WeightsFile(file, 'vgg16', layers, storedNames);
      const weights = await readWeightsFile(file);
      const model = vggModel;
      const report = applyNamedWeights(model, weights);
      assert.deepEqual([report.loaded.length, report.missing, report.unused], [26, [], []]);
      const wrong = layers.filter((l) => l.vars.some((v, i) => !sameBits(model.getLayer(l.name).weights[i].read(), v.data)));
      assert.deepEqual(wrong.map((l) => l.group), []);
      disposeNamedWeights(weights);
      });
  }

  it('is refused by MobileNetV2, naming the file and what it looks like', async () => {
    const file = path.join(tmp, 'vgg16_for_mobilenet.weights.h5');
    writeKeras3WeightsFile(file, 'vgg16', vggLayers, true);
    const weights = await readWeightsFile(file);
    const model = mobilenetModel;
    assert.throws(() => applyNamedWeights(model, weights), expectError('WEIGHTS_INVALID', /vgg16_for_mobilenet\.weights\.h5 holds a different network/, /looks like VGG16/));
    disposeNamedWeights(weights);
  });

  it('refuses a file whose stored names say the layer order differs', async () => {
    const layers = vggLayers.map((l) => ({ ...l }));
    // Swap the stored names of two layers of the same shape: group conv2d_8 (block4_conv2) says it is block4_conv3.
    const a = layers.find((l) => l.group === 'conv2d_8')!;
    const b = layers.find((l) => l.group === 'conv2d_9')!;
    [a.name, b.name] = [b.name, a.name];
    const file = path.join(tmp, 'vgg16_reordered.weights.h5');
    writeKeras3WeightsFile(file, 'vgg16', layers, true);
    const weights = await readWeightsFile(file);
    const model = vggModel;
    assert.throws(() => applyNamedWeights(model, weights), expectError('WEIGHTS_INVALID', /vgg16_reordered\.weights\.h5/, /layers\/conv2d_8' was saved from layer 'block4_conv3' but falls on layer 'block4_conv2'/));
    disposeNamedWeights(weights);
  });
});

describe('whole models saved by Keras: model.save("m.h5") and model.save("m.keras")', () => {
  let tfjs: NamedWeights;
  let layers: KerasLayer[];
  before(async () => {
    tfjs = await readWeightsFile(requireShared(MOBILENET_NOTOP_MANIFEST));
    layers = mobilenetLayersInOrder(readKeras3Layers(requireShared(MOBILENET_NOTOP_KERAS3)));
  });
  after(() => disposeNamedWeights(tfjs));

  /** `file` loads into MobileNetV2: all 260 tensors, none missing or unused, each bit-identical to the TF.js weights. */
  async function assertLoadsEveryMobilenetWeight(file: string): Promise<void> {
    const weights = await readWeightsFile(file);
    const report = applyNamedWeights(mobilenetModel, weights);
    assert.deepEqual([report.loaded.length, report.missing, report.unused], [260, [], []]);
    assert.deepEqual(differing(mobilenetModel, tfjs), []);
    disposeNamedWeights(weights);
  }

  for (const style of ['keras3', 'keras2'] as const) {
    it(`reads the weights of a ${style === 'keras3' ? 'Keras 3' : 'tf.keras 2'} full-model .h5 (model_weights/)`, async () => {
      const file = path.join(tmp, `mobilenet_v2_${style}_model.h5`);
      writeFullModelH5(file, style, { name: 'mobilenetv2_1.00_224', layers });
      await assertLoadsEveryMobilenetWeight(file);
    });
  }

  it('names the file when a full-model .h5 holds another network', async () => {
    const file = path.join(tmp, 'vgg16_model.h5');
    writeFullModelH5(file, 'keras3', { name: 'vgg16', layers: vggLayers });
    const weights = await readWeightsFile(file);
    const model = mobilenetModel;
    assert.throws(() => applyNamedWeights(model, weights), expectError('WEIGHTS_INVALID', /vgg16_model\.h5 does not fit model/, /looks like VGG16/));
    disposeNamedWeights(weights);
  });

  for (const deflate of [false, true]) {
    it(`reads a .keras archive (${deflate ? 'deflated, as a re-zipped one' : 'stored, as Keras writes it'})`, async () => {
      const file = path.join(tmp, `mobilenet_v2_${deflate}.keras`);
      writeKerasArchive(file, 'mobilenetv2_1.00_224', requireShared(MOBILENET_NOTOP_KERAS3), { deflate });
      await assertLoadsEveryMobilenetWeight(file);
    });
  }

  it('names the archive and its model when a .keras holds another network', async () => {
    const h5File = path.join(tmp, 'vgg16_inner.weights.h5');
    writeKeras3WeightsFile(h5File, 'vgg16', vggLayers, true);
    const file = path.join(tmp, 'vgg16.keras');
    writeKerasArchive(file, 'vgg16', h5File);
    const weights = await readWeightsFile(file);
    const model = mobilenetModel;
    assert.throws(
      () => applyNamedWeights(model, weights),
      expectError('WEIGHTS_INVALID', /vgg16\.keras holds a different network than the chosen backbone/, /config\.json names the model 'vgg16'/, /looks like VGG16/),
    );
    disposeNamedWeights(weights);
  });

  it('rejects a ZIP that is not a .keras archive, and a damaged one, saying which', async () => {
    const notKeras = path.join(tmp, 'photos.zip');
    writeZip(notKeras, [{ name: 'a.txt', data: Buffer.from('hello') }]);
    await assert.rejects(readWeightsFile(notKeras), expectError('WEIGHTS_INVALID', /photos\.zip is a ZIP archive but not a Keras \.keras file/, /a\.txt/));
    const good = path.join(tmp, 'to_damage.keras');
    writeKerasArchive(good, 'mobilenetv2_1.00_224', requireShared(MOBILENET_NOTOP_KERAS3));
    const bytes = fs.readFileSync(good);
    const damaged = path.join(tmp, 'damaged.keras');
    bytes[bytes.length - 5000] ^= 0xff; // inside model.weights.h5, near its end
    fs.writeFileSync(damaged, bytes);
    await assert.rejects(readWeightsFile(damaged), expectError('WEIGHTS_INVALID', /damaged\.keras: entry model\.weights\.h5/, /CRC/));
    const cut = path.join(tmp, 'cut.keras');
    fs.writeFileSync(cut, bytes.subarray(0, 4_000_000));
    await assert.rejects(readWeightsFile(cut), expectError('WEIGHTS_INVALID', /cut\.keras/, /damaged or truncated/));
  });
});
