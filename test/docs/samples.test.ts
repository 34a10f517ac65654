/**
 * Every code sample of README.md and docs/*.md works.
 *
 * TypeScript: every ```ts (or ```typescript) block is bundled with esbuild (`colloquy`,
 * `colloquy/inspect`, `colloquy/server`, `colloquy/postgres` and `colloquy/openai-agents` resolve to the sources;
 * other packages come from node_modules) and run in its own Node process, in an empty
 * directory, with `HOME` set to a fresh directory and `COLLOQUY_HOME` to an existing, empty
 * directory in it, `OPENAI_BASE_URL` set to a loopback mock of the Responses and Chat
 * Completions APIs that answers every request with a short text, `OPENAI_API_KEY=test`, and
 * `DATABASE_URL` the run's PostgreSQL server (see `test/support/postgres-server.ts`).
 * It must exit with code 0 within 20 s. Blocks are bundled together once and run two at a time.
 *
 * Placeholders in a block are replaced before it runs:
 * - `/path/to/colloquy/dist/colloquy.cjs` → this checkout's `dist/colloquy.cjs`;
 * - `/path/to/colloquy` → this checkout;
 * - `01K…` (or `01K...`) → the id of a conversation created (one turn, "hello") in the block's
 *   `COLLOQUY_HOME` before the block runs.
 *
 * A block that cannot run here is fenced ```ts no-run <why>, e.g.
 * ```ts no-run: needs a PostgreSQL server; the reason is required.
 *
 * Shell: in every ```sh / ```bash / ```shell / ```console block, each command line that runs
 * `colloquy …` (also `npx colloquy`, `node dist/colloquy.cjs`, and commands after `|`, `&&`,
 * `||` or `;`) must name subcommands that exist and options that the subcommand's `--help`
 * lists. In a block where some lines start with `$ `, only those lines are commands (the
 * others are output); otherwise every line that is not a `#` comment is. Checked with
 * `node dist/colloquy.cjs <subcommand…> --help`, so `npm run build` first.
 */
import { execFile, spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { build, type Plugin } from 'esbuild';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { startMockResponses, type MockResponsesServer } from '../support/mock-responses.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const cli = join(root, 'dist', 'colloquy.cjs');
const run = promisify(execFile);

/** How long a block may run (ms). */
const BLOCK_TIMEOUT_MS = 20_000;
/** Blocks bundled and run at once. */
const CONCURRENCY = 2;

/** Package names of the samples → the source files they stand for. */
const ENTRY_POINTS: Readonly<Record<string, string>> = {
  colloquy: join(root, 'src/index.ts'),
  'colloquy/inspect': join(root, 'src/inspect/index.ts'),
  'colloquy/server': join(root, 'src/server/index.ts'),
  'colloquy/postgres': join(root, 'src/store/postgres/index.ts'),
  'colloquy/openai-agents': join(root, 'src/clients/openai-agents/index.ts'),
};

/** Placeholder → replacement, applied in this order (the id placeholder is handled apart). */
const PLACEHOLDERS: ReadonlyArray<readonly [string, string]> = [
  ['/path/to/colloquy/dist/colloquy.cjs', cli],
  ['/path/to/colloquy', root.replace(/\/$/, '')],
];
/** A conversation id left out: replaced with the id of a conversation made beforehand. */
const ID_PLACEHOLDER = /01K(?:…|\.\.\.)/g;

/** A fenced code block of a Markdown file. */
interface Block {
  readonly file: string;
  /** 1-based line of the opening fence. */
  readonly line: number;
  readonly lang: string;
  /** The info string after the language. */
  readonly meta: string;
  readonly code: string;
  /** 1-based line of the first line of `code`. */
  readonly firstLine: number;
}

function docFiles(): string[] {
  const docs = readdirSync(join(root, 'docs'))
    .filter((name) => name.endsWith('.md'))
    .sort()
    .map((name) => `docs/${name}`);
  return ['README.md', ...docs];
}

/** The fenced code blocks of a Markdown text. */
function blocksOf(file: string, text: string): Block[] {
  const blocks: Block[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const open = /^ {0,3}(`{3,}|~{3,})\s*([\w+-]*)\s*(.*)$/.exec(lines[i] as string);
    if (!open) continue;
    const fence = open[1] as string;
    const start = i;
    const body: string[] = [];
    for (i++; i < lines.length; i++) {
      const line = lines[i] as string;
      const close = /^ {0,3}(`{3,}|~{3,})\s*$/.exec(line)?.[1];
      if (close && close[0] === fence[0] && close.length >= fence.length) break;
      body.push(line);
    }
    blocks.push({ file, line: start + 1, lang: (open[2] as string).toLowerCase(), meta: (open[3] as string).trim(), code: body.join('\n'), firstLine: start + 2 });
  }
  return blocks;
}

