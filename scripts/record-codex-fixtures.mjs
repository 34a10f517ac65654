#!/usr/bin/env node
// Records real Codex rollout files for the Codex import tests (test/fixtures/codex/).
//
//   node scripts/record-codex-fixtures.mjs [--out <dir>] [--codex-version <v>]
//
// What it does:
// 1. Finds the Codex CLI: $CODEX_BIN if set, else `@openai/codex@<version>` installed with
//    `npm install --prefix <tmp>/colloquy-codex-cli-<version>` (about 400 MB, kept between runs
//    and never a dependency of this project).
// 2. Bundles the mock Responses API server (test/support/mock-responses.ts) with esbuild and
//    starts it on 127.0.0.1: Codex talks to it through a custom model provider, so no network
//    and no real API key are needed (`-c model_providers.mock={ base_url = …, env_key = … }`).
// 3. Runs `codex exec --json` (and `codex exec resume <id>`) for each scenario, each with its own
//    CODEX_HOME and working directory, approval policy `never` and sandbox `danger-full-access`
//    (so the scripted shell call really runs), and checks what Codex sent to the mock.
// 4. Copies each scenario's rollout (CODEX_HOME/sessions/**/rollout-*.jsonl; a resume appends to
//    the same file) to <out>/rollout-<scenario>.jsonl, with the temporary CODEX_HOME and working
//    directory paths replaced by `/codex-home` and `/workspace`, and writes <out>/README.md.
//
// Scenarios: plain-turns (two text turns), function-call (a shell call Codex runs, with its
// output), multi-turn-resume (three turns over three `exec resume` processes), interrupted-turn
// (a completed turn, then one interrupted with SIGINT while the mock stalls).
import { execFileSync, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { copyFile, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { build } from 'esbuild';
import { codexExecArgs, MOCK_MODEL as MODEL } from './codex-exec.mjs';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const { values: args } = parseArgs({
  options: {
    out: { type: 'string', default: join(root, 'test/fixtures/codex') },
    'codex-version': { type: 'string', default: '0.169.0' },
  },
});
const PROCESS_TIMEOUT_MS = 120_000;

function log(message) {
  process.stderr.write(`record-codex-fixtures: ${message}\n`);
}

/** The Codex executable, installing the pinned version into a temporary prefix if needed. */
function codexBinary(version) {
  if (process.env.CODEX_BIN) return process.env.CODEX_BIN;
  const prefix = join(tmpdir(), `colloquy-codex-cli-${version}`);
  const bin = join(prefix, 'node_modules/.bin/codex');
  if (!existsSync(bin)) {
    log(`installing @openai/codex@${version} into ${prefix} (about 400 MB)…`);
    execFileSync('npm', ['install', '--prefix', prefix, '--no-audit', '--no-fund', '--no-save', `@openai/codex@${version}`], { stdio: 'inherit' });
  }
  return bin;
}

/** Import the TypeScript mock server through an esbuild bundle. */
async function loadMock(scratch) {
  const outfile = join(scratch, 'mock-responses.mjs');
  await build({
    entryPoints: [join(root, 'test/support/mock-responses.ts')],
    outfile,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    logLevel: 'warning',
  });
  return import(pathToFileURL(outfile).href);
}

/** The arguments of a `function_call` to whichever shell tool Codex offers in this request. */
function shellCall(request, command, callId) {
  const tools = (request.body?.tools ?? []).map((t) => t.name ?? t.type);
  if (tools.includes('exec_command')) return { type: 'function_call', name: 'exec_command', arguments: { cmd: command }, callId };
  if (tools.includes('shell_command')) return { type: 'function_call', name: 'shell_command', arguments: { command }, callId };
  if (tools.includes('shell')) return { type: 'function_call', name: 'shell', arguments: { command: ['bash', '-lc', command] }, callId };
  throw new Error(`Codex offered no shell tool; tools: ${tools.join(', ')}`);
}

/** Every text of the request's input items of `type` (`message` texts and call outputs). */
function inputTexts(request) {
  const texts = [];
  for (const item of request.body?.input ?? []) {
    if (item.type === 'message') for (const part of item.content ?? []) if (typeof part.text === 'string') texts.push(part.text);
    if (item.type === 'function_call_output') texts.push(typeof item.output === 'string' ? item.output : JSON.stringify(item.output));
  }
  return texts;
}

function check(condition, message) {
  if (!condition) throw new Error(`check failed: ${message}`);
}

class Scenario {
  constructor(name, codex, mock) {
    this.name = name;
    this.codex = codex;
    this.mock = mock;
    this.threadId = null;
  }

  async setup() {
    this.home = await mkdtemp(join(tmpdir(), `codex-home-${this.name}-`));
    this.work = await mkdtemp(join(tmpdir(), `codex-work-${this.name}-`));
  }

  argv(prompt, resume) {
    return codexExecArgs(this.mock.baseUrl, this.work, [...(resume ? ['resume', this.threadId] : []), prompt]);
  }

  /** Start one `codex exec` (a resume once the thread exists). */
  start(prompt, { resume = this.threadId !== null } = {}) {
    const child = spawn(this.codex, this.argv(prompt, resume), {
      cwd: this.work,
      env: { ...process.env, CODEX_HOME: this.home, MOCK_API_KEY: 'mock-key', RUST_LOG: 'error', NO_COLOR: '1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (s) => (stdout += s));
    child.stderr.setEncoding('utf8').on('data', (s) => (stderr += s));
    const timer = setTimeout(() => child.kill('SIGKILL'), PROCESS_TIMEOUT_MS);
    const done = new Promise((resolveDone, reject) => {
      child.once('error', reject);
      child.once('close', (code, signal) => {
        clearTimeout(timer);
        resolveDone({ code, signal, stdout, stderr });
      });
    });
    return { child, done };
  }

  /** Run one turn to its end; returns the parsed `--json` events. */
  async turn(prompt, { expectCode = 0, ...options } = {}) {
    const { done } = this.start(prompt, options);
    const result = await done;
    return this.finish(prompt, result, expectCode);
  }

  finish(prompt, result, expectCode) {
    if (result.code !== expectCode) {
      throw new Error(`${this.name}: codex exec ${JSON.stringify(prompt)} exited ${result.code ?? result.signal}, expected ${expectCode}\n${result.stderr}\n${result.stdout}`);
    }
    const events = result.stdout
      .split('\n')
      .filter((l) => l.trim() !== '')
      .map((l) => JSON.parse(l));
    const started = events.find((e) => e.type === 'thread.started');
    check(started, `${this.name}: no thread.started in ${result.stdout}`);
    if (this.threadId === null) this.threadId = started.thread_id;
    check(started.thread_id === this.threadId, `${this.name}: resume changed the thread id`);
    return events;
  }

  /** The scenario's one rollout file. */
  async rollout() {
    const sessions = join(this.home, 'sessions');
    const files = (await readdir(sessions, { recursive: true })).filter((f) => /(^|\/)rollout-[^/]*\.jsonl$/.test(f));
    check(files.length === 1, `${this.name}: expected one rollout under ${sessions}, found ${JSON.stringify(files)}`);
    return join(sessions, files[0]);
  }

  async save(outDir) {
    const source = await this.rollout();
    let text = await readFile(source, 'utf8');
    text = text.split(this.home).join('/codex-home').split(this.work).join('/workspace');
    const target = join(outDir, `rollout-${this.name}.jsonl`);
    await writeFile(target, text, 'utf8');
    const lines = text.split('\n').filter((l) => l !== '').map((l) => JSON.parse(l));
    const kinds = {};
    for (const line of lines) {
      const kind = line.type === 'event_msg' || line.type === 'response_item' ? `${line.type}:${line.payload?.type}` : line.type;
      kinds[kind] = (kinds[kind] ?? 0) + 1;
    }
    return { file: relative(outDir, target), source: relative(this.home, source), lines: lines.length, bytes: Buffer.byteLength(text), kinds };
  }

  async cleanup() {
    await rm(this.home, { recursive: true, force: true });
    await rm(this.work, { recursive: true, force: true });
  }
}

const MESSAGE = (text, usage = { input_tokens: 1200, cached_input_tokens: 0, output_tokens: 12 }) => ({ output: [{ type: 'message', text }], usage });

/** Each scenario: script the mock, run Codex, check what Codex sent. */
const SCENARIOS = {
  'plain-turns': async (s) => {
    s.mock.enqueue(MESSAGE('Hello! I am the mock model.', { input_tokens: 1200, cached_input_tokens: 0, output_tokens: 9 }));
    await s.turn('Hello, Codex.');
    s.mock.enqueue({
      output: [
        { type: 'reasoning', summary: 'The user asks what they said before.' },
        { type: 'message', text: 'You said: "Hello, Codex."' },
      ],
      usage: { input_tokens: 1300, cached_input_tokens: 1100, output_tokens: 20, reasoning_output_tokens: 8 },
    });
    await s.turn('What did I just say?');
    const last = s.mock.responseRequests().at(-1);
    check(inputTexts(last).includes('Hello, Codex.'), 'the second turn sent the first user message');
  },

  'function-call': async (s) => {
    s.mock.enqueue((request) => ({ output: [shellCall(request, 'echo colloquy-fixture', 'call_fixture_1')], usage: { input_tokens: 1200, cached_input_tokens: 0, output_tokens: 15 } }));
    s.mock.enqueue(MESSAGE('The command printed colloquy-fixture.', { input_tokens: 1400, cached_input_tokens: 1200, output_tokens: 8 }));
    const events = await s.turn('Run echo colloquy-fixture and tell me what it printed.');
    const last = s.mock.responseRequests().at(-1);
    check(inputTexts(last).some((t) => t.includes('colloquy-fixture')), 'the follow-up request carried the command output');
    check(events.some((e) => e.type === 'item.completed' && e.item.type === 'command_execution'), 'codex reported a command_execution');
  },

  'multi-turn-resume': async (s) => {
    s.mock.enqueue(MESSAGE('Noted: the codeword is tangerine.'));
    await s.turn('Remember the codeword tangerine.');
    s.mock.enqueue((request) => ({ output: [shellCall(request, 'printf tangerine', 'call_resume_1')], usage: { input_tokens: 1300, cached_input_tokens: 1200, output_tokens: 10 } }));
    s.mock.enqueue(MESSAGE('The codeword is tangerine (checked with printf).', { input_tokens: 1450, cached_input_tokens: 1300, output_tokens: 11 }));
    await s.turn('What is the codeword? Check it with a command.');
    s.mock.enqueue(MESSAGE('You are welcome.', { input_tokens: 1500, cached_input_tokens: 1450, output_tokens: 4 }));
    await s.turn('Thanks, that is all.');
    const last = s.mock.responseRequests().at(-1);
    const texts = inputTexts(last);
    check(texts.includes('Remember the codeword tangerine.') && texts.includes('What is the codeword? Check it with a command.'), 'the third turn sent the whole history');
  },

  'interrupted-turn': async (s) => {
    s.mock.enqueue(MESSAGE('One, two, three.'));
    await s.turn('Count to three.');
    s.mock.enqueue({ kind: 'stall' });
    const stallsBefore = s.mock.responseRequests().length;
    const { child, done } = s.start('Now count to a million, slowly.');
    await s.mock.waitForStall(1, 60_000);
    check(s.mock.responseRequests().length === stallsBefore + 1, 'the interrupted turn reached the model');
    // Let Codex record the turn's start before interrupting it.
    await new Promise((r) => setTimeout(r, 500));
    child.kill('SIGINT');
    const result = await done;
    // Codex exec exits non-zero for an interrupted turn (and prints no turn.completed).
    check(result.code !== 0, `the interrupted codex exec exited ${result.code ?? result.signal}`);
    const events = s.finish('Now count to a million, slowly.', result, result.code);
    check(!events.some((e) => e.type === 'turn.completed'), 'the interrupted turn did not complete');
    const text = await readFile(await s.rollout(), 'utf8');
    check(text.includes('"turn_aborted"'), 'the rollout records the aborted turn');
  },
};

async function main() {
  const version = args['codex-version'];
  const codex = codexBinary(version);
  const reported = execFileSync(codex, ['--version'], { encoding: 'utf8' }).trim();
  log(`using ${reported} (${codex})`);
  const outDir = resolve(args.out);
  await mkdir(outDir, { recursive: true });
  const scratch = await mkdtemp(join(tmpdir(), 'record-codex-fixtures-'));
  const { startMockResponses } = await loadMock(scratch);
  const manifest = [];
  try {
    for (const [name, run] of Object.entries(SCENARIOS)) {
      const mock = await startMockResponses();
      const scenario = new Scenario(name, codex, mock);
      await scenario.setup();
      try {
        log(`recording ${name}…`);
        await run(scenario);
        check(mock.pending === 0, `${name}: ${mock.pending} scripted responses were not used`);
        const saved = await scenario.save(outDir);
        manifest.push({ scenario: name, thread_id: scenario.threadId, requests: mock.responseRequests().length, ...saved });
        log(`  ${saved.file}: ${saved.lines} lines`);
      } finally {
        await mock.close();
        await scenario.cleanup();
      }
    }
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
  await writeFile(join(outDir, 'manifest.json'), `${JSON.stringify({ codex: reported, model: MODEL, fixtures: manifest }, null, 2)}\n`);
  await writeFile(join(outDir, 'README.md'), readme(reported, manifest));
  log(`wrote ${manifest.length} fixtures to ${outDir}`);
}

function readme(codexVersion, manifest) {
  const rows = manifest.map((m) => `| \`${m.file}\` | ${m.lines} | ${m.requests} | ${describe(m.scenario)} |`).join('\n');
  return `# Codex rollout fixtures

Real rollout files written by the Codex CLI (\`${codexVersion}\`, npm package \`@openai/codex\`),
recorded by \`node scripts/record-codex-fixtures.mjs\`. Codex ran \`codex exec --json\` (and
\`codex exec resume <id>\`) against the loopback mock of the OpenAI Responses API in
\`test/support/mock-responses.ts\` (a custom model provider, model \`${'mock-model'}\`, approval
policy \`never\`, sandbox \`danger-full-access\`), so every model answer is scripted mock data and
nothing in these files is secret. The only edit: the temporary \`CODEX_HOME\` and working
directory paths are replaced by \`/codex-home\` and \`/workspace\`.

| file | lines | model requests | what happens |
| --- | --- | --- | --- |
${rows}

\`manifest.json\` lists, per file, the Codex thread id and how many lines of each kind it holds
(\`event_msg\` and \`response_item\` lines by their payload type).

These are the current ("paginated") variant of the format: each line has an \`ordinal\` and
\`session_meta.history_mode\` is \`paginated\`. The importer's tests derive the older variants
(no \`ordinal\`; the legacy bare-object lines) from these files.

To record them again (downloads about 400 MB into the system temp directory once):

    node scripts/record-codex-fixtures.mjs            # or: CODEX_BIN=/path/to/codex node scripts/…
`;
}

function describe(scenario) {
  switch (scenario) {
    case 'plain-turns':
      return 'two text turns (`exec`, then `exec resume`); the second answer has a reasoning summary';
    case 'function-call':
      return 'one turn: the model calls the shell tool, Codex runs `echo colloquy-fixture`, the model reads the output and answers';
    case 'multi-turn-resume':
      return 'three turns in three processes (`exec`, `exec resume`, `exec resume`); the second runs `printf tangerine`';
    case 'interrupted-turn':
      return 'a completed turn, then a resumed turn interrupted with SIGINT while the model stalls';
    default:
      return scenario;
  }
}

await main();
