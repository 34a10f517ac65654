/**
 * What the Postgres store adds to the store contract (that one runs in memory-store.test.ts):
 * the group commit in one transaction with per-entry isolation, fencing between nodes by lease
 * epochs, the heartbeat and `watchLeases`, migrations (concurrent, and a database newer than
 * the code), errors a person can act on, the history in the commit's transaction, and reads
 * of corrupted lines. Two store instances on one schema are two nodes of a cluster.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { CorruptLogError, SessionLockedError, StoreError } from '../../src/errors.js';
import { newConversationId } from '../../src/protocol/ids.js';
import type { LogRecord } from '../../src/protocol/records.js';
import { PostgresStore, SCHEMA_VERSION } from '../../src/store/postgres/index.js';
import type { CommitOptions, LogIssue } from '../../src/store/store.js';
import { adminQuery, freshSchema, postgresTestStore, postgresUrl } from '../support/postgres.js';
import { bodyRecords, collect, failure, logRecords, newIds, rejectionOf, renameRecord } from './helpers.js';

const SYNC: CommitOptions = { durability: 'sync' };

afterEach(() => {
  vi.restoreAllMocks();
});

/** Wait until `check` holds (polling), failing after `ms`. */
async function until(check: () => boolean | Promise<boolean>, ms = 5_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('timed out waiting');
    await sleep(20);
  }
}

async function seqsOf(schema: string, id: string): Promise<number[]> {
  const rows = await adminQuery<{ seq: string }>(`SELECT seq FROM ${pg.escapeIdentifier(schema)}.records WHERE conversation_id = $1 ORDER BY seq`, [id]);
  return rows.map((r) => Number(r.seq));
}

