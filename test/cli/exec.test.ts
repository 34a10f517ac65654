/**
 * `colloquy exec` as a user (or the Codex SDK) runs it: the built executable in a child
 * process, each test with its own COLLOQUY_HOME.
 */
import { existsSync } from 'node:fs';
import { readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createRuntime } from '../../src/index.js';
import {
  filesUnder,
  findLog,
  jsonLines,
  logFiles,
  logRecords,
  removeTempDirs,
  runCli,
  SLOW_SCRIPT,
  startCli,
  tempDir,
  threadIdOf,
  ULID,
  ULID_IN_TEXT,
  waitUntil,
  writeScript,
} from './helpers.js';

afterEach(removeTempDirs);

const USAGE_KEYS = ['cached_input_tokens', 'input_tokens', 'output_tokens', 'reasoning_output_tokens'];

/** The `type`s of a `--json` stdout, in order. */
function types(stdout: string): unknown[] {
  return jsonLines(stdout).map((e) => e.type);
}

/** The `item`s of the `item.completed` lines of a `--json` stdout. */
function completedItems(stdout: string): Record<string, unknown>[] {
  return jsonLines(stdout)
    .filter((e) => e.type === 'item.completed')
    .map((e) => e.item as Record<string, unknown>);
}

/** Wait until some log under `home` has an event record of type `type`. */
async function waitForLogEvent(home: string, type: string): Promise<void> {
  const has = async (file: string): Promise<boolean> =>
    (await logRecords(join(home, file)).catch(() => [])).some((r) => r.type === 'event' && r.payload.type === type);
  await waitUntil(async () => (await Promise.all((await logFiles(home)).map(has))).some(Boolean), 15_000, `a ${type} event in ${home}`);
}

/** A fresh home plus a scratch directory (for scripts, images, outputs). */
async function dirs(): Promise<{ home: string; work: string }> {
  return { home: await tempDir('colloquy-home-'), work: await tempDir('colloquy-work-') };
}

describe('colloquy exec (human output)', () => {
  it('prints the answer on stdout and a header and resume hint with the id on stderr', async () => {
    const { home } = await dirs();
    const r = await runCli(['exec', 'hello'], { home });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe('Turn 1. You said: "hello". This is the first turn of our conversation.\n');
    const id = ULID_IN_TEXT.exec(r.stderr)?.[0];
    expect(id, r.stderr).toMatch(ULID);
    expect(r.stderr).toContain(`new conversation ${id}`);
    expect(r.stderr).toContain(`colloquy exec resume ${id}`);
    // Nothing but the answer goes to stdout.
    expect(r.stdout).not.toContain(id);
    expect(await logFiles(home)).toHaveLength(1);
  });

  it('exec resume <id> continues the conversation: turn 2 knows turn 1', async () => {
    const { home } = await dirs();
    const first = await runCli(['exec', 'hello'], { home });
    expect(first.code, first.stderr).toBe(0);
    const id = ULID_IN_TEXT.exec(first.stderr)?.[0] as string;

    const second = await runCli(['exec', 'resume', id, 'again'], { home });
    expect(second.code, second.stderr).toBe(0);
    expect(second.stdout).toContain('Turn 2');
    expect(second.stdout).toContain('You said: "again"');
    expect(second.stdout).toContain('Before that you said: "hello"');
    expect(second.stderr).toContain(`resumed conversation ${id}`);
    // Resuming appends to the same log; no second conversation appears.
    expect(await logFiles(home)).toHaveLength(1);
  }, 40_000);

  it('writes the final message to --output-last-message (-o)', async () => {
    const { home, work } = await dirs();
    const out = join(work, 'last.txt');
    const r = await runCli(['exec', '-o', out, 'hello'], { home });
    expect(r.code, r.stderr).toBe(0);
    expect(await readFile(out, 'utf8')).toBe('Turn 1. You said: "hello". This is the first turn of our conversation.');

    const out2 = join(work, 'last2.txt');
    const j = await runCli(['exec', '--json', '--output-last-message', out2, 'hi'], { home });
    expect(j.code, j.stderr).toBe(0);
    const message = completedItems(j.stdout).find((i) => i.type === 'agent_message');
    expect(await readFile(out2, 'utf8')).toBe(message?.text);
  }, 40_000);
});

