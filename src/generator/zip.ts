/**
 * Deterministic zip: the same files always give the same bytes, whatever the machine, umask,
 * time zone or file mtimes. MWAA pins plugins.zip by S3 object version, so a byte-different zip
 * with the same content would cost a needless environment update.
 */
import { PassThrough } from 'node:stream';
import { compareCodeUnits } from '../util/order.js';
import { importPackage } from '../util/package-import.js';

export interface ZipEntry {
  name: string;
  bytes: Buffer;
}

/** The zip format's epoch; archiver encodes a Date by its UTC fields, so this is TZ-independent. */
const FIXED_DATE = (): Date => new Date(Date.UTC(1980, 0, 1, 0, 0, 0));
const FILE_MODE = 0o644;

export async function deterministicZip(entries: ZipEntry[]): Promise<Buffer> {
  // Loaded here, not at start: a generate whose plugin modules match the build's zip never needs it.
  const { ZipArchive } = await importPackage<typeof import('archiver')>('archiver');
  const sorted = [...entries].sort((a, b) => compareCodeUnits(a.name, b.name));
  // Stored, not deflated: deflate output may vary with the zlib build (Node version, CPU-specific
  // fast paths), and two helper modules gain little from compression.
  const archive = new ZipArchive({ store: true });
  const sink = new PassThrough();
  const chunks: Buffer[] = [];
  sink.on('data', (chunk: Buffer) => chunks.push(chunk));
  const done = new Promise<void>((resolve, reject) => {
    sink.on('end', resolve);
    sink.on('error', reject);
    archive.on('error', reject);
    archive.on('warning', reject);
  });
  archive.pipe(sink);
  // One entry at a time, in order: archiver queues appends, so the order we append is the order
  // in the central directory.
  for (const entry of sorted) archive.append(entry.bytes, { name: entry.name, date: FIXED_DATE(), mode: FILE_MODE });
  await archive.finalize();
  await done;
  return Buffer.concat(chunks);
}
