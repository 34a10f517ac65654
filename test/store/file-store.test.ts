import fs from 'node:fs';
import { join } from 'node:path';
import { ulid } from 'ulid';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { CorruptLogError, InvalidIdError, InvalidOpError, SessionNotFoundError, StoreError } from '../../src/errors.js';
import { idTime, newConversationId } from '../../src/protocol/ids.js';
import { LogRecordSchema, type LogRecord } from '../../src/protocol/records.js';
import { FileStore, type FileStoreOptions } from '../../src/store/file-store.js';
import type { CommitEntry, CommitOptions, Durability, LogIssue, ReadOptions } from '../../src/store/store.js';
import {
  FaultyFileSystem,
  bodyRecords,
  collect,
  errnoError,
  failure,
  itemRecord,
  jsonl,
  logRecords,
  metaRecord,
  modeOf,
  newIds,
  rejectionOf,
  tempDir,
} from './helpers.js';

const SYNC: CommitOptions = { durability: 'sync' };
const NONE: CommitOptions = { durability: 'none' };

interface Harness {
  readonly store: FileStore;
  readonly home: string;
  readonly fsx: FaultyFileSystem;
  readonly issues: LogIssue[];
}

const open: FileStore[] = [];

afterEach(async () => {
  for (const store of open.splice(0)) await store.close();
});

/** A file store over a fault-injecting file system, in a fresh home (or `home`). */
function harness(options: Partial<FileStoreOptions> = {}, home = join(tempDir(), 'home')): Harness {
  const fsx = options.fs instanceof FaultyFileSystem ? options.fs : new FaultyFileSystem();
  const issues: LogIssue[] = [];
  const store = new FileStore({ home, fs: fsx, onIssue: (i) => issues.push(i), ...options });
  open.push(store);
  return { store, home, fsx, issues };
}

/** Another store on the same home, as after a restart. */
function reopen(h: Harness, options: Partial<FileStoreOptions> = {}): Harness {
  return harness(options, h.home);
}

/** Commit one conversation's records and expect success. */
async function commitOk(store: FileStore, id: string, records: readonly LogRecord[], options: CommitOptions = SYNC): Promise<void> {
  const [outcome] = await store.commit([{ conversationId: id, records }], options);
  expect(outcome).toEqual({ conversationId: id, ok: true, lastSeq: records[records.length - 1]?.seq });
}

/** Create a conversation with `count` records; returns its id. */
async function created(store: FileStore, count = 3, id = newConversationId(), meta: Parameters<typeof logRecords>[2] = {}): Promise<string> {
  await commitOk(store, id, logRecords(id, count, meta));
  return id;
}

async function readAll(store: FileStore, id: string, options?: ReadOptions): Promise<LogRecord[]> {
  return collect(store.read(id, options));
}

/** The UTC day directory parts of an id, computed independently of the store. */
function dayOf(id: string): string[] {
  const iso = new Date(idTime(id)).toISOString();
  return [iso.slice(0, 4), iso.slice(5, 7), iso.slice(8, 10)];
}

function activeLog(h: Harness, id: string): string {
  return join(h.home, 'sessions', ...dayOf(id), `${id}.jsonl`);
}

function archivedLog(h: Harness, id: string): string {
  return join(h.home, 'archived', ...dayOf(id), `${id}.jsonl`);
}

