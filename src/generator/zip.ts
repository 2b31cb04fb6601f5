/**
 * Deterministic zip: the same files always give the same bytes, whatever the machine, umask,
 * time zone or file mtimes. MWAA pins plugins.zip by S3 object version, so a byte-different zip
 * with the same content would cost a needless environment update.
 *
 * Written here rather than with an archive library: a stored (uncompressed) zip of a few modules
 * is a few headers around the bytes (PKWARE APPNOTE 4.3), and `generate` starts faster without the
 * half megabyte of stream code an archiver loads. The bytes are those archiver 8 writes in store
 * mode for the same entries (a unit test compares them), so upgrading changes no plugins.zip.
 */
import { compareCodeUnits } from '../util/order.js';

export interface ZipEntry {
  name: string;
  bytes: Buffer;
}

/** 1980-01-01 00:00 in MS-DOS date/time fields: the zip format's epoch. */
const DOS_TIME = 0;
const DOS_DATE = (0 << 9) | (1 << 5) | 1;
/** Regular file, rw-r--r--, in the upper half of the external attributes; 0x20 is the DOS archive bit. */
const EXTERNAL_ATTRIBUTES = ((0o100644 << 16) | 0x20) >>> 0;
/** Made by: 3 (Unix) in the high byte, spec version 4.5 in the low one. */
const VERSION_MADE_BY = (3 << 8) | 45;
/** Needed to extract: 1.0 (stored entries). */
const VERSION_NEEDED = 10;
/** General purpose flag bit 11: the name is UTF-8. */
const UTF8_NAME = 0x800;

const CRC_TABLE = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n += 1) {
    let c = n;
    for (let k = 0; k < 8; k += 1) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

export function crc32(bytes: Uint8Array): number {
  let crc = 0xffffffff;
  for (const byte of bytes) crc = CRC_TABLE[(crc ^ byte) & 0xff]! ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}

export async function deterministicZip(entries: ZipEntry[]): Promise<Buffer> {
  const sorted = [...entries].sort((a, b) => compareCodeUnits(a.name, b.name));
  const total = sorted.reduce((sum, e) => sum + e.bytes.length + 2 * (76 + Buffer.byteLength(e.name)), 22);
  if (total > 0xffffffff || sorted.length > 0xffff) throw new Error('the zip would need zip64: keep it under 4 GiB and 65535 entries');
  const parts: Buffer[] = [];
  const central: Buffer[] = [];
  let offset = 0;
  for (const entry of sorted) {
    const name = Buffer.from(entry.name, 'utf8');
    // Stored, not deflated: deflate output may vary with the zlib build (Node version, CPU-specific
    // fast paths), and two helper modules gain little from compression.
    const flags = /^[\x20-\x7e]*$/.test(entry.name) ? 0 : UTF8_NAME;
    const crc = crc32(entry.bytes);
    const size = entry.bytes.length;
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(VERSION_NEEDED, 4);
    local.writeUInt16LE(flags, 6);
    local.writeUInt16LE(0, 8); // stored
    local.writeUInt16LE(DOS_TIME, 10);
    local.writeUInt16LE(DOS_DATE, 12);
    local.writeUInt32LE(crc, 14);
    local.writeUInt32LE(size, 18);
    local.writeUInt32LE(size, 22);
    local.writeUInt16LE(name.length, 26);
    local.writeUInt16LE(0, 28);
    parts.push(local, name, entry.bytes);

    const header = Buffer.alloc(46);
    header.writeUInt32LE(0x02014b50, 0);
    header.writeUInt16LE(VERSION_MADE_BY, 4);
    header.writeUInt16LE(VERSION_NEEDED, 6);
    header.writeUInt16LE(flags, 8);
    header.writeUInt16LE(0, 10);
    header.writeUInt16LE(DOS_TIME, 12);
    header.writeUInt16LE(DOS_DATE, 14);
    header.writeUInt32LE(crc, 16);
    header.writeUInt32LE(size, 20);
    header.writeUInt32LE(size, 24);
    header.writeUInt16LE(name.length, 28);
    // Extra field, comment, disk number and internal attributes stay 0.
    header.writeUInt32LE(EXTERNAL_ATTRIBUTES, 38);
    header.writeUInt32LE(offset, 42);
    central.push(header, name);
    offset += local.length + name.length + size;
  }
  const directory = Buffer.concat(central);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(sorted.length, 8);
  end.writeUInt16LE(sorted.length, 10);
  end.writeUInt32LE(directory.length, 12);
  end.writeUInt32LE(offset, 16);
  return Buffer.concat([...parts, directory, end]);
}
