/**
 * `colloquy sessions …` as a user runs it: the built executable in a child process, each test
 * with its own COLLOQUY_HOME. Conversations are made with the runtime API (or `colloquy exec`)
 * and then listed, shown, forked, archived, deleted, exported, imported and reindexed.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Command } from 'commander';
import { afterEach, describe, expect, it } from 'vitest';
import { createRuntime, type ApprovalPolicy, type ConversationRecord, type ConversationSummary, type LogRecord } from '../../src/index.js';
import { program } from '../../src/cli/main.js';
import { CLI, cliEnv, filesUnder, findLog, logFiles, removeTempDirs, runCli, tempDir, ULID } from './helpers.js';
import { startInTmux, type TmuxCli } from './tmux.js';

afterEach(removeTempDirs);

const CODEX_FIXTURES = resolve(dirname(fileURLToPath(import.meta.url)), '../fixtures/codex');

interface Seed {
  readonly name?: string;
  readonly turns: readonly string[];
  readonly approvalPolicy?: ApprovalPolicy;
}

/** Make conversations in `home` with the runtime API (local agent); their ids, in creation order. */
async function seed(home: string, seeds: readonly Seed[]): Promise<string[]> {
  const runtime = createRuntime({ home });
  try {
    const ids: string[] = [];
    for (const s of seeds) {
      const convo = await runtime.start({ approvalPolicy: s.approvalPolicy ?? 'never', ...(s.name !== undefined ? { name: s.name } : {}) });
      for (const text of s.turns) await convo.run(text);
      ids.push(convo.id);
    }
    return ids;
  } finally {
    await runtime.shutdown();
  }
}

/** One more turn of an existing conversation (in a runtime of its own, as another process would). */
async function continueWith(home: string, id: string, text: string): Promise<void> {
  const runtime = createRuntime({ home });
  try {
    const convo = await runtime.resume(id);
    await convo.run(text);
  } finally {
    await runtime.shutdown();
  }
}

/** `runtime.read(id)` and the log's records as the store reads them. */
async function readBack(home: string, id: string): Promise<{ record: ConversationRecord; records: LogRecord[] }> {
  const runtime = createRuntime({ home });
  try {
    const record = await runtime.read(id);
    const records: LogRecord[] = [];
    for await (const r of runtime.store.read(id)) records.push(r);
    return { record, records };
  } finally {
    await runtime.shutdown();
  }
}

interface ListJson {
  items: ConversationSummary[];
  nextCursor: string | null;
}

async function listJson(home: string, ...args: string[]): Promise<ListJson> {
  const r = await runCli(['sessions', 'list', '--json', ...args], { home });
  expect(r.code, r.stderr).toBe(0);
  return JSON.parse(r.stdout) as ListJson;
}

async function listedIds(home: string, ...args: string[]): Promise<string[]> {
  return (await listJson(home, '--limit', '1000', ...args)).items.map((s) => s.id);
}

/** Every page of `sessions list --json --limit <n>`, following `nextCursor`; the ids in order. */
async function pageThrough(home: string, limit: number, ...args: string[]): Promise<{ ids: string[]; pages: number }> {
  const ids: string[] = [];
  let cursor: string | null = null;
  let pages = 0;
  do {
    const page = await listJson(home, '--limit', String(limit), ...args, ...(cursor !== null ? ['--cursor', cursor] : []));
    expect(page.items.length).toBeLessThanOrEqual(limit);
    ids.push(...page.items.map((s) => s.id));
    cursor = page.nextCursor;
    pages++;
    expect(pages, 'the listing does not end').toBeLessThan(50);
  } while (cursor !== null);
  return { ids, pages };
}

