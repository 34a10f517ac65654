/**
 * The file store's home: its directories are the owner's only (a loose one is tightened when
 * the store opens it, another user's refused); a writer that lost its lease is told so
 * (`lease_lost`) on every commit; and a log that never got its header (a crash while it was
 * created) is no conversation: not listed, not found, and removed when the store meets it.
 */
import fs from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createRuntime, SessionNotFoundError, StoreError } from '../../src/index.js';
import { newConversationId } from '../../src/protocol/ids.js';
import { FileStore, type FileStoreOptions } from '../../src/store/file-store.js';
import type { CommitOptions, LogIssue } from '../../src/store/store.js';
import { bodyRecords, collect, failure, logRecords, modeOf, tempDir } from './helpers.js';

const SYNC: CommitOptions = { durability: 'sync' };
const open: FileStore[] = [];
afterEach(async () => {
  for (const store of open.splice(0)) await store.close();
});

function store(home: string, options: Partial<FileStoreOptions> = {}): { store: FileStore; issues: LogIssue[] } {
  const issues: LogIssue[] = [];
  const s = new FileStore({ home, onIssue: (i) => issues.push(i), ...options });
  open.push(s);
  return { store: s, issues };
}

async function created(s: FileStore, count = 3): Promise<string> {
  const id = newConversationId();
  const [outcome] = await s.commit([{ conversationId: id, records: logRecords(id, count) }], SYNC);
  expect(outcome?.ok).toBe(true);
  return id;
}

describe('file store home permissions', () => {
  it('tightens a home and its sessions, archived and leases directories found open to others (0755) to 0700 when it opens them', async () => {
    const home = join(tempDir(), 'home');
    const first = store(home).store;
    const id = await created(first);
    await first.archive(await created(first));
    await first.close();
    const dirs = [home, join(home, 'sessions'), join(home, 'archived'), join(home, 'leases')];
    for (const dir of dirs) fs.chmodSync(dir, 0o755);
    for (const dir of dirs) expect(modeOf(dir)).toBe(0o755);
    const again = store(home).store;
    expect((await again.list()).items.map((s) => s.id)).toEqual([id]);
    for (const dir of dirs) expect({ dir, mode: modeOf(dir) }).toEqual({ dir, mode: 0o700 });
  });

  it('tightens them on any first use, a read as well as a commit', async () => {
    const home = join(tempDir(), 'home');
    const first = store(home).store;
    const id = await created(first);
    await first.close();
    fs.chmodSync(home, 0o775);
    fs.chmodSync(join(home, 'sessions'), 0o751);
    await collect(store(home).store.read(id));
    expect(modeOf(home)).toBe(0o700);
    expect(modeOf(join(home, 'sessions'))).toBe(0o700);
  });

  it.skipIf(process.getuid?.() !== 0)('refuses a home open to others that belongs to another user, naming it, and changes nothing', async () => {
    const home = join(tempDir(), 'home');
    fs.mkdirSync(home, { mode: 0o755 });
    fs.chmodSync(home, 0o755);
    fs.chownSync(home, 65534, 65534);
    const { store: s } = store(home);
    const err = await s.list().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StoreError);
    expect((err as StoreError).message).toContain(home);
    expect((err as StoreError).message).toMatch(/another user/);
    const id = newConversationId();
    await expect(s.commit([{ conversationId: id, records: logRecords(id, 1) }], SYNC)).rejects.toBeInstanceOf(StoreError);
    expect(modeOf(home)).toBe(0o755);
    expect(fs.readdirSync(home)).toEqual([]);
  });
});

it('refuses a shared directory (sticky bit, as /tmp) as a home rather than tightening it', async () => {
  const home = join(tempDir(), 'shared');
  fs.mkdirSync(home);
  fs.chmodSync(home, 0o1777);
  const err = await store(home).store.list().catch((e: unknown) => e);
  expect(err).toBeInstanceOf(StoreError);
  expect((err as StoreError).message).toMatch(/shared by every user/);
  expect(fs.statSync(home).mode & 0o7777).toBe(0o1777);
});