const allBlocks = docFiles().flatMap((file) => blocksOf(file, readFileSync(join(root, file), 'utf8')));
const tsBlocks = allBlocks.filter((b) => b.lang === 'ts' || b.lang === 'typescript');
const shellBlocks = allBlocks.filter((b) => ['sh', 'bash', 'shell', 'console', 'shell-session'].includes(b.lang));

/** The reason a block does not run (`no-run <why>`), '' when none was given, or null when it runs. */
function noRun(block: Block): string | null {
  const m = /^no-run\b[\s:—-]*(.*)$/.exec(block.meta);
  return m ? (m[1] as string).trim() : null;
}

// ---------------------------------------------------------------------------------------
// Running TypeScript blocks

/** `colloquy…` imports to the sources; every other package stays external. */
const resolveColloquy: Plugin = {
  name: 'colloquy-sources',
  setup(b) {
    b.onResolve({ filter: /^colloquy(\/.*)?$/ }, (args) => {
      const path = ENTRY_POINTS[args.path];
      return path ? { path } : { errors: [{ text: `no export ${args.path} (known: ${Object.keys(ENTRY_POINTS).join(', ')})` }] };
    });
  },
};

interface Outcome {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
  readonly timedOut: boolean;
}

/** Run tasks at most `concurrency` at a time, in the order they were given. */
function limiter(concurrency: number): <T>(task: () => Promise<T>) => Promise<T> {
  let active = 0;
  const waiting: Array<() => void> = [];
  return async (task) => {
    if (active < concurrency) active++;
    else await new Promise<void>((resolve) => waiting.push(resolve)); // a finishing task hands its slot over
    try {
      return await task();
    } finally {
      const next = waiting.shift();
      if (next) next();
      else active--;
    }
  };
}

function runNode(args: readonly string[], options: { cwd: string; env: NodeJS.ProcessEnv; timeoutMs: number }): Promise<Outcome> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { cwd: options.cwd, env: options.env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, options.timeoutMs);
    child.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr, timedOut });
    });
  });
}

/** The environment of a sample: a fresh home, the mock model server, no real keys. */
function sampleEnv(home: string, mock: MockResponsesServer): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const name of Object.keys(env)) if (/^(OPENAI_|CODEX_|COLLOQUY_)/.test(name)) delete env[name];
  return {
    ...env,
    HOME: home,
    COLLOQUY_HOME: join(home, '.colloquy'),
    OPENAI_BASE_URL: mock.baseUrl,
    OPENAI_API_KEY: 'test',
    NO_COLOR: '1',
    // The run's PostgreSQL server, for samples of the Postgres store and the cluster.
    DATABASE_URL: inject('postgresUrl'),
  };
}