describe('colloquy exec resume', () => {
  it('--last resumes the most recently updated conversation', async () => {
    const { home } = await dirs();
    const a = threadIdOf((await runCli(['exec', '--json', 'first-a'], { home })).stdout);
    const b = threadIdOf((await runCli(['exec', '--json', 'first-b'], { home })).stdout);
    expect(a).not.toBe(b);
    // Touch a: now it is the most recently updated.
    expect((await runCli(['exec', '--json', 'resume', a, 'second-a'], { home })).code).toBe(0);
    const r = await runCli(['exec', '--json', 'resume', '--last', 'third'], { home });
    expect(r.code, r.stderr).toBe(0);
    expect(threadIdOf(r.stdout)).toBe(a);
    expect(completedItems(r.stdout)[0]?.text).toContain('Turn 3. You said: "third". Before that you said: "second-a".');
    // With --last and no prompt argument, the prompt comes from stdin.
    const piped = await runCli(['exec', '--json', 'resume', '--last'], { home, input: 'fourth' });
    expect(piped.code, piped.stderr).toBe(0);
    expect(completedItems(piped.stdout)[0]?.text).toContain('Turn 4. You said: "fourth".');
  }, 60_000);

  it('--last with no conversation at all is exit 1 with a message', async () => {
    const { home } = await dirs();
    const r = await runCli(['exec', '--json', 'resume', '--last', 'hi'], { home });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('no conversation to resume');
    expect(r.stdout).toBe('');
  });

  it('options given on resume (model, cd, approval policy) apply to the turn and are recorded', async () => {
    const { home, work } = await dirs();
    const id = threadIdOf((await runCli(['exec', '--json', 'first'], { home })).stdout);
    // The SDK passes its options before `resume <id>`.
    const r = await runCli(['exec', '--json', '--config', 'approval_policy="never"', '--model', 'm2', '--cd', work, 'resume', id, '!pwd'], { home });
    expect(r.code, r.stderr).toBe(0);
    const command = completedItems(r.stdout).find((i) => i.type === 'command_execution');
    expect(command).toMatchObject({ status: 'completed', exit_code: 0, aggregated_output: `${work}\n` });
    const runtime = createRuntime({ home });
    try {
      const record = await runtime.read(id);
      expect(record.config).toMatchObject({ model: 'm2', cwd: work, approvalPolicy: 'never' });
      expect(record.turns).toHaveLength(2);
    } finally {
      await runtime.shutdown();
    }
    // And they stay for the next resume.
    const next = await runCli(['exec', 'resume', id, 'what now'], { home });
    expect(next.code, next.stderr).toBe(0);
    expect(next.stderr).toContain('model m2');
    expect(next.stderr).toContain('approvals never');
  }, 60_000);
});

