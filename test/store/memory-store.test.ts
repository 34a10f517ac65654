import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { InvalidIdError, InvalidOpError, SessionNotFoundError } from '../../src/errors.js';
import { idTime, newConversationId } from '../../src/protocol/ids.js';
import type { LogRecord } from '../../src/protocol/records.js';
import { FileStore } from '../../src/store/file-store.js';
import { MemoryStore } from '../../src/store/memory-store.js';
import { postgresTestStore } from '../support/postgres.js';
import type { CommitOptions, Store } from '../../src/store/store.js';
import {
  bodyRecords,
  collect,
  failure,
  logRecords,
  metaRecord,
  newIds,
  rejectionOf,
  renameRecord,
  tempDir,
} from './helpers.js';

const SYNC: CommitOptions = { durability: 'sync' };

async function commitOk(store: Store, id: string, records: readonly LogRecord[]): Promise<void> {
  const [outcome] = await store.commit([{ conversationId: id, records }], SYNC);
  expect(outcome).toEqual({ conversationId: id, ok: true, lastSeq: records[records.length - 1]?.seq });
}

async function created(store: Store, count = 3, id = newConversationId(), meta: Parameters<typeof logRecords>[2] = {}): Promise<string> {
  await commitOk(store, id, logRecords(id, count, meta));
  return id;
}

async function listIds(store: Store, query: Parameters<Store['list']>[0] = {}): Promise<string[]> {
  return (await store.list(query)).items.map((s) => s.id);
}

/** The store contract (SPEC §5) that every store keeps. */
const stores: [string, () => Store | Promise<Store>][] = [
  ['MemoryStore', () => new MemoryStore()],
  ['FileStore', () => new FileStore({ home: join(tempDir(), 'home') })],
  ['PostgresStore', () => postgresTestStore()],
];

const opened: Store[] = [];
afterEach(async () => {
  for (const store of opened.splice(0)) await store.close();
});

