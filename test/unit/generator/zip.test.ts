import { PassThrough } from 'node:stream';
import { ZipArchive } from 'archiver';
import { describe, expect, it } from 'vitest';
import { crc32, deterministicZip, type ZipEntry } from '../../../src/generator/zip.js';
import { zipMembers } from '../../../src/util/zip-listing.js';

/** What archiver 8 writes in store mode with a fixed date and mode: the bytes plugins.zip had before. */
async function archiverZip(entries: ZipEntry[]): Promise<Buffer> {
  const archive = new ZipArchive({ store: true });
  const sink = new PassThrough();
  const chunks: Buffer[] = [];
  sink.on('data', (chunk: Buffer) => chunks.push(chunk));
  const done = new Promise<void>((resolve, reject) => {
    sink.on('end', resolve);
    archive.on('error', reject);
  });
  archive.pipe(sink);
  const sorted = [...entries].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const e of sorted) archive.append(e.bytes, { name: e.name, date: new Date(Date.UTC(1980, 0, 1)), mode: 0o644 });
  await archive.finalize();
  await done;
  return Buffer.concat(chunks);
}

const cases: Record<string, ZipEntry[]> = {
  'the plugin modules': [
    { name: 'gpu_ssh_utils.py', bytes: Buffer.from('import paramiko\n'.repeat(500)) },
    { name: 'aws_secrets_utils.py', bytes: Buffer.from('import boto3\n') },
  ],
  'an empty file and a nested path': [
    { name: 'pkg/__init__.py', bytes: Buffer.alloc(0) },
    { name: 'pkg/mod.py', bytes: Buffer.from('X = 1\n') },
  ],
  'a non-ASCII name': [{ name: 'modül.py', bytes: Buffer.from('Ü = "ü"\n') }],
  'binary content': [{ name: 'blob.bin', bytes: Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 31) & 0xff)) }],
};

describe('deterministicZip', () => {
  it.each(Object.entries(cases))('writes the bytes archiver writes: %s', async (_name, entries) => {
    expect((await deterministicZip(entries)).equals(await archiverZip(entries))).toBe(true);
  });

  it('sorts entries, whatever the order given, and reads back as written', async () => {
    const entries = cases['the plugin modules']!;
    const zip = await deterministicZip([...entries].reverse());
    expect(zip.equals(await deterministicZip(entries))).toBe(true);
    expect(zipMembers(zip).map((m) => [m.name, m.size, m.bytes?.toString()])).toEqual([
      ['aws_secrets_utils.py', 13, 'import boto3\n'],
      ['gpu_ssh_utils.py', 8000, 'import paramiko\n'.repeat(500)],
    ]);
  });

  it('computes the standard CRC-32', () => {
    expect(crc32(Buffer.from('123456789')).toString(16)).toBe('cbf43926');
    expect(crc32(Buffer.alloc(0))).toBe(0);
  });
});