describe('colloquy exec --json', () => {
  it('prints exactly the Codex exec JSONL stream and nothing else', async () => {
    const { home } = await dirs();
    const r = await runCli(['exec', '--json', 'hi'], { home });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.endsWith('\n')).toBe(true);
    expect(r.stdout.split('\n').slice(0, -1).every((l) => l.trim() !== '')).toBe(true);
    const events = jsonLines(r.stdout);
    expect(events.map((e) => e.type)).toEqual(['thread.started', 'turn.started', 'item.completed', 'turn.completed']);
    const [started, turnStarted, completed, turnCompleted] = events as [
      Record<string, unknown>,
      Record<string, unknown>,
      Record<string, unknown>,
      Record<string, unknown>,
    ];

    expect(Object.keys(started).sort()).toEqual(['thread_id', 'type']);
    expect(started.thread_id).toMatch(ULID);
    expect(turnStarted).toEqual({ type: 'turn.started' });

    expect(Object.keys(completed).sort()).toEqual(['item', 'type']);
    const item = completed.item as Record<string, unknown>;
    expect(Object.keys(item).sort()).toEqual(['id', 'text', 'type']);
    expect(item.type).toBe('agent_message');
    expect(item.id).toEqual(expect.any(String));
    expect(item.text).toBe('Turn 1. You said: "hi". This is the first turn of our conversation.');

    expect(Object.keys(turnCompleted).sort()).toEqual(['type', 'usage']);
    const usage = turnCompleted.usage as Record<string, unknown>;
    expect(Object.keys(usage).sort()).toEqual(USAGE_KEYS);
    for (const key of USAGE_KEYS) expect(Number.isInteger(usage[key]) && (usage[key] as number) >= 0, key).toBe(true);
    expect(usage.output_tokens as number).toBeGreaterThan(0);

    // The thread id is the conversation's: its log exists.
    await findLog(home, started.thread_id as string);
  });

  it('accepts --experimental-json as an alias of --json', async () => {
    const { home } = await dirs();
    const r = await runCli(['exec', '--experimental-json', 'hi'], { home });
    expect(r.code, r.stderr).toBe(0);
    expect(types(r.stdout)).toEqual(['thread.started', 'turn.started', 'item.completed', 'turn.completed']);
    expect(r.stderr).not.toContain('colloquy exec ·');
  });

  it('resume keeps the thread id and prints only JSON lines', async () => {
    const { home } = await dirs();
    const first = await runCli(['exec', '--json', 'hello'], { home });
    expect(first.code, first.stderr).toBe(0);
    const id = threadIdOf(first.stdout);
    const second = await runCli(['exec', '--json', 'resume', id, 'again'], { home });
    expect(second.code, second.stderr).toBe(0);
    const events = jsonLines(second.stdout);
    expect(events.map((e) => e.type)).toEqual(['thread.started', 'turn.started', 'item.completed', 'turn.completed']);
    expect(events[0]).toEqual({ type: 'thread.started', thread_id: id });
    const text = completedItems(second.stdout)[0]?.text;
    expect(text).toContain('Turn 2');
    expect(text).toContain('Before that you said: "hello"');
  }, 40_000);

  it('prints every kind of scripted item as Codex does (tool calls as mcp_tool_call, no call_id, no user message)', async () => {
    const { home, work } = await dirs();
    const script = await writeScript(work, {
      turns: [
        {
          steps: [
            { type: 'reasoning', text: 'let me think' },
            { type: 'todo', items: [{ text: 'look', completed: true }] },
            { type: 'error', message: 'a warning' },
            { type: 'tool_call', name: 'lookup', arguments: { key: 'k' }, output: 'found' },
            { type: 'tool_call', name: 'deploy', approval: true },
            { type: 'command', command: 'make', output: 'built\n' },
            { type: 'usage', usage: { input_tokens: 5, cached_input_tokens: 1, output_tokens: 3, reasoning_output_tokens: 2 } },
            { type: 'message', text: 'done' },
          ],
        },
      ],
    });
    const r = await runCli(['exec', '--json', '--agent-script', script, 'go'], { home });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).not.toContain('call_id');
    expect(r.stdout).not.toContain('user_message');
    expect(r.stdout).not.toContain('turn_id');
    const items = completedItems(r.stdout);
    expect(items.map((i) => i.type)).toEqual(['reasoning', 'todo_list', 'error', 'mcp_tool_call', 'mcp_tool_call', 'command_execution', 'agent_message']);
    expect(items[0]).toEqual({ id: expect.any(String), type: 'reasoning', text: 'let me think' });
    expect(items[1]).toEqual({ id: expect.any(String), type: 'todo_list', items: [{ text: 'look', completed: true }] });
    expect(items[2]).toEqual({ id: expect.any(String), type: 'error', message: 'a warning' });
    expect(items[3]).toEqual({
      id: expect.any(String),
      type: 'mcp_tool_call',
      server: 'local',
      tool: 'lookup',
      arguments: { key: 'k' },
      result: { content: [{ type: 'text', text: 'found' }], structured_content: null },
      status: 'completed',
    });
    // A tool that needs approval is declined by exec, and Codex's MCP statuses have no "declined".
    expect(items[4]).toMatchObject({ type: 'mcp_tool_call', tool: 'deploy', status: 'failed' });
    expect(items[5]).toMatchObject({ type: 'command_execution', command: 'make', status: 'declined' });
    expect(items[6]).toEqual({ id: expect.any(String), type: 'agent_message', text: 'done' });
    const ids = items.map((i) => i.id);
    expect(new Set(ids).size).toBe(ids.length);
    expect(jsonLines(r.stdout).at(-1)).toEqual({
      type: 'turn.completed',
      usage: { input_tokens: 5, cached_input_tokens: 1, output_tokens: 3, reasoning_output_tokens: 2 },
    });
  });

  it('a failing scripted turn prints turn.failed {error:{message}} and exits 1', async () => {
    const { home, work } = await dirs();
    const script = await writeScript(work, { turns: [{ steps: [{ type: 'fail', message: 'boom' }] }] });
    const r = await runCli(['exec', '--json', '--agent-script', script, 'hi'], { home });
    expect(r.code).toBe(1);
    const events = jsonLines(r.stdout);
    expect(events.map((e) => e.type)).toEqual(['thread.started', 'turn.started', 'turn.failed']);
    expect(events[2]).toEqual({ type: 'turn.failed', error: { message: 'boom' } });
  });

  it('a failing turn through --config agent_script=... is reported for people too (exit 1)', async () => {
    const { home, work } = await dirs();
    const script = await writeScript(work, { turns: [{ steps: [{ type: 'fail', message: 'boom' }] }] });
    const r = await runCli(['exec', '--config', `agent_script=${JSON.stringify(script)}`, 'hi'], { home });
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain('boom');
  });
});

describe('colloquy exec: the prompt', () => {
  it('reads the prompt from stdin when there is no prompt argument', async () => {
    const { home } = await dirs();
    const r = await runCli(['exec', '--json'], { home, input: 'from stdin\n' });
    expect(r.code, r.stderr).toBe(0);
    expect(completedItems(r.stdout)[0]?.text).toContain('You said: "from stdin".');
  });

  it('reads the prompt from stdin when the prompt argument is "-"', async () => {
    const { home } = await dirs();
    const r = await runCli(['exec', '--json', '-'], { home, input: 'dash prompt' });
    expect(r.code, r.stderr).toBe(0);
    expect(completedItems(r.stdout)[0]?.text).toContain('You said: "dash prompt".');
  });

  it('reads the prompt of exec resume <id> from stdin (as the Codex SDK sends it)', async () => {
    const { home } = await dirs();
    const first = await runCli(['exec', '--json', 'hello'], { home });
    const id = threadIdOf(first.stdout);
    const r = await runCli(['exec', '--json', 'resume', id], { home, input: 'piped again' });
    expect(r.code, r.stderr).toBe(0);
    const text = completedItems(r.stdout)[0]?.text;
    expect(text).toContain('Turn 2. You said: "piped again".');
    expect(text).toContain('Before that you said: "hello"');
  }, 40_000);

  it.each([
    ['no prompt argument', ['exec', '--json']],
    ['"-"', ['exec', '--json', '-']],
  ])('an empty stdin is a usage error (%s): exit 2, nothing stored', async (_name, args) => {
    const { home } = await dirs();
    const r = await runCli(args, { home, input: '' });
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/no prompt/);
    expect(await logFiles(home)).toEqual([]);
  });

  it('a stdin of only whitespace is a usage error too', async () => {
    const { home } = await dirs();
    const r = await runCli(['exec'], { home, input: '  \n\n' });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/no prompt/);
  });
});