/** Run a command line in `sh` with COLLOQUY_HOME=`home`. */
function runShell(script: string, home: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((done) => {
    execFile('sh', ['-c', script], { env: cliEnv(home) }, (err, stdout, stderr) => {
      done({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

/** Every file under `home`, with its bytes. */
async function snapshot(home: string): Promise<Map<string, string>> {
  const files = existsSync(home) ? await filesUnder(home) : [];
  const out = new Map<string, string>();
  for (const f of files) out.set(f, (await readFile(join(home, f))).toString('base64'));
  return out;
}

/** A summary without its update time (which the rebuilt index takes from the log's modification time). */
function withoutUpdate(s: ConversationSummary): Omit<ConversationSummary, 'updatedAt'> {
  const { updatedAt: _updated, ...rest } = s;
  return rest;
}

describe('colloquy sessions list', () => {
  it('lists conversations newest first, one row each with id, model and name', async () => {
    const home = await tempDir('colloquy-home-');
    const [a, b, c] = await seed(home, [{ turns: ['first'] }, { name: 'Second one', turns: ['second'] }, { turns: ['third'] }]);
    const r = await runCli(['sessions', 'list'], { home });
    expect(r.code, r.stderr).toBe(0);
    const rows = r.stdout.trimEnd().split('\n');
    expect(rows.map((row) => row.split(/\s+/)[0])).toEqual([c, b, a]);
    expect(rows[1]).toMatch(new RegExp(`^${b}\\s+\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\dZ\\s+local\\s+"Second one"$`));
    expect(rows[0]).toMatch(/\s-$/);
    // One page holds everything: no cursor is offered.
    expect(r.stderr).not.toContain('next cursor');
  });

  it('--json prints { items, nextCursor } with each conversation summary', async () => {
    const home = await tempDir('colloquy-home-');
    const [a, b] = await seed(home, [{ name: 'named', turns: ['hello'] }, { turns: [] }]);
    const page = await listJson(home);
    expect(Object.keys(page).sort()).toEqual(['items', 'nextCursor']);
    expect(page.nextCursor).toBeNull();
    expect(page.items.map((s) => s.id)).toEqual([b, a]);
    const named = page.items[1] as ConversationSummary;
    expect(named).toMatchObject({ id: a, name: 'named', archived: false, model: 'local', cwd: expect.any(String) as string });
    expect(new Date(named.createdAt).toISOString()).toBe(named.createdAt);
    expect(new Date(named.updatedAt).toISOString()).toBe(named.updatedAt);
    expect(Date.parse(named.updatedAt)).toBeGreaterThanOrEqual(Date.parse(named.createdAt));
    expect(page.items[0]).not.toHaveProperty('name');
  });

  it('--limit and --cursor page through every conversation exactly once, in both sorts', async () => {
    const home = await tempDir('colloquy-home-');
    const ids = await seed(
      home,
      Array.from({ length: 7 }, (_, i) => ({ turns: [`message ${i}`] })),
    );
    const newestFirst = [...ids].reverse();
    for (const sort of ['created', 'updated']) {
      const all = await listedIds(home, '--sort', sort);
      expect(new Set(all)).toEqual(new Set(ids));
      for (const limit of [1, 3, 7]) {
        const { ids: paged, pages } = await pageThrough(home, limit, '--sort', sort);
        expect(paged, `--sort ${sort} --limit ${limit}`).toEqual(all);
        expect(pages).toBe(Math.ceil(7 / limit));
      }
    }
    expect(await listedIds(home, '--sort', 'created')).toEqual(newestFirst);
  }, 60_000);

  it('the human listing prints the next page command on stderr, and following it reaches the end', async () => {
    const home = await tempDir('colloquy-home-');
    const ids = await seed(home, Array.from({ length: 5 }, (_, i) => ({ turns: [`m${i}`] })));
    const seen: string[] = [];
    let args = ['sessions', 'list', '--limit', '2', '--sort', 'created'];
    for (let pages = 0; ; pages++) {
      expect(pages).toBeLessThan(10);
      const r = await runCli(args, { home });
      expect(r.code, r.stderr).toBe(0);
      seen.push(...r.stdout.trimEnd().split('\n').map((row) => row.split(/\s+/)[0] as string));
      const next = /^next page: colloquy (.+)$/m.exec(r.stderr)?.[1];
      if (next === undefined) {
        expect(r.stderr).not.toContain('next cursor');
        break;
      }
      expect(next).toContain('--limit 2');
      expect(next).toContain('--sort created');
      args = next.split(' ');
    }
    expect(seen).toEqual([...ids].reverse());
  });

  it('the next page command works as printed in a shell: same --home, --name quoted', async () => {
    const home = await tempDir("colloquy home's-");
    const name = `it's "quoted" $HOME`;
    const ids = await seed(home, [{ name, turns: [] }, { turns: [] }, { name: `${name} too`, turns: [] }, { name: `and ${name}`, turns: [] }]);
    const elsewhere = await tempDir('colloquy-home-');
    const first = await runCli(['sessions', 'list', '--home', home, '--name', name, '--limit', '1', '--sort', 'created'], { home: elsewhere });
    expect(first.code, first.stderr).toBe(0);
    const seen = [first.stdout.split(/\s+/)[0]];
    let next = /^next page: (colloquy .+)$/m.exec(first.stderr)?.[1];
    for (let pages = 0; next !== undefined; pages++) {
      expect(pages).toBeLessThan(5);
      // COLLOQUY_HOME names another (empty) home: the printed command must carry --home.
      const r = await runShell(`colloquy() { "${process.execPath}" "${CLI}" "$@"; }; ${next}`, elsewhere);
      expect(r.code, r.stderr).toBe(0);
      seen.push(r.stdout.split(/\s+/)[0]);
      next = /^next page: (colloquy .+)$/m.exec(r.stderr)?.[1];
    }
    expect(seen).toEqual([ids[3], ids[2], ids[0]]);
  });

  it('--sort updated puts the conversation continued last first; --sort created does not', async () => {
    const home = await tempDir('colloquy-home-');
    const [a, b, c] = await seed(home, [{ turns: ['a'] }, { turns: ['b'] }, { turns: ['c'] }]);
    await continueWith(home, a as string, 'a again');
    expect(await listedIds(home, '--sort', 'created')).toEqual([c, b, a]);
    expect(await listedIds(home, '--sort', 'updated')).toEqual([a, c, b]);
    // The default order is by update time.
    expect(await listedIds(home)).toEqual([a, c, b]);
  });

  it('--name keeps the conversations whose name contains the text, ignoring case', async () => {
    const home = await tempDir('colloquy-home-');
    const [alpha, , alpha2] = await seed(home, [
      { name: 'Alpha project', turns: [] },
      { name: 'beta', turns: [] },
      { name: 'the ALPHA review', turns: [] },
      { turns: [] },
    ]);
    expect(await listedIds(home, '--name', 'alpha')).toEqual([alpha2, alpha]);
    expect(await listedIds(home, '--name', 'nothing like it')).toEqual([]);
    const r = await runCli(['sessions', 'list', '--name', 'nothing like it'], { home });
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain('no conversations');
  });

  it('an empty home lists nothing (exit 0) and says so on stderr', async () => {
    const home = await tempDir('colloquy-home-');
    const r = await runCli(['sessions', 'list'], { home });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain('no conversations');
    expect(await listJson(home)).toEqual({ items: [], nextCursor: null });
    // A home that does not exist is listed as empty, and is not created.
    const missing = join(home, 'not-there');
    const m = await runCli(['sessions', 'list', '--home', missing], { home });
    expect(m.code, m.stderr).toBe(0);
    expect(m.stdout).toBe('');
    expect(m.stderr).toContain('no conversations');
    expect(JSON.parse((await runCli(['sessions', 'list', '--json', '--home', missing], { home })).stdout)).toEqual({ items: [], nextCursor: null });
    expect(existsSync(missing)).toBe(false);
  });

  it('bad flags are usage errors (exit 2)', async () => {
    const home = await tempDir('colloquy-home-');
    await seed(home, [{ turns: [] }]);
    for (const args of [['--limit', '0'], ['--limit', '1001'], ['--limit', 'ten'], ['--sort', 'name'], ['--cursor', 'not-a-cursor'], ['--bogus']]) {
      const r = await runCli(['sessions', 'list', ...args], { home });
      expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(2);
      expect(r.stderr).toMatch(/error/);
      expect(r.stdout).toBe('');
    }
  });

  it('a cursor of one sort is refused by the other (exit 2)', async () => {
    const home = await tempDir('colloquy-home-');
    await seed(home, [{ turns: [] }, { turns: [] }]);
    const page = await listJson(home, '--limit', '1', '--sort', 'created');
    expect(page.nextCursor).toEqual(expect.any(String));
    const r = await runCli(['sessions', 'list', '--sort', 'updated', '--cursor', page.nextCursor as string], { home });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('cursor');
  });
});

describe('colloquy sessions show', () => {
  it('shows the header, every turn with its status and items, commands with their output', async () => {
    const home = await tempDir('colloquy-home-');
    const [id] = await seed(home, [{ name: 'Shown', turns: ['hello there', '!echo shown-output'] }]);
    const r = await runCli(['sessions', 'show', id as string], { home });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain(`conversation ${id}  "Shown"`);
    expect(r.stdout).toMatch(/model local · approvals never · cwd \S+/);
    expect(r.stdout).toContain('Turn 1 · completed\n  › hello there\n  Turn 1. You said: "hello there". This is the first turn of our conversation.\n');
    expect(r.stdout).toContain('Turn 2 · completed\n  › !echo shown-output\n  $ echo shown-output  (exit code 0)\n      shown-output\n');
    expect(r.stdout).not.toContain('Pending');
  });

  it('accepts the id in lower case', async () => {
    const home = await tempDir('colloquy-home-');
    const [id] = await seed(home, [{ turns: ['hi'] }]);
    const r = await runCli(['sessions', 'show', (id as string).toLowerCase()], { home });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain(`conversation ${id}`);
  });

  it('says when a conversation has no turns', async () => {
    const home = await tempDir('colloquy-home-');
    const [id] = await seed(home, [{ turns: [] }]);
    const r = await runCli(['sessions', 'show', id as string], { home });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('(no turns yet)');
  });

  it('--json prints runtime.read plus archived, createdAt and updatedAt', async () => {
    const home = await tempDir('colloquy-home-');
    const [id] = await seed(home, [{ name: 'json', turns: ['one', 'two'] }]);
    const r = await runCli(['sessions', 'show', id as string, '--json'], { home });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.trimEnd().split('\n')).toHaveLength(1);
    const shown = JSON.parse(r.stdout) as ConversationRecord & { archived: boolean; createdAt: string; updatedAt: string; rolledBack: string[] };
    const { record } = await readBack(home, id as string);
    const { archived, createdAt, updatedAt, rolledBack, ...rest } = shown;
    expect(rest).toEqual(JSON.parse(JSON.stringify(record)));
    expect(rolledBack).toEqual([]);
    expect(archived).toBe(false);
    expect(createdAt).toBe(record.meta.created_at);
    expect(Date.parse(updatedAt)).toBeGreaterThanOrEqual(Date.parse(createdAt));
    expect(shown.turns.map((t) => t.items.map((i) => i.type))).toEqual([
      ['user_message', 'agent_message'],
      ['user_message', 'agent_message'],
    ]);
  });

  it('marks the turns a rollback took out of the model history (show, --json, Markdown)', async () => {
    const home = await tempDir('colloquy-home-');
    const runtime = createRuntime({ home });
    let id: string;
    try {
      const convo = await runtime.start({ approvalPolicy: 'never' });
      id = convo.id;
      for (const text of ['one', 'two', 'three']) await convo.run(text);
      convo.submit({ type: 'rollback', turns: 1 });
      const after = await convo.run('four');
      // The agent no longer sees turn 3.
      expect(after.finalResponse).toContain('Before that you said: "two"');
    } finally {
      await runtime.shutdown();
    }
    const { record } = await readBack(home, id);
    const third = record.turns[2]?.id as string;
    const r = await runCli(['sessions', 'show', id], { home });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('Turn 2 · completed\n');
    expect(r.stdout).toContain('Turn 3 · completed · rolled back\n  › three\n');
    expect(r.stdout).toContain('Turn 4 · completed\n  › four\n');
    const json = JSON.parse((await runCli(['sessions', 'show', id, '--json'], { home })).stdout) as { rolledBack: string[] };
    expect(json.rolledBack).toEqual([third]);
    const md = (await runCli(['sessions', 'export', id, '--format', 'md'], { home })).stdout;
    expect(md).toContain('## Turn 3 — completed (rolled back)');
    expect(md).toContain('## Turn 4 — completed\n');
    // A fork made after the rollback shows it too.
    const fork = (await runCli(['sessions', 'fork', id, '--json'], { home })).stdout;
    const forkId = (JSON.parse(fork) as { id: string }).id;
    expect((await runCli(['sessions', 'show', forkId], { home })).stdout).toContain('Turn 3 · completed · rolled back\n');
  });

  it('an unknown id: a clear message and exit 1', async () => {
    const home = await tempDir('colloquy-home-');
    await seed(home, [{ turns: [] }]);
    const missing = '01ARZ3NDEKTSV4RRFFQ69G5FAV';
    for (const args of [[], ['--json']]) {
      const r = await runCli(['sessions', 'show', missing, ...args], { home });
      expect(r.code).toBe(1);
      expect(r.stdout).toBe('');
      expect(r.stderr).toContain(`no conversation with id "${missing}"`);
    }
  });

  it('an invalid id is refused before any path is built from it (exit 1 or 2, nothing touched)', async () => {
    const home = await tempDir('colloquy-home-');
    await seed(home, [{ turns: ['x'] }]);
    const before = await snapshot(home);
    const outside = join(home, '..', `escape-${Date.now()}`);
    for (const bad of ['../../etc/passwd', relative(join(home, 'sessions', '2026', '01', '01'), outside), 'not-an-id', '01ARZ3NDEKTSV4RRFFQ69G5FA']) {
      for (const command of [['show'], ['export'], ['fork'], ['archive'], ['unarchive'], ['rm', '-y']]) {
        const [sub, ...flags] = command;
        const r = await runCli(['sessions', sub as string, bad, ...flags], { home });
        expect([1, 2], `${sub} ${bad}: ${r.stderr}`).toContain(r.code);
        expect(r.stderr).toContain('is not a conversation id');
        expect(r.stdout).toBe('');
      }
    }
    expect(existsSync(`${outside}.jsonl`)).toBe(false);
    expect(await snapshot(home)).toEqual(before);
  }, 60_000);

  it('an id whose ULID time overflows (first character 8 to Z) is refused as any bad id, exit 1, not a ULID error', async () => {
    const home = await tempDir('colloquy-home-');
    for (const args of [['sessions', 'show', 'ZZZZZZZZZZZZZZZZZZZZZZZZZZ'], ['sessions', 'export', '80000000000000000000000000'], ['exec', 'resume', 'ZZZZZZZZZZZZZZZZZZZZZZZZZZ', 'hi']]) {
      const r = await runCli(args, { home });
      expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(1);
      expect(r.stderr).toContain('is not a conversation id');
      expect(r.stderr).not.toMatch(/Malformed ULID/i);
    }
  });

  it('shows an imported Codex rollout, including an interrupted turn', async () => {
    const home = await tempDir('colloquy-home-');
    const imported = await runCli(['sessions', 'import', 'codex', join(CODEX_FIXTURES, 'rollout-interrupted-turn.jsonl')], { home });
    expect(imported.code, imported.stderr).toBe(0);
    const id = imported.stdout.split(/\s+/)[0] as string;
    const r = await runCli(['sessions', 'show', id], { home });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('imported from');
    expect(r.stdout).toContain('Turn 1 · completed\n  › Count to three.\n  One, two, three.\n');
    expect(r.stdout).toMatch(/Turn 2 · interrupted\n {2}› Now count to a million, slowly\.\n/);
  });
});

describe('colloquy sessions fork', () => {
  it('forks a whole conversation: prints the new id, the parent log is byte for byte unchanged', async () => {
    const home = await tempDir('colloquy-home-');
    const [parent] = await seed(home, [{ name: 'parent', turns: ['one', 'two', 'three'] }]);
    const parentLog = await findLog(home, parent as string);
    const bytes = await readFile(parentLog);
    const r = await runCli(['sessions', 'fork', parent as string], { home });
    expect(r.code, r.stderr).toBe(0);
    const child = r.stdout.trim();
    expect(child).toMatch(ULID);
    expect(child).not.toBe(parent);
    expect(r.stderr).toContain(`forked ${parent} into ${child}`);
    expect(await readFile(parentLog)).toEqual(bytes);
    expect(await logFiles(home)).toHaveLength(2);

    const [p, c] = [await readBack(home, parent as string), await readBack(home, child)];
    const texts = (rec: ConversationRecord): string[][] => rec.turns.map((t) => t.items.map((i) => ('text' in i ? String(i.text) : i.type)));
    expect(texts(c.record)).toEqual(texts(p.record));
    expect(c.record.meta.forked_from).toEqual({ id: parent, up_to_seq: (p.records.at(-1) as LogRecord).seq });
    expect(c.record.name).toBe('parent');
    const listed = (await listJson(home)).items.find((s) => s.id === child);
    expect(listed?.forkedFrom?.id).toBe(parent);
    expect((await runCli(['sessions', 'list'], { home })).stdout).toContain(`(fork of ${parent})`);
    // The fork goes on by itself; the parent does not see its turn.
    await continueWith(home, child, 'only in the fork');
    expect(await readFile(parentLog)).toEqual(bytes);
    expect((await readBack(home, child)).record.turns).toHaveLength(4);
  });

  it('--before-turn keeps the turns before the n-th; --json prints { id, forkedFrom, name }', async () => {
    const home = await tempDir('colloquy-home-');
    const [parent] = await seed(home, [{ turns: ['one', 'two', 'three'] }]);
    const bytes = await readFile(await findLog(home, parent as string));
    const r = await runCli(['sessions', 'fork', parent as string, '--before-turn', '2', '--name', 'just one', '--json'], { home });
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout) as { id: string; forkedFrom: { id: string; upToSeq: number }; name: string };
    expect(Object.keys(out).sort()).toEqual(['forkedFrom', 'id', 'name']);
    expect(out.id).toMatch(ULID);
    expect(out.name).toBe('just one');
    expect(out.forkedFrom.id).toBe(parent);
    const p = await readBack(home, parent as string);
    // The cut is just before the second turn started.
    expect(out.forkedFrom.upToSeq).toBe((p.record.turns[1]?.startSeq as number) - 1);
    const child = (await readBack(home, out.id)).record;
    expect(child.turns).toHaveLength(1);
    expect(child.turns[0]?.items[0]).toMatchObject({ type: 'user_message', text: 'one' });
    expect(child.name).toBe('just one');
    expect(await readFile(await findLog(home, parent as string))).toEqual(bytes);
    // The fork's own log starts where it left the source.
    const exported = (await runCli(['sessions', 'export', out.id], { home })).stdout.trimEnd().split('\n').map((l) => JSON.parse(l) as LogRecord);
    expect(exported[0]).toMatchObject({ type: 'session_meta', seq: out.forkedFrom.upToSeq + 1, payload: { id: out.id, forked_from: { id: parent, up_to_seq: out.forkedFrom.upToSeq } } });

    // --before-turn 1 keeps no turn at all.
    const empty = await runCli(['sessions', 'fork', parent as string, '--before-turn', '1', '--json'], { home });
    expect(empty.code, empty.stderr).toBe(0);
    expect((await readBack(home, (JSON.parse(empty.stdout) as { id: string }).id)).record.turns).toHaveLength(0);
  });

  it('--before-turn past the end or not a positive integer is a usage error (exit 2); an unknown id exit 1', async () => {
    const home = await tempDir('colloquy-home-');
    const [parent] = await seed(home, [{ turns: ['one', 'two'] }]);
    for (const n of ['4', '0', '-1', 'two']) {
      const r = await runCli(['sessions', 'fork', parent as string, '--before-turn', n], { home });
      expect(r.code, `--before-turn ${n}: ${r.stderr}`).toBe(2);
      expect(r.stderr).toContain('--before-turn');
    }
    expect((await runCli(['sessions', 'fork', parent as string, '--before-turn', '4'], { home })).stderr).toContain('use 1 to 3');
    const unknown = await runCli(['sessions', 'fork', '01ARZ3NDEKTSV4RRFFQ69G5FAV'], { home });
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain('no conversation with id');
    expect(await logFiles(home)).toHaveLength(1);
  });
});

describe('colloquy sessions archive / unarchive', () => {
  it('moves a conversation between the default and the archived listing, and back', async () => {
    const home = await tempDir('colloquy-home-');
    const [a, b] = await seed(home, [{ turns: ['a'] }, { turns: ['b'] }]);
    const archived = await runCli(['sessions', 'archive', a as string], { home });
    expect(archived.code, archived.stderr).toBe(0);
    expect(archived.stdout).toBe(`archived ${a}\n`);
    expect(await listedIds(home)).toEqual([b]);
    const inArchive = await listJson(home, '--archived');
    expect(inArchive.items.map((s) => s.id)).toEqual([a]);
    expect(inArchive.items[0]?.archived).toBe(true);
    expect((await runCli(['sessions', 'list', '--archived'], { home })).stdout).toContain('(archived)');
    expect((await logFiles(home)).some((f) => f.endsWith(`${a}.jsonl`))).toBe(false);
    // Still readable, and marked archived.
    const shown = await runCli(['sessions', 'show', a as string], { home });
    expect(shown.code, shown.stderr).toBe(0);
    expect(shown.stdout).toContain('(archived)');
    expect((JSON.parse((await runCli(['sessions', 'show', a as string, '--json'], { home })).stdout) as { archived: boolean }).archived).toBe(true);

    // Again: nothing changes, still exit 0.
    const again = await runCli(['sessions', 'archive', a as string], { home });
    expect(again.code).toBe(0);
    expect(again.stdout).toContain('already archived');

    const back = await runCli(['sessions', 'unarchive', a as string], { home });
    expect(back.code, back.stderr).toBe(0);
    expect(back.stdout).toBe(`unarchived ${a}\n`);
    expect(new Set(await listedIds(home))).toEqual(new Set([a, b]));
    expect(await listedIds(home, '--archived')).toEqual([]);
    expect((await runCli(['sessions', 'unarchive', a as string], { home })).stdout).toContain('already not archived');
  });

  it('an archived conversation can still be exported and continued', async () => {
    const home = await tempDir('colloquy-home-');
    const [a] = await seed(home, [{ turns: ['a'] }]);
    expect((await runCli(['sessions', 'archive', a as string], { home })).code).toBe(0);
    const exported = await runCli(['sessions', 'export', a as string], { home });
    expect(exported.code, exported.stderr).toBe(0);
    expect(exported.stdout.trimEnd().split('\n').length).toBeGreaterThan(1);
    const resumed = await runCli(['exec', 'resume', a as string, 'again'], { home });
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(resumed.stdout).toContain('Turn 2');
  });

  it('an unknown id: exit 1 with a clear message', async () => {
    const home = await tempDir('colloquy-home-');
    for (const sub of ['archive', 'unarchive']) {
      const r = await runCli(['sessions', sub, '01ARZ3NDEKTSV4RRFFQ69G5FAV'], { home });
      expect(r.code).toBe(1);
      expect(r.stderr).toContain('no conversation with id "01ARZ3NDEKTSV4RRFFQ69G5FAV"');
    }
  });
});

describe('colloquy sessions rm', () => {
  it('without --yes and stdin not a terminal it refuses (exit 2) and deletes nothing', async () => {
    const home = await tempDir('colloquy-home-');
    const [id] = await seed(home, [{ turns: ['keep me'] }]);
    const before = await snapshot(home);
    const r = await runCli(['sessions', 'rm', id as string], { home, input: 'y\n' });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('--yes');
    expect(r.stderr).toContain('not deleting');
    expect(await snapshot(home)).toEqual(before);
    expect((await runCli(['sessions', 'show', id as string], { home })).code).toBe(0);
  });

  it('with -y deletes the log, its side files and its listing entry; show then says not found', async () => {
    const home = await tempDir('colloquy-home-');
    const [gone, kept] = await seed(home, [{ turns: ['delete me'] }, { turns: ['keep me'] }]);
    const log = await findLog(home, gone as string);
    // Bytes cut from a torn last line are kept beside the log.
    await writeFile(`${log}.torn`, '{"ts":', { mode: 0o600 });
    const leases = join(home, 'leases');
    const sideFiles = (await filesUnder(home)).filter((f) => f.includes(gone as string) && !f.endsWith(`${gone}.jsonl`));
    expect(sideFiles.length).toBeGreaterThan(0);

    const r = await runCli(['sessions', 'rm', gone as string, '-y'], { home });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe(`deleted ${gone}\n`);
    expect(existsSync(log)).toBe(false);
    expect((await filesUnder(home)).filter((f) => f.includes(gone as string))).toEqual([]);
    if (existsSync(leases)) expect((await filesUnder(leases)).some((f) => f.includes(gone as string))).toBe(false);
    expect(await listedIds(home)).toEqual([kept]);
    expect(await listedIds(home, '--archived')).toEqual([]);

    const shown = await runCli(['sessions', 'show', gone as string], { home });
    expect(shown.code).toBe(1);
    expect(shown.stderr).toContain(`no conversation with id "${gone}"`);
    // Rebuilding the index from the logs does not bring it back.
    expect((await runCli(['sessions', 'reindex'], { home })).code).toBe(0);
    expect(await listedIds(home)).toEqual([kept]);
    // The other conversation is untouched.
    expect((await readBack(home, kept as string)).record.turns).toHaveLength(1);

    const twice = await runCli(['sessions', 'rm', gone as string, '--yes'], { home });
    expect(twice.code).toBe(1);
    expect(twice.stderr).toContain('no conversation with id');
  });

  it('refuses to delete a conversation others were forked from (exit 1), as they read their first turns from it', async () => {
    const home = await tempDir('colloquy-home-');
    const [parent] = await seed(home, [{ turns: ['shared start'] }]);
    const fork = (await runCli(['sessions', 'fork', parent as string], { home })).stdout.trim();
    expect(fork).toMatch(ULID);
    // Archived forks count too.
    expect((await runCli(['sessions', 'archive', fork], { home })).code).toBe(0);
    const parentLog = await findLog(home, parent as string);
    const bytes = await readFile(parentLog);
    const r = await runCli(['sessions', 'rm', '--yes', parent as string], { home });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`not deleting ${parent}`);
    expect(r.stderr).toContain(fork);
    expect(await readFile(parentLog)).toEqual(bytes);
    const shown = await runCli(['sessions', 'show', fork], { home });
    expect(shown.code, shown.stderr).toBe(0);
    expect(shown.stdout).toContain('› shared start');

    // Once the fork is gone, the source can go.
    expect((await runCli(['sessions', 'rm', '--yes', fork], { home })).code).toBe(0);
    const again = await runCli(['sessions', 'rm', '--yes', parent as string], { home });
    expect(again.code, again.stderr).toBe(0);
    expect(await listedIds(home)).toEqual([]);
  });

  it('deletes an archived conversation', async () => {
    const home = await tempDir('colloquy-home-');
    const [id] = await seed(home, [{ turns: ['archived then deleted'] }]);
    expect((await runCli(['sessions', 'archive', id as string], { home })).code).toBe(0);
    const r = await runCli(['sessions', 'rm', '--yes', id as string], { home });
    expect(r.code, r.stderr).toBe(0);
    expect(await listedIds(home, '--archived')).toEqual([]);
    expect((await filesUnder(home)).filter((f) => f.includes(id as string))).toEqual([]);
  });

  describe('on a terminal', () => {
    let tty: TmuxCli | undefined;
    afterEach(async () => {
      await tty?.kill();
      tty = undefined;
    });

    it('asks first: "n" keeps the conversation (exit 1), "y" deletes it (exit 0)', async () => {
      const home = await tempDir('colloquy-home-');
      const [id] = await seed(home, [{ name: 'ask me', turns: ['hi'] }]);
      tty = await startInTmux(['sessions', 'rm', id as string], { home });
      await tty.waitFor(`Delete conversation ${id} "ask me" for good?`);
      await tty.line('n');
      expect(await tty.exited()).toBe(1);
      expect(await tty.screen()).toContain('not deleted');
      expect(await listedIds(home)).toEqual([id]);
      await tty.kill();

      tty = await startInTmux(['sessions', 'rm', id as string], { home });
      await tty.waitFor('[y/N]');
      await tty.line('y');
      expect(await tty.exited()).toBe(0);
      expect(await tty.screen()).toContain(`deleted ${id}`);
      expect(await listedIds(home)).toEqual([]);
    }, 40_000);
  });
});

describe('colloquy sessions export', () => {
  it('JSONL: every line parses, the records are the log records, and they make the same conversation again', async () => {
    const home = await tempDir('colloquy-home-');
    const [id] = await seed(home, [{ name: 'exported', turns: ['first line\nsecond line', '!echo exported-output', 'last'] }]);
    const r = await runCli(['sessions', 'export', id as string], { home });
    expect(r.code, r.stderr).toBe(0);
    const lines = r.stdout.split('\n');
    expect(lines.pop()).toBe('');
    const exported = lines.map((l) => JSON.parse(l) as LogRecord);
    const { record, records } = await readBack(home, id as string);
    expect(exported).toEqual(JSON.parse(JSON.stringify(records)));
    expect(exported.map((e) => e.seq)).toEqual(exported.map((_, i) => i));
    expect(exported[0]?.type).toBe('session_meta');
    // The items of the log are the items runtime.read gives, in order.
    const items = exported.filter((e) => e.type === 'item').map((e) => (e.payload as { item: unknown }).item);
    expect(items).toEqual(JSON.parse(JSON.stringify(record.turns.flatMap((t) => t.items))));

    // Round trip: the export, put in another home as the log, is the same conversation.
    const other = await tempDir('colloquy-home-');
    const where = join(other, relative(home, await findLog(home, id as string)));
    await mkdir(dirname(where), { recursive: true, mode: 0o700 });
    await writeFile(where, r.stdout, { mode: 0o600 });
    expect((await runCli(['sessions', 'reindex'], { home: other })).code).toBe(0);
    expect((await readBack(other, id as string)).record).toEqual(record);
    expect((await listJson(other)).items.map((s) => s.name)).toEqual(['exported']);
  });

  it('Markdown: a transcript with the user and the agent text of every turn', async () => {
    const home = await tempDir('colloquy-home-');
    const [id] = await seed(home, [{ name: 'Transcript', turns: ['hello markdown', '!echo md-output'] }]);
    const r = await runCli(['sessions', 'export', id as string, '--format', 'md'], { home });
    expect(r.code, r.stderr).toBe(0);
    const md = r.stdout;
    expect(md.startsWith('# Transcript\n')).toBe(true);
    expect(md).toContain(`- id: \`${id}\``);
    expect(md).toContain('## Turn 1 — completed');
    expect(md).toContain('**User**\n\n> hello markdown');
    expect(md).toContain('**Agent**\n\nTurn 1. You said: "hello markdown". This is the first turn of our conversation.');
    expect(md).toContain('## Turn 2 — completed');
    expect(md).toContain('**Command** `echo md-output` (exit code 0)\n\n```text\nmd-output\n```');
    expect(md.indexOf('hello markdown')).toBeLessThan(md.indexOf('md-output'));
  });

  it('-o writes the file with mode 0600 (the same bytes as stdout) and prints where on stderr', async () => {
    const home = await tempDir('colloquy-home-');
    const work = await tempDir('colloquy-work-');
    const [id] = await seed(home, [{ turns: ['to a file'] }]);
    const toStdout = await runCli(['sessions', 'export', id as string], { home });
    for (const [format, name] of [
      ['jsonl', 'out.jsonl'],
      ['md', 'out.md'],
    ] as const) {
      const target = join(work, name);
      const r = await runCli(['sessions', 'export', id as string, '--format', format, '-o', target], { home });
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toBe('');
      expect(r.stderr).toContain(target);
      expect((await stat(target)).mode & 0o777).toBe(0o600);
      if (format === 'jsonl') expect(await readFile(target, 'utf8')).toBe(toStdout.stdout);
      else expect(await readFile(target, 'utf8')).toContain('> to a file');
    }
    // A file that exists is replaced, and made private.
    const existing = join(work, 'existing.jsonl');
    await writeFile(existing, 'old', { mode: 0o644 });
    expect((await runCli(['sessions', 'export', id as string, '--output', existing], { home })).code).toBe(0);
    expect(await readFile(existing, 'utf8')).toBe(toStdout.stdout);
    expect((await stat(existing)).mode & 0o777).toBe(0o600);
    // `-o -` is stdout.
    const dash = await runCli(['sessions', 'export', id as string, '-o', '-'], { home, cwd: work });
    expect(dash.code, dash.stderr).toBe(0);
    expect(dash.stdout).toBe(toStdout.stdout);
    // Nothing else is left in the directory.
    expect(await filesUnder(work)).toEqual(['existing.jsonl', 'out.jsonl', 'out.md']);
  });

  it('-o into a directory that does not exist fails (exit 1) naming the file; an unknown id writes nothing', async () => {
    const home = await tempDir('colloquy-home-');
    const work = await tempDir('colloquy-work-');
    const [id] = await seed(home, [{ turns: ['x'] }]);
    const target = join(work, 'missing', 'out.jsonl');
    const r = await runCli(['sessions', 'export', id as string, '-o', target], { home });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`cannot write ${target}`);
    expect(r.stderr).not.toContain('.tmp');

    const unknown = await runCli(['sessions', 'export', '01ARZ3NDEKTSV4RRFFQ69G5FAV', '-o', join(work, 'never.jsonl')], { home });
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain('no conversation with id');
    expect(await filesUnder(work)).toEqual([]);
    const bad = await runCli(['sessions', 'export', id as string, '--format', 'pdf'], { home });
    expect(bad.code).toBe(2);
  });
});

describe('colloquy sessions import codex', () => {
  it('imports a rollout file: listed, shown with its turns, and it can be continued', async () => {
    const home = await tempDir('colloquy-home-');
    const r = await runCli(['sessions', 'import', 'codex', join(CODEX_FIXTURES, 'rollout-plain-turns.jsonl')], { home });
    expect(r.code, r.stderr).toBe(0);
    const id = r.stdout.split(/\s+/)[0] as string;
    expect(id).toMatch(ULID);
    expect(r.stdout).toContain('(2 turns');
    const listed = await listJson(home);
    expect(listed.items.map((s) => s.id)).toEqual([id]);
    expect(listed.items[0]?.model).toBe('mock-model');
    const shown = await runCli(['sessions', 'show', id], { home });
    expect(shown.stdout).toContain('› Hello, Codex.\n  Hello! I am the mock model.');
    expect(shown.stdout).toContain('› What did I just say?');
    const md = await runCli(['sessions', 'export', id, '--format', 'md'], { home });
    expect(md.stdout).toContain('> Hello, Codex.');
  });

  it('imports every rollout under a directory; --json reports each', async () => {
    const home = await tempDir('colloquy-home-');
    const r = await runCli(['sessions', 'import', 'codex', CODEX_FIXTURES, '--json'], { home });
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout) as { imported: { id: string; codex_thread_id: string }[]; failed: unknown[]; summary: { imported: number } };
    const manifest = JSON.parse(await readFile(join(CODEX_FIXTURES, 'manifest.json'), 'utf8')) as { fixtures: { thread_id: string }[] };
    expect(out.failed).toEqual([]);
    expect(out.summary.imported).toBe(manifest.fixtures.length);
    expect(new Set(out.imported.map((i) => i.codex_thread_id))).toEqual(new Set(manifest.fixtures.map((f) => f.thread_id)));
    expect(new Set(await listedIds(home))).toEqual(new Set(out.imported.map((i) => i.id)));
  });

  it('a path that does not exist fails without importing anything', async () => {
    const home = await tempDir('colloquy-home-');
    const r = await runCli(['sessions', 'import', 'codex', join(CODEX_FIXTURES, 'no-such-rollout.jsonl')], { home });
    expect([1, 2]).toContain(r.code);
    expect(r.stderr).toContain('no-such-rollout.jsonl');
    expect(await logFiles(home)).toEqual([]);
  });
});

describe('colloquy sessions reindex', () => {
  it('after the index file is deleted, the listing is the same', async () => {
    const home = await tempDir('colloquy-home-');
    const ids = await seed(home, [{ name: 'one', turns: ['a'] }, { turns: ['b'] }, { name: 'three', turns: ['c'] }, { turns: [] }]);
    await continueWith(home, ids[0] as string, 'renamed later?');
    expect((await runCli(['sessions', 'fork', ids[1] as string, '--name', 'forked'], { home })).code).toBe(0);
    expect((await runCli(['sessions', 'archive', ids[2] as string], { home })).code).toBe(0);
    const imported = await runCli(['sessions', 'import', 'codex', join(CODEX_FIXTURES, 'rollout-function-call.jsonl')], { home });
    expect(imported.code, imported.stderr).toBe(0);

    const before = {
      active: (await listJson(home, '--sort', 'created', '--limit', '1000')).items,
      archived: (await listJson(home, '--sort', 'created', '--archived')).items,
    };
    expect(before.active).toHaveLength(5);
    expect(before.archived).toHaveLength(1);
    const files = await filesUnder(home);
    const index = files.filter((f) => !f.startsWith('sessions/') && !f.startsWith('archived/') && /index/.test(f));
    expect(index.length).toBeGreaterThan(0);
    for (const f of index) await rm(join(home, f));

    const r = await runCli(['sessions', 'reindex'], { home });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/: 5 conversations, 1 archived\n$/);
    const after = {
      active: (await listJson(home, '--sort', 'created', '--limit', '1000')).items,
      archived: (await listJson(home, '--sort', 'created', '--archived')).items,
    };
    expect(after.active.map(withoutUpdate)).toEqual(before.active.map(withoutUpdate));
    expect(after.archived.map(withoutUpdate)).toEqual(before.archived.map(withoutUpdate));
    expect(new Set(await listedIds(home, '--sort', 'updated'))).toEqual(new Set(before.active.map((s) => s.id)));

    // Listing without an index rebuilds it too.
    for (const f of index) await rm(join(home, f), { force: true });
    expect((await listJson(home, '--sort', 'created', '--limit', '1000')).items.map(withoutUpdate)).toEqual(before.active.map(withoutUpdate));
  }, 40_000);

  it('--json prints { reindexed, home, active, archived }; an empty home reindexes to nothing', async () => {
    const home = await tempDir('colloquy-home-');
    await seed(home, [{ turns: [] }, { turns: [] }]);
    const r = await runCli(['sessions', 'reindex', '--json'], { home });
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({ reindexed: true, home, active: 2, archived: 0 });
    const empty = await tempDir('colloquy-home-');
    const e = await runCli(['sessions', 'reindex', '--json'], { home: empty });
    expect(e.code, e.stderr).toBe(0);
    expect(JSON.parse(e.stdout)).toEqual({ reindexed: true, home: empty, active: 0, archived: 0 });
  });

  it('logs copied in by hand appear after reindex', async () => {
    const home = await tempDir('colloquy-home-');
    const source = await tempDir('colloquy-home-');
    const [id] = await seed(source, [{ name: 'copied', turns: ['from elsewhere'] }]);
    await seed(home, [{ turns: [] }]);
    expect(await listedIds(home)).toHaveLength(1);
    const log = await findLog(source, id as string);
    const where = join(home, relative(source, log));
    await mkdir(dirname(where), { recursive: true, mode: 0o700 });
    await writeFile(where, await readFile(log), { mode: 0o600 });
    expect((await runCli(['sessions', 'reindex'], { home })).code).toBe(0);
    const listed = await listJson(home);
    expect(listed.items.map((s) => s.id)).toContain(id);
    expect(listed.items.find((s) => s.id === id)?.name).toBe('copied');
  });
});

describe('damaged logs', () => {
  it('a bad line in the middle: show and export fail naming the file and line (exit 1); -o leaves no file', async () => {
    const home = await tempDir('colloquy-home-');
    const work = await tempDir('colloquy-work-');
    const [id] = await seed(home, [{ turns: ['one', 'two'] }]);
    const log = await findLog(home, id as string);
    const lines = (await readFile(log, 'utf8')).split('\n');
    lines[2] = '{not json';
    await writeFile(log, lines.join('\n'));
    for (const args of [['show', id as string], ['show', id as string, '--json'], ['export', id as string], ['export', id as string, '--format', 'md']]) {
      const r = await runCli(['sessions', ...args], { home });
      expect(r.code, args.join(' ')).toBe(1);
      expect(r.stderr).toContain(`${log}:3`);
    }
    const target = join(work, 'out.jsonl');
    const r = await runCli(['sessions', 'export', id as string, '-o', target], { home });
    expect(r.code).toBe(1);
    expect(await filesUnder(work)).toEqual([]);
  });

  it('a torn last line (a write cut short) is left out: show and export work, the log is not changed', async () => {
    const home = await tempDir('colloquy-home-');
    const [id] = await seed(home, [{ turns: ['whole turn'] }]);
    const log = await findLog(home, id as string);
    const whole = await readFile(log, 'utf8');
    await writeFile(log, `${whole}{"ts":"2026-01-01T00:00:00.000Z","seq":99,"ty`);
    const torn = await readFile(log);
    const shown = await runCli(['sessions', 'show', id as string], { home });
    expect(shown.code, shown.stderr).toBe(0);
    expect(shown.stdout).toContain('Turn 1 · completed\n  › whole turn\n');
    const exported = await runCli(['sessions', 'export', id as string], { home });
    expect(exported.code, exported.stderr).toBe(0);
    expect(exported.stdout).toBe(whole);
    expect(await readFile(log)).toEqual(torn);
  });
});

describe('a conversation another process is writing', () => {
  it('show and export read it, with the approval it waits for; archive and rm refuse, naming the process (exit 1)', async () => {
    const home = await tempDir('colloquy-home-');
    // This test's process is the writer: it holds the conversation's lease while the turn waits.
    const runtime = createRuntime({ home });
    try {
      const convo = await runtime.start({ approvalPolicy: 'on-request', name: 'live' });
      await convo.run('before');
      const { events } = await convo.runStreamed('!echo pending-command');
      const stream = events[Symbol.asyncIterator]();
      let callId: string | undefined;
      while (callId === undefined) {
        const next = await stream.next();
        if (next.done) throw new Error('the turn ended without asking for an approval');
        if (next.value.type === 'approval.requested') callId = next.value.callId;
      }
      const shown = await runCli(['sessions', 'show', convo.id], { home });
      expect(shown.code, shown.stderr).toBe(0);
      expect(shown.stdout).toContain('Turn 2 · waiting for approval\n  › !echo pending-command\n');
      expect(shown.stdout).toContain(`Pending approvals:\n  ${callId}: Run \`echo pending-command\`?`);
      const json = JSON.parse((await runCli(['sessions', 'show', convo.id, '--json'], { home })).stdout) as ConversationRecord;
      expect(json.pending.approvals.map((a) => a.callId)).toEqual([callId]);
      expect(json.turns.map((t) => t.status)).toEqual(['completed', 'awaiting_approval']);
      const md = await runCli(['sessions', 'export', convo.id, '--format', 'md'], { home });
      expect(md.code, md.stderr).toBe(0);
      expect(md.stdout).toContain(`## Pending approvals\n\n- \`${callId}\`: Run \`echo pending-command\`?`);
      // The request is in the log (show read it back), and nothing is written while the turn waits.
      const log = await findLog(home, convo.id);
      const bytes = await readFile(log);

      for (const args of [['archive', convo.id], ['rm', '--yes', convo.id]]) {
        const r = await runCli(['sessions', ...args], { home });
        expect(r.code, `${args[0]}: ${r.stderr}`).toBe(1);
        expect(r.stderr).toContain(`conversation ${convo.id} is being written by process ${process.pid}`);
        expect(r.stdout).toBe('');
      }
      expect(await readFile(log)).toEqual(bytes);
      expect(await listedIds(home)).toEqual([convo.id]);

      // The writer goes on undisturbed.
      await convo.approve(callId, 'approved');
      let last: string | undefined;
      for (let next = await stream.next(); !next.done; next = await stream.next()) last = next.value.type;
      expect(last).toBe('turn.completed');
    } finally {
      await runtime.shutdown();
    }
    // Once the writer is gone, archiving works.
    const [id] = await listedIds(home);
    const archived = await runCli(['sessions', 'archive', id as string], { home });
    expect(archived.code, archived.stderr).toBe(0);
    expect((await readBack(home, id as string)).record.turns.map((t) => t.status)).toEqual(['completed', 'completed']);
  }, 40_000);
});

describe('--home', () => {
  it('every sessions command works on --home instead of COLLOQUY_HOME', async () => {
    const home = await tempDir('colloquy-home-');
    const elsewhere = await tempDir('colloquy-home-');
    const [id] = await seed(home, [{ turns: ['on --home'] }]);
    const listed = await runCli(['sessions', 'list', '--json', '--home', home], { home: elsewhere });
    expect((JSON.parse(listed.stdout) as ListJson).items.map((s) => s.id)).toEqual([id]);
    expect((await runCli(['sessions', 'show', id as string, '--home', home], { home: elsewhere })).stdout).toContain('› on --home');
    const fork = await runCli(['sessions', 'fork', id as string, '--home', home], { home: elsewhere });
    expect(fork.code, fork.stderr).toBe(0);
    // The hint to continue names the same home.
    expect(fork.stderr).toContain(`to continue: colloquy chat resume --home ${home} ${fork.stdout.trim()}`);
    expect(await snapshot(elsewhere)).toEqual(new Map());
    expect(await listedIds(elsewhere)).toEqual([]);
  });
});

/** Every command under `sessions`, with the long names of its visible options. */
function sessionCommands(): { path: string[]; options: string[] }[] {
  const root = program({ stdout: process.stdout, stderr: process.stderr, stdin: process.stdin } as Parameters<typeof program>[0], () => {});
  const out: { path: string[]; options: string[] }[] = [];
  const walk = (command: Command, path: string[]): void => {
    const options = command.options.filter((o) => !o.hidden).map((o) => o.long ?? o.short ?? o.flags);
    out.push({ path, options });
    for (const sub of command.commands) walk(sub, [...path, sub.name()]);
  };
  const sessions = root.commands.find((c) => c.name() === 'sessions');
  if (!sessions) throw new Error('no sessions command');
  walk(sessions, ['sessions']);
  return out;
}

describe('--help', () => {
  const commands = sessionCommands();

  it('covers every subcommand', () => {
    expect(commands.map((c) => c.path.join(' ')).sort()).toEqual(
      ['archive', 'export', 'fork', 'import', 'import codex', 'list', 'reindex', 'rm', 'show', 'unarchive'].map((s) => `sessions ${s}`).concat('sessions').sort(),
    );
  });

  it.each(commands.map((c) => [c.path.join(' '), c] as const))('%s --help exits 0 and lists its options', async (_name, c) => {
    const home = await tempDir('colloquy-home-');
    const r = await runCli([...c.path, '--help'], { home });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain(`Usage: colloquy ${c.path.join(' ')}`);
    for (const option of [...c.options, '--help']) expect(r.stdout, `${c.path.join(' ')} ${option}`).toContain(option);
    // Asking for help touches nothing.
    expect(await snapshot(home)).toEqual(new Map());
  });

  it('a subcommand without its id is a usage error (exit 2)', async () => {
    const home = await tempDir('colloquy-home-');
    for (const sub of ['show', 'fork', 'archive', 'unarchive', 'rm', 'export']) {
      const r = await runCli(['sessions', sub], { home });
      expect(r.code, sub).toBe(2);
      expect(r.stderr).toContain("missing required argument 'id'");
    }
    const unknown = await runCli(['sessions', 'frobnicate'], { home });
    expect(unknown.code).toBe(2);
  });
});
