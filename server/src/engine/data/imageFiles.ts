import * as path from 'node:path';
import { IMAGE_EXTENSIONS as IMAGE_EXTENSION_LIST } from '../names';

/** Extensions listed as dataset images (the list lives in names.ts). */
export const IMAGE_EXTENSIONS: ReadonlySet<string> = new Set(IMAGE_EXTENSION_LIST);

export function isImageFile(file: string): boolean {
  return IMAGE_EXTENSIONS.has(path.extname(file).toLowerCase());
}

/** Dot files (.DS_Store, ._x.png from macOS archives) are never dataset content. */
export function isHidden(name: string): boolean {
  return name.startsWith('.');
}