describe('a writer that lost its lease', () => {
  for (const how of ['taken over by another host', 'taken over by a process that is gone', 'removed'] as const) {
    it(`gets lease_lost on every commit (${how}), writes nothing, and takes it back only when asked`, async () => {
      const home = join(tempDir(), 'home');
      const { store: s } = store(home);
      const id = await created(s, 2);
      const lease = join(home, 'leases', `${id}.lease`);
      if (how === 'removed') fs.unlinkSync(lease);
      else {
        const holder = how === 'taken over by another host' ? { pid: 4242, host: 'elsewhere.example' } : { pid: 999_999_999, host: (await import('node:os')).hostname() };
        fs.writeFileSync(`${lease}.new`, JSON.stringify({ ...holder, since: new Date().toISOString(), token: 9 }));
        fs.renameSync(`${lease}.new`, lease);
      }
      const log = s.paths.log(id, false);
      const before = fs.readFileSync(log);
      for (const durability of ['sync', 'batched', 'none'] as const) {
        const outcome = failure((await s.commit([{ conversationId: id, records: bodyRecords(2, 2) }], { durability }))[0]);
        expect({ durability, code: outcome.error.code }).toEqual({ durability, code: 'lease_lost' });
        expect(outcome.error.message).toMatch(/no longer holds the write lease/);
      }
      expect(fs.readFileSync(log)).toEqual(before);
      if (how === 'taken over by another host') return;
      // Taking the lease again (as a resume does) lets it write again.
      await s.acquire(id);
      const [ok] = await s.commit([{ conversationId: id, records: bodyRecords(2, 2) }], SYNC);
      expect(ok).toMatchObject({ ok: true, lastSeq: 2 });
    });
  }
});

describe('logs that never got their header', () => {
  /** A home with a conversation and two logs a crash during their creation left: empty, and with only a torn header line. */
  async function crashedHome(): Promise<{ home: string; good: string; empty: string; torn: string }> {
    const home = join(tempDir(), 'home');
    const first = store(home).store;
    const good = await created(first);
    const empty = await created(first, 1);
    const torn = await created(first, 1);
    await first.close();
    fs.truncateSync(first.paths.log(empty, false), 0);
    const tornPath = first.paths.log(torn, false);
    const header = fs.readFileSync(tornPath, 'utf8');
    fs.writeFileSync(tornPath, header.slice(0, Math.floor(header.length / 2)));
    return { home, good, empty, torn };
  }

  it('are not listed, read, resumed or found, and are removed when met and reported', async () => {
    const { home, good, empty, torn } = await crashedHome();
    const { store: s, issues } = store(home);
    const paths = [s.paths.log(empty, false), s.paths.log(torn, false)];
    expect((await s.list()).items.map((i) => i.id)).toEqual([good]);
    for (const path of paths) expect(fs.existsSync(path), path).toBe(false);
    expect(issues.filter((i) => i.kind === 'bad_header').map((i) => i.conversationId).sort()).toEqual([empty, torn].sort());
    for (const id of [empty, torn]) {
      await expect(collect(s.read(id))).rejects.toBeInstanceOf(SessionNotFoundError);
      await expect(s.head(id)).rejects.toBeInstanceOf(SessionNotFoundError);
      expect(await s.exists(id)).toBe(false);
    }
    expect((await collect(s.read(good))).map((r) => r.seq)).toEqual([0, 1, 2]);
  });

  it('are refused as not found by read and resume before any listing, and removed', async () => {
    const { home, empty, torn } = await crashedHome();
    const issues: LogIssue[] = [];
    const runtime = createRuntime({ home, onLogIssue: (i) => issues.push(i) });
    try {
      for (const id of [empty, torn]) {
        await expect(runtime.read(id)).rejects.toBeInstanceOf(SessionNotFoundError);
        await expect(runtime.resume(id)).rejects.toBeInstanceOf(SessionNotFoundError);
      }
      expect((await runtime.list()).items).toHaveLength(1);
    } finally {
      await runtime.shutdown();
    }
    const s = store(home).store;
    for (const id of [empty, torn]) expect(fs.existsSync(s.paths.log(id, false))).toBe(false);
  });

  it('are removed by reindex, and what a crash left in sessions/.creating by the next open of the store', async () => {
    const { home, good, empty, torn } = await crashedHome();
    fs.rmSync(join(home, 'index.jsonl'));
    const creatingDir = join(home, 'sessions', '.creating');
    fs.mkdirSync(creatingDir, { recursive: true, mode: 0o700 });
    const unfinished = newConversationId();
    fs.writeFileSync(join(creatingDir, `${unfinished}.jsonl`), '');
    const { store: s, issues } = store(home);
    await s.reindex();
    expect(fs.readdirSync(creatingDir)).toEqual([]);
    for (const id of [empty, torn]) expect(fs.existsSync(s.paths.log(id, false))).toBe(false);
    expect(issues.filter((i) => i.kind === 'bad_header').map((i) => i.conversationId).sort()).toEqual([empty, torn, unfinished].sort());
    expect((await s.list()).items.map((i) => i.id)).toEqual([good]);
  });

  it('leaves a log alone while a live writer is creating it', async () => {
    const home = join(tempDir(), 'home');
    const writer = store(home).store;
    const id = newConversationId();
    await writer.acquire(id);
    const creatingDir = join(home, 'sessions', '.creating');
    fs.mkdirSync(creatingDir, { recursive: true, mode: 0o700 });
    fs.writeFileSync(join(creatingDir, `${id}.jsonl`), '');
    const other = store(home).store;
    await other.reindex();
    expect(fs.readdirSync(creatingDir)).toEqual([`${id}.jsonl`]);
  });
});