describe('FileStore commit', () => {
  it('creates sessions/YYYY/MM/DD/<id>.jsonl from the UTC date in the id, file 0600, directories 0700', async () => {
    const h = harness();
    // Just before and just after a UTC midnight: local time zones would file these differently.
    const late = ulid(Date.UTC(2023, 11, 31, 23, 59, 30));
    const early = ulid(Date.UTC(2024, 0, 1, 0, 0, 30));
    await created(h.store, 2, late);
    await created(h.store, 2, early);
    const lateLog = join(h.home, 'sessions', '2023', '12', '31', `${late}.jsonl`);
    const earlyLog = join(h.home, 'sessions', '2024', '01', '01', `${early}.jsonl`);
    expect(fs.existsSync(lateLog)).toBe(true);
    expect(fs.existsSync(earlyLog)).toBe(true);
    expect(modeOf(lateLog)).toBe(0o600);
    expect(modeOf(earlyLog)).toBe(0o600);
    for (const dir of [
      h.home,
      join(h.home, 'sessions'),
      join(h.home, 'sessions', '2023'),
      join(h.home, 'sessions', '2023', '12'),
      join(h.home, 'sessions', '2023', '12', '31'),
      join(h.home, 'sessions', '2024', '01', '01'),
    ]) {
      expect(modeOf(dir), dir).toBe(0o700);
    }
    expect(h.store.paths.log(late, false)).toBe(lateLog);
  });

  it('writes one {ts,seq,type,payload} JSON line per record, session_meta first, seq from 0', async () => {
    const h = harness();
    const id = newConversationId();
    const records = logRecords(id, 6);
    await commitOk(h.store, id, records.slice(0, 2));
    await commitOk(h.store, id, records.slice(2));
    const text = fs.readFileSync(activeLog(h, id), 'utf8');
    expect(text.endsWith('\n')).toBe(true);
    const lines = text.slice(0, -1).split('\n');
    expect(lines).toHaveLength(6);
    lines.forEach((line, i) => {
      const value = JSON.parse(line) as Record<string, unknown>;
      expect(Object.keys(value).sort()).toEqual(['payload', 'seq', 'ts', 'type']);
      expect(value.seq).toBe(i);
      expect(() => LogRecordSchema.parse(value)).not.toThrow();
    });
    expect((JSON.parse(lines[0] as string) as LogRecord).type).toBe('session_meta');
    expect(await readAll(h.store, id)).toEqual(records);
  });

  it('resolves an entry with no records as a success that wrote nothing', async () => {
    const h = harness();
    const id = newConversationId();
    expect(await h.store.commit([{ conversationId: id, records: [] }], SYNC)).toEqual([{ conversationId: id, ok: true, lastSeq: -1 }]);
    expect(await h.store.exists(id)).toBe(false);
  });

  describe('seq continuity', () => {
    it('rejects a commit whose first seq is not the next one, with code seq_mismatch, and writes nothing', async () => {
      const h = harness();
      const id = await created(h.store, 3);
      const path = activeLog(h, id);
      const before = fs.readFileSync(path);
      for (const records of [bodyRecords(5, 6), bodyRecords(2, 4), [metaRecord(id)], bodyRecords(0, 1)]) {
        const outcome = failure((await h.store.commit([{ conversationId: id, records }], SYNC))[0]);
        expect(outcome.error.code).toBe('seq_mismatch');
        expect(outcome.firstSeq).toBe(records[0]?.seq);
        expect(outcome.error.message).toContain(path);
        expect(outcome.error.message).toContain('expected seq 3');
        expect(fs.readFileSync(path)).toEqual(before);
      }
      await commitOk(h.store, id, bodyRecords(3, 4));
      expect((await readAll(h.store, id)).map((r) => r.seq)).toEqual([0, 1, 2, 3, 4]);
    });

    it('after a restart, appends go on after the last record in sequence, not after a stray record at the end', async () => {
      for (const mode of ['strict', 'lenient'] as const) {
        const h = harness();
        const id = await created(h.store, 4);
        await h.store.close();
        fs.appendFileSync(activeLog(h, id), `${JSON.stringify(bodyRecords(999, 999)[0])}\n`);
        const again = reopen(h, { mode });
        await commitOk(again.store, id, bodyRecords(4, 5));
        // Not after the stray one either, nor where the stray one would have it go on.
        expect(failure((await again.store.commit([{ conversationId: id, records: bodyRecords(1000, 1000) }], SYNC))[0]).error.code).toBe('seq_mismatch');
        const issues: LogIssue[] = [];
        expect((await readAll(again.store, id, { mode: 'lenient', onIssue: (i) => issues.push(i) })).map((r) => r.seq)).toEqual([0, 1, 2, 3, 4, 5]);
        expect(issues).toMatchObject([{ kind: 'seq_gap', line: 5 }]);
        await expect(readAll(again.store, id, { mode: 'strict' })).rejects.toMatchObject({ code: 'corrupt_log', line: 5 });
      }
    });

    it('in lenient mode, a last line that is not a record does not stop appends (strict still refuses naming file and line)', async () => {
      const h = harness();
      const id = await created(h.store, 4);
      await h.store.close();
      fs.appendFileSync(activeLog(h, id), '{"not":"a record"}\n');
      const strict = reopen(h);
      const refused = failure((await strict.store.commit([{ conversationId: id, records: bodyRecords(4, 4) }], SYNC))[0]);
      expect(refused.error.code).toBe('corrupt_log');
      expect(refused.error.message).toContain(`${activeLog(h, id)}:5`);
      await strict.store.close();
      const lenient = reopen(h, { mode: 'lenient' });
      await commitOk(lenient.store, id, bodyRecords(4, 5));
      expect((await readAll(lenient.store, id)).map((r) => r.seq)).toEqual([0, 1, 2, 3, 4, 5]);
    });

    it('enforces it after a restart too (the tail check finds the next seq)', async () => {
      const h = harness();
      const id = await created(h.store, 4);
      await h.store.close();
      const again = reopen(h);
      const before = fs.readFileSync(activeLog(h, id));
      expect(failure((await again.store.commit([{ conversationId: id, records: bodyRecords(5, 5) }], SYNC))[0]).error.code).toBe(
        'seq_mismatch',
      );
      expect(failure((await again.store.commit([{ conversationId: id, records: bodyRecords(3, 3) }], SYNC))[0]).error.code).toBe(
        'seq_mismatch',
      );
      expect(fs.readFileSync(activeLog(h, id))).toEqual(before);
      await commitOk(again.store, id, bodyRecords(4, 7));
      expect((await readAll(again.store, id)).map((r) => r.seq)).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    });
  });

  it('refuses to create a log that already exists, leaving it untouched', async () => {
    const h = harness();
    const id = await created(h.store, 3);
    const before = fs.readFileSync(activeLog(h, id));
    await h.store.close();
    const other = reopen(h);
    const outcome = failure((await other.store.commit([{ conversationId: id, records: logRecords(id, 2) }], SYNC))[0]);
    expect(outcome.error.message).toContain(activeLog(h, id));
    expect(outcome.error.message).toContain('EEXIST');
    expect(fs.readFileSync(activeLog(h, id))).toEqual(before);
  });

  it('fails an append to a conversation that does not exist, creating nothing', async () => {
    const h = harness();
    const id = newConversationId();
    const outcome = failure((await h.store.commit([{ conversationId: id, records: bodyRecords(1, 2) }], SYNC))[0]);
    expect(outcome.error.code).toBe('session_not_found');
    expect(outcome.error.message).toContain(id);
    expect(await h.store.exists(id)).toBe(false);
    expect(fs.existsSync(join(h.home, 'sessions', ...dayOf(id)))).toBe(false);
  });

  it('commits many conversations in one call, each to its own log, outcomes in entry order', async () => {
    const h = harness({ ioConcurrency: 4 });
    const ids = newIds(30);
    const first = await h.store.commit(
      ids.map((id) => ({ conversationId: id, records: logRecords(id, 2) })),
      SYNC,
    );
    expect(first).toEqual(ids.map((id) => ({ conversationId: id, ok: true, lastSeq: 1 })));
    // A second call mixes appends (different lengths) and a creation.
    const fresh = newConversationId();
    const entries: CommitEntry[] = [
      ...ids.map((id, i) => ({ conversationId: id, records: bodyRecords(2, 2 + (i % 4)) })),
      { conversationId: fresh, records: logRecords(fresh, 3) },
    ];
    const second = await h.store.commit(entries, SYNC);
    expect(second.map((o) => [o.conversationId, o.ok])).toEqual(entries.map((e) => [e.conversationId, true]));
    for (const [i, id] of ids.entries()) {
      expect(await readAll(h.store, id)).toEqual([...logRecords(id, 2), ...bodyRecords(2, 2 + (i % 4))]);
    }
    expect(await readAll(h.store, fresh)).toEqual(logRecords(fresh, 3));
  });

  it('keeps working with more conversations than maxOpenFiles (least recently used logs are closed)', async () => {
    const h = harness({ maxOpenFiles: 2 });
    const ids = newIds(5);
    for (const id of ids) await created(h.store, 2, id);
    for (const id of ids) await commitOk(h.store, id, bodyRecords(2, 3));
    await h.store.commit(
      ids.map((id) => ({ conversationId: id, records: bodyRecords(4, 4) })),
      NONE,
    );
    for (const id of ids) expect((await readAll(h.store, id)).map((r) => r.seq)).toEqual([0, 1, 2, 3, 4]);
    // Logs beyond the limit were closed and reopened.
    expect(h.fsx.callsOf('close').length).toBeGreaterThanOrEqual(3);
  });

  it('out of file descriptors (EMFILE), closes idle logs and opens the log once more', async () => {
    const h = harness();
    const ids = newIds(4);
    for (const id of ids) await created(h.store, 2, id);
    const [a, b, c, d] = ids as [string, string, string, string];
    await h.store.release(d);
    h.fsx.inject('open', `${d}.jsonl`, errnoError('EMFILE', 'too many open files'), { times: 1 });
    await commitOk(h.store, d, bodyRecords(2, 3));
    // Idle logs were closed to make room; every log still appends where it left off.
    expect(h.fsx.callsOf('close').length).toBeGreaterThanOrEqual(1);
    for (const id of [a, b, c]) await commitOk(h.store, id, bodyRecords(2, 2));
    for (const id of ids) expect((await readAll(h.store, id)).map((r) => r.seq)).toEqual(id === d ? [0, 1, 2, 3] : [0, 1, 2]);
  });

  it('reopens a released log and appends after its last record', async () => {
    const h = harness();
    const id = await created(h.store, 3);
    await h.store.release(id);
    const opens = h.fsx.callsOf('open', id).length;
    await commitOk(h.store, id, bodyRecords(3, 4));
    expect(h.fsx.callsOf('open', id).length).toBeGreaterThan(opens);
    expect((await readAll(h.store, id)).map((r) => r.seq)).toEqual([0, 1, 2, 3, 4]);
  });

  it('appends to a log whose last record is longer than the tail window, after a restart', async () => {
    const h = harness();
    const id = newConversationId();
    // The last is longer than the reader's 256 KiB chunk too.
    const records = [metaRecord(id), itemRecord(1, 'y'.repeat(150_000)), itemRecord(2, 'z'.repeat(300_000))];
    await commitOk(h.store, id, records);
    await h.store.close();
    const again = reopen(h);
    await commitOk(again.store, id, bodyRecords(3, 4));
    expect(await readAll(again.store, id)).toEqual([...records, ...bodyRecords(3, 4)]);
  });

  it('rejects commits after close, and close is idempotent', async () => {
    const h = harness();
    const id = await created(h.store);
    await h.store.close();
    await h.store.close();
    const err = await rejectionOf(h.store.commit([{ conversationId: id, records: bodyRecords(3, 3) }], SYNC));
    expect(err).toBeInstanceOf(StoreError);
    expect((err as StoreError).message).toContain(h.home);
  });

  describe('durability', () => {
    for (const durability of ['sync', 'batched', 'none'] as const satisfies readonly Durability[]) {
      it(`'${durability}' produces logs readable at once and after a restart`, async () => {
        const h = harness();
        const ids = newIds(3);
        const options: CommitOptions = { durability, fsyncIntervalMs: 5 };
        const outcomes = await h.store.commit(
          ids.map((id) => ({ conversationId: id, records: logRecords(id, 3) })),
          options,
        );
        expect(outcomes.every((o) => o.ok)).toBe(true);
        await h.store.commit(
          ids.map((id) => ({ conversationId: id, records: bodyRecords(3, 5) })),
          options,
        );
        for (const id of ids) expect(await readAll(h.store, id)).toEqual(logRecords(id, 6));
        await h.store.close();
        const again = reopen(h);
        for (const id of ids) {
          expect(await readAll(again.store, id)).toEqual(logRecords(id, 6));
          await commitOk(again.store, id, bodyRecords(6, 6), options);
        }
      });
    }

    it("'sync' fdatasyncs each log and fsyncs the directories that gained entries before resolving", async () => {
      const h = harness();
      const id = newConversationId();
      await commitOk(h.store, id, logRecords(id, 2));
      expect(h.fsx.callsOf('fdatasync', id)).toHaveLength(1);
      const synced = h.fsx.callsOf('syncDir').map((c) => c.path);
      const day = join(h.home, 'sessions', ...dayOf(id));
      expect(synced).toContain(day);
      expect(synced).toContain(join(h.home, 'sessions'));
      expect(synced).toContain(join(h.home, 'sessions', dayOf(id)[0] as string));
      // Appending to an existing log adds no directory entry.
      const dirSyncs = h.fsx.callsOf('syncDir').length;
      await commitOk(h.store, id, bodyRecords(2, 3));
      expect(h.fsx.callsOf('fdatasync', id)).toHaveLength(2);
      expect(h.fsx.callsOf('syncDir')).toHaveLength(dirSyncs);
    });

    it("'batched' resolves before fsyncing, then fsyncs within the interval", async () => {
      const h = harness();
      const id = newConversationId();
      await commitOk(h.store, id, logRecords(id, 2), { durability: 'batched', fsyncIntervalMs: 20 });
      expect(h.fsx.callsOf('fdatasync', id)).toHaveLength(0);
      expect(await readAll(h.store, id)).toEqual(logRecords(id, 2));
      await vi.waitFor(() => expect(h.fsx.callsOf('fdatasync', id)).toHaveLength(1), { timeout: 2000, interval: 5 });
    });

    it("'batched' logs still dirty are fsynced by close", async () => {
      const h = harness();
      const id = newConversationId();
      await commitOk(h.store, id, logRecords(id, 2), { durability: 'batched', fsyncIntervalMs: 60_000 });
      expect(h.fsx.callsOf('fdatasync', id)).toHaveLength(0);
      await h.store.close();
      expect(h.fsx.callsOf('fdatasync', id)).toHaveLength(1);
    });

    it("'none' never fsyncs", async () => {
      const h = harness();
      const id = newConversationId();
      await commitOk(h.store, id, logRecords(id, 2), NONE);
      await commitOk(h.store, id, bodyRecords(2, 3), NONE);
      await h.store.close();
      expect(h.fsx.callsOf('fdatasync')).toHaveLength(0);
      expect(h.fsx.callsOf('syncDir')).toHaveLength(0);
    });
  });
});