describe('PostgresStore commit', () => {
  it('commits several conversations in ONE transaction of four statements and keeps each record as its exact JSON line', async () => {
    const store = postgresTestStore();
    const [a, b, c] = newIds(3) as [string, string, string];
    await store.commit([{ conversationId: a, records: logRecords(a, 2) }], SYNC);
    const sent: string[] = [];
    const query = pg.Client.prototype.query;
    vi.spyOn(pg.Client.prototype, 'query').mockImplementation(function (this: pg.Client, ...args: unknown[]) {
      const config = args[0] as string | { text: string };
      sent.push(typeof config === 'string' ? config : config.text);
      return (query as (...a: unknown[]) => unknown).apply(this, args);
    } as typeof query);
    const outcomes = await store.commit(
      [
        { conversationId: a, records: bodyRecords(2, 4) },
        { conversationId: b, records: logRecords(b, 3) },
        { conversationId: c, records: logRecords(c, 1) },
      ],
      SYNC,
    );
    vi.restoreAllMocks();
    expect(outcomes.map((o) => o.ok)).toEqual([true, true, true]);
    // BEGIN, the leases and seqs of all three, one statement writing all three, COMMIT.
    expect(sent).toHaveLength(4);
    expect(sent[0]).toMatch(/^BEGIN/);
    expect(sent.filter((t) => /INSERT INTO .*records/s.test(t))).toHaveLength(1);
    expect(sent[3]).toBe('COMMIT');
    const rows = await adminQuery<{ line: string; updated_ms: string }>(
      `SELECT r.line, c.updated_ms FROM ${pg.escapeIdentifier(schemaOf(store))}.records r JOIN ${pg.escapeIdentifier(schemaOf(store))}.conversations c ON c.id = r.conversation_id WHERE r.conversation_id = $1 ORDER BY r.seq`,
      [b],
    );
    expect(rows.map((r) => r.line)).toEqual(logRecords(b, 3).map((r) => JSON.stringify(r)));
    // Database time of one transaction: every conversation of the commit was updated at the same ms.
    const times = await adminQuery<{ n: string }>(`SELECT count(DISTINCT updated_ms) AS n FROM ${pg.escapeIdentifier(schemaOf(store))}.conversations WHERE id = ANY($1)`, [[a, b, c]]);
    expect(Number(times[0]?.n)).toBe(1);
    expect(await collect(store.read(a))).toEqual(logRecords(a, 5));
  });

  it('isolates a failing entry: an entry the database refuses, one out of seq and a good one, in one commit', async () => {
    const store = postgresTestStore();
    await store.open();
    const [good, refused, behind] = newIds(3) as [string, string, string];
    await store.commit([{ conversationId: behind, records: logRecords(behind, 2) }], SYNC);
    // A stray record row makes the database refuse the creation of `refused` (a key conflict).
    await adminQuery(`INSERT INTO ${pg.escapeIdentifier(schemaOf(store))}.records (conversation_id, seq, type, line) VALUES ($1, 1, 'event', '{}')`, [refused]);
    const outcomes = await store.commit(
      [
        { conversationId: refused, records: logRecords(refused, 3), messages: ['refused message'] },
        { conversationId: behind, records: bodyRecords(5, 5), messages: ['behind message'] },
        { conversationId: good, records: logRecords(good, 2), messages: ['good message'] },
      ],
      { durability: 'batched' },
    );
    const [r, b, g] = outcomes;
    expect(failure(r).error.code).toBe('store_error');
    expect(failure(r).error.message).toContain(`postgres:${schemaOf(store)}/${refused}`);
    expect(failure(b).error).toMatchObject({ code: 'seq_mismatch', message: expect.stringContaining('expected seq 2, got 5') });
    expect(g).toEqual({ conversationId: good, ok: true, lastSeq: 1 });
    expect(await store.exists(refused)).toBe(false);
    expect(await collect(store.read(good))).toEqual(logRecords(good, 2));
    expect(await collect(store.read(behind))).toEqual(logRecords(behind, 2));
    // Only the entry whose records were written wrote its messages.
    expect((await store.history.list()).map((e) => e.text)).toEqual(['good message']);
    // Alone in its commit (no savepoint then), the refused entry fails the same way and the store goes on.
    expect(failure((await store.commit([{ conversationId: refused, records: logRecords(refused, 2), messages: ['again'] }], SYNC))[0]).error.code).toBe('store_error');
    expect((await store.commit([{ conversationId: good, records: bodyRecords(2, 2) }], SYNC))[0]?.ok).toBe(true);
    expect(await store.history.list()).toHaveLength(1);
  });

  it('commits two entries of one conversation in one call, the second continuing the first, and not after a failed first', async () => {
    const store = postgresTestStore();
    const id = newConversationId();
    const outcomes = await store.commit(
      [
        { conversationId: id, records: logRecords(id, 2) },
        { conversationId: id, records: bodyRecords(2, 3), messages: ['second'] },
      ],
      SYNC,
    );
    expect(outcomes.map((o) => o.ok)).toEqual([true, true]);
    expect(await collect(store.read(id))).toEqual(logRecords(id, 4));
    const again = await store.commit(
      [
        { conversationId: id, records: bodyRecords(9, 9) },
        { conversationId: id, records: bodyRecords(10, 10) },
      ],
      SYNC,
    );
    expect(again.map((o) => !o.ok && o.error.code)).toEqual(['seq_mismatch', 'seq_mismatch']);
    expect((await store.history.list()).map((e) => e.text)).toEqual(['second']);
  });

  it('writes the history in the commit: newest first, searchable, by conversation; NUL kept as U+FFFD', async () => {
    const store = postgresTestStore();
    const [a, b] = newIds(2) as [string, string];
    await store.commit(
      [
        { conversationId: a, records: logRecords(a, 2), messages: ['Deploy the app', 'then test'] },
        { conversationId: b, records: logRecords(b, 1), messages: ['deploy again\u0000'] },
      ],
      SYNC,
    );
    const all = await store.history.list();
    expect(all.map((e) => [e.sessionId, e.text])).toEqual([
      [b, 'deploy again\uFFFD'],
      [a, 'then test'],
      [a, 'Deploy the app'],
    ]);
    expect(all.every((e) => Number.isInteger(e.ts) && Math.abs(e.ts - Date.now() / 1000) < 60)).toBe(true);
    expect((await store.history.search('DEPLOY')).map((e) => e.sessionId)).toEqual([b, a]);
    expect((await store.history.list({ sessionId: a, limit: 1 })).map((e) => e.text)).toEqual(['then test']);
    expect(await collect(store.history.entries({ sessionId: a }))).toHaveLength(2);
    const first = all[2];
    expect(await store.history.lookup(first?.id.toLowerCase() ?? '')).toEqual(first);
    expect(await store.history.lookup('not an id')).toBeNull();
    await expect(store.history.list({ limit: 0 })).rejects.toMatchObject({ code: 'invalid_op' });
    await store.history.flush();
  });

  it('refuses, with session_locked, a commit to a conversation another live node holds', async () => {
    const schema = freshSchema();
    const a = postgresTestStore({ schema, nodeId: 'node-a' });
    const b = postgresTestStore({ schema, nodeId: 'node-b' });
    const id = newConversationId();
    await a.acquire(id);
    const outcome = failure((await b.commit([{ conversationId: id, records: logRecords(id, 1) }], SYNC))[0]);
    expect(outcome.error.code).toBe('session_locked');
    expect(outcome.error.message).toContain('node node-a');
    expect(await a.exists(id)).toBe(false);
  });
});

