/**
 * `colloquy history [search TEXT]` as a user runs it: the built executable in a child process,
 * each test with its own COLLOQUY_HOME, the history made by `colloquy exec` turns.
 */
import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { removeTempDirs, runCli, tempDir, ULID, ULID_IN_TEXT } from './helpers.js';

afterEach(removeTempDirs);

interface Entry {
  id: string;
  sessionId: string;
  ts: number;
  text: string;
}

/** Run `colloquy exec` (or `exec resume <id>`) with one prompt; the conversation id. */
async function exec(home: string, prompt: string, resume?: string): Promise<string> {
  const r = await runCli(resume ? ['exec', 'resume', resume, prompt] : ['exec', prompt], { home });
  expect(r.code, r.stderr).toBe(0);
  const id = ULID_IN_TEXT.exec(r.stderr)?.[0];
  expect(id, r.stderr).toMatch(ULID);
  return id as string;
}

async function entriesOf(home: string, ...args: string[]): Promise<Entry[]> {
  const r = await runCli(['history', ...args, '--json'], { home });
  expect(r.code, r.stderr).toBe(0);
  expect(r.stdout.trimEnd().split('\n')).toHaveLength(1);
  const out = JSON.parse(r.stdout) as { entries: Entry[] };
  expect(Object.keys(out)).toEqual(['entries']);
  return out.entries;
}

/** Three messages in two conversations: `first` (a), `second` (b), `third` (a again). */
async function threeMessages(home: string): Promise<{ a: string; b: string }> {
  const a = await exec(home, 'first message about Apples');
  const b = await exec(home, 'second message about pears');
  await exec(home, 'third message, apples again', a);
  return { a, b };
}

describe('colloquy history', () => {
  it('lists every user message of every conversation, newest first: time, conversation, text', async () => {
    const home = await tempDir('colloquy-home-');
    const start = Math.floor(Date.now() / 1000);
    const { a, b } = await threeMessages(home);
    const r = await runCli(['history'], { home });
    expect(r.code, r.stderr).toBe(0);
    const rows = r.stdout.trimEnd().split('\n');
    expect(rows).toHaveLength(3);
    const time = '\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\dZ';
    expect(rows[0]).toMatch(new RegExp(`^${time}  ${a}  third message, apples again$`));
    expect(rows[1]).toMatch(new RegExp(`^${time}  ${b}  second message about pears$`));
    expect(rows[2]).toMatch(new RegExp(`^${time}  ${a}  first message about Apples$`));
    for (const row of rows) {
      const t = Date.parse(row.slice(0, 20)) / 1000;
      expect(t).toBeGreaterThanOrEqual(start);
      expect(t).toBeLessThanOrEqual(Math.ceil(Date.now() / 1000));
    }
    expect(r.stderr).toBe('');
  }, 30_000);

  it('--json prints { entries: [{ id, sessionId, ts, text }] }, newest first, ts in seconds', async () => {
    const home = await tempDir('colloquy-home-');
    const start = Math.floor(Date.now() / 1000);
    const { a, b } = await threeMessages(home);
    const entries = await entriesOf(home);
    expect(entries.map((e) => [e.sessionId, e.text])).toEqual([
      [a, 'third message, apples again'],
      [b, 'second message about pears'],
      [a, 'first message about Apples'],
    ]);
    for (const e of entries) {
      expect(Object.keys(e).sort()).toEqual(['id', 'sessionId', 'text', 'ts']);
      expect(e.id).toMatch(ULID);
      expect(Number.isInteger(e.ts)).toBe(true);
      expect(e.ts).toBeGreaterThanOrEqual(start);
      expect(e.ts).toBeLessThanOrEqual(Math.ceil(Date.now() / 1000));
    }
    expect(new Set(entries.map((e) => e.id)).size).toBe(3);
    // Entry ids are time-ordered.
    expect(entries.map((e) => e.id)).toEqual([...entries.map((e) => e.id)].sort().reverse());
  }, 30_000);

  it('--limit keeps the newest; --session keeps one conversation (an id in any case)', async () => {
    const home = await tempDir('colloquy-home-');
    const { a, b } = await threeMessages(home);
    expect((await entriesOf(home, '--limit', '2')).map((e) => e.text)).toEqual(['third message, apples again', 'second message about pears']);
    expect((await entriesOf(home, '--session', a)).map((e) => e.text)).toEqual(['third message, apples again', 'first message about Apples']);
    expect((await entriesOf(home, '--session', b.toLowerCase())).map((e) => e.text)).toEqual(['second message about pears']);
    expect(await entriesOf(home, '--session', '01ARZ3NDEKTSV4RRFFQ69G5FAV')).toEqual([]);
    expect((await entriesOf(home, '-n', '1', '--session', a)).map((e) => e.text)).toEqual(['third message, apples again']);
  }, 30_000);

  it('a message of several lines is one row; --json keeps it whole', async () => {
    const home = await tempDir('colloquy-home-');
    const a = await exec(home, 'line one\nline two');
    const r = await runCli(['history'], { home });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.trimEnd().split('\n')).toHaveLength(1);
    expect(r.stdout).toContain(`${a}  line one ⏎ line two`);
    expect((await entriesOf(home))[0]?.text).toBe('line one\nline two');
  });

  it('an empty history: nothing on stdout, a note on stderr, exit 0; --json has no entries; no file is made', async () => {
    const home = await tempDir('colloquy-home-');
    const r = await runCli(['history'], { home });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain('no messages');
    expect(await entriesOf(home)).toEqual([]);
    const search = await runCli(['history', 'search', 'anything'], { home });
    expect(search.code).toBe(0);
    expect(search.stdout).toBe('');
    expect(await entriesOf(home, 'search', 'anything')).toEqual([]);
    expect(existsSync(join(home, 'history.jsonl'))).toBe(false);
    // A home that does not exist is an empty history, and is not created.
    const missing = join(home, 'not-there');
    const m = await runCli(['history', '--home', missing], { home });
    expect(m.code, m.stderr).toBe(0);
    expect(m.stdout).toBe('');
    expect(existsSync(missing)).toBe(false);
  });

  it('a damaged line is skipped and reported on stderr; a last line still being written is skipped quietly', async () => {
    const home = await tempDir('colloquy-home-');
    const { a, b } = await threeMessages(home);
    const path = join(home, 'history.jsonl');
    const lines = (await readFile(path, 'utf8')).split('\n');
    lines[1] = '{"not": "an entry"';
    await writeFile(path, `${lines.join('\n')}{"id":"01ARZ3NDEKTSV4RRFFQ69G5FAV","session_id":"${b}","ts":1,"te`);
    const r = await runCli(['history', '--json'], { home });
    expect(r.code, r.stderr).toBe(0);
    expect((JSON.parse(r.stdout) as { entries: Entry[] }).entries.map((e) => [e.sessionId, e.text])).toEqual([
      [a, 'third message, apples again'],
      [a, 'first message about Apples'],
    ]);
    const warnings = r.stderr.trimEnd().split('\n');
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(new RegExp(`^warning: ${path.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: the line at byte \\d+ is not a history entry`));
    const search = await runCli(['history', 'search', 'message'], { home });
    expect(search.code).toBe(0);
    expect(search.stdout.trimEnd().split('\n')).toHaveLength(2);
    expect(search.stderr).toContain('is not a history entry');
  }, 30_000);

  it('ephemeral conversations leave no history', async () => {
    const home = await tempDir('colloquy-home-');
    const r = await runCli(['exec', '--ephemeral', 'not kept anywhere'], { home });
    expect(r.code, r.stderr).toBe(0);
    expect(await entriesOf(home)).toEqual([]);
  });
});

