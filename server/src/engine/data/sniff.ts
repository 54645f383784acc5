/** Formats handed to sharp. Anything else sharp could read (SVG, AVIF/HEIF, vips) is refused on purpose. */
export type RasterFormat = 'png' | 'jpeg' | 'gif' | 'webp' | 'tiff';

export type Sniffed =
  | { kind: 'raster'; format: RasterFormat }
  | { kind: 'dicom' }
  /** unknownBinary: no signature matched and it is not text (a bare DICOM data set without 'DICM' looks like this). */
  | { kind: 'other'; description: string; unknownBinary: boolean };

/** Bytes needed to recognise every format here (DICOM's magic sits at offset 128). */
export const SNIFF_BYTES = 512;

/** Identifies a file from its first bytes; the extension is never trusted. */
export function sniffFormat(head: Uint8Array): Sniffed {
  const b = Buffer.from(head.buffer, head.byteOffset, head.byteLength);
  const ascii = (start: number, end: number) => b.toString('latin1', start, end);
  const starts = (...bytes: number[]) => bytes.every((v, i) => b[i] === v);

  if (b.length === 0) return { kind: 'other', description: 'an empty file (0 bytes)', unknownBinary: false };
  if (starts(0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a)) return { kind: 'raster', format: 'png' };
  if (starts(0xff, 0xd8, 0xff)) return { kind: 'raster', format: 'jpeg' };
  if (ascii(0, 6) === 'GIF87a' || ascii(0, 6) === 'GIF89a') return { kind: 'raster', format: 'gif' };
  if (ascii(0, 4) === 'RIFF' && ascii(8, 12) === 'WEBP') return { kind: 'raster', format: 'webp' };
  if (starts(0x49, 0x49, 0x2a, 0x00) || starts(0x4d, 0x4d, 0x00, 0x2a) || starts(0x49, 0x49, 0x2b, 0x00) || starts(0x4d, 0x4d, 0x00, 0x2b)) {
    return { kind: 'raster', format: 'tiff' };
  }
  if (b.length >= 132 && ascii(128, 132) === 'DICM') return { kind: 'dicom' };
  const description = describeOther(b);
  return { kind: 'other', description, unknownBinary: description.startsWith(UNKNOWN_BINARY) };
}

const UNKNOWN_BINARY = 'unrecognised binary data';

function describeOther(b: Buffer): string {
  const ascii = (start: number, end: number) => b.toString('latin1', start, end);
  const starts = (...bytes: number[]) => bytes.every((v, i) => b[i] === v);
  if (ascii(0, 2) === 'BM') return 'a BMP image (not supported: convert it to PNG)';
  if (starts(0xff, 0x4f, 0xff, 0x51) || starts(0x00, 0x00, 0x00, 0x0c, 0x6a, 0x50, 0x20, 0x20)) return 'a JPEG 2000 image (not supported: convert it to PNG)';
  if (ascii(4, 8) === 'ftyp') {
    const brand = ascii(8, 12);
    if (/^(avif|avis|heic|heix|hevc|mif1|msf1)$/.test(brand)) return `a HEIF/AVIF image (brand '${brand}'; not supported: convert it to PNG or JPEG)`;
    return `an ISO media file (brand '${brand.replace(/[^\x20-\x7e]/g, '?')}', e.g. MP4 video)`;
  }
  if (ascii(0, 4) === '8BPS') return 'a Photoshop document';
  if (starts(0x00, 0x00, 0x01, 0x00)) return 'a Windows icon';
  if (ascii(0, 5) === '%PDF-') return 'a PDF document';
  if (starts(0x50, 0x4b, 0x03, 0x04)) return 'a ZIP archive (or a file stored in one, e.g. .docx)';
  if (starts(0x1f, 0x8b)) return 'a gzip-compressed file';
  if (ascii(0, 6) === '7z\xbc\xaf\x27\x1c') return 'a 7-Zip archive';
  if (ascii(0, 4) === '\x93NUM') return 'a NumPy array file';
  if (ascii(0, 8) === '\x89HDF\r\n\x1a\n') return 'an HDF5 file';
  if (b.length >= 348 && (ascii(344, 348) === 'n+1\0' || ascii(344, 348) === 'ni1\0')) return 'a NIfTI volume';
  const text = looksLikeText(b);
  if (text !== null) {
    const t = text.trimStart().toLowerCase();
    if (t.startsWith('<svg') || (t.startsWith('<?xml') && t.includes('<svg'))) return 'an SVG drawing (vector graphics are not supported)';
    if (t.startsWith('<!doctype html') || t.startsWith('<html')) return 'an HTML page (a download that saved an error page?)';
    if (t.startsWith('<?xml') || t.startsWith('<')) return 'an XML/markup text file';
    if (t.startsWith('{') || t.startsWith('[')) return 'a JSON/text file';
    return 'a text file';
  }
  const hex = [...b.subarray(0, 8)].map((v) => v.toString(16).padStart(2, '0')).join(' ');
  return `${UNKNOWN_BINARY} (first bytes ${hex})`;
}

/** The decoded head when it is plausibly UTF-8 text without control characters other than whitespace. */
function looksLikeText(b: Buffer): string | null {
  const head = b.subarray(0, SNIFF_BYTES);
  let s: string;
  try {
    // stream: a multi-byte character cut at the end of the window is not an error.
    s = new TextDecoder('utf-8', { fatal: true }).decode(head, { stream: true });
  } catch {
    return null;
  }
  return /[\x00-\x08\x0e-\x1f\x7f]/.test(s) ? null : s;
}
