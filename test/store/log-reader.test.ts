import fs from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CorruptLogError } from '../../src/errors.js';
import { newConversationId } from '../../src/protocol/ids.js';
import type { LogRecord } from '../../src/protocol/records.js';
import { nodeFileSystem } from '../../src/store/fs.js';
import { CHUNK_BYTES, checkRecord, parseLine, readLog, type LogReadOptions } from '../../src/store/log-reader.js';
import type { LogIssue } from '../../src/store/store.js';
import {
  FaultyFileSystem,
  assertValid,
  collect,
  eventRecord,
  itemRecord,
  jsonl,
  logRecords,
  metaRecord,
  rejectionOf,
  tempDir,
} from './helpers.js';

const SECRET = 'sk-SECRET-do-not-log-4242';

/** Write `text` to a fresh log file and return its path. */
function logFile(text: string | Buffer): string {
  const path = join(tempDir(), `${newConversationId()}.jsonl`);
  fs.writeFileSync(path, text);
  return path;
}

/** Read a log, collecting records and issues. */
async function readAll(path: string, options: LogReadOptions = {}): Promise<{ records: LogRecord[]; issues: LogIssue[] }> {
  const issues: LogIssue[] = [];
  const records = await collect(readLog(nodeFileSystem, path, { ...options, onIssue: (i) => issues.push(i) }));
  return { records, issues };
}

/** The error a read fails with. */
async function readError(path: string, options: LogReadOptions = {}): Promise<CorruptLogError> {
  const err = await rejectionOf(collect(readLog(nodeFileSystem, path, options)));
  expect(err).toBeInstanceOf(CorruptLogError);
  return err as CorruptLogError;
}

/** Replace line `index` (0-based) of a JSONL text. */
function withLine(records: readonly LogRecord[], index: number, line: string): string {
  const lines = records.map((r) => JSON.stringify(r));
  lines[index] = line;
  return lines.map((l) => `${l}\n`).join('');
}

describe('record builders', () => {
  it('build records that pass LogRecordSchema', () => {
    expect(() => assertValid(logRecords(newConversationId(), 10))).not.toThrow();
  });
});

