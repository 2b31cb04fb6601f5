import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readConfigFile, resolveConfig } from '../../../src/config/load.js';
import { generateEnvironment } from '../../../src/generator/generate.js';
import { useTmpDir } from '../../support/tmp.js';

const tmp = useTmpDir();

async function generated(env: string) {
  return generateEnvironment(resolveConfig(await readConfigFile(), env), '0.0.0-test');
}

describe('plugins.zip read by python3 zipfile', () => {
  it('puts the plugin modules at the root of plugins.zip, unchanged', async () => {
    const dir = tmp();
    const { files } = await generated('dev');
    writeFileSync(join(dir, 'plugins.zip'), files.find((f) => f.path === 'plugins.zip')!.bytes);
    const listing = execFileSync(
      'python3',
      [
        '-c',
        'import sys, zipfile; z = zipfile.ZipFile(sys.argv[1]); print("\\n".join(f"{i.filename} {i.date_time} {oct(i.external_attr >> 16)}" for i in z.infolist()))',
        join(dir, 'plugins.zip'),
      ],
      { encoding: 'utf8' },
    );
    expect(listing.trim().split('\n')).toEqual([
      'aws_secrets_utils.py (1980, 1, 1, 0, 0, 0) 0o100644',
      'gpu_ssh_utils.py (1980, 1, 1, 0, 0, 0) 0o100644',
    ]);
    const unzipped = execFileSync('python3', [
      '-c',
      'import sys, zipfile; sys.stdout.buffer.write(zipfile.ZipFile(sys.argv[1]).read("gpu_ssh_utils.py"))',
      join(dir, 'plugins.zip'),
    ]);
    expect(unzipped.equals(readFileSync('templates/plugins/gpu_ssh_utils.py'))).toBe(true);
  });
});
