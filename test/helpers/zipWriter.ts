import * as fs from 'node:fs';
import * as zlib from 'node:zlib';

/**
 * Writes a ZIP archive the way Python's zipfile.ZipFile(path, 'w') does for Keras's `model.save('m.keras')`
 * (keras/src/saving/saving_lib.py `_save_model_to_fileobj`): entries in the order written, ZIP_STORED (the
 * zipfile default) unless `deflate` is set, no data descriptors (the file is seekable), no zip64 (small files),
 * version needed 2.0, Unix "made by" 3.x.
 */
export function writeZip(file: string, entries: Array<{ name: string; data: Buffer }>, opts: { deflate?: boolean } = {}): void {
  const parts: Buffer[] = [];
  const central: Buffer[] = [];
  let offset = 0;
  for (const { name, data } of entries) {
    const nameBytes = Buffer.from(name, 'utf8');
    const body = opts.deflate ? zlib.deflateRawSync(data) : data;
    const crc = zlib.crc32(data) >>> 0;
    const method = opts.deflate ? 8 : 0;
    const dosTime = (12 << 11) | (0 << 5); // 12:00:00
    const dosDate = ((2026 - 1980) << 9) | (11 << 5) | 30;
    const header = { method, dosTime, dosDate, crc, compressedSize: body.length, size: data.length, nameLength: nameBytes.length };
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    writeCommonFields(local, 4, header);
    const dir = Buffer.alloc(46);
    dir.writeUInt32LE(0x02014b50, 0);
    dir.writeUInt16LE((3 << 8) | 20, 4);
    writeCommonFields(dir, 6, header);
    dir.writeUInt32LE((0o100600 << 16) >>> 0, 38);
    dir.writeUInt32LE(offset, 42);
    parts.push(local, nameBytes, body);
    central.push(dir, nameBytes);
    offset += local.length + nameBytes.length + body.length;
  }
  const dirBytes = Buffer.concat(central);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(entries.length, 8);
  end.writeUInt16LE(entries.length, 10);
  end.writeUInt32LE(dirBytes.length, 12);
  end.writeUInt32LE(offset, 16);
  fs.writeFileSync(file, Buffer.concat([...parts, dirBytes, end]));
}

interface EntryFields {
  method: number;
  dosTime: number;
  dosDate: number;
  crc: number;
  compressedSize: number;
  size: number;
  nameLength: number;
}

/**
 * The 26 bytes a local file header (at offset 4) and a central directory header (at offset 6) share: version needed
 * 2.0, no flags, method, DOS time and date, CRC-32, sizes, name length, no extra field.
 */
function writeCommonFields(buf: Buffer, at: number, f: EntryFields): void {
  buf.writeUInt16LE(20, at);
  buf.writeUInt16LE(0, at + 2);
  buf.writeUInt16LE(f.method, at + 4);
  buf.writeUInt16LE(f.dosTime, at + 6);
  buf.writeUInt16LE(f.dosDate, at + 8);
  buf.writeUInt32LE(f.crc, at + 10);
  buf.writeUInt32LE(f.compressedSize, at + 14);
  buf.writeUInt32LE(f.size, at + 18);
  buf.writeUInt16LE(f.nameLength, at + 22);
  buf.writeUInt16LE(0, at + 24);
}
