/** Tells which well-known Keras network a set of 'layer/weight' names comes from, for "wrong weights" messages. */
const FINGERPRINTS: ReadonlyArray<readonly [string, (layers: Set<string>) => boolean]> = [
  ['MobileNetV2', (l) => l.has('block_1_depthwise') || l.has('expanded_conv_depthwise')],
  ['MobileNet (v1)', (l) => l.has('conv_dw_1')],
  ['VGG19', (l) => l.has('block1_conv1') && l.has('block5_conv4')],
  ['VGG16', (l) => l.has('block1_conv1') && l.has('block5_conv3')],
  ['ResNet (Keras Applications)', (l) => l.has('conv1_conv') || l.has('res2a_branch2a')],
  ['DenseNet', (l) => l.has('conv1/conv') || l.has('conv2_block1_0_bn')],
  ['EfficientNet', (l) => l.has('stem_conv')],
  ['InceptionV3 / Xception', (l) => l.has('conv2d_1') || l.has('block1_conv1_bn')],
];

export function identifyBackbone(weightNames: Iterable<string>): string | null {
  const layers = new Set<string>();
  for (const name of weightNames) layers.add(name.split('/').slice(0, -1).join('/'));
  for (const [label, matches] of FINGERPRINTS) if (matches(layers)) return label;
  return null;
}

/**
 * The same for a Keras 3 weights file, whose groups carry no layer names, only classes: counts of weight-bearing
 * layers per snake-case class (keras.applications, include_top either way).
 */
const COUNT_FINGERPRINTS: ReadonlyArray<readonly [string, (n: (c: string) => number) => boolean]> = [
  ['MobileNetV2', (n) => n('depthwise_conv2d') === 17 && n('conv2d') === 35 && n('batch_normalization') === 52],
  ['MobileNet (v1)', (n) => n('depthwise_conv2d') === 13 && n('batch_normalization') === 27],
  ['VGG16', (n) => n('conv2d') === 13 && n('batch_normalization') === 0],
  ['VGG19', (n) => n('conv2d') === 16 && n('batch_normalization') === 0],
  ['ResNet50', (n) => n('conv2d') === 53 && n('batch_normalization') === 53],
  ['DenseNet121', (n) => n('conv2d') === 120],
];

export function identifyByLayerCounts(counts: ReadonlyMap<string, number>): string | null {
  const n = (c: string) => counts.get(c) ?? 0;
  return COUNT_FINGERPRINTS.find(([, matches]) => matches(n))?.[0] ?? null;
}