describe('colloquy exec: usage errors and unknown conversations', () => {
  it('an unknown flag is exit 2 with a message on stderr and nothing on stdout', async () => {
    const { home } = await dirs();
    const r = await runCli(['exec', '--json', '--no-such-flag', 'hi'], { home });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("unknown option '--no-such-flag'");
    expect(r.stdout).toBe('');
    expect(await logFiles(home)).toEqual([]);
  });

  it('an unknown flag after resume <id> is exit 2 too', async () => {
    const { home } = await dirs();
    const r = await runCli(['exec', '--json', 'resume', '01ARZ3NDEKTSV4RRFFQ69G5FAV', '--bogus', 'hi'], { home });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("unknown option '--bogus'");
    expect(r.stdout).toBe('');
  });

  it.each([
    ['no "="', 'approval_policy', /invalid --config "approval_policy"/],
    ['an empty key', '="x"', /invalid --config/],
    ['a bad approval policy', 'approval_policy="sometimes"', /invalid approval policy "sometimes"/],
    ['a non-string model', 'model=3', /model must be a string/],
    ['a bad durability', 'durability="fast"', /invalid durability "fast"/],
    ['an unknown agent', 'agent="gpt"', /unknown agent "gpt"/],
  ])('a bad --config value (%s) is exit 2 with a message', async (_name, override, message) => {
    const { home } = await dirs();
    const r = await runCli(['exec', '--json', '--config', override, 'hi'], { home });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(message);
    expect(r.stdout).toBe('');
    expect(await logFiles(home)).toEqual([]);
  });

  it('--version and --help exit 0; no command or an unknown command is exit 2', async () => {
    const { home } = await dirs();
    const version = await runCli(['--version'], { home });
    expect(version.code).toBe(0);
    expect(version.stdout.trim()).toMatch(/^\d+\.\d+\.\d+/);
    const help = await runCli(['exec', '--help'], { home });
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('--json');
    expect(help.stdout).toContain('resume');
    expect((await runCli([], { home })).code).toBe(2);
    const unknown = await runCli(['frobnicate'], { home });
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain("unknown command 'frobnicate'");
  }, 40_000);

  it.each([
    ['--output-schema to a missing file', ['--output-schema', 'missing-schema.json'], /--output-schema missing-schema\.json/],
    ['--add-dir to a missing directory', ['--add-dir', 'missing-dir'], /--add-dir missing-dir: not a directory/],
    ['--durability with a bad mode', ['--durability', 'fast'], /invalid durability "fast"/],
    ['--approval-policy with a bad policy', ['--approval-policy', 'maybe'], /invalid approval policy "maybe"/],
    ['--sandbox with an unknown mode', ['--sandbox', 'readonly'], /invalid sandbox mode "readonly": expected read-only, workspace-write or danger-full-access/],
    ['sandbox_mode with an unknown mode', ['--config', 'sandbox_mode="off"'], /invalid sandbox mode "off"/],
    ['network_access that is not a boolean', ['--config', 'sandbox_workspace_write.network_access="yes"'], /network_access must be true or false/],
  ])('%s is exit 2', async (_name, flags, message) => {
    const { home } = await dirs();
    const r = await runCli(['exec', '--json', ...flags, 'hi'], { home });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(message);
    expect(r.stdout).toBe('');
  });

  it('an --output-schema that is not JSON is exit 2; a valid one is recorded with the conversation', async () => {
    const { home, work } = await dirs();
    const bad = join(work, 'bad.json');
    await writeFile(bad, '{ not json');
    const r = await runCli(['exec', '--json', '--output-schema', bad, 'hi'], { home });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('not valid JSON');
    const schema = { type: 'object', properties: { a: { type: 'string' } } };
    const good = join(work, 'good.json');
    await writeFile(good, JSON.stringify(schema));
    const ok = await runCli(['exec', '--json', '--output-schema', good, 'hi'], { home });
    expect(ok.code, ok.stderr).toBe(0);
    const runtime = createRuntime({ home });
    try {
      expect((await runtime.read(threadIdOf(ok.stdout))).config.outputSchema).toEqual(schema);
    } finally {
      await runtime.shutdown();
    }
  }, 40_000);

  it.each(['sync', 'batched', 'none'])('--durability %s runs the turn and keeps the log', async (mode) => {
    const { home } = await dirs();
    const r = await runCli(['exec', '--json', '--durability', mode, 'hi'], { home });
    expect(r.code, r.stderr).toBe(0);
    const records = await logRecords(await findLog(home, threadIdOf(r.stdout)));
    expect(records.some((rec) => rec.type === 'event' && rec.payload.type === 'turn.completed')).toBe(true);
  });

  it('a bad agent script is exit 2 naming the file', async () => {
    const { home, work } = await dirs();
    const script = await writeScript(work, { turns: [] });
    const r = await runCli(['exec', '--json', '--agent-script', script, 'hi'], { home });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(script);
    const missing = await runCli(['exec', '--json', '--agent-script', join(work, 'nope.json'), 'hi'], { home });
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('nope.json');
  }, 40_000);

  it('exec resume <an unknown but valid ULID> says there is no such conversation (exit 1) and creates none', async () => {
    const { home } = await dirs();
    const id = '01ARZ3NDEKTSV4RRFFQ69G5FAV';
    const r = await runCli(['exec', '--json', 'resume', id, 'hi'], { home });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`no conversation with id "${id}"`);
    expect(r.stdout).toBe('');
    expect(await logFiles(home)).toEqual([]);
  });

  it('exec resume not-an-id says it is not a conversation id (exit 1)', async () => {
    const { home } = await dirs();
    const r = await runCli(['exec', 'resume', 'not-an-id', 'hi'], { home });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/"not-an-id" is not a conversation id/);
    expect(r.stdout).toBe('');
    expect(await filesUnder(home)).toEqual([]);
  });

  it('an id made to escape the home directory is refused before it touches a path', async () => {
    const { home } = await dirs();
    const r = await runCli(['exec', 'resume', '../../../etc/passwd', 'hi'], { home });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/is not a conversation id/);
  });
});

