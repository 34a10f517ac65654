/**
 * The unmodified `@openai/codex-sdk` drives the built `colloquy` executable through
 * `codexPathOverride` (SPEC §7): it spawns `dist/colloquy.cjs exec --experimental-json …`,
 * writes the prompt to stdin and parses the JSONL on stdout.
 */
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Codex, type CodexOptions, type ThreadEvent } from '@openai/codex-sdk';
import { afterEach, describe, expect, it } from 'vitest';
import { createRuntime, type ConversationRecord } from '../../src/index.js';
import { CLI, cliEnv, findLog, logFiles, logRecords, removeTempDirs, SLOW_SCRIPT, tempDir, ULID, waitUntil, writeScript } from './helpers.js';

afterEach(removeTempDirs);

/** A Codex SDK client whose "codex" is Colloquy, storing under `home`. */
function codex(home: string, options: Omit<CodexOptions, 'codexPathOverride' | 'env'> = {}): Codex {
  return new Codex({ ...options, codexPathOverride: CLI, env: cliEnv(home) });
}

/** Read a conversation back from its log. */
async function read(home: string, id: string): Promise<ConversationRecord> {
  const runtime = createRuntime({ home });
  try {
    return await runtime.read(id);
  } finally {
    await runtime.shutdown();
  }
}