describe('colloquy history search', () => {
  it('finds the messages containing TEXT, ignoring case, newest first', async () => {
    const home = await tempDir('colloquy-home-');
    const { a } = await threeMessages(home);
    const r = await runCli(['history', 'search', 'APPLES'], { home });
    expect(r.code, r.stderr).toBe(0);
    const rows = r.stdout.trimEnd().split('\n');
    expect(rows).toHaveLength(2);
    expect(rows[0]).toMatch(new RegExp(`  ${a}  third message, apples again$`));
    expect(rows[1]).toMatch(new RegExp(`  ${a}  first message about Apples$`));
    expect((await entriesOf(home, 'search', 'pears')).map((e) => e.text)).toEqual(['second message about pears']);
    expect((await entriesOf(home, 'search', 'message')).map((e) => e.text)).toHaveLength(3);
    expect((await entriesOf(home, 'search', 'message', '--limit', '1')).map((e) => e.text)).toEqual(['third message, apples again']);
  }, 30_000);

  it('the options work before or after `search`', async () => {
    const home = await tempDir('colloquy-home-');
    const { b } = await threeMessages(home);
    const before = await runCli(['history', '--json', '--session', b, 'search', 'message'], { home });
    expect(before.code, before.stderr).toBe(0);
    expect((JSON.parse(before.stdout) as { entries: Entry[] }).entries.map((e) => e.text)).toEqual(['second message about pears']);
    const after = await runCli(['history', 'search', 'message', '--session', b, '--json'], { home });
    expect(after.stdout).toBe(before.stdout);
  }, 30_000);

  it('nothing matching: empty stdout, a note naming the text on stderr, exit 0', async () => {
    const home = await tempDir('colloquy-home-');
    await exec(home, 'something');
    const r = await runCli(['history', 'search', 'kumquat'], { home });
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain('"kumquat"');
  });
});

describe('colloquy history: usage', () => {
  it('bad options are usage errors (exit 2); a bad --session id fails (exit 1 or 2)', async () => {
    const home = await tempDir('colloquy-home-');
    for (const args of [['--limit', '0'], ['--limit', 'x'], ['--bogus'], ['search']]) {
      const r = await runCli(['history', ...args], { home });
      expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(2);
      expect(r.stdout).toBe('');
    }
    const bad = await runCli(['history', '--session', '../x'], { home });
    expect([1, 2]).toContain(bad.code);
    expect(bad.stderr).toContain('is not a conversation id');
  });

  it.each([
    [['history'], ['--home', '--limit', '--session', '--json', '--help']],
    [['history', 'search'], ['--home', '--limit', '--session', '--json', '--help']],
  ])('%j --help exits 0 and lists its options', async (command, options) => {
    const home = await tempDir('colloquy-home-');
    const r = await runCli([...command, '--help'], { home });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain(`Usage: colloquy ${command.join(' ')}`);
    for (const option of options) expect(r.stdout).toContain(option);
  });
});