/** Create a conversation of one turn in `colloquyHome` with the local agent; its id. */
async function makeConversation(colloquyHome: string, cwd: string): Promise<string> {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const name of Object.keys(env)) if (/^(OPENAI_|CODEX_|COLLOQUY_)/.test(name)) delete env[name];
  const { stdout } = await run(process.execPath, [cli, 'exec', '--home', colloquyHome, '--json', 'hello'], { cwd, env, timeout: BLOCK_TIMEOUT_MS });
  const first = JSON.parse(stdout.split('\n')[0] as string) as { type: string; thread_id?: string };
  if (first.type !== 'thread.started' || !first.thread_id) throw new Error(`colloquy exec printed no thread.started: ${stdout}`);
  return first.thread_id;
}

/** A block made ready to run: its directories, environment and code (placeholders replaced). */
interface Prepared {
  readonly block: Block;
  readonly work: string;
  readonly cwd: string;
  readonly env: NodeJS.ProcessEnv;
  /** The bundle to run, or why there is none (null: not bundled yet). */
  bundle: { readonly file: string } | { readonly error: string } | null;
}

/** Make a block's directories (and, for the id placeholder, its conversation) and write its source. */
async function prepare(block: Block, index: number, srcDir: string, mock: MockResponsesServer): Promise<Prepared & { source: string }> {
  const work = await mkdtemp(join(tmpdir(), 'colloquy-sample-'));
  const cwd = join(work, 'cwd');
  const home = join(work, 'home');
  await mkdir(cwd);
  await mkdir(join(home, '.colloquy'), { recursive: true });
  const env = sampleEnv(home, mock);
  const source = join(srcDir, `sample-${index}.ts`);
  let code = block.code;
  for (const [placeholder, value] of PLACEHOLDERS) code = code.split(placeholder).join(value);
  try {
    if (code.search(ID_PLACEHOLDER) !== -1) code = code.replace(ID_PLACEHOLDER, await makeConversation(env.COLLOQUY_HOME as string, cwd));
  } catch (error) {
    return { block, work, cwd, env, source, bundle: { error: `creating the conversation for the 01K… placeholder failed: ${String(error)}` } };
  }
  // Blank lines first, so that positions in stack traces are the block's lines in its file.
  await writeFile(source, `${'\n'.repeat(block.firstLine - 1)}${code}\n`);
  return { block, work, cwd, env, source, bundle: null };
}

/** The error messages of a failed esbuild run, by input file ('' for those without one). */
function buildErrors(error: unknown): Map<string, string[]> {
  const out = new Map<string, string[]>();
  const errors = (error as { errors?: Array<{ text: string; location?: { file: string; line: number } | null }> }).errors ?? [];
  for (const e of errors) {
    const file = e.location ? resolve(root, e.location.file) : '';
    out.set(file, [...(out.get(file) ?? []), e.location ? `${e.location.file}:${e.location.line}: ${e.text}` : e.text]);
  }
  if (errors.length === 0) out.set('', [String(error)]);
  return out;
}

/**
 * Bundle the blocks together (the shared sources become common chunks, compiled once); a
 * block esbuild rejects gets its errors instead of a bundle, and the others are bundled again.
 */
async function bundleAll(blocks: Array<Prepared & { source: string }>, outDir: string): Promise<void> {
  let pending = blocks;
  for (let attempt = 0; pending.length > 0; attempt++) {
    try {
      const entryPoints = Object.fromEntries(pending.map((p) => [basename(p.source, '.ts'), p.source]));
      await build({
        entryPoints,
        bundle: true,
        splitting: true,
        platform: 'node',
        format: 'esm',
        target: 'node20',
        packages: 'external',
        plugins: [resolveColloquy],
        outdir: outDir,
        sourcemap: true,
        logLevel: 'silent',
      });
      for (const p of pending) p.bundle = { file: join(outDir, `${basename(p.source, '.ts')}.js`) };
      return;
    } catch (error) {
      const errors = buildErrors(error);
      const failing = pending.filter((p) => errors.has(p.source));
      const general = errors.get('');
      if (failing.length === 0 || attempt > pending.length) {
        for (const p of pending) p.bundle = { error: `esbuild: ${[...errors.values()].flat().join('\n')}` };
        return;
      }
      for (const p of failing) p.bundle = { error: `esbuild: ${[...(errors.get(p.source) ?? []), ...(general ?? [])].join('\n')}` };
      pending = pending.filter((p) => !failing.includes(p));
    }
  }
}

