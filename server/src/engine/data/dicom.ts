import * as dicomParser from 'dicom-parser';
import sharp from 'sharp';
import { CxrError } from '../errors';
import { bufferEnding, corruptImage } from './decodeErrors';
import { checkPixels } from './limits';

/**
 * DICOM pixel decoding (first frame only). Supported: uncompressed little/big endian, 8/12/16/32-bit stored in
 * 8/16/32-bit words, MONOCHROME1/MONOCHROME2 (plus 8-bit RGB), and JPEG baseline encapsulated frames (decoded by
 * sharp). Monochrome pixels go through the modality LUT (RescaleSlope/Intercept), then the VOI window
 * (WindowCenter/Width with VOILUTFunction LINEAR, LINEAR_EXACT or SIGMOID) or, without a window, a min-max stretch;
 * MONOCHROME1 is inverted so that dense tissue is always bright.
 * Messages only ever name technical attributes (transfer syntax, photometric interpretation, bit depths, sizes):
 * never patient or study data.
 */
export type DicomImage = (
  | { kind: 'grey'; grey: Float32Array; width: number; height: number; bitsAllocated: number }
  | { kind: 'rgb'; rgb: Uint8Array; width: number; height: number; bitsAllocated: number }
  /** A colour JPEG frame (YBR_FULL_422, RGB): decoded like any JPEG file. */
  | { kind: 'jpeg'; bytes: Buffer; width: number; height: number; bitsAllocated: number }
) & { acquisition: DicomAcquisition };

/** Technical acquisition attributes (never patient data), used to tell chest radiographs from other images. */
export interface DicomAcquisition {
  /** (0008,0060), e.g. CR, DX, CT, OT. */
  modality?: string;
  /** (0018,0015), e.g. CHEST, ABDOMEN. */
  bodyPart?: string;
  /** (0018,5101), e.g. PA, AP, LL. */
  viewPosition?: string;
}

export interface DicomOptions {
  maxInputPixels: number;
  failOn: 'truncated' | 'error' | 'warning';
}

/** What sharp decodes in an encapsulated DICOM, as decoding messages name it. */
export const JPEG_FRAME = 'JPEG frame of this DICOM file';

const IMPLICIT_LE = '1.2.840.10008.1.2';
const EXPLICIT_LE = '1.2.840.10008.1.2.1';
const EXPLICIT_BE = '1.2.840.10008.1.2.2';
const JPEG_BASELINE = '1.2.840.10008.1.2.4.50';
const JPEG_EXTENDED = '1.2.840.10008.1.2.4.51';

const COMPRESSED_NAMES: Record<string, string> = {
  '1.2.840.10008.1.2.1.99': 'Deflate',
  '1.2.840.10008.1.2.5': 'RLE',
  '1.2.840.10008.1.2.4.57': 'JPEG lossless',
  '1.2.840.10008.1.2.4.70': 'JPEG lossless',
  '1.2.840.10008.1.2.4.80': 'JPEG-LS',
  '1.2.840.10008.1.2.4.81': 'JPEG-LS',
  '1.2.840.10008.1.2.4.90': 'JPEG 2000',
  '1.2.840.10008.1.2.4.91': 'JPEG 2000',
  '1.2.840.10008.1.2.4.201': 'HTJ2K',
  '1.2.840.10008.1.2.4.202': 'HTJ2K',
  '1.2.840.10008.1.2.4.203': 'HTJ2K',
};

export async function decodeDicom(buf: Buffer, name: string, opts: DicomOptions): Promise<DicomImage> {
  const hasMarker = buf.length >= 132 && buf.toString('latin1', 128, 132) === 'DICM';
  const ds = parse(buf, name, hasMarker);
  try {
    return await readImage(ds, name, hasMarker, opts);
  } catch (e) {
    // dicom-parser reads element values lazily and throws plain strings when one runs past the end of the file
    // (found by the fuzz test); a view past the end throws RangeError. Bugs (other Errors) are not hidden.
    if (e instanceof CxrError || (e instanceof Error && !(e instanceof RangeError))) throw e;
    throw corrupt(name, `its data elements cannot be read (${errorText(e)}); the file is damaged`);
  }
}

