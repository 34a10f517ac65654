import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { FileStore, LeaseLostError, localAgent, StoreError, type LogRecord } from '../../src/index.js';
import { errnoError, FaultyFileSystem } from '../store/helpers.js';
import { next, runtime, tempHome } from './helpers.js';

function lines(path: string): LogRecord[] {
  const text = readFileSync(path, 'utf8');
  expect(text.endsWith('\n')).toBe(true);
  return text.trimEnd().split('\n').map((l) => JSON.parse(l) as LogRecord);
}

describe('store faults', () => {
  for (const [op, code] of [
    ['writeAll', 'ENOSPC'],
    ['writeAll', 'EIO'],
    ['fdatasync', 'EIO'],
    ['fdatasync', 'ENOSPC'],
  ] as const) {
    it(`${code} on ${op} while a turn runs: error with a clear message, earlier records intact, retry runs the turn again`, async () => {
      const home = await tempHome();
      const fs = new FaultyFileSystem();
      const store = new FileStore({ home, fs });
      // A turn that takes a while, so the failure finds it running.
      const agent = localAgent({ script: { turns: [{ steps: [{ type: 'delay', ms: 150 }, { type: 'message', text: 'answer' }] }], repeat: 'last' } });
      const rt = runtime({ store, agent });
      const convo = await rt.start();
      await convo.run('before the disk filled');
      const path = store.paths.log(convo.id, false);
      const before = lines(path);

      fs.inject(op, `${convo.id}.jsonl`, errnoError(code));
      const failed = next(convo, 'error');
      const run = convo.run('while the disk is full');
      await expect(run).rejects.toBeInstanceOf(StoreError);
      expect((await failed).message).toContain(code);
      expect((await failed).message).toContain(path);
      expect(convo.state).toBe('error');
      expect(convo.info().error).toMatchObject({ kind: 'store' });
      // Nothing of the failed commit is on disk: exactly the earlier records, whole lines.
      expect(lines(path)).toEqual(before);

      // Space returns: retry writes what was held back, then runs the turn again.
      fs.clear();
      const completed = next(convo, 'turn.completed');
      await convo.retry();
      await completed;
      expect(convo.state).toBe('idle');
      const after = lines(path);
      expect(after.map((r) => r.seq)).toEqual(after.map((_, i) => i));
      const read = await rt.read(convo.id);
      expect(read.turns.map((t) => t.status)).toEqual(['completed', 'aborted', 'completed']);
      expect(read.turns[1]?.reason).toBe('store_failure');
      expect(read.turns[2]?.items[0]).toMatchObject({ type: 'user_message', text: 'while the disk is full' });
      expect((await convo.run('after')).finalResponse).toBe('answer');
    });
  }

  it('a failure after the turn ended holds its end back until retry, then announces it', async () => {
    const home = await tempHome();
    const fs = new FaultyFileSystem();
    const store = new FileStore({ home, fs });
    const rt = runtime({ store });
    const convo = await rt.start();
    await convo.run('one');
    const path = store.paths.log(convo.id, false);
    const before = lines(path);
    // Every write fails until cleared: the whole turn is held back, its end included.
    fs.inject('fdatasync', `${convo.id}.jsonl`, errnoError('EIO'));
    const failed = next(convo, 'error');
    await expect(convo.run('two')).rejects.toBeInstanceOf(StoreError);
    await failed;
    expect(lines(path)).toEqual(before);
    expect(convo.state).toBe('error');
    fs.clear();
    const completed = next(convo, 'turn.completed');
    await convo.retry();
    await completed;
    expect(convo.state).toBe('idle');
    const read = await rt.read(convo.id);
    expect(read.turns.map((t) => t.status)).toEqual(['completed', 'completed']);
    expect((await convo.run('three')).finalResponse).toContain('Before that you said: "two"');
  });

  it('a failure to create the log fails start with a StoreError and leaves nothing behind', async () => {
    const home = await tempHome();
    const fs = new FaultyFileSystem();
    fs.inject('writeAll', '/sessions/', errnoError('ENOSPC'), { times: 1 });
    const rt = runtime({ store: new FileStore({ home, fs }) });
    await expect(rt.start()).rejects.toThrow(/could not create conversation .*ENOSPC/);
    expect((await rt.list()).items).toEqual([]);
    const convo = await rt.start();
    expect((await convo.run('now it works')).finalResponse).toContain('Turn 1');
  });
});