describe('TypeScript samples', () => {
  let mock: MockResponsesServer;
  let bundleDir: string;
  const results = new Map<Block, Promise<Outcome>>();
  const prepared: Prepared[] = [];
  let start: (block: Block) => Promise<Outcome> = () => Promise.reject(new Error('not set up'));

  beforeAll(async () => {
    mock = await startMockResponses({ fallback: { output: [{ type: 'message', text: 'Hello from the mock model.' }] } });
    // Under the repository, so that the bundles' external imports resolve from its node_modules.
    await mkdir(join(root, 'node_modules', '.cache'), { recursive: true });
    bundleDir = await mkdtemp(join(root, 'node_modules', '.cache', 'colloquy-samples-'));
    await mkdir(join(bundleDir, 'src'));
    const limit = limiter(CONCURRENCY);
    const ready = (async () => {
      const blocks = await Promise.all(
        tsBlocks.flatMap((block, index) => (noRun(block) === null ? [limit(() => prepare(block, index, join(bundleDir, 'src'), mock))] : [])),
      );
      prepared.push(...blocks);
      await bundleAll(
        blocks.filter((p) => p.bundle === null),
        join(bundleDir, 'out'),
      );
      return new Map(blocks.map((p) => [p.block, p]));
    })();
    // A block runs when its test asks for it (and the next block with it, CONCURRENCY being 2),
    // so that a test waits for its own block only, whichever tests are selected.
    start = (block) => {
      let outcome = results.get(block);
      if (!outcome) {
        outcome = ready.then((byBlock) =>
          limit(async () => {
            const p = byBlock.get(block) as Prepared;
            if (p.bundle === null || 'error' in p.bundle) return { code: null, signal: null, stdout: '', stderr: p.bundle?.error ?? 'not bundled', timedOut: false };
            return runNode(['--enable-source-maps', p.bundle.file], { cwd: p.cwd, env: p.env, timeoutMs: BLOCK_TIMEOUT_MS });
          }),
        );
        outcome.catch(() => {}); // awaited by its test
        results.set(block, outcome);
      }
      return outcome;
    };
  });

  afterAll(async () => {
    await Promise.allSettled(results.values());
    await mock?.close();
    await Promise.all(prepared.map((p) => rm(p.work, { recursive: true, force: true })));
    if (bundleDir) await rm(bundleDir, { recursive: true, force: true });
  }, BLOCK_TIMEOUT_MS * 3);

  it('there are samples to run', () => {
    expect(tsBlocks.filter((b) => b.file === 'README.md').length).toBeGreaterThan(0);
  });

  const runnable = tsBlocks.filter((b) => noRun(b) === null);
  for (const block of tsBlocks) {
    const where = `${block.file}:${block.line}`;
    const reason = noRun(block);
    if (reason !== null) {
      it(`${where} (no-run) says why it does not run`, () => {
        expect(reason, `${where}: a no-run block needs a reason after no-run`).not.toBe('');
      });
      continue;
    }
    it(`${where} runs and exits 0`, async () => {
      const next = runnable[runnable.indexOf(block) + 1];
      const own = start(block);
      if (next) void start(next).catch(() => {});
      const outcome = await own;
      const report = [
        `${where}: ${outcome?.timedOut ? `did not finish within ${BLOCK_TIMEOUT_MS} ms` : `exit code ${outcome?.code}${outcome?.signal ? `, signal ${outcome.signal}` : ''}`}`,
        `stderr:\n${outcome?.stderr.trim() ?? ''}`,
        `stdout:\n${outcome?.stdout.trim().slice(-2000) ?? ''}`,
      ].join('\n');
      expect(outcome?.timedOut, report).toBe(false);
      expect(outcome?.code, report).toBe(0);
    }, BLOCK_TIMEOUT_MS * 3);
  }
});