describe('PostgresStore fencing and leases', () => {
  it('refuses the commit of a node whose expired lease another node took over (lease_lost), writing nothing of it', async () => {
    const schema = freshSchema();
    // Node A's heartbeat is too slow to keep its 300 ms lease: as if it were paused.
    const a = postgresTestStore({ schema, nodeId: 'node-a', leaseTtlMs: 300, renewEveryMs: 60_000 });
    const b = postgresTestStore({ schema, nodeId: 'node-b', leaseTtlMs: 10_000 });
    const id = newConversationId();
    const lostByA: string[] = [];
    a.watchLeases((lostId) => lostByA.push(lostId));
    await a.acquire(id);
    expect((await a.commit([{ conversationId: id, records: logRecords(id, 2) }], SYNC))[0]?.ok).toBe(true);
    // While A's lease is live, B cannot take it.
    expect(await rejectionOf(b.acquire(id))).toBeInstanceOf(SessionLockedError);
    await sleep(400);
    await b.acquire(id);
    const epochs = await adminQuery<{ owner_node: string; epoch: string }>(`SELECT owner_node, epoch FROM ${pg.escapeIdentifier(schema)}.leases WHERE conversation_id = $1`, [id]);
    expect(epochs).toEqual([{ owner_node: 'node-b', epoch: '2' }]);
    expect((await b.commit([{ conversationId: id, records: bodyRecords(2, 3) }], SYNC))[0]?.ok).toBe(true);
    // A still thinks it holds epoch 1 and commits what would be seq 2 and 3 again.
    const refused = failure((await a.commit([{ conversationId: id, records: bodyRecords(2, 3), messages: ['from a'] }], SYNC))[0]);
    expect(refused.error.code).toBe('lease_lost');
    expect(refused.error.message).toContain('node-a');
    expect(lostByA).toEqual([id]);
    // Later commits of A are refused without asking the database; B's log is intact.
    expect(failure((await a.commit([{ conversationId: id, records: bodyRecords(4, 4) }], SYNC))[0]).error.code).toBe('lease_lost');
    expect(await seqsOf(schema, id)).toEqual([0, 1, 2, 3]);
    expect(await collect(b.read(id))).toEqual([...logRecords(id, 2), ...bodyRecords(2, 3)]);
    expect(await a.history.list()).toEqual([]);
    // A asks again: B holds it, live.
    const locked = await rejectionOf(a.acquire(id));
    expect(locked).toBeInstanceOf(SessionLockedError);
    expect((locked as SessionLockedError).holder.node).toBe('node-b');
  });

  it('keeps a lease alive past its ttl with the heartbeat, and tells the node when it finds it lost', async () => {
    const schema = freshSchema();
    const a = postgresTestStore({ schema, nodeId: 'node-a', leaseTtlMs: 300 });
    const b = postgresTestStore({ schema, nodeId: 'node-b' });
    const id = newConversationId();
    const lost: string[] = [];
    a.watchLeases((lostId) => lost.push(lostId));
    await a.acquire(id);
    await sleep(900);
    const err = await rejectionOf(b.acquire(id));
    expect(err).toBeInstanceOf(SessionLockedError);
    expect((err as SessionLockedError).holder).toMatchObject({ node: 'node-a', pid: process.pid });
    expect((err as SessionLockedError).message).toContain('node node-a');
    // A stalls past its expiry (made so in the table) and B takes over: A's next beat finds out.
    await adminQuery(`UPDATE ${pg.escapeIdentifier(schema)}.leases SET expires_at = now() - interval '1 second' WHERE conversation_id = $1`, [id]);
    await b.acquire(id);
    await until(() => lost.length > 0);
    expect(lost).toEqual([id]);
    expect(failure((await a.commit([{ conversationId: id, records: logRecords(id, 1) }], SYNC))[0]).error.code).toBe('lease_lost');
  });

  it('is idempotent for the holder, gives the lease up on release and on close', async () => {
    const schema = freshSchema();
    const a = postgresTestStore({ schema, nodeId: 'node-a' });
    const b = postgresTestStore({ schema, nodeId: 'node-b' });
    const [x, y] = newIds(2) as [string, string];
    await a.acquire(x);
    await a.acquire(x);
    await a.acquire(y);
    await a.release(x);
    await b.acquire(x);
    await expect(b.acquire(y)).rejects.toBeInstanceOf(SessionLockedError);
    await a.close();
    await b.acquire(y);
    const rows = await adminQuery<{ conversation_id: string; owner_node: string; epoch: string }>(
      `SELECT conversation_id, owner_node, epoch FROM ${pg.escapeIdentifier(schema)}.leases ORDER BY conversation_id`,
    );
    expect(rows).toEqual([
      { conversation_id: x, owner_node: 'node-b', epoch: '2' },
      { conversation_id: y, owner_node: 'node-b', epoch: '2' },
    ]);
    await expect(a.exists(x)).rejects.toBeInstanceOf(StoreError);
  });

  it('never duplicates a seq when two nodes race for one conversation', async () => {
    const schema = freshSchema();
    const id = newConversationId();
    const nodes = ['n1', 'n2', 'n3'].map((nodeId) => postgresTestStore({ schema, nodeId, leaseTtlMs: 200, renewEveryMs: 60_000 }));
    await nodes[0]?.commit([{ conversationId: id, records: logRecords(id, 1) }], SYNC);
    for (let round = 0; round < 4; round++) {
      await sleep(250);
      // Every node tries to append the next seq; it counts as written only where it is committed.
      const next = (await seqsOf(schema, id)).length;
      await Promise.all(
        nodes.map(async (node) => {
          await node.acquire(id).catch(() => {});
          await node.commit([{ conversationId: id, records: bodyRecords(next, next) }], SYNC);
        }),
      );
    }
    const seqs = await seqsOf(schema, id);
    expect(seqs).toEqual(seqs.map((_, i) => i));
    expect(seqs.length).toBeGreaterThan(1);
  });
});