describe('readLog', () => {
  it('streams every record in seq order with no issues', async () => {
    const records = logRecords(newConversationId(), 25);
    const { records: read, issues } = await readAll(logFile(jsonl(records)));
    expect(read).toEqual(records);
    expect(issues).toEqual([]);
  });

  it('yields nothing for an empty file', async () => {
    const { records, issues } = await readAll(logFile(''));
    expect(records).toEqual([]);
    expect(issues).toEqual([]);
  });

  it('closes the file when the reader stops early', async () => {
    const fsx = new FaultyFileSystem();
    const path = logFile(jsonl(logRecords(newConversationId(), 10)));
    for await (const record of readLog(fsx, path)) {
      if (record.seq === 2) break;
    }
    expect(fsx.callsOf('open')).toHaveLength(1);
    expect(fsx.callsOf('close')).toHaveLength(1);
  });

  describe('torn tail', () => {
    it('reports a last line without its newline and does not yield it, even in strict mode', async () => {
      const records = logRecords(newConversationId(), 4);
      const partial = JSON.stringify(itemRecord(4)).slice(0, 30);
      const path = logFile(jsonl(records) + partial);
      const { records: read, issues } = await readAll(path);
      expect(read).toEqual(records);
      expect(issues).toEqual([{ kind: 'torn_tail', location: path, line: 5, detail: expect.any(String) }]);
      expect(issues[0]?.detail).toContain(String(Buffer.byteLength(partial)));
    });

    it('treats a complete record without its newline as torn too', async () => {
      const records = logRecords(newConversationId(), 3);
      const path = logFile(jsonl(records) + JSON.stringify(itemRecord(3)));
      const { records: read, issues } = await readAll(path);
      expect(read.map((r) => r.seq)).toEqual([0, 1, 2]);
      expect(issues.map((i) => i.kind)).toEqual(['torn_tail']);
    });
  });

  describe('bad lines', () => {
    const records = logRecords(newConversationId(), 6);

    it('fails in strict mode (the default) with a CorruptLogError naming file and 1-based line', async () => {
      const path = logFile(withLine(records, 3, '{"ts": "2024-05-01T12:00:00.000Z", "seq": 3, oops'));
      const err = await readError(path);
      expect(err.path).toBe(path);
      expect(err.line).toBe(4);
      expect(err.code).toBe('corrupt_log');
      expect(err.message).toContain(`${path}:4`);
    });

    it('fails on a line that is JSON but not a log record, naming the bad field', async () => {
      const path = logFile(withLine(records, 2, JSON.stringify({ ts: 'x', seq: 2, type: 'item', payload: { turn_id: 't' } })));
      const err = await readError(path);
      expect(err.line).toBe(3);
      expect(err.reason).toContain('payload.item');
    });

    it('skips and reports the bad line in lenient mode', async () => {
      const path = logFile(withLine(records, 3, 'not json at all'));
      const { records: read, issues } = await readAll(path, { mode: 'lenient' });
      // The skipped line leaves a gap in seq, which lenient mode also reports and accepts.
      expect(read.map((r) => r.seq)).toEqual([0, 1, 2, 4, 5]);
      expect(issues.map((i) => [i.kind, i.line])).toEqual([
        ['bad_line', 4],
        ['seq_gap', 5],
      ]);
      expect(issues.every((i) => i.location === path)).toBe(true);
    });

    it('skips a blank line in lenient mode and rejects it in strict mode', async () => {
      const path = logFile(withLine(records, 2, `${JSON.stringify(records[2])}\n`));
      expect((await readError(path)).line).toBe(4);
      const { records: read, issues } = await readAll(path, { mode: 'lenient' });
      expect(read).toEqual(records);
      expect(issues.map((i) => [i.kind, i.line])).toEqual([['bad_line', 4]]);
    });

    it('requires session_meta as the first record', async () => {
      const body = [eventRecord(0), itemRecord(1)];
      const path = logFile(jsonl(body));
      const err = await readError(path);
      expect(err.line).toBe(1);
      expect(err.reason).toContain('session_meta');
      const { records: read, issues } = await readAll(path, { mode: 'lenient' });
      expect(read).toEqual(body);
      expect(issues.map((i) => [i.kind, i.line])).toEqual([['bad_line', 1]]);
    });

    const leaks: [string, string][] = [
      ['invalid JSON', `{"ts":"x","seq":3,"type":"item","payload":"${SECRET}`],
      ['an unknown record type', JSON.stringify({ ts: 'x', seq: 3, type: SECRET, payload: {} })],
      ['an unknown event type', JSON.stringify({ ts: 'x', seq: 3, type: 'event', payload: { type: SECRET, turn_id: 't' } })],
      [
        'an unknown item type',
        JSON.stringify({ ts: 'x', seq: 3, type: 'item', payload: { turn_id: 't', item: { id: 'i', type: SECRET, text: SECRET } } }),
      ],
      ['a value of the wrong type', JSON.stringify({ ts: 'x', seq: SECRET, type: 'event', payload: { type: 'turn.started' } })],
      ['a bad enum value', JSON.stringify({ ts: 'x', seq: 3, type: 'event', payload: { type: 'turn.started', turn_id: 't', kind: SECRET } })],
    ];
    for (const [what, line] of leaks) {
      it(`never quotes the line's content in errors or issues (${what})`, async () => {
        const path = logFile(withLine(records, 3, line));
        const err = await readError(path);
        expect(err.line).toBe(4);
        expect(err.message).not.toContain(SECRET);
        expect(err.reason).not.toContain(SECRET);
        const { issues } = await readAll(path, { mode: 'lenient' });
        expect(issues[0]?.kind).toBe('bad_line');
        for (const issue of issues) expect(JSON.stringify(issue)).not.toContain(SECRET);
      });
    }
  });

  describe('seq checks', () => {
    it('detects a gap: strict fails at the line, lenient reports seq_gap and keeps the record', async () => {
      const records = [metaRecord(newConversationId()), eventRecord(1), itemRecord(3), eventRecord(4)];
      const path = logFile(jsonl(records));
      const err = await readError(path);
      expect(err.line).toBe(3);
      expect(err.reason).toMatch(/seq 3/);
      const { records: read, issues } = await readAll(path, { mode: 'lenient' });
      expect(read).toEqual(records);
      expect(issues.map((i) => [i.kind, i.line])).toEqual([['seq_gap', 3]]);
    });

    it('detects a duplicate: strict fails at the line, lenient reports seq_duplicate and skips the record', async () => {
      const records = [metaRecord(newConversationId()), eventRecord(1), itemRecord(2), itemRecord(2, 'again'), eventRecord(3)];
      const path = logFile(jsonl(records));
      const err = await readError(path);
      expect(err.line).toBe(4);
      const { records: read, issues } = await readAll(path, { mode: 'lenient' });
      expect(read.map((r) => r.seq)).toEqual([0, 1, 2, 3]);
      expect(read[2]).toEqual(records[2]);
      expect(issues.map((i) => [i.kind, i.line])).toEqual([['seq_duplicate', 4]]);
    });

    it('treats a seq going backwards as a duplicate', async () => {
      const records = [metaRecord(newConversationId()), eventRecord(1), itemRecord(2), eventRecord(1), eventRecord(3)];
      const { records: read, issues } = await readAll(logFile(jsonl(records)), { mode: 'lenient' });
      expect(read.map((r) => r.seq)).toEqual([0, 1, 2, 3]);
      expect(issues.map((i) => i.kind)).toEqual(['seq_duplicate']);
    });

    it('skips a stray record that skips ahead when the log goes on from the seq expected before it (lenient), and fails on it in strict mode', async () => {
      const records = logRecords(newConversationId(), 8);
      const stray = eventRecord(999);
      const path = logFile(jsonl([...records.slice(0, 4), stray, ...records.slice(4)]));
      const err = await readError(path);
      expect(err).toMatchObject({ path, line: 5 });
      expect(err.reason).toMatch(/seq 999/);
      const { records: read, issues } = await readAll(path, { mode: 'lenient' });
      expect(read).toEqual(records);
      expect(issues.map((i) => [i.kind, i.line])).toEqual([['seq_gap', 5]]);
      expect(issues[0]?.detail).toMatch(/seq 999 skips ahead \(expected 4\).*skipped/);
    });

    it('skips a stray record that skips ahead as the last line (lenient): nothing continues from it', async () => {
      const records = logRecords(newConversationId(), 5);
      const path = logFile(jsonl([...records, eventRecord(999)]));
      const { records: read, issues } = await readAll(path, { mode: 'lenient' });
      expect(read).toEqual(records);
      expect(issues.map((i) => [i.kind, i.line])).toEqual([['seq_gap', 6]]);
      // Read up to a seq before it: the same records, nothing reported past the stop.
      expect((await readAll(path, { mode: 'lenient', upToSeq: 2 })).records).toEqual(records.slice(0, 3));
    });

    it('checks the first seq against firstSeq when given', async () => {
      const records = [metaRecord(newConversationId(), { seq: 5 }), eventRecord(6), itemRecord(7)];
      const path = logFile(jsonl(records));
      expect((await readAll(path, { firstSeq: 5 })).records).toEqual(records);
      expect((await readAll(path)).records).toEqual(records);
      expect((await readError(path, { firstSeq: 0 })).line).toBe(1);
    });
  });

  describe('byte-order mark', () => {
    it('skips a UTF-8 BOM at the start and reports it', async () => {
      const records = logRecords(newConversationId(), 3);
      const path = logFile(Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(jsonl(records))]));
      const { records: read, issues } = await readAll(path);
      expect(read).toEqual(records);
      expect(issues).toEqual([{ kind: 'bom', location: path, line: 1, detail: expect.any(String) }]);
    });

    it('does not take a BOM later in the file as a mark', async () => {
      const records = logRecords(newConversationId(), 3);
      const text = `${JSON.stringify(records[0])}\n\uFEFF${JSON.stringify(records[1])}\n${JSON.stringify(records[2])}\n`;
      const err = await readError(logFile(text));
      expect(err.line).toBe(2);
    });
  });

  describe('long lines', () => {
    it('reads lines longer than the read chunk, and lines that straddle chunk boundaries', async () => {
      const id = newConversationId();
      const records: LogRecord[] = [metaRecord(id)];
      // Multi-byte characters make sure no character is split when a line is decoded.
      const sizes = [CHUNK_BYTES + 17, 3, CHUNK_BYTES * 2 + 5, 1000, CHUNK_BYTES - 100, 70_000];
      sizes.forEach((size, i) => records.push(itemRecord(i + 1, `${'é'.repeat(size)}🙂${i}`)));
      records.push(eventRecord(records.length));
      const path = logFile(jsonl(records));
      expect(fs.statSync(path).size).toBeGreaterThan(CHUNK_BYTES * 5);
      const { records: read, issues } = await readAll(path);
      expect(issues).toEqual([]);
      expect(read).toEqual(records);
    });

    it('reports a long torn last line', async () => {
      const records = logRecords(newConversationId(), 2);
      const partial = JSON.stringify(itemRecord(2, 'x'.repeat(CHUNK_BYTES * 2))).slice(0, CHUNK_BYTES + 10);
      const path = logFile(jsonl(records) + partial);
      const { records: read, issues } = await readAll(path);
      expect(read).toEqual(records);
      expect(issues.map((i) => [i.kind, i.line])).toEqual([['torn_tail', 3]]);
    });
  });

  describe('upToSeq', () => {
    it('stops after the record with that seq', async () => {
      const records = logRecords(newConversationId(), 10);
      const path = logFile(jsonl(records));
      expect((await readAll(path, { upToSeq: 4 })).records).toEqual(records.slice(0, 5));
      expect((await readAll(path, { upToSeq: 0 })).records).toEqual(records.slice(0, 1));
      expect((await readAll(path, { upToSeq: 100 })).records).toEqual(records);
    });

    it('does not read past that record: a bad or torn line after it is neither an error nor an issue', async () => {
      const records = logRecords(newConversationId(), 6);
      const corrupt = logFile(withLine(records, 4, 'garbage'));
      const { records: read, issues } = await readAll(corrupt, { upToSeq: 3 });
      expect(read).toEqual(records.slice(0, 4));
      expect(issues).toEqual([]);
      const torn = logFile(jsonl(records.slice(0, 4)) + '{"ts":');
      expect(await readAll(torn, { upToSeq: 3 })).toEqual({ records: records.slice(0, 4), issues: [] });
    });

    it('does not yield a record past it after a gap (lenient)', async () => {
      const records = [metaRecord(newConversationId()), eventRecord(1), itemRecord(5), eventRecord(6)];
      const { records: read } = await readAll(logFile(jsonl(records)), { mode: 'lenient', upToSeq: 3 });
      expect(read).toEqual(records.slice(0, 2));
    });
  });
});

describe('parseLine / checkRecord', () => {
  it('parse a valid line into its record', () => {
    const record = itemRecord(3, 'hello');
    expect(parseLine(Buffer.from(JSON.stringify(record)))).toEqual({ record });
    expect(checkRecord(record)).toEqual({ record });
  });

  it('say why a line is not a record, naming the field without quoting content', () => {
    const notJson = parseLine(Buffer.from(`{"${SECRET}`));
    expect(notJson).toEqual({ reason: expect.any(String) });
    expect(JSON.stringify(notJson)).not.toContain(SECRET);
    const wrong = checkRecord({ ts: '2026-01-01T00:00:00.000Z', seq: -1, type: 'event', payload: { type: 'turn.started', turn_id: 't', kind: 'regular' } });
    expect('reason' in wrong && wrong.reason).toMatch(/^seq: /);
    const unknown = checkRecord({ ts: '2026-01-01T00:00:00.000Z', seq: 1, type: SECRET, payload: {} });
    expect('reason' in unknown && unknown.reason).toMatch(/^type: /);
    expect(JSON.stringify(unknown)).not.toContain(SECRET);
    expect(checkRecord(null)).toEqual({ reason: expect.any(String) });
  });
});