describe('FileStore torn tail', () => {
  /** A crash mid-append: a partial JSON line after the last good one. */
  function crash(path: string, partial = JSON.stringify(itemRecord(99, 'lost')).slice(0, 40)): string {
    fs.appendFileSync(path, partial);
    return partial;
  }

  it('reports a torn last line when reading (to the reader and the store) and does not yield it', async () => {
    const h = harness();
    const id = await created(h.store, 4);
    crash(activeLog(h, id));
    const seen: LogIssue[] = [];
    const records = await readAll(h.store, id, { onIssue: (i) => seen.push(i) });
    expect(records).toEqual(logRecords(id, 4));
    expect(seen).toEqual([{ kind: 'torn_tail', location: activeLog(h, id), conversationId: id, line: 5, detail: expect.any(String) }]);
    expect(h.issues).toEqual(seen);
  });

  for (const [what, count, textSize] of [
    ['a small log', 4, 10],
    ['a log larger than the tail window', 8, 20_000],
  ] as const) {
    it(`moves the torn bytes to <log>.torn, truncates and appends after the last good seq (${what})`, async () => {
      const h = harness();
      const id = newConversationId();
      const records = [metaRecord(id), ...Array.from({ length: count - 1 }, (_, i) => itemRecord(i + 1, 'x'.repeat(textSize)))];
      await commitOk(h.store, id, records);
      await h.store.close();
      const path = activeLog(h, id);
      const good = fs.readFileSync(path);
      const partial = crash(path);

      const after = reopen(h);
      await commitOk(after.store, id, bodyRecords(count, count + 1));
      expect(fs.readFileSync(`${path}.torn`, 'utf8')).toBe(partial);
      expect(modeOf(`${path}.torn`)).toBe(0o600);
      expect(fs.readFileSync(path)).toEqual(Buffer.concat([good, Buffer.from(jsonl(bodyRecords(count, count + 1)))]));
      expect(after.issues).toEqual([{ kind: 'torn_tail', location: path, conversationId: id, line: count + 1, detail: expect.stringContaining(`${path}.torn`) }]);

      const seen: LogIssue[] = [];
      expect(await readAll(after.store, id, { onIssue: (i) => seen.push(i) })).toEqual([...records, ...bodyRecords(count, count + 1)]);
      expect(seen).toEqual([]);
    });
  }

  it('fails an append to a log holding no complete record, keeping its bytes in the side file', async () => {
    const h = harness();
    const id = await created(h.store, 1);
    await h.store.close();
    const path = activeLog(h, id);
    fs.writeFileSync(path, '{"ts":"2024-05-01T12:00:00.000Z","seq":0,"type":"sess');
    const again = reopen(h);
    const outcome = failure((await again.store.commit([{ conversationId: id, records: bodyRecords(1, 1) }], SYNC))[0]);
    expect(outcome.error.code).toBe('corrupt_log');
    expect(outcome.error.message).toContain(path);
    expect(fs.readFileSync(`${path}.torn`, 'utf8')).toBe('{"ts":"2024-05-01T12:00:00.000Z","seq":0,"type":"sess');
  });

  it('keeps the bytes of every tear in the side file', async () => {
    const h = harness();
    const id = await created(h.store, 2);
    await h.store.close();
    const path = activeLog(h, id);
    const first = crash(path, '{"ts":"2024-');
    const a = reopen(h);
    await commitOk(a.store, id, bodyRecords(2, 2));
    await a.store.close();
    const second = crash(path, '{"seq":3,"ty');
    const b = reopen(h);
    await commitOk(b.store, id, bodyRecords(3, 3));
    expect(fs.readFileSync(`${path}.torn`, 'utf8')).toBe(first + second);
    expect((await readAll(b.store, id)).map((r) => r.seq)).toEqual([0, 1, 2, 3]);
  });
});

