/**
 * The global message history (`src/store/history.ts`): appends, lookups by stable id,
 * search, crash-safe trims, file mode, the lock, torn lines, and two processes appending at
 * once. The multi-process tests run a bundle of the module (esbuild, CommonJS) in child
 * processes, so they do not depend on a fresh `dist/`.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { build } from 'esbuild';
import lockfile from 'proper-lockfile';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InvalidOpError, StoreError } from '../../src/errors.js';
import {
  HISTORY_FILE,
  HISTORY_LOCK_ATTEMPTS,
  HISTORY_LOCK_STALE_MS,
  HistoryLockedError,
  MessageHistory,
  type HistoryEntry,
  type HistoryIssue,
  type MessageHistoryOptions,
} from '../../src/store/history.js';
import { errnoError, FaultyFileSystem, rejectionOf, tempDir } from './helpers.js';

const ULID = /^[0-9A-HJKMNP-TV-Z]{26}$/;
const SESSION = '01HZZZZZZZZZZZZZZZZZZZZZZZ';
const OTHER = '01HYYYYYYYYYYYYYYYYYYYYYYY';

// ——— helpers ———

interface Fixture {
  readonly home: string;
  readonly path: string;
  readonly issues: HistoryIssue[];
  readonly history: MessageHistory;
}

function fixture(options: Partial<MessageHistoryOptions> = {}): Fixture {
  const home = options.home ?? tempDir();
  const issues: HistoryIssue[] = [];
  const history = new MessageHistory({ onIssue: (issue) => issues.push(issue), ...options, home });
  return { home, path: join(home, HISTORY_FILE), issues, history };
}

const read = (path: string): string => fs.readFileSync(path, 'utf8');
const sizeOf = (path: string): number => fs.statSync(path).size;
const modeOf = (path: string): number => fs.statSync(path).mode & 0o777;
const linesOf = (path: string): string[] => read(path).split('\n').slice(0, -1);

/** Append `count` entries one after another, each `pad` characters long. */
async function fill(history: MessageHistory, count: number, pad = 40, session = SESSION): Promise<HistoryEntry[]> {
  const out: HistoryEntry[] = [];
  for (let i = 0; i < count; i++) {
    const entry = await history.append(session, `message ${i} ${'x'.repeat(pad)}`);
    if (!entry) throw new Error('expected an entry');
    out.push(entry);
  }
  return out;
}

// ——— child processes ———

let bundle = '';

let bundleDir = '';

beforeAll(async () => {
  bundleDir = fs.mkdtempSync(join(tmpdir(), 'colloquy-history-bundle-'));
  bundle = join(bundleDir, 'history.cjs');
  await build({
    stdin: { contents: "export { MessageHistory } from './src/store/history.ts'; export { nodeFileSystem } from './src/store/fs.ts';", resolveDir: process.cwd(), loader: 'ts' },
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    outfile: bundle,
    logLevel: 'warning',
  });
});

afterAll(() => {
  if (bundleDir) fs.rmSync(bundleDir, { recursive: true, force: true });
});

/** What a child does (see WORKER). */
interface WorkerJob {
  readonly home: string;
  readonly mode: 'append' | 'crash-before-rename';
  readonly tag: string;
  readonly count: number;
  readonly pad: number;
  readonly maxBytes?: number;
  readonly lockAttempts?: number;
}

/**
 * A child's script: `append` appends `count` entries `${tag}:${i}:…` in groups of 1-5 made in
 * one tick; `crash-before-rename` appends one entry with an fs whose `rename` kills the
 * process (SIGKILL) — a crash after the trimmed copy is written and fsynced, before the rename.
 */