for (const [name, make] of stores) {
  describe(`${name} (store contract)`, () => {
    const fresh = async (): Promise<Store> => {
      const store = await make();
      opened.push(store);
      return store;
    };

    it('stores and streams records in seq order; upToSeq stops after that seq', async () => {
      const store = await fresh();
      const id = newConversationId();
      await commitOk(store, id, logRecords(id, 3));
      await commitOk(store, id, bodyRecords(3, 6));
      expect(await collect(store.read(id))).toEqual(logRecords(id, 7));
      expect(await collect(store.read(id, { upToSeq: 2 }))).toEqual(logRecords(id, 3));
      expect(await store.exists(id)).toBe(true);
    });

    it('enforces seq continuity: a commit not starting at the next seq fails with seq_mismatch and adds nothing', async () => {
      const store = await fresh();
      const id = await created(store, 3);
      for (const records of [bodyRecords(4, 5), bodyRecords(2, 3), [metaRecord(id)]]) {
        const outcome = failure((await store.commit([{ conversationId: id, records }], SYNC))[0]);
        expect(outcome.error.code).toBe('seq_mismatch');
        expect(outcome.firstSeq).toBe(records[0]?.seq);
        expect(outcome.error.message).toContain('expected seq 3');
      }
      expect(await collect(store.read(id))).toEqual(logRecords(id, 3));
      await commitOk(store, id, bodyRecords(3, 3));
    });

    it('fails records for an unknown conversation that do not start with session_meta', async () => {
      const store = await fresh();
      const id = newConversationId();
      const outcome = failure((await store.commit([{ conversationId: id, records: bodyRecords(1, 1) }], SYNC))[0]);
      expect(outcome.error.code).toBe('session_not_found');
      expect(await store.exists(id)).toBe(false);
    });

    it('commits several conversations in one call, one outcome each in entry order', async () => {
      const store = await fresh();
      const [a, b, c] = newIds(3) as [string, string, string];
      await created(store, 2, b);
      const outcomes = await store.commit(
        [
          { conversationId: a, records: logRecords(a, 2) },
          { conversationId: b, records: bodyRecords(5, 5) },
          { conversationId: c, records: [] },
        ],
        SYNC,
      );
      expect(outcomes.map((o) => [o.conversationId, o.ok])).toEqual([
        [a, true],
        [b, false],
        [c, true],
      ]);
      expect(await collect(store.read(a))).toEqual(logRecords(a, 2));
      expect(await collect(store.read(b))).toEqual(logRecords(b, 2));
    });

    it('lists newest first and pages exactly through conversations created in one millisecond', async () => {
      const store = await fresh();
      vi.useFakeTimers({ toFake: ['Date'] });
      let ids: string[];
      try {
        vi.setSystemTime(Date.now());
        ids = newIds(5);
      } finally {
        vi.useRealTimers();
      }
      expect(new Set(ids.map(idTime)).size).toBe(1);
      for (const id of ids) await created(store, 1, id);
      expect(await listIds(store)).toEqual([...ids].reverse());
      for (const sort of ['created', 'updated'] as const) {
        const seen: string[] = [];
        let cursor: string | null = null;
        do {
          const page = await store.list({ sort, limit: 2, cursor });
          seen.push(...page.items.map((s) => s.id));
          cursor = page.nextCursor;
        } while (cursor !== null && seen.length <= ids.length);
        expect(seen.length).toBe(ids.length);
        expect(new Set(seen)).toEqual(new Set(ids));
      }
    });

    it('filters by name and metadata', async () => {
      const store = await fresh();
      const a = await created(store, 1, newConversationId(), { name: 'Alpha Build', metadata: { team: 'core', n: 1 } });
      const b = await created(store, 1, newConversationId(), { name: 'beta build', metadata: { team: 'web', n: 1 } });
      expect(await listIds(store, { name: 'BUILD' })).toEqual([b, a]);
      expect(await listIds(store, { name: 'alpha' })).toEqual([a]);
      expect(await listIds(store, { metadata: { n: 1 } })).toEqual([b, a]);
      expect(await listIds(store, { metadata: { team: 'core', n: 1 } })).toEqual([a]);
      expect(await listIds(store, { metadata: { team: 'none' } })).toEqual([]);
    });

    it('rejects an invalid limit or cursor with InvalidOpError naming the field', async () => {
      const store = await fresh();
      for (const [query, field] of [
        [{ limit: 0 }, 'limit'],
        [{ limit: 1001 }, 'limit'],
        [{ limit: 1.5 }, 'limit'],
        [{ cursor: 'bogus' }, 'cursor'],
        [{ cursor: `c:${newConversationId()}`, sort: 'updated' }, 'cursor'],
      ] as const) {
        const err = await rejectionOf(store.list(query));
        expect(err).toBeInstanceOf(InvalidOpError);
        expect((err as InvalidOpError).field).toBe(field);
      }
    });

    it('archives and unarchives: listed apart, still readable', async () => {
      const store = await fresh();
      const id = await created(store, 2);
      const other = await created(store, 1);
      await store.archive(id);
      expect(await store.exists(id)).toBe(true);
      expect(await collect(store.read(id))).toEqual(logRecords(id, 2));
      expect((await store.summary(id)).archived).toBe(true);
      expect(await listIds(store)).toEqual([other]);
      expect(await listIds(store, { archived: true })).toEqual([id]);
      await commitOk(store, id, bodyRecords(2, 2));
      await store.unarchive(id);
      expect((await store.summary(id)).archived).toBe(false);
      expect(await listIds(store)).toEqual([other, id]);
      expect(await listIds(store, { archived: true })).toEqual([]);
      expect(await collect(store.read(id))).toEqual(logRecords(id, 3));
    });

    it('deletes for good: read then throws SessionNotFoundError', async () => {
      const store = await fresh();
      const id = await created(store, 2);
      await store.delete(id);
      expect(await store.exists(id)).toBe(false);
      await expect(collect(store.read(id))).rejects.toBeInstanceOf(SessionNotFoundError);
      await expect(store.delete(id)).rejects.toBeInstanceOf(SessionNotFoundError);
      expect(await listIds(store)).toEqual([]);
    });

    it('throws SessionNotFoundError for an unknown conversation', async () => {
      const store = await fresh();
      const id = newConversationId();
      for (const op of [() => collect(store.read(id)), () => store.summary(id), () => store.archive(id), () => store.unarchive(id), () => store.delete(id)]) {
        const err = await rejectionOf(op());
        expect(err).toBeInstanceOf(SessionNotFoundError);
        expect((err as SessionNotFoundError).sessionId).toBe(id);
      }
    });

    it('rejects invalid ids with InvalidIdError, and fails commits to them with invalid_id', async () => {
      const store = await fresh();
      for (const id of ['../etc/passwd', '', 'not-an-id']) {
        for (const op of [() => collect(store.read(id)), () => store.exists(id), () => store.summary(id), () => store.archive(id), () => store.delete(id)]) {
          expect(await rejectionOf(op())).toBeInstanceOf(InvalidIdError);
        }
        const outcome = failure((await store.commit([{ conversationId: id, records: logRecords(newConversationId(), 1) }], SYNC))[0]);
        expect(outcome.error.code).toBe('invalid_id');
      }
      expect(await listIds(store)).toEqual([]);
    });
  });
}

describe('MemoryStore', () => {
  it('sorts by update time (commit time), newest first, and pages exactly', async () => {
    const store = new MemoryStore();
    const [a, b, c] = newIds(3) as [string, string, string];
    vi.useFakeTimers({ toFake: ['Date'] });
    try {
      const base = Date.UTC(2024, 2, 1);
      vi.setSystemTime(base);
      for (const id of [a, b, c]) await created(store, 1, id);
      vi.setSystemTime(base + 1000);
      await commitOk(store, a, bodyRecords(1, 1));
    } finally {
      vi.useRealTimers();
    }
    expect(await listIds(store, { sort: 'updated' })).toEqual([a, c, b]);
    const first = await store.list({ sort: 'updated', limit: 2 });
    expect(first.items.map((s) => s.id)).toEqual([a, c]);
    expect(first.nextCursor).toMatch(/^u:\d+:/);
    expect(await listIds(store, { sort: 'updated', cursor: first.nextCursor })).toEqual([b]);
    expect((await store.summary(a)).updatedAt).toBe(new Date(Date.UTC(2024, 2, 1) + 1000).toISOString());
  });

  it('shows the latest name set by thread.name_updated in summaries and the name filter', async () => {
    const store = new MemoryStore();
    const id = await created(store, 1, newConversationId(), { name: 'first' });
    await commitOk(store, id, [renameRecord(1, 'Renamed Thing')]);
    expect((await store.summary(id)).name).toBe('Renamed Thing');
    expect(await listIds(store, { name: 'renamed' })).toEqual([id]);
    expect(await listIds(store, { name: 'first' })).toEqual([]);
  });

  it('describes itself and needs no cleanup', async () => {
    const store = new MemoryStore();
    expect(store.description).toBe('memory store');
    await store.release(newConversationId());
    await store.close();
  });
});