async function readImage(ds: dicomParser.DataSet, name: string, hasMarker: boolean, opts: DicomOptions): Promise<DicomImage> {
  const acquisition = acquisitionOf(ds);
  const ts = ds.string('x00020010') ?? IMPLICIT_LE;
  const rows = ds.uint16('x00280010');
  const cols = ds.uint16('x00280011');
  const pixelData = ds.elements.x7fe00010;
  if (!rows || !cols || !pixelData) {
    if (!hasMarker) throw notDicom(name);
    throw new CxrError('UNSUPPORTED_FORMAT', `${name} is a DICOM file without an image (no Rows/Columns/PixelData: a report or a presentation state?).`, {
      file: name,
    });
  }
  checkPixels(name, cols, rows, opts.maxInputPixels);
  const photometric = (ds.string('x00280004') ?? 'MONOCHROME2').toUpperCase();
  const samples = ds.uint16('x00280002') ?? 1;
  const bitsAllocated = ds.uint16('x00280100') ?? 8;
  const bitsStored = ds.uint16('x00280101') ?? bitsAllocated;
  const highBit = ds.uint16('x00280102') ?? bitsStored - 1;
  const signed = ds.uint16('x00280103') === 1;
  const monochrome = photometric === 'MONOCHROME1' || photometric === 'MONOCHROME2';
  const describe = `${photometric}, ${bitsStored}-bit in ${bitsAllocated}, transfer syntax ${ts}`;

  if (ts === JPEG_BASELINE || (ts === JPEG_EXTENDED && bitsAllocated === 8)) {
    const bytes = Buffer.from(firstJpegFrame(ds, pixelData, name));
    await checkJpegFrameHeader(bytes, cols, rows, name, opts.maxInputPixels);
    if (!monochrome) return { kind: 'jpeg', bytes, width: cols, height: rows, bitsAllocated, acquisition };
    let raw: { data: Buffer; info: sharp.OutputInfo };
    try {
      raw = await sharp(bytes, { failOn: opts.failOn, limitInputPixels: opts.maxInputPixels }).toColourspace('b-w').raw().toBuffer({ resolveWithObject: true });
    } catch (e) {
      throw corruptImage(name, JPEG_FRAME, e, bufferEnding('jpeg', bytes));
    }
    if (raw.info.width !== cols || raw.info.height !== rows) {
      throw corrupt(name, `its JPEG frame is ${raw.info.width} x ${raw.info.height} but the header says ${cols} x ${rows}`);
    }
    return { kind: 'grey', grey: toDisplayGrey(ds, Float64Array.from(raw.data), photometric, name), width: cols, height: rows, bitsAllocated, acquisition };
  }
  if (ts !== IMPLICIT_LE && ts !== EXPLICIT_LE && ts !== EXPLICIT_BE) {
    const kind = COMPRESSED_NAMES[ts] ?? 'an unknown compression';
    throw new CxrError(
      'UNSUPPORTED_FORMAT',
      `${name} is a DICOM file compressed with ${kind} (transfer syntax ${ts}), which is not supported. Convert it to uncompressed DICOM (e.g. gdcmconv --raw) or to PNG.`,
      { file: name, transferSyntax: ts },
    );
  }
  if (![8, 16, 32].includes(bitsAllocated) || bitsStored < 1 || bitsStored > bitsAllocated || highBit >= bitsAllocated || highBit < bitsStored - 1) {
    throw new CxrError('UNSUPPORTED_FORMAT', `${name}: DICOM pixel layout not supported (${describe}).`, { file: name });
  }
  const perFrame = rows * cols * samples * (bitsAllocated / 8);
  const available = Math.min(pixelData.length, ds.byteArray.length - pixelData.dataOffset);
  if (available < perFrame) {
    throw corrupt(name, `its pixel data holds ${Math.max(0, available)} bytes, ${perFrame} are needed for ${cols} x ${rows} (${describe}); the file is truncated`);
  }
  const view = new DataView(ds.byteArray.buffer, ds.byteArray.byteOffset + pixelData.dataOffset, perFrame);
  const stored = readStoredValues(view, rows * cols * samples, bitsAllocated, bitsStored, highBit, signed, ts === EXPLICIT_BE);

  if (monochrome && samples === 1) {
    return { kind: 'grey', grey: toDisplayGrey(ds, stored, photometric, name), width: cols, height: rows, bitsAllocated, acquisition };
  }
  if (photometric === 'RGB' && samples === 3 && bitsAllocated === 8) {
    const planar = ds.uint16('x00280006') === 1;
    const rgb = new Uint8Array(rows * cols * 3);
    const n = rows * cols;
    for (let p = 0; p < n; p++) {
      for (let c = 0; c < 3; c++) rgb[p * 3 + c] = stored[planar ? c * n + p : p * 3 + c];
    }
    return { kind: 'rgb', rgb, width: cols, height: rows, bitsAllocated, acquisition };
  }
  throw new CxrError('UNSUPPORTED_FORMAT', `${name}: DICOM photometric interpretation not supported uncompressed (${describe}, ${samples} samples per pixel).`, {
    file: name,
  });
}

