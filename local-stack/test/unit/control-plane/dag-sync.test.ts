import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync, existsSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DagSync } from '../../../src/control-plane/dag-sync.js';
import { FakeStore } from './fake-store.js';

let dir: string;
let dags: string;
let store: FakeStore;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'dag-sync-'));
  dags = join(dir, 'dags');
  store = new FakeStore();
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const ino = (rel: string): number => statSync(join(dags, rel)).ino;

describe('DagSync', () => {
  it('adds, updates and deletes files, touching only what changed', async () => {
    store.put('dags/a.py', 'A1');
    store.put('dags/sub/b.py', 'B1');
    store.put('dags/', '');
    store.put('plugins.zip', 'not a dag');
    const sync = new DagSync(store, dags, () => 'dags');

    expect(await sync.syncOnce()).toEqual({ added: ['a.py', 'sub/b.py'], updated: [], deleted: [], unchanged: 0 });
    expect(readFileSync(join(dags, 'sub/b.py'), 'utf8')).toBe('B1');
    const inoA = ino('a.py');
    const inoB = ino('sub/b.py');

    const getsBefore = store.gets;
    expect(await sync.syncOnce()).toEqual({ added: [], updated: [], deleted: [], unchanged: 2 });
    expect(store.gets).toBe(getsBefore);

    store.put('dags/a.py', 'A2');
    expect(await sync.syncOnce()).toEqual({ added: [], updated: ['a.py'], deleted: [], unchanged: 1 });
    expect(readFileSync(join(dags, 'a.py'), 'utf8')).toBe('A2');
    expect(ino('a.py')).not.toBe(inoA);
    expect(ino('sub/b.py')).toBe(inoB);

    store.delete('dags/sub/b.py');
    expect(await sync.syncOnce()).toEqual({ added: [], updated: [], deleted: ['sub/b.py'], unchanged: 1 });
    expect(existsSync(join(dags, 'sub'))).toBe(false);
    expect(readdirSync(dags)).toEqual(['a.py']);
  });

  it('adopts local files whose content already matches without rewriting them', async () => {
    store.put('dags/a.py', 'same');
    mkdirSync(dags, { recursive: true });
    writeFileSync(join(dags, 'a.py'), 'same');
    const before = ino('a.py');
    const sync = new DagSync(store, dags, () => 'dags');
    expect(await sync.syncOnce()).toEqual({ added: [], updated: [], deleted: [], unchanged: 1 });
    expect(ino('a.py')).toBe(before);
    expect(store.gets).toBe(0);
  });

  it('replaces a local file that differs from S3 and removes files S3 does not have', async () => {
    store.put('dags/a.py', 'remote');
    mkdirSync(join(dags, '__pycache__'), { recursive: true });
    writeFileSync(join(dags, 'a.py'), 'local');
    writeFileSync(join(dags, 'stray.py'), 'x');
    writeFileSync(join(dags, '__pycache__', 'a.cpython-311.pyc'), 'x');
    const sync = new DagSync(store, dags, () => 'dags');
    expect(await sync.syncOnce()).toEqual({ added: [], updated: ['a.py'], deleted: ['stray.py'], unchanged: 0 });
    expect(readFileSync(join(dags, 'a.py'), 'utf8')).toBe('remote');
    expect(existsSync(join(dags, '__pycache__', 'a.cpython-311.pyc'))).toBe(true);
  });

  it('ignores keys that would escape the dags folder and follows a changed prefix', async () => {
    store.put('dags/../evil.py', 'x');
    store.put('other/c.py', 'C');
    let prefix = 'dags';
    const sync = new DagSync(store, dags, () => prefix);
    expect((await sync.syncOnce()).added).toEqual([]);
    expect(existsSync(join(dir, 'evil.py'))).toBe(false);
    prefix = 'other/';
    expect((await sync.syncOnce()).added).toEqual(['c.py']);
  });

  it('leaves no temp files behind', async () => {
    store.put('dags/a.py', 'A');
    await new DagSync(store, dags, () => 'dags').syncOnce();
    expect(readdirSync(dags)).toEqual(['a.py']);
  });

  it('dag-files-first: writes the top-level DAG files at once, then everything else (deletions too) holdMs later, dot-files last', async () => {
    let now = 1_000;
    const sync = new DagSync(
      store,
      dags,
      () => 'dags',
      () => ({ order: 'dag-files-first', holdMs: 10_000 }),
      () => now,
    );
    store.put('dags/old_lib.zip', 'old');
    expect((await sync.syncOnce()).added).toEqual(['old_lib.zip']);

    store.put('dags/dag.py', 'D');
    store.put('dags/new_lib.zip', 'Z');
    store.put('dags/folder/.airflowignore', '.*');
    store.put('dags/folder/module.py', 'M');
    store.delete('dags/old_lib.zip');
    expect(await sync.syncOnce()).toEqual({ added: ['dag.py'], updated: [], deleted: [], unchanged: 0 });
    now += 9_999;
    expect(await sync.syncOnce()).toEqual({ added: [], updated: [], deleted: [], unchanged: 1 });
    expect(readdirSync(dags).sort()).toEqual(['dag.py', 'old_lib.zip']);
    now += 1;
    expect(await sync.syncOnce()).toEqual({
      added: ['new_lib.zip', 'folder/module.py', 'folder/.airflowignore'],
      updated: [],
      deleted: ['old_lib.zip'],
      unchanged: 1,
    });
    // Nothing held back any more: a change of other files alone lands at once.
    store.put('dags/new_lib.zip', 'Z2');
    expect((await sync.syncOnce()).updated).toEqual(['new_lib.zip']);
  });
});