describe('FileStore byte-order mark', () => {
  /** Rewrite a log with a UTF-8 BOM in front. */
  function addBom(path: string): void {
    fs.writeFileSync(path, Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), fs.readFileSync(path)]));
  }

  it('reads, lists and appends to a log that starts with a BOM', async () => {
    const h = harness();
    const id = await created(h.store, 1, newConversationId(), { name: 'with bom' });
    await h.store.close();
    addBom(activeLog(h, id));
    const after = reopen(h);
    const seen: LogIssue[] = [];
    expect(await readAll(after.store, id, { onIssue: (i) => seen.push(i) })).toEqual([metaRecord(id, { name: 'with bom' })]);
    expect(seen.map((i) => [i.kind, i.line])).toEqual([['bom', 1]]);
    expect((await after.store.summary(id)).name).toBe('with bom');
    expect((await after.store.list()).items.map((s) => s.id)).toEqual([id]);
    await commitOk(after.store, id, bodyRecords(1, 2));
    expect((await readAll(after.store, id)).map((r) => r.seq)).toEqual([0, 1, 2]);
  });
});

describe('FileStore corrupt lines', () => {
  const SECRET = 'sk-live-SECRET-123456';

  /** A log whose line `index` (0-based) is replaced by `line`. */
  async function corrupted(h: Harness, count: number, index: number, line: string): Promise<string> {
    const id = await created(h.store, count);
    const path = activeLog(h, id);
    const lines = fs.readFileSync(path, 'utf8').split('\n');
    lines[index] = line;
    fs.writeFileSync(path, lines.join('\n'));
    await h.store.release(id);
    return id;
  }

  it('fails a strict read (the default) with a CorruptLogError naming file and line, never the content', async () => {
    const h = harness();
    const id = await corrupted(h, 5, 2, `{"ts":"x","seq":2,"type":"item","payload":{"text":"${SECRET}"`);
    const err = await rejectionOf(readAll(h.store, id));
    expect(err).toBeInstanceOf(CorruptLogError);
    const corrupt = err as CorruptLogError;
    expect(corrupt.path).toBe(activeLog(h, id));
    expect(corrupt.line).toBe(3);
    expect(corrupt.message).toContain(`${activeLog(h, id)}:3`);
    expect(corrupt.message).not.toContain(SECRET);
  });

  it('skips and reports bad lines in lenient mode (store option or read option)', async () => {
    const h = harness({ mode: 'lenient' });
    const id = await corrupted(h, 5, 2, `garbage ${SECRET}`);
    const seen: LogIssue[] = [];
    const records = await readAll(h.store, id, { onIssue: (i) => seen.push(i) });
    expect(records.map((r) => r.seq)).toEqual([0, 1, 3, 4]);
    expect(seen.map((i) => [i.kind, i.line])).toEqual([
      ['bad_line', 3],
      ['seq_gap', 4],
    ]);
    expect(JSON.stringify(seen)).not.toContain(SECRET);
    // The read option overrides the store's mode, both ways.
    await expect(readAll(h.store, id, { mode: 'strict' })).rejects.toBeInstanceOf(CorruptLogError);
    const strict = harness({}, h.home);
    expect((await readAll(strict.store, id, { mode: 'lenient' })).map((r) => r.seq)).toEqual([0, 1, 3, 4]);
  });

  it('detects seq gaps and duplicates in a stored log', async () => {
    const h = harness();
    const id = await corrupted(h, 5, 3, JSON.stringify(itemRecord(2, 'dup')));
    const err = await rejectionOf(readAll(h.store, id));
    expect(err).toBeInstanceOf(CorruptLogError);
    expect((err as CorruptLogError).line).toBe(4);
    const seen: LogIssue[] = [];
    const records = await readAll(h.store, id, { mode: 'lenient', onIssue: (i) => seen.push(i) });
    expect(records.map((r) => r.seq)).toEqual([0, 1, 2, 4]);
    expect(seen.map((i) => i.kind)).toEqual(['seq_duplicate', 'seq_gap']);
  });

  it('refuses to append after a corrupt last line, naming file and line, and leaves the log as it is', async () => {
    const h = harness();
    const id = await created(h.store, 3);
    const path = activeLog(h, id);
    fs.appendFileSync(path, `{"broken": "${SECRET}"\n`);
    const before = fs.readFileSync(path);
    await h.store.close();
    const again = reopen(h);
    const outcome = failure((await again.store.commit([{ conversationId: id, records: bodyRecords(3, 3) }], SYNC))[0]);
    expect(outcome.error.code).toBe('corrupt_log');
    expect(outcome.error.message).toContain(`${path}:4`);
    expect(outcome.error.message).not.toContain(SECRET);
    expect(fs.readFileSync(path)).toEqual(before);
  });

  it('reads up to a seq (upToSeq)', async () => {
    const h = harness();
    const id = await created(h.store, 8);
    expect((await readAll(h.store, id, { upToSeq: 3 })).map((r) => r.seq)).toEqual([0, 1, 2, 3]);
  });
});