// ---------------------------------------------------------------------------------------
// Shell command lines

/** Words of a shell command line, split into commands at `|`, `&&`, `||`, `;`, `&`. */
function shellCommands(line: string): string[][] {
  const commands: string[][] = [[]];
  let word = '';
  let inWord = false;
  const push = () => {
    if (inWord) (commands.at(-1) as string[]).push(word);
    word = '';
    inWord = false;
  };
  for (let i = 0; i < line.length; i++) {
    const c = line[i] as string;
    if (c === "'" || c === '"') {
      const end = line.indexOf(c, i + 1);
      word += line.slice(i + 1, end === -1 ? undefined : end);
      inWord = true;
      i = end === -1 ? line.length : end;
    } else if (c === '\\') {
      word += line[i + 1] ?? '';
      inWord = true;
      i++;
    } else if (/\s/.test(c)) {
      push();
    } else if (c === '#' && !inWord) {
      break;
    } else if (c === '|' || c === ';' || c === '&') {
      push();
      if (line[i + 1] === c) i++;
      commands.push([]);
    } else {
      word += c;
      inWord = true;
    }
  }
  push();
  return commands.filter((c) => c.length > 0);
}

/** The command lines of a shell block (continuations joined), with their line numbers. */
function commandLines(block: Block): Array<{ line: number; text: string }> {
  const lines = block.code.split('\n');
  const prompted = lines.some((l) => /^\s*\$ /.test(l));
  const out: Array<{ line: number; text: string }> = [];
  for (let i = 0; i < lines.length; i++) {
    const start = i;
    let text = lines[i] as string;
    while (text.endsWith('\\') && i + 1 < lines.length) text = `${text.slice(0, -1)} ${lines[++i] as string}`;
    if (prompted) {
      const m = /^\s*\$ (.*)$/.exec(text);
      if (m) out.push({ line: block.firstLine + start, text: m[1] as string });
    } else if (text.trim() !== '' && !text.trim().startsWith('#')) {
      out.push({ line: block.firstLine + start, text });
    }
  }
  return out;
}

/** The arguments after the program of a `colloquy` command, or null for another program. */
function colloquyArgs(words: readonly string[]): string[] | null {
  let i = 0;
  while (i < words.length && /^[A-Za-z_]\w*=/.test(words[i] as string)) i++; // VAR=value prefixes
  const w = words.slice(i);
  if (w[0] === 'colloquy') return w.slice(1);
  if (w[0] === 'npx' && w[1] === 'colloquy') return w.slice(2);
  if (w[0] === 'node' && /(^|\/)dist\/colloquy\.cjs$/.test(w[1] ?? '')) return w.slice(2);
  return null;
}

/** What `--help` says about a command. */
interface Help {
  readonly text: string;
  readonly subcommands: ReadonlySet<string>;
  /** Option spellings (`--home`, `-c`) → whether it takes a value. */
  readonly options: ReadonlyMap<string, boolean>;
  /** Whether the usage line has positional arguments besides `[command]`. */
  readonly takesArguments: boolean;
}

const helps = new Map<string, Promise<Help>>();

function helpOf(path: readonly string[]): Promise<Help> {
  const key = path.join(' ');
  let help = helps.get(key);
  if (!help) {
    help = (async () => {
      const home = await mkdtemp(join(tmpdir(), 'colloquy-help-'));
      try {
        const env: NodeJS.ProcessEnv = { ...process.env, HOME: home, COLLOQUY_HOME: home };
        const { stdout } = await run(process.execPath, [cli, ...path, '--help'], { cwd: home, env, timeout: BLOCK_TIMEOUT_MS });
        return parseHelp(stdout);
      } finally {
        await rm(home, { recursive: true, force: true });
      }
    })();
    helps.set(key, help);
  }
  return help;
}