describe('PostgresStore schema', () => {
  it('migrates once when several nodes start at once', async () => {
    const schema = freshSchema();
    const nodes = Array.from({ length: 5 }, () => postgresTestStore({ schema }));
    await Promise.all(nodes.map((n) => n.open()));
    const rows = await adminQuery<{ version: number }>(`SELECT version FROM ${pg.escapeIdentifier(schema)}.migrations ORDER BY version`);
    expect(rows.map((r) => r.version)).toEqual(Array.from({ length: SCHEMA_VERSION }, (_, i) => i + 1));
    const id = newConversationId();
    await nodes[3]?.commit([{ conversationId: id, records: logRecords(id, 1) }], SYNC);
    expect(await nodes[1]?.exists(id)).toBe(true);
  });

  it('refuses a database of a newer schema version', async () => {
    const schema = freshSchema();
    await postgresTestStore({ schema }).open();
    await adminQuery(`INSERT INTO ${pg.escapeIdentifier(schema)}.migrations (version, name) VALUES ($1, 'from the future')`, [SCHEMA_VERSION + 1]);
    const err = await rejectionOf(postgresTestStore({ schema }).list());
    expect(err).toBeInstanceOf(StoreError);
    expect(err).toMatchObject({ code: 'wrong_schema_version', message: expect.stringContaining('wrong schema version') });
    expect((err as Error).message).toContain(`version ${SCHEMA_VERSION + 1}`);
  });

  it('fails with a StoreError naming host and port when the database cannot be reached, never the password', async () => {
    const store = new PostgresStore({ connectionString: 'postgres://someone:sekrit@127.0.0.1:9/colloquy', schema: freshSchema(), pool: { connectionTimeoutMillis: 2_000 } });
    try {
      expect(store.description).toBe(`postgres store at 127.0.0.1/colloquy (schema ${(store.description.match(/schema (\w+)/) ?? [])[1]})`);
      for (const op of [() => store.exists(newConversationId()), () => store.commit([{ conversationId: newConversationId(), records: logRecords(newConversationId(), 1) }], SYNC)]) {
        const err = await rejectionOf(op());
        expect(err).toBeInstanceOf(StoreError);
        expect((err as StoreError).code).toBe('store_unavailable');
        expect((err as Error).message).toMatch(/cannot reach the postgres server at 127\.0\.0\.1:9 \(ECONNREFUSED/);
        expect((err as Error).message).not.toContain('sekrit');
      }
    } finally {
      await store.close();
    }
  });

  it('describes itself by host, database and schema', () => {
    const store = postgresTestStore({ schema: 'described' });
    const url = new URL(postgresUrl());
    expect(store.description).toBe(`postgres store at ${url.hostname}/${url.pathname.slice(1)} (schema described)`);
    expect(store.description).not.toContain(url.password);
    expect(() => new PostgresStore({ schema: 'no-dashes' })).toThrow(StoreError);
  });
});

describe('PostgresStore reads', () => {
  it('streams long logs in pages, from fromSeq up to upToSeq; head, lastRecordOf and summaries', async () => {
    const store = postgresTestStore({ readPageSize: 3 });
    const id = newConversationId();
    await store.commit([{ conversationId: id, records: logRecords(id, 8, { name: 'first' }) }], SYNC);
    await store.commit([{ conversationId: id, records: [renameRecord(8, 'Second Name'), ...bodyRecords(9, 10)] }], SYNC);
    const all = [...logRecords(id, 8, { name: 'first' }), renameRecord(8, 'Second Name'), ...bodyRecords(9, 10)];
    expect(await collect(store.read(id))).toEqual(all);
    expect(await collect(store.read(id, { fromSeq: 4, upToSeq: 9 }))).toEqual(all.slice(4, 10));
    expect((await store.head(id)).type).toBe('session_meta');
    expect((await store.lastRecordOf(id, 'item'))?.seq).toBe(10);
    expect((await store.lastRecordOf(id, 'item', { upToSeq: 7 }))?.seq).toBe(6);
    expect(await store.lastRecordOf(id, 'compacted')).toBeNull();
    expect((await store.summary(id)).name).toBe('Second Name');
    expect((await store.list({ name: 'second' })).items.map((s) => s.id)).toEqual([id]);
  });

  it('sorts by update time (database time of the commit) and pages exactly', async () => {
    const store = postgresTestStore();
    const [a, b, c] = newIds(3) as [string, string, string];
    for (const id of [a, b, c]) await store.commit([{ conversationId: id, records: logRecords(id, 1) }], SYNC);
    await sleep(5);
    await store.commit([{ conversationId: a, records: bodyRecords(1, 1) }], SYNC);
    const first = await store.list({ sort: 'updated', limit: 1 });
    expect(first.items.map((s) => s.id)).toEqual([a]);
    expect(first.nextCursor).toMatch(/^u:\d+:/);
    const rest = await store.list({ sort: 'updated', cursor: first.nextCursor });
    expect(rest.items).toHaveLength(2);
    expect(rest.nextCursor).toBeNull();
    expect(Date.parse((await store.summary(a)).updatedAt)).toBeGreaterThanOrEqual(Date.parse((await store.summary(c)).updatedAt));
  });

  it('fails a strict read at a corrupted line and skips it in a lenient one, reporting where', async () => {
    const issues: LogIssue[] = [];
    const store = postgresTestStore();
    store.watchIssues((issue) => issues.push(issue));
    const schema = schemaOf(store);
    const id = newConversationId();
    await store.commit([{ conversationId: id, records: logRecords(id, 4) }], SYNC);
    await adminQuery(`UPDATE ${pg.escapeIdentifier(schema)}.records SET line = '{"ts": broken' WHERE conversation_id = $1 AND seq = 2`, [id]);
    const err = await rejectionOf(collect(store.read(id)));
    expect(err).toBeInstanceOf(CorruptLogError);
    expect(err).toMatchObject({ path: `postgres:${schema}/${id}`, line: 3, reason: 'not valid JSON' });
    const seen: LogIssue[] = [];
    const records = await collect(store.read(id, { mode: 'lenient', onIssue: (issue) => seen.push(issue) }));
    expect(records.map((r: LogRecord) => r.seq)).toEqual([0, 1, 3]);
    expect(seen).toEqual([{ kind: 'bad_line', location: `postgres:${schema}/${id}`, conversationId: id, line: 3, detail: 'not valid JSON' }]);
    expect(issues).toEqual(seen);
    // lastRecordOf passes over the bad line, as the file store does.
    expect((await store.lastRecordOf(id, 'item', { upToSeq: 2 }))?.seq ?? null).toBeNull();
    await adminQuery(`UPDATE ${pg.escapeIdentifier(schema)}.records SET line = '{}' WHERE conversation_id = $1 AND seq = 0`, [id]);
    await expect(store.head(id)).rejects.toMatchObject({ code: 'corrupt_log', line: 1 });
  });

  it('deletes a conversation with its records and lease', async () => {
    const schema = freshSchema();
    const store = postgresTestStore({ schema });
    const id = newConversationId();
    await store.commit([{ conversationId: id, records: logRecords(id, 3) }], SYNC);
    await store.delete(id);
    for (const table of ['conversations', 'records', 'leases']) {
      const rows = await adminQuery(`SELECT 1 FROM ${pg.escapeIdentifier(schema)}.${table} WHERE ${table === 'conversations' ? 'id' : 'conversation_id'} = $1`, [id]);
      expect(rows, table).toEqual([]);
    }
    // Created again from scratch, by this node, as a new log.
    expect((await store.commit([{ conversationId: id, records: logRecords(id, 1) }], SYNC))[0]?.ok).toBe(true);
  });
});

function schemaOf(store: PostgresStore): string {
  return (/\(schema (\w+)\)$/.exec(store.description) ?? [])[1] as string;
}