describe('FileStore under injected faults', () => {
  const ENOSPC = (): Error => errnoError('ENOSPC', 'no space left on device');
  const EIO = (): Error => errnoError('EIO', 'i/o error');

  /** Three conversations of three records each. */
  async function three(h: Harness): Promise<string[]> {
    const ids = newIds(3);
    for (const id of ids) await created(h.store, 3, id);
    return ids;
  }

  const cases = [
    ['writeAll fails', 'writeAll', ENOSPC, 'ENOSPC', {}],
    ['writeAll writes part, then fails', 'writeAll', ENOSPC, 'ENOSPC', { partial: true }],
    ['fdatasync fails', 'fdatasync', EIO, 'EIO', {}],
  ] as const;

  for (const [what, op, error, code, options] of cases) {
    it(`${what}: that conversation fails naming path and errno, its log keeps exactly its records, others commit`, async () => {
      const h = harness();
      const [a, b, c] = (await three(h)) as [string, string, string];
      const pathB = activeLog(h, b);
      const before = fs.readFileSync(pathB);
      h.fsx.inject(op, b, error(), options);

      const outcomes = await h.store.commit(
        [a, b, c].map((id) => ({ conversationId: id, records: bodyRecords(3, 5) })),
        SYNC,
      );
      expect(outcomes[0]).toEqual({ conversationId: a, ok: true, lastSeq: 5 });
      expect(outcomes[2]).toEqual({ conversationId: c, ok: true, lastSeq: 5 });
      const failed = failure(outcomes[1]);
      expect(failed.conversationId).toBe(b);
      expect(failed.firstSeq).toBe(3);
      expect(failed.error.code).toBe('store_error');
      expect(failed.error.message).toContain(pathB);
      expect(failed.error.message).toContain(code);
      expect(fs.readFileSync(pathB)).toEqual(before);
      expect(fs.readFileSync(pathB, 'utf8').endsWith('\n')).toBe(true);
      expect((await readAll(h.store, a)).map((r) => r.seq)).toEqual([0, 1, 2, 3, 4, 5]);

      h.fsx.clear();
      const [retry] = await h.store.commit([{ conversationId: b, records: bodyRecords(3, 5) }], SYNC);
      expect(retry).toEqual({ conversationId: b, ok: true, lastSeq: 5 });
      expect(await readAll(h.store, b)).toEqual(logRecords(b, 6));
    });

    it(`${what} while creating a log: nothing of it remains, and the same commit succeeds later`, async () => {
      const h = harness();
      const [ok, bad] = newIds(2) as [string, string];
      h.fsx.inject(op, bad, error(), options);
      const outcomes = await h.store.commit(
        [ok, bad].map((id) => ({ conversationId: id, records: logRecords(id, 3) })),
        SYNC,
      );
      expect(outcomes[0]).toEqual({ conversationId: ok, ok: true, lastSeq: 2 });
      const failed = failure(outcomes[1]);
      expect(failed.error.message).toContain(activeLog(h, bad));
      expect(failed.error.message).toContain(code);
      expect(await h.store.exists(bad)).toBe(false);
      expect((await h.store.list()).items.map((s) => s.id)).toEqual([ok]);

      h.fsx.clear();
      const [retry] = await h.store.commit([{ conversationId: bad, records: logRecords(bad, 3) }], SYNC);
      expect(retry).toEqual({ conversationId: bad, ok: true, lastSeq: 2 });
      expect(await readAll(h.store, bad)).toEqual(logRecords(bad, 3));
    });
  }

  it('a failed directory fsync fails the new logs in it and keeps none of their records', async () => {
    const h = harness();
    const id = newConversationId();
    h.fsx.inject('syncDir', join(h.home, 'sessions', ...dayOf(id)), EIO());
    const failed = failure((await h.store.commit([{ conversationId: id, records: logRecords(id, 2) }], SYNC))[0]);
    expect(failed.error.message).toContain(join(h.home, 'sessions', ...dayOf(id)));
    expect(failed.error.message).toContain('EIO');
    expect(await h.store.exists(id)).toBe(false);
    h.fsx.clear();
    await commitOk(h.store, id, logRecords(id, 2));
    expect(await readAll(h.store, id)).toEqual(logRecords(id, 2));
  });

  it('opening a log fails: that conversation fails, and succeeds once the fault is gone', async () => {
    const h = harness();
    const [a, b] = (await three(h)) as [string, string, string];
    await h.store.release(b);
    h.fsx.inject('open', b, errnoError('EMFILE', 'too many open files'));
    const outcomes = await h.store.commit(
      [a, b].map((id) => ({ conversationId: id, records: bodyRecords(3, 3) })),
      SYNC,
    );
    expect(outcomes[0]?.ok).toBe(true);
    expect(failure(outcomes[1]).error.message).toMatch(/EMFILE/);
    h.fsx.clear();
    await commitOk(h.store, b, bodyRecords(3, 3));
  });

  it("a failed background fsync ('batched') is reported by the next commit, which can then be retried", async () => {
    const h = harness();
    const id = await created(h.store, 2);
    h.fsx.inject('fdatasync', id, EIO(), { times: 1 });
    await commitOk(h.store, id, bodyRecords(2, 2), { durability: 'batched', fsyncIntervalMs: 1 });
    await vi.waitFor(() => expect(h.fsx.callsOf('fdatasync', id).length).toBeGreaterThanOrEqual(2), { timeout: 2000, interval: 5 });
    const failed = failure((await h.store.commit([{ conversationId: id, records: bodyRecords(3, 3) }], SYNC))[0]);
    expect(failed.error.message).toContain(activeLog(h, id));
    expect(failed.error.message).toContain('EIO');
    await commitOk(h.store, id, bodyRecords(3, 3));
    expect((await readAll(h.store, id)).map((r) => r.seq)).toEqual([0, 1, 2, 3]);
  });
});

