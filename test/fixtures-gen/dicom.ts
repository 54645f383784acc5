/**
 * A minimal DICOM Part 10 writer (explicit VR little endian data set) for building small test files with exactly
 * the attributes a test needs. Not a general encoder: no sequences, no encapsulated pixel data.
 */

export interface DicomSpec {
  rows: number;
  cols: number;
  bitsAllocated: 8 | 16;
  bitsStored?: number;
  highBit?: number;
  /** 1 = signed (two's complement) stored values. */
  pixelRepresentation?: 0 | 1;
  photometric?: string;
  samplesPerPixel?: number;
  /** Raw words as they are stored (already masked/packed as the test wants). */
  pixels?: Uint8Array | Uint16Array;
  transferSyntax?: string;
  slope?: number;
  intercept?: number;
  windowCenter?: number;
  windowWidth?: number;
  voiLutFunction?: string;
  patientName?: string;
  patientId?: string;
}

const LONG_LENGTH_VRS = new Set(['OB', 'OW', 'OF', 'SQ', 'UT', 'UN']);

export function buildDicom(spec: DicomSpec): Buffer {
  const ts = spec.transferSyntax ?? '1.2.840.10008.1.2.1';
  const meta = [element(0x0002, 0x0001, 'OB', Buffer.from([0, 1])), element(0x0002, 0x0010, 'UI', ui(ts))];
  const metaBody = Buffer.concat(meta);
  const groupLength = Buffer.alloc(4);
  groupLength.writeUInt32LE(metaBody.length, 0);

  const bitsStored = spec.bitsStored ?? spec.bitsAllocated;
  const ds: Buffer[] = [element(0x0008, 0x0060, 'CS', text('DX'))];
  if (spec.patientName !== undefined) ds.push(element(0x0010, 0x0010, 'PN', text(spec.patientName)));
  if (spec.patientId !== undefined) ds.push(element(0x0010, 0x0020, 'LO', text(spec.patientId)));
  ds.push(
    element(0x0028, 0x0002, 'US', us(spec.samplesPerPixel ?? 1)),
    element(0x0028, 0x0004, 'CS', text(spec.photometric ?? 'MONOCHROME2')),
    element(0x0028, 0x0010, 'US', us(spec.rows)),
    element(0x0028, 0x0011, 'US', us(spec.cols)),
    element(0x0028, 0x0100, 'US', us(spec.bitsAllocated)),
    element(0x0028, 0x0101, 'US', us(bitsStored)),
    element(0x0028, 0x0102, 'US', us(spec.highBit ?? bitsStored - 1)),
    element(0x0028, 0x0103, 'US', us(spec.pixelRepresentation ?? 0)),
  );
  if (spec.windowCenter !== undefined) ds.push(element(0x0028, 0x1050, 'DS', text(String(spec.windowCenter))));
  if (spec.windowWidth !== undefined) ds.push(element(0x0028, 0x1051, 'DS', text(String(spec.windowWidth))));
  if (spec.intercept !== undefined) ds.push(element(0x0028, 0x1052, 'DS', text(String(spec.intercept))));
  if (spec.slope !== undefined) ds.push(element(0x0028, 0x1053, 'DS', text(String(spec.slope))));
  if (spec.voiLutFunction !== undefined) ds.push(element(0x0028, 0x1056, 'CS', text(spec.voiLutFunction)));
  if (spec.pixels) {
    const bytes = Buffer.from(spec.pixels.buffer, spec.pixels.byteOffset, spec.pixels.byteLength);
    ds.push(element(0x7fe0, 0x0010, spec.bitsAllocated === 16 ? 'OW' : 'OB', bytes));
  }
  return Buffer.concat([
    Buffer.alloc(128),
    Buffer.from('DICM', 'latin1'),
    element(0x0002, 0x0000, 'UL', groupLength),
    metaBody,
    ...ds,
  ]);
}

function element(group: number, elem: number, vr: string, value: Buffer): Buffer {
  const padded = value.length % 2 === 0 ? value : Buffer.concat([value, Buffer.from([vr === 'UI' || vr === 'OB' ? 0 : 0x20])]);
  const long = LONG_LENGTH_VRS.has(vr);
  const head = Buffer.alloc(long ? 12 : 8);
  head.writeUInt16LE(group, 0);
  head.writeUInt16LE(elem, 2);
  head.write(vr, 4, 'latin1');
  if (long) head.writeUInt32LE(padded.length, 8);
  else head.writeUInt16LE(padded.length, 6);
  return Buffer.concat([head, padded]);
}

const text = (s: string) => Buffer.from(s, 'latin1');
const ui = (s: string) => Buffer.from(s, 'latin1');
function us(v: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16LE(v, 0);
  return b;
}