describe('colloquy exec: commands and approvals', () => {
  it('under the default approval policy a !command is declined and not run', async () => {
    const { home, work } = await dirs();
    const marker = join(work, 'ran');
    const command = `touch ${marker} && echo hi`;
    const r = await runCli(['exec', '--json', `!${command}`], { home });
    expect(r.code, r.stderr).toBe(0);
    const commands = completedItems(r.stdout).filter((i) => i.type === 'command_execution');
    expect(commands).toHaveLength(1);
    expect(commands[0]).toMatchObject({ type: 'command_execution', command, status: 'declined', aggregated_output: '' });
    expect(commands[0]).not.toHaveProperty('exit_code');
    expect(commands[0]).not.toHaveProperty('call_id');
    expect(existsSync(marker)).toBe(false);
  });

  it('the human output explains the decline and how to allow it', async () => {
    const { home, work } = await dirs();
    const marker = join(work, 'ran');
    const r = await runCli(['exec', `!touch ${marker}`], { home });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain('declined');
    expect(r.stderr).toContain('approval_policy="never"');
    expect(existsSync(marker)).toBe(false);
  });

  it('with --config approval_policy="never" the command runs', async () => {
    const { home, work } = await dirs();
    const marker = join(work, 'ran');
    const command = `touch ${marker} && echo hi`;
    const r = await runCli(['exec', '--json', '--config', 'approval_policy="never"', `!${command}`], { home });
    expect(r.code, r.stderr).toBe(0);
    const events = jsonLines(r.stdout);
    const started = events.find((e) => e.type === 'item.started');
    expect(started?.item).toMatchObject({ type: 'command_execution', command, status: 'in_progress' });
    const commands = completedItems(r.stdout).filter((i) => i.type === 'command_execution');
    expect(commands).toHaveLength(1);
    expect(commands[0]).toMatchObject({ command, status: 'completed', exit_code: 0 });
    expect(commands[0]?.aggregated_output).toContain('hi');
    expect(commands[0]).not.toHaveProperty('call_id');
    expect(existsSync(marker)).toBe(true);
  });

  it('a command runs in the --cd directory', async () => {
    const { home, work } = await dirs();
    const r = await runCli(['exec', '--json', '--cd', work, '--approval-policy', 'never', '!pwd'], { home });
    expect(r.code, r.stderr).toBe(0);
    const command = completedItems(r.stdout).find((i) => i.type === 'command_execution');
    expect(command?.aggregated_output).toBe(`${work}\n`);
  });

  it('--cd to a directory that does not exist is a usage error', async () => {
    const { home, work } = await dirs();
    const r = await runCli(['exec', '--json', '--cd', join(work, 'nope'), 'hi'], { home });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('not a directory');
  });
});