function parseHelp(text: string): Help {
  const section = (title: string): string[] => {
    const lines = text.split('\n');
    const start = lines.findIndex((l) => l.trim() === `${title}:`);
    if (start === -1) return [];
    const out: string[] = [];
    for (const l of lines.slice(start + 1)) {
      if (l.trim() !== '' && !l.startsWith(' ')) break;
      out.push(l);
    }
    return out;
  };
  const subcommands = new Set<string>();
  for (const l of section('Commands')) {
    const m = /^ {2}(\S+)/.exec(l);
    if (m) for (const name of (m[1] as string).split('|')) subcommands.add(name);
  }
  const options = new Map<string, boolean>();
  for (const l of section('Options')) {
    const m = /^ {2}(-\S.*?)(?: {2,}|$)/.exec(l);
    if (!m) continue;
    const spec = m[1] as string;
    const takesValue = /[<[]/.test(spec);
    for (const name of spec.match(/--?[\w-]+/g) ?? []) options.set(name, takesValue);
  }
  const usage = /^Usage: \S+(.*)$/m.exec(text)?.[1] ?? '';
  const positional = (usage.match(/[<[][^>\]]+[>\]]/g) ?? []).filter((a) => a !== '[options]' && a !== '[command]');
  return { text, subcommands, options, takesArguments: positional.length > 0 };
}

/** What is wrong with a `colloquy` command line (empty: nothing). */
async function checkCommand(args: readonly string[]): Promise<string[]> {
  const problems: string[] = [];
  const path: string[] = [];
  let help = await helpOf(path);
  for (let i = 0; i < args.length; i++) {
    const arg = args[i] as string;
    if (arg === '--') break;
    if (/^[<>]|^\d>/.test(arg)) {
      if (/^(\d?>>?|<)$/.test(arg)) i++; // a redirection and its file
      continue;
    }
    if (arg.startsWith('-') && arg !== '-') {
      const name = arg.includes('=') ? arg.slice(0, arg.indexOf('=')) : arg;
      const takesValue = help.options.get(name);
      if (takesValue === undefined && name !== '--help' && name !== '-h') {
        problems.push(`\`colloquy ${path.join(' ')}\` has no option ${name} (see \`colloquy ${[...path, '--help'].join(' ')}\`)`);
      } else if (takesValue && !arg.includes('=')) {
        i++;
      }
      continue;
    }
    if (help.subcommands.has(arg)) {
      path.push(arg);
      help = await helpOf(path);
      continue;
    }
    if (path.length === 0 || !help.takesArguments) {
      problems.push(`\`colloquy ${path.join(' ')}\` has no subcommand ${JSON.stringify(arg)} (it has: ${[...help.subcommands].join(', ') || 'none'})`);
      break;
    }
  }
  return problems;
}

describe('shell samples', () => {
  const commands = shellBlocks.flatMap((block) =>
    commandLines(block).flatMap(({ line, text }) =>
      shellCommands(text)
        .map(colloquyArgs)
        .filter((args): args is string[] => args !== null)
        .map((args) => ({ where: `${block.file}:${line}`, text: text.trim(), args })),
    ),
  );

  it('the CLI is built (npm run build)', () => {
    expect(existsSync(cli), `${cli} is missing: run npm run build`).toBe(true);
  });

  it('README.md has colloquy command lines to check', () => {
    expect(commands.filter((c) => c.where.startsWith('README.md:')).length).toBeGreaterThan(0);
  });

  for (const { where, text, args } of commands) {
    it(`${where}: ${text}`, async () => {
      expect(await checkCommand(args), `${where}: ${text} (checked against dist/colloquy.cjs: npm run build after changing the CLI)`).toEqual([]);
    });
  }
});