describe('log issues', () => {
  it('a torn last line from a crash is repaired on the next write and reported as an event', async () => {
    const home = await tempHome();
    const first = runtime({ home });
    const convo = await first.start();
    await convo.run('before the crash');
    await first.shutdown();
    const path = new FileStore({ home }).paths.log(convo.id, false);
    const { appendFileSync } = await import('node:fs');
    appendFileSync(path, '{"ts":"2026-01-01T00:00:00.000Z","seq":99,"type":"it');
    const seen: string[] = [];
    const second = runtime({ home, onLogIssue: (issue) => void seen.push(issue.kind) });
    const resumed = await second.resume(convo.id);
    const reported = next(resumed, 'log.issue');
    expect((await resumed.run('after')).finalResponse).toContain('Before that you said: "before the crash"');
    expect(await reported).toMatchObject({ type: 'log.issue', kind: 'torn_tail', line: 6 });
    expect(resumed.logIssues.map((i) => i.kind)).toContain('torn_tail');
    expect(seen).toContain('torn_tail');
    expect(readFileSync(`${path}.torn`, 'utf8')).toBe('{"ts":"2026-01-01T00:00:00.000Z","seq":99,"type":"it');
    expect(lines(path).map((r) => r.seq)).toEqual(lines(path).map((_, i) => i));
  });

  it('strict by default, a bad line in the middle fails resume with file and line; lenient skips it', async () => {
    const home = await tempHome();
    const first = runtime({ home });
    const convo = await first.start();
    await convo.run('one');
    await convo.run('two');
    await first.shutdown();
    const path = new FileStore({ home }).paths.log(convo.id, false);
    const text = readFileSync(path, 'utf8').split('\n');
    text[3] = '{"not": "a record"}';
    const { writeFileSync } = await import('node:fs');
    writeFileSync(path, text.join('\n'));
    await expect(runtime({ home }).resume(convo.id)).rejects.toMatchObject({ code: 'corrupt_log', path, line: 4 });
    const lenient = runtime({ home, readMode: 'lenient' });
    const resumed = await lenient.resume(convo.id);
    expect(resumed.logIssues).toMatchObject([
      { kind: 'bad_line', line: 4 },
      { kind: 'seq_gap', line: 5 },
    ]);
  });
});

describe('lenient mode and a record out of sequence', () => {
  /** A conversation of five turns, then a valid record with seq 999 put into its log at `at` (a line index; -1: the end). */
  async function injected(at: number): Promise<{ home: string; id: string; path: string; strayLine: number }> {
    const home = await tempHome();
    const first = runtime({ home });
    const convo = await first.start();
    for (const text of ['one', 'two', 'three', 'four', 'five']) await convo.run(text);
    await first.shutdown();
    const path = new FileStore({ home }).paths.log(convo.id, false);
    const text = readFileSync(path, 'utf8').trimEnd().split('\n');
    const stray = JSON.stringify({ ...(JSON.parse(text[3] as string) as LogRecord), seq: 999 });
    const index = at < 0 ? text.length : at;
    text.splice(index, 0, stray);
    const { writeFileSync } = await import('node:fs');
    writeFileSync(path, `${text.join('\n')}\n`);
    return { home, id: convo.id, path, strayLine: index + 1 };
  }

  for (const [where, at] of [
    ['in the middle', 6],
    ['at the end', -1],
  ] as const) {
    it(`a stray record ${where} is reported and skipped: every turn is read, and appends go on after the last record in sequence`, async () => {
      const { home, id, path, strayLine } = await injected(at);
      await expect(runtime({ home }).read(id)).rejects.toMatchObject({ code: 'corrupt_log', path, line: strayLine });
      const issues: { kind: string; line: number }[] = [];
      const lenient = runtime({ home, readMode: 'lenient', onLogIssue: (i) => issues.push(i) });
      expect((await lenient.read(id)).turns).toHaveLength(5);
      expect(issues).toContainEqual(expect.objectContaining({ kind: 'seq_gap', line: strayLine }));
      const resumed = await lenient.resume(id);
      expect((await resumed.run('six')).finalResponse).toContain('Turn 6');
      expect((await resumed.run('seven')).finalResponse).toContain('Turn 7');
      await lenient.shutdown();
      const again = runtime({ home, readMode: 'lenient' });
      const record = await again.read(id);
      expect(record.turns).toHaveLength(7);
      // Strict mode still fails at the stray line, naming file and line.
      await expect(runtime({ home }).resume(id)).rejects.toMatchObject({ code: 'corrupt_log', path, line: strayLine });
    });
  }
});

async function until(check: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('a conversation whose lease another process took over', () => {
  it('fails its next write with code lease_lost: the turn rejects with LeaseLostError and the conversation stops, writing nothing more', async () => {
    const home = await tempHome();
    const rt = runtime({ home });
    const convo = await rt.start();
    await convo.run('one');
    const lease = `${home}/leases/${convo.id}.lease`;
    const { renameSync, writeFileSync } = await import('node:fs');
    writeFileSync(`${lease}.new`, JSON.stringify({ pid: 4242, host: 'elsewhere.example', since: new Date().toISOString(), token: 9 }));
    renameSync(`${lease}.new`, lease);
    const path = new FileStore({ home }).paths.log(convo.id, false);
    const before = readFileSync(path);
    const err = await convo.run('two').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(LeaseLostError);
    expect((err as LeaseLostError).code).toBe('lease_lost');
    expect(readFileSync(path)).toEqual(before);
    // It stopped: nothing more is taken from this handle.
    await until(() => convo.residency === 'closed');
    await expect(convo.run('three')).rejects.toBeInstanceOf(LeaseLostError);
    expect(readFileSync(path)).toEqual(before);
    // Once the other process is gone, resuming takes the lease again and writes.
    const { unlinkSync } = await import('node:fs');
    unlinkSync(lease);
    const again = await rt.resume(convo.id);
    expect((await again.run('two again')).finalResponse).toContain('Turn 2');
  });
});