describe('@openai/codex-sdk driving colloquy', () => {
  it('startThread().run() returns the local agent\'s answer and usage, and sets thread.id', async () => {
    const home = await tempDir();
    const thread = codex(home).startThread();
    expect(thread.id).toBeNull();
    const turn = await thread.run('hello');
    expect(turn.finalResponse).toBe('Turn 1. You said: "hello". This is the first turn of our conversation.');
    expect(turn.items).toEqual([{ id: expect.any(String), type: 'agent_message', text: turn.finalResponse }]);
    expect(turn.usage).toMatchObject({
      input_tokens: expect.any(Number),
      cached_input_tokens: expect.any(Number),
      output_tokens: expect.any(Number),
      reasoning_output_tokens: expect.any(Number),
    });
    expect(turn.usage?.output_tokens).toBeGreaterThan(0);
    expect(thread.id).toMatch(ULID);
    await findLog(home, thread.id as string);
  });

  it('a second run on the same thread continues the conversation', async () => {
    const home = await tempDir();
    const thread = codex(home).startThread();
    await thread.run('hello');
    const id = thread.id;
    const second = await thread.run('again');
    expect(thread.id).toBe(id);
    expect(second.finalResponse).toContain('Turn 2. You said: "again".');
    expect(second.finalResponse).toContain('Before that you said: "hello".');
    // Usage is cumulative over the thread, as Codex reports it.
    expect(second.usage?.cached_input_tokens).toBeGreaterThan(0);
    expect(await logFiles(home)).toHaveLength(1);
  }, 40_000);

  it('runStreamed() yields thread.started, turn.started, item.completed, turn.completed in order', async () => {
    const home = await tempDir();
    const thread = codex(home).startThread();
    const { events } = await thread.runStreamed('hi');
    const seen: ThreadEvent[] = [];
    for await (const event of events) seen.push(event);
    expect(seen.map((e) => e.type)).toEqual(['thread.started', 'turn.started', 'item.completed', 'turn.completed']);
    expect(seen[0]).toEqual({ type: 'thread.started', thread_id: thread.id });
    expect(seen[1]).toEqual({ type: 'turn.started' });
    const completed = seen[2];
    expect(completed?.type === 'item.completed' && completed.item.type === 'agent_message' && completed.item.text).toContain('You said: "hi"');
  });

  it('resumeThread(id) on a new Codex instance continues the same conversation', async () => {
    const home = await tempDir();
    const first = codex(home).startThread();
    await first.run('hello');
    const id = first.id as string;

    const resumed = codex(home).resumeThread(id);
    expect(resumed.id).toBe(id);
    const { events } = await resumed.runStreamed('again');
    const seen: ThreadEvent[] = [];
    for await (const event of events) seen.push(event);
    expect(seen[0]).toEqual({ type: 'thread.started', thread_id: id });
    const message = seen.find((e) => e.type === 'item.completed');
    const text = message?.type === 'item.completed' && message.item.type === 'agent_message' ? message.item.text : '';
    expect(text).toContain('Turn 2. You said: "again".');
    expect(text).toContain('Before that you said: "hello".');
    expect(await logFiles(home)).toHaveLength(1);
  }, 40_000);

  it('a turn that fails makes run() throw its message', async () => {
    const home = await tempDir();
    const script = await writeScript(home, { turns: [{ steps: [{ type: 'fail', message: 'boom' }] }] });
    const thread = codex(home, { config: { agent_script: script } }).startThread();
    await expect(thread.run('hi')).rejects.toThrow(/^boom$/);
  });

  it('a usage error makes run() throw with the CLI\'s message', async () => {
    const home = await tempDir();
    const thread = codex(home, { config: { approval_policy: 'sometimes' } }).startThread();
    await expect(thread.run('hi')).rejects.toThrow(/exited with code 2: .*invalid approval policy/s);
  });

  it('resumeThread() of an unknown id makes run() throw "no conversation with id"', async () => {
    const home = await tempDir();
    const thread = codex(home).resumeThread('01ARZ3NDEKTSV4RRFFQ69G5FAV');
    await expect(thread.run('hi')).rejects.toThrow(/exited with code 1: .*no conversation with id "01ARZ3NDEKTSV4RRFFQ69G5FAV"/s);
  });

  it('an AbortSignal aborted during a slow turn makes run() reject promptly with AbortError; the log records the abort', async () => {
    const home = await tempDir();
    const script = await writeScript(home, SLOW_SCRIPT);
    const thread = codex(home, { config: { agent_script: script } }).startThread();
    const controller = new AbortController();
    const run = thread.run('hi', { signal: controller.signal });
    const outcome = run.then(
      () => null,
      (err: unknown) => err,
    );
    // Abort once the turn is under way (its start is in the log).
    let logPath = '';
    await waitUntil(async () => {
      const logs = await logFiles(home);
      if (logs.length !== 1) return false;
      logPath = join(home, logs[0] as string);
      const records = await logRecords(logPath).catch(() => []);
      return records.some((r) => r.type === 'event' && r.payload.type === 'turn.started');
    }, 15_000, 'the turn to start');
    const abortedAt = Date.now();
    controller.abort();
    const err = await outcome;
    const took = Date.now() - abortedAt;
    expect(err).toBeInstanceOf(Error);
    expect((err as Error).name).toBe('AbortError');
    expect(took).toBeLessThan(3000);

    // The SDK kills with SIGTERM; colloquy treats it as an interrupt and records the abort before exiting.
    const id = /([0-9A-HJKMNP-TV-Z]{26})\.jsonl$/.exec(logPath)?.[1] as string;
    await waitUntil(async () => {
      const records = await logRecords(logPath);
      return records.some((r) => r.type === 'event' && r.payload.type === 'turn.aborted');
    }, 10_000, 'the abort to be recorded');
    const record = await read(home, id);
    expect(record.turns.map((t) => t.status)).toEqual(['aborted']);
    expect(JSON.stringify(record.turns[0]?.items)).not.toContain('too late');

    // The conversation goes on from there.
    const next = await codex(home).resumeThread(id).run('again');
    expect(next.finalResponse).toContain('Turn 2. You said: "again".');
  }, 60_000);

  it('an AbortSignal aborted before run() rejects without starting a conversation', async () => {
    const home = await tempDir();
    const thread = codex(home).startThread();
    await expect(thread.run('hi', { signal: AbortSignal.abort() })).rejects.toMatchObject({ name: 'AbortError' });
    expect(await logFiles(home)).toEqual([]);
  });

  it('maps thread options: model, workingDirectory, skipGitRepoCheck, approvalPolicy', async () => {
    const home = await tempDir();
    const dir = await tempDir('colloquy-cwd-');
    const thread = codex(home).startThread({ model: 'm', workingDirectory: dir, skipGitRepoCheck: true, approvalPolicy: 'never' });
    // With approvals "never" the command runs, in the working directory.
    const turn = await thread.run('!pwd');
    const command = turn.items.find((i) => i.type === 'command_execution');
    expect(command).toMatchObject({ type: 'command_execution', command: 'pwd', status: 'completed', exit_code: 0, aggregated_output: `${dir}\n` });
    const record = await read(home, thread.id as string);
    expect(record.config).toMatchObject({ model: 'm', cwd: dir, approvalPolicy: 'never' });
    expect(record.meta.config).toMatchObject({ model: 'm', cwd: dir, approvalPolicy: 'never' });
  });

  it('resumeThread(id, options) applies the options to the resumed turn', async () => {
    const home = await tempDir();
    const dir = await tempDir('colloquy-cwd-');
    const first = codex(home).startThread({ skipGitRepoCheck: true });
    const declined = await first.run('!pwd');
    expect(declined.items.find((i) => i.type === 'command_execution')?.status).toBe('declined');
    const id = first.id as string;

    const resumed = codex(home).resumeThread(id, { approvalPolicy: 'never', workingDirectory: dir, model: 'm2', skipGitRepoCheck: true });
    const turn = await resumed.run('!pwd');
    expect(turn.items.find((i) => i.type === 'command_execution')).toMatchObject({ status: 'completed', aggregated_output: `${dir}\n` });
    expect(resumed.id).toBe(id);
    const record = await read(home, id);
    expect(record.config).toMatchObject({ model: 'm2', cwd: dir, approvalPolicy: 'never' });
    expect(record.turns).toHaveLength(2);
  }, 40_000);

  it('without approvalPolicy "never" a command is declined (exec cannot ask)', async () => {
    const home = await tempDir();
    const marker = join(home, 'ran');
    const thread = codex(home).startThread({ skipGitRepoCheck: true });
    const turn = await thread.run(`!touch ${marker}`);
    const command = turn.items.find((i) => i.type === 'command_execution');
    expect(command?.status).toBe('declined');
    expect(await logFiles(home)).toHaveLength(1);
    expect(existsSync(marker)).toBe(false);
  });

  it('accepts every option the SDK passes (sandbox, add-dir, reasoning effort, network, web search, base URL, output schema, raw overrides)', async () => {
    const home = await tempDir();
    const dir = await tempDir('colloquy-cwd-');
    const extra = await tempDir('colloquy-extra-');
    const schema = { type: 'object', properties: { answer: { type: 'string' } }, required: ['answer'], additionalProperties: false };
    const thread = codex(home, {
      baseUrl: 'http://127.0.0.1:9/v1',
      apiKey: 'sk-test',
      config: { model_provider: 'local', nested: { flag: true, depth: 2 } },
      configOverrides: ['show_raw_agent_reasoning=true'],
    }).startThread({
      model: 'm',
      threadSource: 'tests',
      sandboxMode: 'workspace-write',
      workingDirectory: dir,
      skipGitRepoCheck: true,
      modelReasoningEffort: 'high',
      networkAccessEnabled: false,
      webSearchMode: 'disabled',
      approvalPolicy: 'on-request',
      additionalDirectories: [extra],
    });
    const turn = await thread.run('hi', { outputSchema: schema });
    expect(turn.finalResponse).toContain('You said: "hi"');
    const record = await read(home, thread.id as string);
    expect(record.config).toMatchObject({
      model: 'm',
      cwd: dir,
      sandbox: 'workspace-write',
      networkAccess: false,
      writableRoots: [extra],
      approvalPolicy: 'on-request',
      outputSchema: schema,
    });

    // And on resume (the SDK then passes `resume <id>` after all of them). The output schema is
    // the turn's, as in Codex: a turn without one drops it, a turn with another one uses that.
    const again = await thread.run('again');
    expect(again.finalResponse).toContain('Turn 2');
    expect((await read(home, thread.id as string)).config.outputSchema).toBeUndefined();
    const other = { type: 'object', properties: { n: { type: 'number' } }, required: ['n'], additionalProperties: false };
    const third = await thread.run('third', { outputSchema: other });
    expect(third.finalResponse).toContain('Turn 3');
    expect((await read(home, thread.id as string)).config.outputSchema).toEqual(other);
  }, 40_000);

  it('sandboxMode "read-only" is enforced: a command cannot write the working directory', async () => {
    const home = await tempDir();
    const dir = await tempDir('colloquy-cwd-');
    const thread = codex(home).startThread({ sandboxMode: 'read-only', approvalPolicy: 'never', workingDirectory: dir, skipGitRepoCheck: true });
    const turn = await thread.run('!touch made');
    expect(turn.items.find((i) => i.type === 'command_execution')).toMatchObject({ status: 'failed' });
    expect(existsSync(join(dir, 'made'))).toBe(false);
    // workspace-write, on the same thread: now it can.
    const writable = codex(home).resumeThread(thread.id as string, { sandboxMode: 'workspace-write', approvalPolicy: 'never', workingDirectory: dir, skipGitRepoCheck: true });
    const again = await writable.run('!touch made');
    expect(again.items.find((i) => i.type === 'command_execution')).toMatchObject({ status: 'completed', exit_code: 0 });
    expect(existsSync(join(dir, 'made'))).toBe(true);
  }, 40_000);

  it('config: { agent_script } in new Codex({ config }) reaches the CLI', async () => {
    const home = await tempDir();
    const script = await writeScript(home, {
      turns: [{ steps: [{ type: 'reasoning', text: 'thinking' }, { type: 'message', text: 'scripted hello' }] }],
    });
    const thread = codex(home, { config: { agent_script: script } }).startThread();
    const turn = await thread.run('hi');
    expect(turn.finalResponse).toBe('scripted hello');
    expect(turn.items.map((i) => i.type)).toEqual(['reasoning', 'agent_message']);
  });

  it('images in the input reach the agent, on a new thread and on resume', async () => {
    const home = await tempDir();
    const image = join(home, 'a.png');
    await writeFile(image, 'png');
    const thread = codex(home).startThread();
    const first = await thread.run([
      { type: 'text', text: 'look' },
      { type: 'local_image', path: image },
    ]);
    expect(first.finalResponse).toContain('You attached 1 image.');
    const second = await thread.run([
      { type: 'text', text: 'and these' },
      { type: 'local_image', path: image },
      { type: 'local_image', path: image },
    ]);
    expect(second.finalResponse).toContain('Turn 2. You said: "and these".');
    expect(second.finalResponse).toContain('You attached 2 images.');
  }, 40_000);
});
