"""Prints the reference values embedded in test/engine/augment.test.ts.

Keras ImageDataGenerator.apply_affine_transform, re-stated with scipy (numpy + scipy only, no TensorFlow):
matrix = R(theta) @ shift(tx, ty) @ zoom(zx, zy), moved to the image centre, sampled with
scipy.ndimage.affine_transform(order=1, mode='nearest'). The centre is the geometric one, (h-1)/2, as in augment.ts
(Keras itself uses h/2 + 0.5, see the comment there). Run: python3 test/fixtures-gen/keras_affine_reference.py
"""
import numpy as np
from scipy import ndimage

N = 7
grey = np.array([[((r * N + c) * 37 % 49) / 48 for c in range(N)] for r in range(N)])


def keras_affine(x, theta, tx, ty, zx, zy):
    th = np.deg2rad(theta)
    rot = np.array([[np.cos(th), -np.sin(th), 0], [np.sin(th), np.cos(th), 0], [0, 0, 1]])
    shift = np.array([[1, 0, tx], [0, 1, ty], [0, 0, 1]])
    zoom = np.array([[zx, 0, 0], [0, zy, 0], [0, 0, 1]])
    o = (x.shape[0] - 1) / 2
    to_centre = np.array([[1, 0, o], [0, 1, o], [0, 0, 1]])
    from_centre = np.array([[1, 0, -o], [0, 1, -o], [0, 0, 1]])
    m = to_centre @ rot @ shift @ zoom @ from_centre
    return ndimage.affine_transform(x, m[:2, :2], m[:2, 2], order=1, mode='nearest')


for case in [(30, 1.5, -2.25, 0.85, 1.1), (-12.5, -1, 1.5, 1.2, 0.8)]:
    out = keras_affine(grey, *case)
    print(case, '[' + ', '.join(f'{v:.6f}' for v in out.ravel()) + ']')