describe('FileStore list', () => {
  it('lists newest first by id (sort created), across days, with summaries from session_meta', async () => {
    const h = harness();
    const ids = [
      ulid(Date.UTC(2022, 5, 1, 12)),
      ulid(Date.UTC(2023, 0, 15, 8)),
      ulid(Date.UTC(2023, 0, 15, 9)),
      ulid(Date.UTC(2023, 10, 2, 1)),
      newConversationId(),
    ];
    for (const id of ids) {
      await created(h.store, 2, id, { name: `conv ${id.slice(-4)}`, metadata: { team: 'a' }, createdAt: new Date(idTime(id)).toISOString() });
    }
    const page = await h.store.list();
    expect(page.items.map((s) => s.id)).toEqual([...ids].reverse());
    expect(page.nextCursor).toBeNull();
    const last = ids[4] as string;
    const summary = page.items[0];
    // The update time is the index's (when the log was written), within a moment of the file's.
    expect(Math.abs(Date.parse(summary?.updatedAt ?? '') - fs.statSync(activeLog(h, last)).mtimeMs)).toBeLessThan(1_000);
    expect(summary).toEqual({
      id: last,
      createdAt: new Date(idTime(last)).toISOString(),
      updatedAt: summary?.updatedAt,
      name: `conv ${last.slice(-4)}`,
      metadata: { team: 'a' },
      archived: false,
      model: 'local',
      cwd: '/tmp',
    });
    expect(await h.store.summary(last)).toEqual(summary);
  });

  it('lists nothing in an empty home', async () => {
    const h = harness();
    expect(await h.store.list()).toEqual({ items: [], nextCursor: null });
    expect(await h.store.list({ sort: 'updated' })).toEqual({ items: [], nextCursor: null });
  });

  it('pages exactly through conversations created in the same millisecond', async () => {
    const h = harness();
    vi.useFakeTimers({ toFake: ['Date'] });
    let ids: string[];
    try {
      vi.setSystemTime(Date.now());
      ids = newIds(7);
    } finally {
      vi.useRealTimers();
    }
    expect(new Set(ids.map(idTime)).size).toBe(1);
    for (const id of ids) await created(h.store, 1, id);
    for (const sort of ['created', 'updated'] as const) {
      const seen: string[] = [];
      let cursor: string | null = null;
      let pages = 0;
      do {
        const page = await h.store.list({ limit: 2, cursor, sort });
        expect(page.items.length).toBeLessThanOrEqual(2);
        seen.push(...page.items.map((s) => s.id));
        cursor = page.nextCursor;
        pages++;
        expect(pages).toBeLessThanOrEqual(4);
      } while (cursor !== null);
      expect(new Set(seen).size).toBe(seen.length);
      expect([...seen].sort()).toEqual([...ids].sort());
      if (sort === 'created') expect(seen).toEqual([...ids].reverse());
      expect(pages).toBe(4);
    }
  });

  it('a cursor stays exact when newer conversations are created between pages', async () => {
    const h = harness();
    const ids = newIds(5);
    for (const id of ids) await created(h.store, 1, id);
    const first = await h.store.list({ limit: 2 });
    const newer = await created(h.store, 1);
    const rest = await h.store.list({ limit: 10, cursor: first.nextCursor });
    expect([...first.items, ...rest.items].map((s) => s.id)).toEqual([...ids].reverse());
    expect((await h.store.list({ limit: 1 })).items[0]?.id).toBe(newer);
  });

  it("sorts by update time (sort 'updated'), ties by id, with exact cursors", async () => {
    const h = harness();
    const [a, b, c, d] = newIds(4) as [string, string, string, string];
    for (const id of [a, b, c, d]) await created(h.store, 2, id);
    const at = (id: string, ms: number): void => fs.utimesSync(activeLog(h, id), new Date(ms), new Date(ms));
    const base = Date.UTC(2024, 2, 1);
    at(a, base + 3000);
    at(b, base + 1000);
    at(c, base + 3000);
    at(d, base + 2000);
    // Times changed behind the index's back: rebuilding it from the logs takes them in.
    await h.store.reindex();
    const expected = [c, a, d, b];
    expect((await h.store.list({ sort: 'updated' })).items.map((s) => s.id)).toEqual(expected);
    const paged: string[] = [];
    let cursor: string | null = null;
    do {
      const page = await h.store.list({ sort: 'updated', limit: 1, cursor });
      paged.push(...page.items.map((s) => s.id));
      cursor = page.nextCursor;
      expect(paged.length).toBeLessThanOrEqual(expected.length);
    } while (cursor !== null);
    expect(paged).toEqual(expected);
    expect((await h.store.summary(a)).updatedAt).toBe(new Date(base + 3000).toISOString());
    // An append makes a conversation the most recently updated.
    await commitOk(h.store, b, bodyRecords(2, 2));
    expect((await h.store.list({ sort: 'updated', limit: 1 })).items[0]?.id).toBe(b);
    expect((await h.store.list({ sort: 'created', limit: 1 })).items[0]?.id).toBe(d);
  });

  it('filters by name (case-insensitive substring) and metadata (every value)', async () => {
    const h = harness();
    const alpha = await created(h.store, 1, newConversationId(), { name: 'Refactor Parser', metadata: { team: 'core', prio: 1, urgent: true } });
    const beta = await created(h.store, 1, newConversationId(), { name: 'parser tests', metadata: { team: 'core', prio: 2, urgent: false } });
    const gamma = await created(h.store, 1, newConversationId(), { metadata: { team: 'web', prio: 1, owner: null } });
    const ids = async (query: Parameters<FileStore['list']>[0]): Promise<string[]> => (await h.store.list(query)).items.map((s) => s.id);
    expect(await ids({ name: 'PARSER' })).toEqual([beta, alpha]);
    expect(await ids({ name: 'refactor' })).toEqual([alpha]);
    expect(await ids({ name: 'nothing' })).toEqual([]);
    expect(await ids({ metadata: { team: 'core' } })).toEqual([beta, alpha]);
    expect(await ids({ metadata: { team: 'core', prio: 1 } })).toEqual([alpha]);
    expect(await ids({ metadata: { urgent: false } })).toEqual([beta]);
    expect(await ids({ metadata: { owner: null } })).toEqual([gamma]);
    expect(await ids({ metadata: { prio: '1' } })).toEqual([]);
    expect(await ids({ name: 'parser', metadata: { prio: 2 } })).toEqual([beta]);
    // Filters apply before paging: a full page of matches and an exact cursor.
    const page = await h.store.list({ metadata: { team: 'core' }, limit: 1 });
    expect(page.items.map((s) => s.id)).toEqual([beta]);
    expect((await h.store.list({ metadata: { team: 'core' }, limit: 1, cursor: page.nextCursor })).items.map((s) => s.id)).toEqual([alpha]);
  });

  it('rejects an invalid limit or a malformed cursor with InvalidOpError naming the field', async () => {
    const h = harness();
    await created(h.store, 1);
    await created(h.store, 1);
    for (const limit of [0, -1, 1001, 2.5, Number.NaN]) {
      const err = await rejectionOf(h.store.list({ limit }));
      expect(err, String(limit)).toBeInstanceOf(InvalidOpError);
      expect((err as InvalidOpError).field).toBe('limit');
    }
    const byCreated = await h.store.list({ limit: 1 });
    const updated = await h.store.list({ limit: 1, sort: 'updated' });
    for (const [cursor, sort] of [
      ['garbage', 'created'],
      ['c:not-a-ulid', 'created'],
      [`c:${newConversationId().toLowerCase()}`, 'created'],
      [String(updated.nextCursor), 'created'],
      [String(byCreated.nextCursor), 'updated'],
      [`u:-5:${newConversationId()}`, 'updated'],
    ] as const) {
      const err = await rejectionOf(h.store.list({ cursor, sort }));
      expect(err, cursor).toBeInstanceOf(InvalidOpError);
      expect((err as InvalidOpError).field).toBe('cursor');
    }
    expect(byCreated.nextCursor).not.toBeNull();
    expect(updated.nextCursor).not.toBeNull();
    expect((await h.store.list({ limit: 1000 })).items).toHaveLength(2);
  });

  it('a rebuild of the index skips a log with a corrupt header and reports it, listing the rest', async () => {
    const h = harness();
    const good = await created(h.store, 2);
    const bad = await created(h.store, 2);
    fs.writeFileSync(activeLog(h, bad), 'not a header\n');
    // Listing reads the index, not the logs; rebuilding it from the logs finds the bad one.
    await h.store.reindex();
    expect((await h.store.list()).items.map((s) => s.id)).toEqual([good]);
    expect(h.issues).toEqual([{ kind: 'bad_line', location: activeLog(h, bad), conversationId: bad, line: 1, detail: expect.any(String) }]);
  });
});

