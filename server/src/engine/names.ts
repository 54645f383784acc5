/**
 * Every list of names the project uses, in one place: the engine, the backend's parameter checks, the CLI help, the
 * VS Code client and package.json (test/engine/names.test.ts checks its enums and menu clauses against these lists).
 * Pure data, no imports: webviews and the client bundle it too.
 */

/** Backbone ids, in the order UIs offer them (the first is the default). models/registry.ts has a spec for each. */
export const BACKBONE_IDS = ['mobilenet_v2', 'vgg16'] as const;
export type BackboneId = (typeof BACKBONE_IDS)[number];

/** What a person picking a backbone needs to know (package.json enumDescriptions and the Train quick pick). */
export const BACKBONE_DESCRIPTIONS: Readonly<Record<BackboneId, { label: string; detail: string }>> = {
  mobilenet_v2: { label: 'MobileNetV2', detail: 'MobileNetV2 (ImageNet weights, fast on a CPU)' },
  vgg16: { label: 'VGG16', detail: 'VGG16 (large and slow on a CPU)' },
};

/** The Keras Applications file name of each backbone's ImageNet weights without the top (`include_top=False`). */
export const KERAS_NOTOP_FILES: Readonly<Record<BackboneId, string>> = {
  mobilenet_v2: 'mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.0_224_no_top.h5',
  vgg16: 'vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5',
};

/** TensorFlow.js backends. `auto` tries AUTO_BACKENDS; webgpu is used only when asked for. */
export const BACKEND_NAMES = ['tensorflow', 'webgpu', 'wasm', 'cpu'] as const;
export type BackendName = (typeof BACKEND_NAMES)[number];

/** The order `auto` tries backends in, fastest first. WebGPU stays out until it is proven on real GPUs. */
export const AUTO_BACKENDS: readonly BackendName[] = ['tensorflow', 'wasm', 'cpu'];

/** ONNX Runtime execution providers a user can ask for (cxr.onnxExecutionProvider, --ort-provider); `auto` picks. */
export const ORT_PROVIDER_PREFERENCES = ['auto', 'cpu', 'cuda', 'dml', 'coreml'] as const;
export type OrtProviderPreference = (typeof ORT_PROVIDER_PREFERENCES)[number];

/** The cxr.engineBackend setting: a backend name, or `auto`. */
export const ENGINE_BACKEND_SETTINGS = ['auto', ...BACKEND_NAMES] as const;
export type EngineBackendSetting = (typeof ENGINE_BACKEND_SETTINGS)[number];

export const CAM_METHODS = ['cam', 'gradcam'] as const;
export type CamMethodName = (typeof CAM_METHODS)[number];

/** Formats of `cxr export`. */
export const EXPORT_FORMATS = ['onnx', 'tfjs'] as const;

/** How BatchNorm layers after `--freeze-at` train (api.ts BatchNormMode); the first is the default. */
export const BATCH_NORM_MODES = ['inference', 'batch'] as const;
export type BatchNormMode = (typeof BATCH_NORM_MODES)[number];

export const SPLIT_NAMES = ['train', 'val', 'test'] as const;
export type SplitName = (typeof SPLIT_NAMES)[number];

/** Extensions of the image files the engine decodes: what sharp reads here, plus DICOM (decoded by dicom.ts). */
export const IMAGE_EXTENSIONS = ['.png', '.jpg', '.jpeg', '.webp', '.tif', '.tiff', '.gif', '.dcm'] as const;

/** The subset a browser shows by itself (webviews get these bytes as they are; the rest as the backend renders them). */
export const BROWSER_IMAGE_MIME: Readonly<Record<string, string>> = {
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.webp': 'image/webp',
  '.gif': 'image/gif',
};

/** The `when`-clause regular expression matching IMAGE_EXTENSIONS, as package.json menus spell it. */
export function imageExtensionWhenPattern(): string {
  return `/\\.(${IMAGE_EXTENSIONS.map((e) => e.slice(1)).join('|')})$/i`;
}

/** Whether `name` is one of `list` (narrowing an unknown string). */
export function isOneOf<T extends string>(list: readonly T[], name: unknown): name is T {
  return typeof name === 'string' && (list as readonly string[]).includes(name);
}