describe('colloquy exec: images', () => {
  it('--image attaches the file to the prompt', async () => {
    const { home, work } = await dirs();
    const image = join(work, 'shot.png');
    await writeFile(image, Buffer.from([0x89, 0x50, 0x4e, 0x47]));
    const r = await runCli(['exec', '--json', '--image', image, 'look'], { home });
    expect(r.code, r.stderr).toBe(0);
    expect(completedItems(r.stdout)[0]?.text).toContain('You attached 1 image.');
    const id = threadIdOf(r.stdout);
    const runtime = createRuntime({ home });
    try {
      const record = await runtime.read(id);
      expect(record.turns[0]?.items[0]).toMatchObject({ type: 'user_message', text: 'look', images: [image] });
    } finally {
      await runtime.shutdown();
    }
  });

  it('--image after resume <id> (where the Codex SDK puts it) is attached too', async () => {
    const { home, work } = await dirs();
    const a = join(work, 'a.png');
    const b = join(work, 'b.png');
    await writeFile(a, 'a');
    await writeFile(b, 'b');
    const first = await runCli(['exec', '--json', 'hello'], { home });
    const id = threadIdOf(first.stdout);
    const r = await runCli(['exec', '--json', 'resume', id, '--image', a, '--image', b], { home, input: 'two images' });
    expect(r.code, r.stderr).toBe(0);
    expect(completedItems(r.stdout)[0]?.text).toContain('You attached 2 images.');
  }, 40_000);

  it('a missing image is exit 2 and starts no conversation', async () => {
    const { home, work } = await dirs();
    const r = await runCli(['exec', '--json', '--image', join(work, 'missing.png'), 'look'], { home });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('missing.png');
    expect(r.stdout).toBe('');
    expect(await logFiles(home)).toEqual([]);
  });
});

describe('colloquy exec: interrupts', () => {
  it('SIGINT during a slow turn ends it quickly (exit 1), the log records the abort, and resume continues with turn 2', async () => {
    const { home, work } = await dirs();
    const script = await writeScript(work, SLOW_SCRIPT);
    const running = startCli(['exec', '--json', '--agent-script', script, 'hi'], { home });
    await running.waitForStdout('"turn.started"');
    const id = threadIdOf(running.stdout());
    const sentAt = Date.now();
    running.child.kill('SIGINT');
    const r = await running.done;
    const took = Date.now() - sentAt;
    expect(r.timedOut).toBe(false);
    expect(r.code, r.stderr).toBe(1);
    expect(took).toBeLessThan(3000);
    // An interrupted turn prints no end event, as Codex exec.
    expect(types(r.stdout)).toEqual(['thread.started', 'turn.started']);
    expect(r.stdout).not.toContain('too late');
    expect(r.stderr).toContain('SIGINT');

    const records = await logRecords(await findLog(home, id));
    const aborted = records.find((rec) => rec.type === 'event' && rec.payload.type === 'turn.aborted');
    expect(aborted?.payload).toMatchObject({ reason: 'interrupted' });
    const runtime = createRuntime({ home });
    try {
      const record = await runtime.read(id);
      expect(record.turns.map((t) => t.status)).toEqual(['aborted']);
    } finally {
      await runtime.shutdown();
    }

    // Resumed with the local agent: the next turn is turn 2 and remembers the interrupted prompt.
    const next = await runCli(['exec', '--json', 'resume', id, 'again'], { home });
    expect(next.code, next.stderr).toBe(0);
    expect(jsonLines(next.stdout)[0]).toEqual({ type: 'thread.started', thread_id: id });
    expect(completedItems(next.stdout)[0]?.text).toContain('Turn 2. You said: "again".');
  }, 60_000);

  it('SIGTERM interrupts the turn like SIGINT (exit 1, abort recorded)', async () => {
    const { home, work } = await dirs();
    const script = await writeScript(work, SLOW_SCRIPT);
    const running = startCli(['exec', '--json', '--agent-script', script, 'hi'], { home });
    await running.waitForStdout('"turn.started"');
    const id = threadIdOf(running.stdout());
    const sentAt = Date.now();
    running.child.kill('SIGTERM');
    const r = await running.done;
    expect(r.code, r.stderr).toBe(1);
    expect(Date.now() - sentAt).toBeLessThan(3000);
    const records = await logRecords(await findLog(home, id));
    expect(records.at(-1)?.payload).toMatchObject({ type: 'turn.aborted', reason: 'interrupted' });
  }, 60_000);

  it('an agent that ignores the interrupt does not keep the process alive', async () => {
    const { home, work } = await dirs();
    const script = await writeScript(work, { turns: [{ steps: [{ type: 'delay', ms: 10_000, cooperative: false }] }] });
    const running = startCli(['exec', '--json', '--agent-script', script, 'hi'], { home });
    await running.waitForStdout('"turn.started"');
    const id = threadIdOf(running.stdout());
    const sentAt = Date.now();
    running.child.kill('SIGINT');
    const r = await running.done;
    expect(r.code, r.stderr).toBe(1);
    expect(Date.now() - sentAt).toBeLessThan(3000);
    const records = await logRecords(await findLog(home, id));
    expect(records.at(-1)?.payload).toMatchObject({ type: 'turn.aborted', reason: 'interrupted' });
  }, 60_000);

  it('SIGINT in human mode says the turn was interrupted', async () => {
    const { home, work } = await dirs();
    const script = await writeScript(work, SLOW_SCRIPT);
    const running = startCli(['exec', '--agent-script', script, 'hi'], { home });
    // The header is printed before the turn starts; wait until the turn is recorded.
    await waitForLogEvent(home, 'turn.started');
    running.child.kill('SIGINT');
    const r = await running.done;
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('interrupted');
    expect(r.stdout).toBe('');
  }, 60_000);
});

