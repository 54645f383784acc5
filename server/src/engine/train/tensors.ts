import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';

/** Stacks decoded [0,1] RGB images (size*size*3 each) into an NHWC batch. */
export function stackImages(images: readonly Float32Array[], size: number): tf.Tensor4D {
  const buf = new Float32Array(images.length * size * size * 3);
  images.forEach((img, i) => buf.set(img, i * size * size * 3));
  return tf.tensor4d(buf, [images.length, size, size, 3]);
}

export function oneHot(labels: readonly number[], numClasses: number): tf.Tensor2D {
  return tf.tidy(() => tf.cast(tf.oneHot(tf.tensor1d(labels as number[], 'int32'), numClasses), 'float32') as tf.Tensor2D);
}

/** Mean categorical cross-entropy on probabilities, clipped as Keras does. */
export function categoricalCrossEntropy(yTrue: tf.Tensor, probs: tf.Tensor): tf.Scalar {
  return tf.tidy(() => {
    const clipped = tf.clipByValue(probs, 1e-7, 1 - 1e-7);
    return tf.neg(tf.mean(tf.sum(tf.mul(yTrue, tf.log(clipped)), -1))) as tf.Scalar;
  });
}

/** Number of rows whose argmax matches. Read asynchronously: a GPU backend (webgpu) cannot read synchronously in Node. */
export async function countCorrect(yTrue: tf.Tensor, probs: tf.Tensor): Promise<number> {
  const count = tf.tidy(() => tf.sum(tf.cast(tf.equal(tf.argMax(yTrue, -1), tf.argMax(probs, -1)), 'int32')));
  try {
    return (await count.data())[0];
  } finally {
    count.dispose();
  }
}

/** Inference-mode prediction in chunks, concatenated. */
export function predictInChunks(model: tfl.LayersModel, x: tf.Tensor, chunk: number): tf.Tensor {
  const n = x.shape[0];
  const parts: tf.Tensor[] = [];
  for (let start = 0; start < n; start += chunk) {
    const size = Math.min(chunk, n - start);
    parts.push(
      tf.tidy(() => model.predict(tf.slice(x, start, size)) as tf.Tensor),
    );
  }
  const out = tf.concat(parts, 0);
  parts.forEach((p) => p.dispose());
  return out;
}