const WORKER = `
const { MessageHistory, nodeFileSystem } = require(process.env.HISTORY_BUNDLE);
const job = JSON.parse(process.env.HISTORY_JOB);
const fs = job.mode === 'crash-before-rename'
  ? { ...nodeFileSystem, rename: async () => { process.kill(process.pid, 'SIGKILL'); await new Promise(() => {}); } }
  : nodeFileSystem;
const history = new MessageHistory({ home: job.home, maxBytes: job.maxBytes, lockAttempts: job.lockAttempts, fs });
(async () => {
  let i = 0;
  while (i < job.count) {
    const group = [];
    for (let n = 1 + Math.floor(Math.random() * 5); n > 0 && i < job.count; n--, i++) {
      group.push(history.append('01HZZZZZZZZZZZZZZZZZZZZZZZ', job.tag + ':' + i + ':' + 'y'.repeat(job.pad)));
    }
    await Promise.all(group);
  }
  await history.close();
  process.stdout.write('done');
})().catch((err) => { process.stderr.write(String(err && err.stack || err)); process.exit(1); });
`;

function runWorker(job: WorkerJob): Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }> {
  const env: NodeJS.ProcessEnv = { ...process.env, HISTORY_BUNDLE: bundle, HISTORY_JOB: JSON.stringify(job) };
  delete env.NODE_OPTIONS;
  const child = spawn(process.execPath, ['-e', WORKER], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
}

/** Every line of the file parsed; fails on any line that is not a whole entry. */
function parsedLines(path: string): { id: string; session_id: string; ts: number; text: string }[] {
  const text = read(path);
  expect(text.endsWith('\n')).toBe(true);
  return text
    .slice(0, -1)
    .split('\n')
    .map((line) => {
      const value = JSON.parse(line) as { id: string; session_id: string; ts: number; text: string };
      expect(Object.keys(value)).toEqual(['id', 'session_id', 'ts', 'text']);
      return value;
    });
}

// ——— tests ———

describe('appending and reading', () => {
  it('appends lines { id, session_id, ts, text } and finds them by id, newest first', async () => {
    const { history, path } = fixture();
    const before = Math.floor(Date.now() / 1000);
    const a = await history.append(SESSION, 'Hello there');
    const b = await history.append(OTHER, 'second: hello AGAIN');
    const c = await history.append(SESSION, 'unrelated');
    const after = Math.floor(Date.now() / 1000);
    for (const e of [a, b, c]) {
      expect(e?.id).toMatch(ULID);
      expect(e?.ts).toBeGreaterThanOrEqual(before);
      expect(e?.ts).toBeLessThanOrEqual(after);
    }
    expect(linesOf(path)).toEqual([a, b, c].map((e) => JSON.stringify({ id: e?.id, session_id: e?.sessionId, ts: e?.ts, text: e?.text })));
    expect(await history.lookup(b?.id ?? '')).toEqual(b);
    expect(await history.lookup((b?.id ?? '').toLowerCase())).toEqual(b);
    expect(await history.lookup('01HAAAAAAAAAAAAAAAAAAAAAAA')).toBeNull();
    expect(await history.lookup('not an id')).toBeNull();
    expect(await history.list()).toEqual([c, b, a]);
    expect(await history.list({ limit: 2 })).toEqual([c, b]);
    expect(await history.list({ sessionId: SESSION })).toEqual([c, a]);
    expect(await history.search('HELLO')).toEqual([b, a]);
    expect(await history.search('hello', { limit: 1 })).toEqual([b]);
    expect(await history.search('hello', { sessionId: SESSION })).toEqual([a]);
    expect(await history.search('absent')).toEqual([]);
  });

  it('keeps text with newlines, quotes and non-ASCII characters whole', async () => {
    const { history } = fixture();
    const text = 'line one\nline "two"\t— naïve 🎉\u2028end';
    const entry = await history.append(SESSION, text);
    expect((await history.lookup(entry?.id ?? ''))?.text).toBe(text);
    expect(await history.search('NAÏVE')).toHaveLength(1);
  });

  it('writes one tick of appends as one write, in order, with increasing ids', async () => {
    const faulty = new FaultyFileSystem();
    const { history, path } = fixture({ fs: faulty });
    const entries = await Promise.all([
      ...Array.from({ length: 30 }, (_, i) => history.append(SESSION, `a${i}`)),
      history.appendMany(Array.from({ length: 20 }, (_, i) => ({ sessionId: OTHER, text: `b${i}` }))),
    ]);
    const flat = entries.flat() as HistoryEntry[];
    expect(flat).toHaveLength(50);
    expect(faulty.callsOf('writeAll', HISTORY_FILE).length).toBe(1);
    expect(linesOf(path).map((l) => (JSON.parse(l) as { text: string }).text)).toEqual(flat.map((e) => e.text));
    const ids = flat.map((e) => e.id);
    expect([...ids].sort()).toEqual(ids);
    expect(new Set(ids).size).toBe(50);
  });

  it('sees its own pending appends when reading (without awaiting them)', async () => {
    const { history } = fixture();
    const pending = history.append(SESSION, 'not yet awaited');
    expect((await history.list()).map((e) => e.text)).toEqual(['not yet awaited']);
    await pending;
  });

  it('reads nothing from a home without a history, and records nothing under persistence "none"', async () => {
    const { history, path } = fixture({ persistence: 'none' });
    expect(await history.list()).toEqual([]);
    expect(await history.append(SESSION, 'secret')).toBeNull();
    expect(await history.appendMany([{ sessionId: SESSION, text: 'secret' }])).toEqual([]);
    await history.flush();
    expect(fs.existsSync(path)).toBe(false);
  });

  it('rejects bad input with InvalidOpError naming the field, and appends after close with StoreError', async () => {
    const { history, home } = fixture();
    expect(() => history.append('', 'x')).toThrow(InvalidOpError);
    const err = (() => {
      try {
        history.appendMany([{ sessionId: SESSION, text: 'ok' }, { sessionId: SESSION, text: 3 as unknown as string }]);
      } catch (e) {
        return e;
      }
      return null;
    })();
    expect(err).toBeInstanceOf(InvalidOpError);
    expect((err as InvalidOpError).field).toBe('[1].text');
    expect(await rejectionOf(history.list({ limit: 0 }))).toBeInstanceOf(InvalidOpError);
    expect(await rejectionOf(history.search('x', { limit: 1.5 }))).toBeInstanceOf(InvalidOpError);
    expect(() => new MessageHistory({ home, maxBytes: -1 })).toThrow(/maxBytes/);
    await history.close();
    expect(await rejectionOf(history.append(SESSION, 'late'))).toBeInstanceOf(StoreError);
  });
});

describe('file mode', () => {
  it('creates the file 0600 and puts a broader mode back to 0600 on the next append', async () => {
    const { history, path } = fixture();
    await history.append(SESSION, 'one');
    expect(modeOf(path)).toBe(0o600);
    fs.chmodSync(path, 0o644);
    await history.append(SESSION, 'two');
    expect(modeOf(path)).toBe(0o600);
  });

  it('keeps 0600 on the file a trim writes', async () => {
    const { history, path } = fixture({ maxBytes: 1_000 });
    await fill(history, 30);
    expect(sizeOf(path)).toBeLessThanOrEqual(1_000);
    expect(modeOf(path)).toBe(0o600);
  });
});

describe('trimming', () => {
  it('stays under maxBytes, cuts to at most 80%, keeps the newest entries, and ids survive the trims', async () => {
    const { history, path } = fixture({ maxBytes: 2_000 });
    const appended: HistoryEntry[] = [];
    let trims = 0;
    let previous = 0;
    for (let i = 0; i < 120; i++) {
      const [entry] = await fill(history, 1, i % 7);
      appended.push(entry as HistoryEntry);
      const size = sizeOf(path);
      expect(size).toBeLessThanOrEqual(2_000);
      if (size < previous) {
        trims++;
        expect(size).toBeLessThanOrEqual(1_600);
      }
      previous = size;
    }
    expect(trims).toBeGreaterThan(3);
    const kept = await history.list({ limit: 1_000 });
    expect(kept[0]).toEqual(appended[appended.length - 1]);
    // What is kept is a suffix of what was appended: the newest entries, each still found by its id.
    expect(kept.slice().reverse()).toEqual(appended.slice(appended.length - kept.length));
    for (const entry of appended.slice(-kept.length)) expect(await history.lookup(entry.id)).toEqual(entry);
    for (const entry of appended.slice(0, appended.length - kept.length)) expect(await history.lookup(entry.id)).toBeNull();
    expect(fs.existsSync(`${path}.trim`)).toBe(false);
  });

  it('keeps the newest entry alone when it is longer than the soft cap (as Codex)', async () => {
    const { history, path } = fixture({ maxBytes: 1_000 });
    await fill(history, 5, 10);
    const big = await history.append(SESSION, 'b'.repeat(900));
    expect(await history.list()).toEqual([big]);
    const huge = await history.append(SESSION, 'h'.repeat(3_000));
    expect(await history.list()).toEqual([huge]);
    expect(sizeOf(path)).toBeGreaterThan(1_000);
  });

  it('never trims without maxBytes (unbounded, as Codex by default)', async () => {
    const { history, path } = fixture();
    await history.appendMany(Array.from({ length: 500 }, (_, i) => ({ sessionId: SESSION, text: `m${i} ${'z'.repeat(100)}` })));
    expect(linesOf(path)).toHaveLength(500);
    expect(await history.trim()).toBe(false);
  });

  it('leaves the old file whole when the trim fails before the rename, and a retry trims', async () => {
    const faulty = new FaultyFileSystem();
    const { history, path, issues } = fixture({ fs: faulty, maxBytes: 2_000 });
    await fill(history, 30, 20); // trims down to 1,600 bytes at most, then grows again
    const before = read(path);
    expect(before.length).toBeGreaterThan(1_400);
    expect(before.length).toBeLessThanOrEqual(2_000);
    faulty.inject('rename', '.trim', errnoError('EIO'));
    const entry = await history.append(SESSION, `this append pushes the file past maxBytes ${'p'.repeat(600)}`);
    // The append itself succeeded; the trim failed and was reported; the file is the old one plus the new line.
    expect(issues.map((i) => i.kind)).toEqual(['trim_failed']);
    expect(issues[0]?.detail).toMatch(/EIO/);
    expect(read(path)).toBe(before + linesOf(path).at(-1) + '\n');
    expect(sizeOf(path)).toBeGreaterThan(2_000);
    expect(fs.existsSync(`${path}.trim`)).toBe(false);
    expect(await history.lookup(entry?.id ?? '')).toEqual(entry);
    // An explicit trim reports the failure, and still changes nothing.
    const err = await rejectionOf(history.trim());
    expect(err).toBeInstanceOf(StoreError);
    expect((err as Error).message).toMatch(/left as it was/);
    expect(sizeOf(path)).toBeGreaterThan(2_000);
    // Once the fault is gone, a retry trims.
    faulty.clear();
    expect(await history.trim()).toBe(true);
    expect(sizeOf(path)).toBeLessThanOrEqual(1_600);
    expect((await history.list({ limit: 1 }))[0]).toEqual(entry);
  });

  it('leaves the old file whole when syncing the trimmed copy fails', async () => {
    const faulty = new FaultyFileSystem();
    const { history, path, issues } = fixture({ fs: faulty, maxBytes: 2_000 });
    await fill(history, 30, 20);
    const before = read(path);
    const renames = faulty.callsOf('rename').length;
    faulty.inject('fsync', '.trim', errnoError('EIO'));
    await history.append(SESSION, `past the cap ${'p'.repeat(600)}`);
    expect(issues.map((i) => i.kind)).toEqual(['trim_failed']);
    expect(faulty.callsOf('rename').length).toBe(renames);
    expect(sizeOf(path)).toBeGreaterThan(2_000);
    expect(read(path).startsWith(before)).toBe(true);
    expect(parsedLines(path)).toHaveLength(linesOf(path).length);
    expect(parsedLines(path).at(-1)?.text).toMatch(/^past the cap p+$/);
    expect(fs.existsSync(`${path}.trim`)).toBe(false);
    faulty.clear();
    await history.append(SESSION, 'and once more');
    expect(sizeOf(path)).toBeLessThanOrEqual(1_600);
  });

  it('survives a crash (SIGKILL) between writing the trimmed copy and the rename', async () => {
    const { history, path, home } = fixture();
    await fill(history, 30, 20);
    const before = read(path);
    const result = await runWorker({ home, mode: 'crash-before-rename', tag: 'crash', count: 1, pad: 10, maxBytes: 2_000 });
    expect(result.signal).toBe('SIGKILL');
    // The old file is whole: what was there, plus the crashed process's complete line.
    const after = read(path);
    expect(after.startsWith(before)).toBe(true);
    expect(parsedLines(path)).toHaveLength(31);
    expect(parsedLines(path).at(-1)?.text).toMatch(/^crash:0:/);
    // The crashed holder's lock is taken over once stale; then a trim succeeds.
    const next = new MessageHistory({ home, maxBytes: 2_000, lockStaleMs: 2_000, lockAttempts: 60 });
    expect(await next.trim()).toBe(true);
    expect(sizeOf(path)).toBeLessThanOrEqual(1_600);
    expect((await next.list({ limit: 1 }))[0]?.text).toMatch(/^crash:0:/);
    expect(fs.existsSync(`${path}.trim`)).toBe(false);
  });
});

describe('the lock', () => {
  it('gives up after its tries 100 ms apart with HistoryLockedError when another live holder keeps it, writing nothing', async () => {
    const { history, path } = fixture();
    await history.append(SESSION, 'first');
    // A live holder refreshes the lock (every second with the 2 s staleness every holder uses).
    const release = await lockfile.lock(path, { realpath: false, lockfilePath: history.lockPath, stale: HISTORY_LOCK_STALE_MS });
    try {
      const started = Date.now();
      const err = await rejectionOf(history.append(SESSION, 'blocked'));
      const waited = Date.now() - started;
      expect(err).toBeInstanceOf(HistoryLockedError);
      expect((err as HistoryLockedError).code).toBe('history_locked');
      expect((err as HistoryLockedError).attempts).toBe(HISTORY_LOCK_ATTEMPTS);
      expect((err as Error).message).toContain(history.lockPath);
      expect(waited).toBeGreaterThanOrEqual((HISTORY_LOCK_ATTEMPTS - 1) * 100 - 150);
      expect(waited).toBeLessThan(10_000);
      expect(linesOf(path)).toHaveLength(1);
    } finally {
      await release();
    }
    expect((await history.append(SESSION, 'after release'))?.text).toBe('after release');
    expect(linesOf(path)).toHaveLength(2);
  });

  it('appends from two processes at once: 400 whole lines, none interleaved, each process in order', async () => {
    const { home, path } = fixture();
    // More tries than the default 10: this measures integrity, not the retry budget (tested above), and a slow CI machine must not flake.
    const job = { home, mode: 'append' as const, count: 200, pad: 3_000, lockAttempts: 200 };
    const results = await Promise.all([runWorker({ ...job, tag: 'p1' }), runWorker({ ...job, tag: 'p2' })]);
    for (const r of results) expect({ code: r.code, stderr: r.stderr, stdout: r.stdout }).toEqual({ code: 0, stderr: '', stdout: 'done' });
    const lines = parsedLines(path);
    expect(lines).toHaveLength(400);
    expect(new Set(lines.map((l) => l.id)).size).toBe(400);
    for (const tag of ['p1', 'p2']) {
      const seq = lines.filter((l) => l.text.startsWith(`${tag}:`)).map((l) => Number(l.text.split(':')[1]));
      expect(seq).toEqual(Array.from({ length: 200 }, (_, i) => i));
    }
    for (const l of lines) expect(l.text).toMatch(/^p[12]:\d+:y{3000}$/);
    expect(modeOf(path)).toBe(0o600);
  });

  it('appends and trims from two processes at once: whole lines only, under the cap, newest kept', async () => {
    const { home, path, history } = fixture();
    const job = { home, mode: 'append' as const, count: 200, pad: 500, maxBytes: 20_000, lockAttempts: 200 };
    const results = await Promise.all([runWorker({ ...job, tag: 'p1' }), runWorker({ ...job, tag: 'p2' })]);
    for (const r of results) expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: '' });
    const lines = parsedLines(path);
    expect(sizeOf(path)).toBeLessThanOrEqual(20_000);
    expect(new Set(lines.map((l) => l.id)).size).toBe(lines.length);
    for (const tag of ['p1', 'p2']) {
      const seq = lines.filter((l) => l.text.startsWith(`${tag}:`)).map((l) => Number(l.text.split(':')[1]));
      expect(seq).toEqual([...seq].sort((a, b) => a - b));
    }
    expect(lines.at(-1)?.text).toMatch(/^p[12]:199:/);
    expect((await history.list({ limit: 1 }))[0]?.id).toBe(lines.at(-1)?.id);
    expect(fs.existsSync(`${path}.trim`)).toBe(false);
  });
});