describe('FileStore archive, unarchive, delete', () => {
  it('archive moves the log (and its .torn file) to archived/, where read and exists still work', async () => {
    const h = harness();
    const id = await created(h.store, 3);
    const other = await created(h.store, 1);
    fs.writeFileSync(`${activeLog(h, id)}.torn`, 'torn bytes');
    await h.store.archive(id);
    expect(fs.existsSync(activeLog(h, id))).toBe(false);
    expect(fs.existsSync(`${activeLog(h, id)}.torn`)).toBe(false);
    expect(fs.existsSync(archivedLog(h, id))).toBe(true);
    expect(fs.readFileSync(`${archivedLog(h, id)}.torn`, 'utf8')).toBe('torn bytes');
    expect(modeOf(join(h.home, 'archived'))).toBe(0o700);
    expect(modeOf(join(h.home, 'archived', ...dayOf(id)))).toBe(0o700);
    expect(await h.store.exists(id)).toBe(true);
    expect(await readAll(h.store, id)).toEqual(logRecords(id, 3));
    expect((await h.store.summary(id)).archived).toBe(true);
    expect((await h.store.list()).items.map((s) => s.id)).toEqual([other]);
    const archived = await h.store.list({ archived: true });
    expect(archived.items.map((s) => [s.id, s.archived])).toEqual([[id, true]]);
    // Archiving again changes nothing.
    await h.store.archive(id);
    expect(fs.existsSync(archivedLog(h, id))).toBe(true);
  });

  it('appends to an archived log, with the writer open or after a restart', async () => {
    const h = harness();
    const id = await created(h.store, 2);
    await h.store.archive(id);
    await commitOk(h.store, id, bodyRecords(2, 2));
    await h.store.close();
    const again = reopen(h);
    await commitOk(again.store, id, bodyRecords(3, 3));
    expect(fs.existsSync(activeLog(h, id))).toBe(false);
    expect(await readAll(again.store, id)).toEqual(logRecords(id, 4));
  });

  it('unarchive moves it back', async () => {
    const h = harness();
    const id = await created(h.store, 2);
    await h.store.archive(id);
    await h.store.unarchive(id);
    expect(fs.existsSync(activeLog(h, id))).toBe(true);
    expect(fs.existsSync(archivedLog(h, id))).toBe(false);
    expect((await h.store.list()).items.map((s) => [s.id, s.archived])).toEqual([[id, false]]);
    expect((await h.store.list({ archived: true })).items).toEqual([]);
    await commitOk(h.store, id, bodyRecords(2, 3));
    expect(await readAll(h.store, id)).toEqual(logRecords(id, 4));
  });

  it('delete removes the log and its .torn file; then the conversation is not found', async () => {
    const h = harness();
    const id = await created(h.store, 3);
    const keep = await created(h.store, 1);
    fs.writeFileSync(`${activeLog(h, id)}.torn`, 'x');
    await h.store.delete(id);
    expect(fs.existsSync(activeLog(h, id))).toBe(false);
    expect(fs.existsSync(`${activeLog(h, id)}.torn`)).toBe(false);
    expect(await h.store.exists(id)).toBe(false);
    await expect(readAll(h.store, id)).rejects.toBeInstanceOf(SessionNotFoundError);
    await expect(h.store.summary(id)).rejects.toBeInstanceOf(SessionNotFoundError);
    await expect(h.store.delete(id)).rejects.toBeInstanceOf(SessionNotFoundError);
    expect((await h.store.list()).items.map((s) => s.id)).toEqual([keep]);
    // Its records are gone for good: appending fails, creating it again starts afresh.
    expect(failure((await h.store.commit([{ conversationId: id, records: bodyRecords(3, 3) }], SYNC))[0]).ok).toBe(false);
    await commitOk(h.store, id, logRecords(id, 2));
    expect(await readAll(h.store, id)).toEqual(logRecords(id, 2));
  });

  it('deletes an archived conversation', async () => {
    const h = harness();
    const id = await created(h.store, 2);
    await h.store.archive(id);
    await h.store.delete(id);
    expect(fs.existsSync(archivedLog(h, id))).toBe(false);
    expect(await h.store.exists(id)).toBe(false);
  });

  it('throws SessionNotFoundError for a conversation that does not exist', async () => {
    const h = harness();
    const id = newConversationId();
    for (const op of [
      () => readAll(h.store, id),
      () => h.store.summary(id),
      () => h.store.archive(id),
      () => h.store.unarchive(id),
      () => h.store.delete(id),
    ]) {
      const err = await rejectionOf(op());
      expect(err).toBeInstanceOf(SessionNotFoundError);
      expect((err as SessionNotFoundError).sessionId).toBe(id);
    }
    expect(await h.store.exists(id)).toBe(false);
  });
});

