/**
 * `colloquy import codex` as a user runs it: the built executable in a child process, importing
 * the rollouts recorded from the real Codex CLI (test/fixtures/codex), then resuming them with
 * `colloquy exec resume`.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { FIXTURES, fixturePath, MANIFEST } from '../import/fixtures.js';
import { findLog, logFiles, logRecords, removeTempDirs, runCli, tempDir, ULID } from './helpers.js';

afterEach(removeTempDirs);

interface ImportJson {
  imported: { id: string; path: string; codex_thread_id: string; turns: number; items: number; opaque: number; issues: { kind: string; line: number }[] }[];
  failed: { path: string; error: string; code: string }[];
  summary: { imported: number; failed: number; turns: number; items: number };
}

/** A copy of a fixture with a line that is not JSON inserted as line 5. */
async function corruptCopy(dir: string): Promise<string> {
  const lines = (await readFile(fixturePath('plain-turns'), 'utf8')).split('\n');
  lines.splice(4, 0, '{"timestamp": "2026-01-01T00:00:00.000Z", "type": "event_ms');
  const path = join(dir, 'rollout-corrupt.jsonl');
  await writeFile(path, lines.join('\n'), 'utf8');
  return path;
}

describe('colloquy import codex', () => {
  it('imports a rollout file: prints the new id, and `exec resume <id>` continues the Codex conversation', async () => {
    const home = await tempDir('colloquy-home-');
    const r = await runCli(['import', 'codex', fixturePath('multi-turn-resume'), '--home', home], { home: await tempDir() });
    expect(r.code, r.stderr).toBe(0);
    const [id, path, ...rest] = r.stdout.trim().split(/\s+/);
    expect(id).toMatch(ULID);
    expect(path).toBe(fixturePath('multi-turn-resume'));
    expect(rest.join(' ')).toBe('(3 turns, 7 items, 18 opaque)');
    expect(r.stderr).toContain(`colloquy exec resume ${id}`);
    expect(await logFiles(home)).toHaveLength(1);
    const meta = (await logRecords(await findLog(home, id as string)))[0];
    expect(meta?.payload).toMatchObject({ source: 'codex-import', metadata: { 'codex.thread_id': MANIFEST.fixtures.find((f) => f.scenario === 'multi-turn-resume')?.thread_id } });

    const next = await runCli(['exec', 'resume', id as string, 'Do you remember?'], { home });
    expect(next.code, next.stderr).toBe(0);
    expect(next.stdout).toBe('Turn 4. You said: "Do you remember?". Before that you said: "Thanks, that is all.".\n');
  });

  it('imports every rollout under a directory; --json prints one object with ids, thread ids and counts', async () => {
    const home = await tempDir('colloquy-home-');
    const r = await runCli(['import', 'codex', FIXTURES, '--json'], { home });
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout) as ImportJson;
    expect(out.failed).toEqual([]);
    expect(out.summary).toEqual({ imported: 4, failed: 0, turns: 8, items: 18 });
    expect(out.imported.map((i) => i.codex_thread_id).sort()).toEqual(MANIFEST.fixtures.map((f) => f.thread_id).sort());
    for (const item of out.imported) expect(item.id).toMatch(ULID);
    expect((await logFiles(home)).length).toBe(4);

    const interrupted = out.imported.find((i) => i.path.endsWith('rollout-interrupted-turn.jsonl'));
    const records = await logRecords(await findLog(home, interrupted?.id as string));
    expect(records.filter((rec) => rec.type === 'event').map((rec) => rec.payload.type)).toEqual([
      'turn.started',
      'turn.completed',
      'turn.started',
      'turn.aborted',
    ]);
  });

  it('a corrupted rollout fails (exit 1) naming file and line; --lenient imports it and warns', async () => {
    const home = await tempDir('colloquy-home-');
    const path = await corruptCopy(await tempDir());
    const strict = await runCli(['import', 'codex', path], { home });
    expect(strict.code).toBe(1);
    expect(strict.stdout).toBe('');
    expect(strict.stderr).toContain(`error: corrupt log ${path}:5: not valid JSON`);
    expect(await logFiles(home)).toEqual([]);

    const human = await runCli(['import', 'codex', path, '--lenient'], { home });
    expect(human.code, human.stderr).toBe(0);
    expect(human.stderr).toContain(`warning: ${path}:5: not valid JSON; skipped`);
    expect(human.stdout).toMatch(/^[0-9A-HJKMNP-TV-Z]{26} {2}\S+ {2}\(2 turns, 5 items, \d+ opaque\)\n$/);

    const lenient = await runCli(['import', 'codex', path, '--lenient', '--json'], { home });
    expect(lenient.code, lenient.stderr).toBe(0);
    const out = JSON.parse(lenient.stdout) as ImportJson;
    expect(out.imported[0]?.turns).toBe(2);
    expect(out.imported[0]?.issues).toEqual([expect.objectContaining({ kind: 'bad_line', line: 5 })]);
  });

  it('a directory where one rollout fails imports the others and exits 1', async () => {
    const home = await tempDir('colloquy-home-');
    const dir = await tempDir();
    await writeFile(join(dir, 'rollout-good.jsonl'), await readFile(fixturePath('plain-turns')));
    const bad = await corruptCopy(dir);
    const r = await runCli(['import', 'codex', dir, '--json'], { home });
    expect(r.code).toBe(1);
    const out = JSON.parse(r.stdout) as ImportJson;
    expect(out.imported.map((i) => i.path)).toEqual([join(dir, 'rollout-good.jsonl')]);
    expect(out.failed).toEqual([{ path: bad, error: `corrupt log ${bad}:5: not valid JSON`, code: 'corrupt_log' }]);
  });

  it('a directory without rollouts exits 1', async () => {
    const r = await runCli(['import', 'codex', await tempDir()], { home: await tempDir() });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('no Codex rollouts (rollout-*.jsonl) found');
  });

  it('usage errors exit 2: no such path, no path, an unknown source', async () => {
    const home = await tempDir();
    const missing = await runCli(['import', 'codex', join(home, 'nope.jsonl')], { home });
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('no such file or directory');
    expect((await runCli(['import', 'codex'], { home })).code).toBe(2);
    const unknown = await runCli(['import', 'claude', FIXTURES], { home });
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain("unknown command 'claude'");
  });
});
