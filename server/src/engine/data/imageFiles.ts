import * as path from 'node:path';

/** Extensions listed as dataset images: what sharp decodes here, plus DICOM (decoded by dicom.ts). */
export const IMAGE_EXTENSIONS: ReadonlySet<string> = new Set(['.png', '.jpg', '.jpeg', '.webp', '.tif', '.tiff', '.gif', '.dcm']);

export function isImageFile(file: string): boolean {
  return IMAGE_EXTENSIONS.has(path.extname(file).toLowerCase());
}

/** Dot files (.DS_Store, ._x.png from macOS archives) are never dataset content. */
export function isHidden(name: string): boolean {
  return name.startsWith('.');
}