describe('colloquy exec: a reader that goes away', () => {
  it('a closed stdout (`colloquy exec --json … | head -1`) interrupts the turn cleanly instead of crashing', async () => {
    const { home, work } = await dirs();
    const script = await writeScript(work, {
      turns: [
        {
          steps: [
            { type: 'message', text: 'one' },
            { type: 'delay', ms: 200 },
            { type: 'message', text: 'two' },
            { type: 'delay', ms: 5000 },
            { type: 'message', text: 'three' },
          ],
        },
      ],
    });
    const running = startCli(['exec', '--json', '--agent-script', script, 'hi'], { home });
    await running.waitForStdout('"one"');
    const id = threadIdOf(running.stdout());
    const closedAt = Date.now();
    running.child.stdout?.destroy();
    const r = await running.done;
    expect(r.timedOut).toBe(false);
    expect(r.stderr).not.toMatch(/Unhandled|EPIPE\n\s+at /);
    expect(r.code, r.stderr).toBe(1);
    expect(Date.now() - closedAt).toBeLessThan(3000);
    // The turn ended as an interrupt, recorded, so the conversation resumes cleanly.
    const runtime = createRuntime({ home });
    try {
      const record = await runtime.read(id);
      expect(record.turns.map((t) => [t.status, t.reason])).toEqual([['aborted', 'interrupted']]);
    } finally {
      await runtime.shutdown();
    }
  }, 60_000);
});

describe('colloquy exec: storage', () => {
  it('the log is $COLLOQUY_HOME/sessions/YYYY/MM/DD/<id>.jsonl (UTC creation day), mode 0600, directories 0700', async () => {
    const { home } = await dirs();
    const before = new Date();
    const r = await runCli(['exec', '--json', 'hi'], { home });
    const after = new Date();
    expect(r.code, r.stderr).toBe(0);
    const id = threadIdOf(r.stdout);
    const day = (d: Date): string =>
      `${d.getUTCFullYear()}/${String(d.getUTCMonth() + 1).padStart(2, '0')}/${String(d.getUTCDate()).padStart(2, '0')}`;
    const candidates = new Set([day(before), day(after)].map((d) => join('sessions', d, `${id}.jsonl`)));
    const logs = await logFiles(home);
    expect(logs).toHaveLength(1);
    expect(candidates.has(logs[0] as string), `${logs[0]} not in ${[...candidates].join(', ')}`).toBe(true);

    const path = join(home, logs[0] as string);
    expect((await stat(path)).mode & 0o777).toBe(0o600);
    expect((await stat(join(home, 'sessions'))).mode & 0o777).toBe(0o700);
    const records = await logRecords(path);
    expect(records[0]).toMatchObject({ seq: 0, type: 'session_meta', payload: { id } });
    expect(records.map((rec) => rec.seq)).toEqual(records.map((_, i) => i));
    expect(records.some((rec) => rec.type === 'event' && rec.payload.type === 'turn.completed')).toBe(true);
  });

  it('a home that cannot be created is exit 1 with a message naming it, and nothing on stdout', async () => {
    const { work } = await dirs();
    const file = join(work, 'a-file');
    await writeFile(file, '');
    const r = await runCli(['exec', '--json', 'hi'], { home: join(file, 'home') });
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain(join(file, 'home'));
  });

  it('--home overrides COLLOQUY_HOME', async () => {
    const { home, work } = await dirs();
    const r = await runCli(['exec', '--json', '--home', work, 'hi'], { home });
    expect(r.code, r.stderr).toBe(0);
    expect(await logFiles(home)).toEqual([]);
    await findLog(work, threadIdOf(r.stdout));
  });

  it('--ephemeral writes no files under COLLOQUY_HOME, so the conversation cannot be resumed', async () => {
    const { home } = await dirs();
    const r = await runCli(['exec', '--json', '--ephemeral', 'hi'], { home });
    expect(r.code, r.stderr).toBe(0);
    expect(types(r.stdout)).toEqual(['thread.started', 'turn.started', 'item.completed', 'turn.completed']);
    expect(await filesUnder(home)).toEqual([]);
    const id = threadIdOf(r.stdout);
    const resume = await runCli(['exec', '--json', 'resume', id, 'again'], { home });
    expect(resume.code).toBe(1);
    expect(resume.stderr).toContain('no conversation with id');
  }, 40_000);

  it('records --model, --sandbox, --cd and the approval policy with the conversation', async () => {
    const { home, work } = await dirs();
    const r = await runCli(
      ['exec', '--json', '--model', 'm1', '--sandbox', 'read-only', '--cd', work, '--config', 'approval_policy="never"', 'hi'],
      { home },
    );
    expect(r.code, r.stderr).toBe(0);
    const id = threadIdOf(r.stdout);
    const runtime = createRuntime({ home });
    try {
      const record = await runtime.read(id);
      expect(record.config).toMatchObject({ model: 'm1', sandbox: 'read-only', cwd: work, approvalPolicy: 'never' });
    } finally {
      await runtime.shutdown();
    }
  });
});