describe('FileStore invalid ids', () => {
  const bad = ['../etc/passwd', '../../../../etc/passwd', '', 'abc', `${newConversationId()}/../x`, `${newConversationId().slice(0, 25)}U`];

  for (const id of bad) {
    it(`rejects ${JSON.stringify(id)} with InvalidIdError before touching any path`, async () => {
      const h = harness();
      for (const op of [
        () => readAll(h.store, id),
        () => h.store.exists(id),
        () => h.store.summary(id),
        () => h.store.archive(id),
        () => h.store.unarchive(id),
        () => h.store.delete(id),
      ]) {
        const err = await rejectionOf(op());
        expect(err).toBeInstanceOf(InvalidIdError);
      }
      const [outcome] = await h.store.commit([{ conversationId: id, records: logRecords(newConversationId(), 2) }], SYNC);
      expect(failure(outcome).error.code).toBe('invalid_id');
      expect(h.fsx.calls).toEqual([]);
      expect(fs.existsSync(h.home)).toBe(false);
    });
  }

  it('reads an id given in lower case as the same conversation (ULIDs are case-insensitive)', async () => {
    const h = harness();
    const id = await created(h.store, 1);
    expect(await h.store.exists(id.toLowerCase())).toBe(true);
    expect((await readAll(h.store, id.toLowerCase())).map((r) => r.seq)).toEqual((await readAll(h.store, id)).map((r) => r.seq));
  });

  it('never builds a path from a traversal id', async () => {
    const h = harness();
    await created(h.store, 1);
    const before = h.fsx.calls.length;
    await rejectionOf(h.store.exists('../etc/passwd'));
    await h.store.commit([{ conversationId: '../etc/passwd', records: bodyRecords(1, 1) }], SYNC);
    expect(h.fsx.calls.length).toBe(before);
    expect(h.fsx.touched('passwd')).toBe(false);
  });
});