function acquisitionOf(ds: dicomParser.DataSet): DicomAcquisition {
  const text = (tag: string) => ds.string(tag)?.trim().toUpperCase() || undefined;
  const out: DicomAcquisition = {};
  const modality = text('x00080060');
  const bodyPart = text('x00180015');
  const viewPosition = text('x00185101');
  if (modality) out.modality = modality;
  if (bodyPart) out.bodyPart = bodyPart;
  if (viewPosition) out.viewPosition = viewPosition;
  return out;
}

/**
 * The embedded JPEG's own header, read before anything is decoded: its size must be the DICOM header's (a small file
 * claiming 512 x 512 may carry a 12000 x 12000 frame) and within the pixel limit.
 */
async function checkJpegFrameHeader(bytes: Buffer, cols: number, rows: number, name: string, maxInputPixels: number): Promise<void> {
  let meta: sharp.Metadata;
  try {
    meta = await sharp(bytes, { limitInputPixels: false }).metadata();
  } catch (e) {
    throw corruptImage(name, JPEG_FRAME, e, bufferEnding('jpeg', bytes));
  }
  if (!meta.width || !meta.height) throw corrupt(name, 'its JPEG frame header gives no size');
  checkPixels(name, meta.width, meta.height, maxInputPixels);
  if (meta.width !== cols || meta.height !== rows) {
    throw corrupt(name, `its JPEG frame is ${meta.width} x ${meta.height} but the DICOM header says ${cols} x ${rows}`);
  }
}

function parse(buf: Buffer, name: string, hasMarker: boolean): dicomParser.DataSet {
  const bytes = new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
  try {
    // Without the Part 10 header ('DICM'), a bare data set is implicit VR little endian by definition.
    return hasMarker ? dicomParser.parseDicom(bytes) : dicomParser.parseDicom(bytes, { TransferSyntaxUID: IMPLICIT_LE });
  } catch (e) {
    if (!hasMarker) throw notDicom(name);
    throw corrupt(name, `the DICOM structure does not parse (${errorText(e)})`);
  }
}

function notDicom(name: string): CxrError {
  return new CxrError('UNSUPPORTED_FORMAT', `${name} is named .dcm but is neither a DICOM file (no 'DICM' marker) nor a bare DICOM data set with an image.`, {
    file: name,
  });
}

function firstJpegFrame(ds: dicomParser.DataSet, pixelData: dicomParser.Element, name: string): Uint8Array {
  const fragments = pixelData.fragments ?? [];
  if (!pixelData.encapsulatedPixelData || fragments.length === 0) throw corrupt(name, 'its JPEG pixel data has no fragments');
  try {
    const frames = ds.intString('x00280008') ?? 1;
    if (frames <= 1) return dicomParser.readEncapsulatedPixelDataFromFragments(ds, pixelData, 0, fragments.length);
    const table = pixelData.basicOffsetTable?.length ? pixelData.basicOffsetTable : dicomParser.createJPEGBasicOffsetTable(ds, pixelData);
    return dicomParser.readEncapsulatedImageFrame(ds, pixelData, 0, table);
  } catch (e) {
    throw corrupt(name, `its JPEG fragments cannot be read (${errorText(e)})`);
  }
}

/** Stored values (masked to BitsStored, sign-extended when PixelRepresentation is 1), as float64. */
function readStoredValues(view: DataView, n: number, bitsAllocated: number, bitsStored: number, highBit: number, signed: boolean, bigEndian: boolean): Float64Array {
  const out = new Float64Array(n);
  const shift = highBit + 1 - bitsStored;
  const signBit = 2 ** (bitsStored - 1);
  if (bitsAllocated === 32) {
    for (let i = 0; i < n; i++) {
      let v = Math.floor(view.getUint32(i * 4, !bigEndian) / 2 ** shift) % 2 ** bitsStored;
      if (signed && v >= signBit) v -= 2 * signBit;
      out[i] = v;
    }
    return out;
  }
  // 8/16-bit words: copy into an aligned typed array (byte-swapping big endian) and use integer bit operations.
  const words = bitsAllocated === 8 ? new Uint8Array(n) : new Uint16Array(n);
  if (bitsAllocated === 8 || !bigEndian) {
    new Uint8Array(words.buffer).set(new Uint8Array(view.buffer, view.byteOffset, n * words.BYTES_PER_ELEMENT));
  } else {
    for (let i = 0; i < n; i++) words[i] = view.getUint16(i * 2, false);
  }
  const mask = (1 << bitsStored) - 1;
  const offset = signed ? 2 * signBit : 0;
  const limit = signed ? signBit : Infinity;
  maskWords(words, out, shift, mask, limit, offset);
  return out;
}