describe('torn and bad lines', () => {
  it('skips and reports a torn last line; the next append starts a new line after it', async () => {
    const { history, path, issues } = fixture();
    const [a, b] = await fill(history, 2);
    fs.appendFileSync(path, '{"id":"01HX","session_id":"s","te');
    expect(await history.list()).toEqual([b, a]);
    expect(issues).toEqual([{ kind: 'torn_tail', path, offset: expect.any(Number), detail: expect.stringMatching(/without a newline/) }]);
    issues.length = 0;
    const c = await history.append(SESSION, 'after the tear');
    expect(issues.map((i) => i.kind)).toEqual(['torn_tail']);
    issues.length = 0;
    expect(await history.list()).toEqual([c, b, a]);
    // The fragment is now a line of its own: skipped as a bad line, its content never quoted.
    expect(issues.map((i) => i.kind)).toEqual(['bad_line']);
    expect(issues[0]?.detail).not.toContain('session_id');
    expect(read(path).endsWith(`${JSON.stringify({ id: c?.id, session_id: SESSION, ts: c?.ts, text: 'after the tear' })}\n`)).toBe(true);
  });

  it('skips lines that are not entries and reports each', async () => {
    const { history, path, issues } = fixture();
    const [a] = await fill(history, 1);
    fs.appendFileSync(path, 'not json\n{"id":"bad","session_id":"s","ts":1,"text":"t"}\n\n[1]\n');
    const [b] = await fill(history, 1);
    expect(await history.list()).toEqual([b, a]);
    expect(issues.map((i) => i.kind)).toEqual(['bad_line', 'bad_line', 'bad_line']);
  });
});

describe('streaming reads', () => {
  it('reads a limited list from the end only, and finds old entries across chunk boundaries', async () => {
    const faulty = new FaultyFileSystem();
    const { history } = fixture({ fs: faulty });
    // Long lines with multi-byte characters, so lines and characters straddle the 64 KiB chunks.
    const entries = await history.appendMany(
      Array.from({ length: 400 }, (_, i) => ({ sessionId: i % 2 ? SESSION : OTHER, text: `${i} ${'é🎉'.repeat(50 + ((i * 37) % 400))}` })),
    );
    const huge = await history.append(SESSION, `huge ${'ü'.repeat(200_000)}`);
    const readsBefore = faulty.callsOf('read').length;
    expect((await history.list({ limit: 1 }))[0]).toEqual(huge);
    expect(faulty.callsOf('read').length - readsBefore).toBeLessThanOrEqual(8);
    const oldest = entries[0] as HistoryEntry;
    expect(await history.lookup(oldest.id)).toEqual(oldest);
    const all = await history.list({ limit: 1_000 });
    expect(all).toEqual([huge, ...entries.slice().reverse()]);
    expect(await history.search('399 ')).toEqual([entries[399]]);
  });
});