describe('colloquy exec --sandbox', () => {
  it('read-only: "!touch x" reports a failed command and leaves no file', async () => {
    const { home, work } = await dirs();
    const r = await runCli(['exec', '--json', '--sandbox', 'read-only', '--cd', work, '--config', 'approval_policy="never"', '!touch x'], { home });
    expect(r.code, r.stderr).toBe(0);
    const command = completedItems(r.stdout).find((i) => i.type === 'command_execution');
    expect(command).toMatchObject({ command: 'touch x', status: 'failed' });
    expect(command?.aggregated_output).toMatch(/Read-only file system/);
    expect(existsSync(join(work, 'x'))).toBe(false);
  });

  it('workspace-write writes the --cd directory and the --add-dir ones; sandbox_mode and network access come from --config', async () => {
    const { home, work } = await dirs();
    const extra = await tempDir('colloquy-extra-');
    const r = await runCli(
      ['exec', '--json', '--config', 'sandbox_mode="workspace-write"', '--config', 'sandbox_workspace_write.network_access=true', '--add-dir', extra, '--cd', work, '--config', 'approval_policy="never"', `!touch x ${join(extra, 'y')}`],
      { home },
    );
    expect(r.code, r.stderr).toBe(0);
    expect(completedItems(r.stdout).find((i) => i.type === 'command_execution')).toMatchObject({ status: 'completed', exit_code: 0 });
    expect(existsSync(join(work, 'x'))).toBe(true);
    expect(existsSync(join(extra, 'y'))).toBe(true);
    const runtime = createRuntime({ home });
    try {
      const record = await runtime.read(threadIdOf(r.stdout));
      expect(record.config).toMatchObject({ sandbox: 'workspace-write', networkAccess: true, writableRoots: [extra] });
    } finally {
      await runtime.shutdown();
    }
  });

  it('without bubblewrap, a read-only command fails naming what is missing; danger-full-access runs', async () => {
    const { home, work } = await dirs();
    const env = { COLLOQUY_BWRAP: '/nonexistent/bwrap' };
    const r = await runCli(['exec', '--json', '--sandbox', 'read-only', '--cd', work, '--config', 'approval_policy="never"', '!touch x'], { home, env });
    expect(r.code, r.stderr).toBe(0);
    const command = completedItems(r.stdout).find((i) => i.type === 'command_execution');
    expect(command).toMatchObject({ status: 'failed' });
    expect(command).not.toHaveProperty('exit_code');
    expect(command?.aggregated_output).toContain('sandbox read-only needs bubblewrap (bwrap): apt-get install bubblewrap');
    expect(existsSync(join(work, 'x'))).toBe(false);
    const free = await runCli(['exec', '--json', '--sandbox', 'danger-full-access', '--cd', work, '--config', 'approval_policy="never"', '!touch x'], { home, env });
    expect(free.code, free.stderr).toBe(0);
    expect(existsSync(join(work, 'x'))).toBe(true);
  });
});

describe('colloquy exec: one writer per conversation', () => {
  it('a second process resuming a conversation another is writing fails, naming the holder', async () => {
    const { home, work } = await dirs();
    const script = await writeScript(work, { turns: [{ steps: [{ type: 'message', text: 'first' }] }, { steps: [{ type: 'delay', ms: 4_000 }, { type: 'message', text: 'slow' }] }], repeat: 'last' });
    const first = await runCli(['exec', '--json', '--agent-script', script, 'one'], { home });
    const id = threadIdOf(first.stdout);
    const slow = startCli(['exec', '--json', '--agent-script', script, 'resume', id, 'two'], { home });
    await slow.waitForStdout('"turn.started"');
    const second = await runCli(['exec', '--json', '--agent-script', script, 'resume', id, 'three'], { home });
    expect(second.code).toBe(1);
    expect(second.stderr).toContain(`is being written by process ${slow.child.pid}`);
    expect(second.stdout).toBe('');
    const done = await slow.done;
    expect(done.code).toBe(0);
    // Afterwards it can be resumed again, and its log is intact.
    const third = await runCli(['exec', '--json', '--agent-script', script, 'resume', id, 'four'], { home });
    expect(third.code, third.stderr).toBe(0);
  }, 60_000);
});