/** Kept apart (and called with one array type per call site's data) so V8 keeps the loop monomorphic. */
function maskWords(words: Uint8Array | Uint16Array, out: Float64Array, shift: number, mask: number, limit: number, offset: number): void {
  const n = out.length;
  for (let i = 0; i < n; i++) {
    const v = (words[i] >>> shift) & mask;
    out[i] = v >= limit ? v - offset : v;
  }
}

/** Modality LUT, then VOI (window or min-max), then MONOCHROME1 inversion: values in [0, 1], bright = dense. */
function toDisplayGrey(ds: dicomParser.DataSet, stored: Float64Array, photometric: string, name: string): Float32Array {
  const slope = ds.floatString('x00281053') ?? 1;
  const intercept = ds.floatString('x00281052') ?? 0;
  // A slope that is not a number (or 0) would turn every pixel into the same value: a black image used silently.
  if (!Number.isFinite(slope) || slope === 0 || !Number.isFinite(intercept)) {
    throw corrupt(name, `its RescaleSlope/RescaleIntercept (${ds.string('x00281053') ?? '1'} / ${ds.string('x00281052') ?? '0'}) are not usable numbers (the slope must be a non-zero number)`);
  }
  const centre = ds.floatString('x00281050');
  const width = ds.floatString('x00281051');
  const fn = (ds.string('x00281056') ?? 'LINEAR').toUpperCase();
  const n = stored.length;
  const out = new Float32Array(n);
  const hasWindow = centre !== undefined && width !== undefined && Number.isFinite(centre) && Number.isFinite(width) && width >= 1;

  if (hasWindow && fn === 'SIGMOID') {
    // DICOM PS3.3 C.11.2.1.3.1
    for (let i = 0; i < n; i++) out[i] = 1 / (1 + Math.exp((-4 * (stored[i] * slope + intercept - centre)) / width));
  } else {
    // Every other case is y = clamp(a * modality + b): the linear / linear-exact window (PS3.3 C.11.2.1.2) or min-max.
    let a: number;
    let b: number;
    if (hasWindow && fn === 'LINEAR_EXACT') {
      a = 1 / width;
      b = 0.5 - centre / width;
    } else if (hasWindow && width > 1) {
      a = 1 / (width - 1);
      b = 0.5 - (centre - 0.5) / (width - 1);
    } else if (hasWindow) {
      // width 1: a threshold at centre - 0.5
      a = 1e12;
      b = -(centre - 0.5) * 1e12;
    } else {
      let min = Infinity;
      let max = -Infinity;
      for (let i = 0; i < n; i++) {
        const v = stored[i] * slope + intercept;
        if (v < min) min = v;
        if (v > max) max = v;
      }
      a = max > min ? 1 / (max - min) : 0;
      b = -min * a;
    }
    // Fold the modality LUT in: a * (s * slope + intercept) + b.
    const k = a * slope;
    const c = a * intercept + b;
    for (let i = 0; i < n; i++) {
      const y = k * stored[i] + c;
      out[i] = y <= 0 ? 0 : y >= 1 ? 1 : y;
    }
  }
  if (photometric === 'MONOCHROME1') for (let i = 0; i < n; i++) out[i] = 1 - out[i];
  return out;
}

function corrupt(name: string, problem: string): CxrError {
  return new CxrError('CORRUPT_IMAGE', `${name}: ${problem}.`, { file: name });
}

/** dicom-parser throws strings, Errors, and `{ exception, dataSet }` objects (which print as [object Object]). */
function errorText(e: unknown): string {
  if (typeof e === 'object' && e !== null && !(e instanceof Error) && 'exception' in e) return errorText((e as { exception: unknown }).exception);
  return (e instanceof Error ? e.message : String(e)).split('\n')[0];
}
