import fs from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createRuntime, FileStore, newConversationId, type CommitOptions } from '../../src/index.js';
import { FaultyFileSystem, logRecords, renameRecord, tempDir } from './helpers.js';

const SYNC: CommitOptions = { durability: 'sync' };
const stores: FileStore[] = [];
afterEach(async () => {
  for (const s of stores.splice(0)) await s.close();
});
function open(home: string, fsx?: FaultyFileSystem): FileStore {
  const store = new FileStore({ home, ...(fsx ? { fs: fsx } : {}) });
  stores.push(store);
  return store;
}
async function create(store: FileStore, n: number, meta: { name?: string; metadata?: Record<string, string> } = {}): Promise<string[]> {
  const ids = Array.from({ length: n }, () => newConversationId());
  const outcomes = await store.commit(ids.map((id) => ({ conversationId: id, records: logRecords(id, 2, meta) })), SYNC);
  expect(outcomes.every((o) => o.ok)).toBe(true);
  return ids;
}
async function everyPage(store: FileStore, sort: 'created' | 'updated', limit: number): Promise<string[]> {
  const ids: string[] = [];
  let cursor: string | null = null;
  do {
    const page = await store.list({ sort, limit, cursor });
    ids.push(...page.items.map((s) => s.id));
    cursor = page.nextCursor;
  } while (cursor);
  return ids;
}

describe('listing index', () => {
  it('lists from the index, newest first, and pages through everything exactly once', async () => {
    const home = tempDir();
    const store = open(home);
    const ids = await create(store, 120);
    expect(fs.existsSync(join(home, 'index.jsonl'))).toBe(true);
    const first = await store.list({ limit: 10 });
    expect(first.items.map((s) => s.id)).toEqual([...ids].reverse().slice(0, 10));
    expect(await everyPage(store, 'created', 7)).toEqual([...ids].reverse());
    const updated = await everyPage(store, 'updated', 9);
    expect(new Set(updated).size).toBe(120);
  });

  it('shows renames and filters on the new name', async () => {
    const home = tempDir();
    const store = open(home);
    const [a, b] = await create(store, 2, { name: 'draft' });
    await store.commit([{ conversationId: a as string, records: [renameRecord(2, 'quarterly report')] }], SYNC);
    expect((await store.list({ name: 'quarterly' })).items.map((s) => s.id)).toEqual([a]);
    expect((await store.list({ name: 'draft' })).items.map((s) => s.id)).toEqual([b]);
    // A new store (another process) sees the same.
    const other = open(home);
    expect((await other.list({ name: 'quarterly' })).items[0]?.name).toBe('quarterly report');
  });

  it('reads only the end of the index for the first page', async () => {
    const home = tempDir();
    const writer = open(home);
    for (let i = 0; i < 6; i++) await create(writer, 1_000);
    const fsx = new FaultyFileSystem();
    const reader = open(home, fsx);
    await reader.list({ limit: 50 });
    const size = fs.statSync(join(home, 'index.jsonl')).size;
    const bytes = fsx.callsOf('read', 'index.jsonl').reduce((sum, c) => sum + (c.args[2] as number), 0);
    expect(bytes).toBeLessThan(size / 3);
  });

  it('is rebuilt from the logs when missing, names included', async () => {
    const home = tempDir();
    const store = open(home);
    const [a] = await create(store, 3);
    await store.commit([{ conversationId: a as string, records: [renameRecord(2, 'renamed')] }], SYNC);
    fs.rmSync(join(home, 'index.jsonl'));
    const page = await open(home).list();
    expect(page.items).toHaveLength(3);
    expect(page.items.find((s) => s.id === a)?.name).toBe('renamed');
  });

  it('drops conversations whose log was removed behind its back', async () => {
    const home = tempDir();
    const store = open(home);
    const ids = await create(store, 3);
    const gone = ids[2] as string;
    await store.release(gone);
    fs.rmSync(store.paths.log(gone, false));
    const page = await store.list();
    expect(page.items.map((s) => s.id)).toEqual([ids[1], ids[0]]);
    expect(fs.readFileSync(join(home, 'index.jsonl'), 'utf8')).toContain(`"id":"${gone}","del":true`);
  });

  it('follows archive, unarchive and delete', async () => {
    const home = tempDir();
    const store = open(home);
    const [a, b] = await create(store, 2);
    await store.release(a as string);
    await store.archive(a as string);
    expect((await store.list()).items.map((s) => s.id)).toEqual([b]);
    expect((await store.list({ archived: true })).items.map((s) => s.id)).toEqual([a]);
    await store.unarchive(a as string);
    expect((await store.list()).items).toHaveLength(2);
    await store.delete(a as string);
    expect((await open(home).list()).items.map((s) => s.id)).toEqual([b]);
  });

  it('runtime.reindex() rebuilds it', async () => {
    const home = tempDir();
    const rt = createRuntime({ home });
    const convo = await rt.start({ name: 'kept' });
    fs.writeFileSync(join(home, 'index.jsonl'), '{"format":1}\n');
    expect((await rt.list()).items).toEqual([]);
    await rt.reindex();
    expect((await rt.list()).items.map((s) => [s.id, s.name])).toEqual([[convo.id, 'kept']]);
    await rt.shutdown();
  });
});
