/**
 * Reads a zip archive's members from its central directory (PKWARE APPNOTE 4.3.12, 4.3.16): names,
 * sizes, CRC-32s, and each member's bytes (stored or deflated). Enough to compare two archives;
 * no zip64, no encryption, which plugins.zip never uses.
 */
import { inflateRawSync } from 'node:zlib';

export interface ZipMember {
  name: string;
  size: number;
  crc32: number;
  /** The member's content; undefined when its compression method is not stored or deflate. */
  bytes: Buffer | undefined;
}

const END_OF_CENTRAL_DIRECTORY = 0x06054b50;
const CENTRAL_HEADER = 0x02014b50;
const LOCAL_HEADER = 0x04034b50;

export class ZipFormatError extends Error {
  constructor(message: string) {
    super(`not a readable zip archive: ${message}`);
    this.name = 'ZipFormatError';
  }
}

export function zipMembers(archive: Uint8Array): ZipMember[] {
  const zip = Buffer.from(archive.buffer, archive.byteOffset, archive.byteLength);
  // The end record is at most 22 + 65535 (comment) bytes from the end.
  let end = -1;
  for (let i = zip.length - 22; i >= Math.max(0, zip.length - 22 - 0xffff); i -= 1) {
    if (zip.readUInt32LE(i) === END_OF_CENTRAL_DIRECTORY) {
      end = i;
      break;
    }
  }
  if (end < 0) throw new ZipFormatError('no end of central directory record');
  const count = zip.readUInt16LE(end + 10);
  let offset = zip.readUInt32LE(end + 16);
  const members: ZipMember[] = [];
  for (let i = 0; i < count; i += 1) {
    if (offset + 46 > zip.length || zip.readUInt32LE(offset) !== CENTRAL_HEADER)
      throw new ZipFormatError(`bad central directory entry ${i}`);
    const method = zip.readUInt16LE(offset + 10);
    const crc32 = zip.readUInt32LE(offset + 16);
    const compressedSize = zip.readUInt32LE(offset + 20);
    const size = zip.readUInt32LE(offset + 24);
    const nameLength = zip.readUInt16LE(offset + 28);
    const extraLength = zip.readUInt16LE(offset + 30);
    const commentLength = zip.readUInt16LE(offset + 32);
    const localOffset = zip.readUInt32LE(offset + 42);
    const name = zip.toString('utf8', offset + 46, offset + 46 + nameLength);
    members.push({ name, size, crc32, bytes: memberBytes(zip, localOffset, method, compressedSize) });
    offset += 46 + nameLength + extraLength + commentLength;
  }
  return members;
}

function memberBytes(zip: Buffer, localOffset: number, method: number, compressedSize: number): Buffer | undefined {
  if (localOffset + 30 > zip.length || zip.readUInt32LE(localOffset) !== LOCAL_HEADER) throw new ZipFormatError('bad local header');
  const start = localOffset + 30 + zip.readUInt16LE(localOffset + 26) + zip.readUInt16LE(localOffset + 28);
  const data = zip.subarray(start, start + compressedSize);
  if (method === 0) return data;
  if (method === 8) return inflateRawSync(data);
  return undefined;
}
