import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { findPython, type PythonProbe, uvEnvironment } from '../../src/venv.js';
import { useTmpDir } from '../../../test/support/tmp.js';

const tmp = useTmpDir('python-find-');

/** Interpreters that exist on this pretend machine, by how they are called. */
function machine(interpreters: Record<string, string>): { probe: PythonProbe; asked: string[] } {
  const asked: string[] = [];
  return {
    asked,
    probe: async (executable) => {
      asked.push(executable);
      const version = interpreters[executable];
      if (!version) throw new Error('not found');
      return version;
    },
  };
}

describe('findPython', () => {
  it("takes MWAA's Python from PATH when it is there", async () => {
    const { probe } = machine({ 'python3.12': '3.12.1', 'python3.11': '3.11.7' });
    expect(await findPython({ HOME: tmp() }, '3.12', '3.11', probe)).toEqual({
      executable: 'python3.12',
      version: '3.12.1',
      minor: '3.12',
    });
  });

  it('finds it in pyenv when PATH has no shim (newest patch release first)', async () => {
    const root = tmp();
    for (const v of ['3.12.1', '3.12.10', '3.11.7']) mkdirSync(join(root, 'versions', v), { recursive: true });
    const newest = join(root, 'versions', '3.12.10', 'bin', 'python3.12');
    const { probe, asked } = machine({ [newest]: '3.12.10', [join(root, 'versions', '3.12.1', 'bin', 'python3.12')]: '3.12.1' });
    expect(await findPython({ PYENV_ROOT: root }, '3.12', '3.11', probe)).toMatchObject({ executable: newest, minor: '3.12' });
    expect(asked).toEqual(['python3.12', newest]);
  });

  it('falls back to 3.11 with a note saying why and what to install', async () => {
    const { probe } = machine({ 'python3.11': '3.11.7' });
    const found = await findPython({ HOME: tmp() }, '3.12', '3.11', probe);
    expect(found).toMatchObject({ executable: 'python3.11', minor: '3.11' });
    expect(found.fallbackNote).toMatch(
      /^running Airflow on Python 3\.11\.7, not 3\.12 as MWAA does: no Python 3\.12 on PATH or in pyenv.*pyenv install 3\.12/,
    );
  });

  it('MWAA_LOCAL_PYTHON is taken as given: 3.12, or 3.11 with the note, nothing else', async () => {
    const { probe } = machine({ '/opt/py312': '3.12.3', '/opt/py311': '3.11.9', '/opt/py310': '3.10.2', 'python3.12': '3.12.1' });
    expect(await findPython({ MWAA_LOCAL_PYTHON: '/opt/py312' }, '3.12', '3.11', probe)).toEqual({
      executable: '/opt/py312',
      version: '3.12.3',
      minor: '3.12',
    });
    expect((await findPython({ MWAA_LOCAL_PYTHON: '/opt/py311' }, '3.12', '3.11', probe)).fallbackNote).toMatch(
      /MWAA_LOCAL_PYTHON \(\/opt\/py311\) is Python 3\.11\.9/,
    );
    await expect(findPython({ MWAA_LOCAL_PYTHON: '/opt/py310' }, '3.12', '3.11', probe)).rejects.toThrow(
      /No Python 3\.12 \(or 3\.11\).*\/opt\/py310 \(Python 3\.10\.2\)/,
    );
  });

  it('says what it tried when neither is there', async () => {
    const { probe } = machine({});
    await expect(findPython({ HOME: tmp() }, '3.12', '3.11', probe)).rejects.toThrow(
      /tried: python3\.12 \(not usable\), python3\.11 \(not usable\)/,
    );
  });
});

describe('uvEnvironment: what a machine set for pip reaches uv, which reads none of it', () => {
  it('maps the index, extra index, wheel folder, CA bundle and timeout; never downloads a Python', () => {
    const env = uvEnvironment({
      PIP_INDEX_URL: 'https://mirror.example/simple',
      PIP_EXTRA_INDEX_URL: 'https://extra.example/simple',
      PIP_FIND_LINKS: '/opt/wheels',
      PIP_CERT: '/etc/ssl/corp.pem',
      PIP_DEFAULT_TIMEOUT: '180',
    });
    expect(env).toMatchObject({
      UV_DEFAULT_INDEX: 'https://mirror.example/simple',
      UV_INDEX: 'https://extra.example/simple',
      UV_FIND_LINKS: '/opt/wheels',
      SSL_CERT_FILE: '/etc/ssl/corp.pem',
      UV_HTTP_TIMEOUT: '180',
      UV_PYTHON_DOWNLOADS: 'never',
      UV_SYSTEM_CERTS: '1',
    });
  });

  it("trusts the system's certificate store, as pip does, unless the user said otherwise for uv", () => {
    expect(uvEnvironment({}).UV_SYSTEM_CERTS).toBe('1');
    expect(uvEnvironment({ UV_SYSTEM_CERTS: 'false' }).UV_SYSTEM_CERTS).toBe('false');
    expect(uvEnvironment({ UV_NATIVE_TLS: '0' }).UV_SYSTEM_CERTS).toBeUndefined();
  });

  it("keeps what the user set for uv itself, and sets nothing pip's settings do not say", () => {
    const env = uvEnvironment({ PIP_INDEX_URL: 'https://pip.example/simple', UV_DEFAULT_INDEX: 'https://uv.example/simple' });
    expect(env.UV_DEFAULT_INDEX).toBe('https://uv.example/simple');
    expect(env.UV_FIND_LINKS).toBeUndefined();
    expect(env.SSL_CERT_FILE).toBeUndefined();
  });
});
