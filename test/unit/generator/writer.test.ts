import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { rename } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { UserError } from '../../../src/errors.js';
import { ensureDirectory, writeDirectoryAtomically } from '../../../src/generator/writer.js';
import { useTmpDir } from '../../support/tmp.js';

const tmp = useTmpDir('writer-');

describe('ensureDirectory', () => {
  it('creates missing parents and accepts an existing directory', async () => {
    const dir = join(tmp(), 'a', 'b', 'c');
    await ensureDirectory(dir);
    await ensureDirectory(dir);
    expect(existsSync(dir)).toBe(true);
  });

  it('refuses a file in the way with a message naming it', async () => {
    const file = join(tmp(), 'afile');
    writeFileSync(file, 'x');
    const error = await ensureDirectory(join(file, 'dev')).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UserError);
    expect((error as Error).message).toBe(
      `Cannot write to ${file}/dev: ${file} exists and is not a directory. Choose another output directory.`,
    );
  });

  it('fails at once where a directory cannot be made (under /proc)', async () => {
    await expect(ensureDirectory('/proc/nope/dev')).rejects.toThrow(
      /^Cannot write to \/proc\/nope\/dev: cannot create the directory \/proc\/nope: no such file or directory: check the path \(ENOENT\)\.$/,
    );
  });
});

describe('writeDirectoryAtomically', () => {
  it('puts the previous artifacts back when the final rename fails', async () => {
    const target = join(tmp(), 'out', 'dev');
    await writeDirectoryAtomically(target, [{ path: 'a.txt', bytes: Buffer.from('old') }]);
    let renames = 0;
    const failing = {
      rename: async (from: string, to: string) => {
        renames += 1;
        if (renames === 2) throw Object.assign(new Error('disk full'), { code: 'ENOSPC' });
        await rename(from, to);
      },
    };
    await expect(writeDirectoryAtomically(target, [{ path: 'a.txt', bytes: Buffer.from('new') }], failing)).rejects.toThrow('disk full');
    expect(readFileSync(join(target, 'a.txt'), 'utf8')).toBe('old');
  });

  it('replaces a whole directory, leaving no staging or retired copies beside it', async () => {
    const out = join(tmp(), 'out');
    mkdirSync(out);
    await writeDirectoryAtomically(join(out, 'dev'), [{ path: 'x/a.txt', bytes: Buffer.from('1') }]);
    await writeDirectoryAtomically(join(out, 'dev'), [{ path: 'b.txt', bytes: Buffer.from('2') }]);
    expect(existsSync(join(out, 'dev', 'x'))).toBe(false);
    expect(readFileSync(join(out, 'dev', 'b.txt'), 'utf8')).toBe('2');
    expect((await import('node:fs')).readdirSync(out)).toEqual(['dev']);
  });
});
