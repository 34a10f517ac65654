/**
 * Sandbox modes are enforced: commands under `read-only` and `workspace-write` run inside
 * bubblewrap (these tests need `bwrap`; `.ci/run` installs it), and where bubblewrap cannot be
 * used such a command fails without running.
 */
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bwrapArguments, SandboxError, sandboxPolicy, sandboxUnavailable, type SandboxSettings } from '../../src/agents/sandbox.js';
import { runCommand, type CommandOptions } from '../../src/agents/shell.js';
import { shellTool } from '../../src/agents/tools/shell-tool.js';
import { localAgent, type AgentEvent, type AgentTurn, type ThreadItem } from '../../src/index.js';

const dirs: string[] = [];
async function tempDir(prefix = 'colloquy-sandbox-'): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  dirs.push(dir);
  return dir;
}
afterAll(async () => {
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
});

const never = new AbortController().signal;

function run(command: string, cwd: string, sandbox: Partial<SandboxSettings>, extra: Partial<CommandOptions> = {}) {
  return runCommand(command, { cwd, signal: never, sandbox: { cwd, ...sandbox }, ...extra });
}

/** Single-quoted for /bin/sh. */
const sh = (text: string) => `'${text.replaceAll("'", `'\\''`)}'`;

describe('sandboxPolicy', () => {
  it('is null without a mode and under danger-full-access', () => {
    expect(sandboxPolicy({ cwd: '/w' })).toBeNull();
    expect(sandboxPolicy({ cwd: '/w', sandbox: 'danger-full-access', networkAccess: false })).toBeNull();
  });

  it('writes nothing under read-only; the cwd and the roots (relative to it) under workspace-write', () => {
    expect(sandboxPolicy({ cwd: '/w', sandbox: 'read-only', writableRoots: ['/x'] })).toEqual({ mode: 'read-only', networkAccess: false, writableRoots: [], cwd: '/w' });
    expect(sandboxPolicy({ cwd: '/w', sandbox: 'workspace-write', networkAccess: true, writableRoots: ['/x', 'sub', '/w'] })).toEqual({
      mode: 'workspace-write',
      networkAccess: true,
      writableRoots: ['/w', '/x', '/w/sub'],
      cwd: '/w',
    });
  });

  it('refuses an unknown mode', () => {
    expect(() => sandboxPolicy({ cwd: '/w', sandbox: 'readonly' })).toThrow(SandboxError);
    expect(() => sandboxPolicy({ cwd: '/w', sandbox: 'readonly' })).toThrow(/unknown sandbox mode "readonly"/);
  });
});

describe('bwrapArguments', () => {
  it('read-only: the root read-only, fresh /dev, /proc and /tmp, no network, then the command', () => {
    const args = bwrapArguments({ mode: 'read-only', networkAccess: false, writableRoots: [], cwd: '/work' }, '/work');
    expect(args).toEqual([
      '--die-with-parent', '--unshare-pid', '--unshare-net',
      '--ro-bind', '/', '/', '--dev', '/dev', '--proc', '/proc', '--tmpfs', '/tmp',
      '--setenv', 'TMPDIR', '/tmp', '--chdir', '/work', '--',
    ]);
  });

  it('keeps the network when allowed', () => {
    expect(bwrapArguments({ mode: 'read-only', networkAccess: true, writableRoots: [], cwd: '/w' }, '/w')).not.toContain('--unshare-net');
  });

  it('binds the writable roots read-write, and directories under /tmp that are not in them read-only', () => {
    const args = bwrapArguments({ mode: 'workspace-write', networkAccess: false, writableRoots: ['/tmp/ws', '/data'], cwd: '/tmp/ws' }, '/tmp/other');
    const after = args.slice(args.indexOf('/tmp', args.indexOf('--tmpfs')) + 1);
    expect(after).toEqual(['--ro-bind-try', '/tmp/other', '/tmp/other', '--bind-try', '/tmp/ws', '/tmp/ws', '--bind-try', '/data', '/data', '--setenv', 'TMPDIR', '/tmp', '--chdir', '/tmp/other', '--']);
    // A directory inside a writable root stays writable.
    const inside = bwrapArguments({ mode: 'workspace-write', networkAccess: false, writableRoots: ['/tmp/ws'], cwd: '/tmp/ws' }, '/tmp/ws/sub');
    expect(inside).not.toContain('--ro-bind-try');
  });
});

describe('read-only', () => {
  it('cannot create a file in its cwd, nor in /tmp outside its private /tmp; it can read', async () => {
    const cwd = await tempDir();
    const other = await tempDir();
    await writeFile(join(cwd, 'in.txt'), 'readable');
    const r = await run('cat in.txt; echo; touch made', cwd, { sandbox: 'read-only' });
    expect(r.exitCode).not.toBe(0);
    expect(r.output).toContain('readable');
    expect(r.output).toMatch(/Read-only file system/);
    expect(existsSync(join(cwd, 'made'))).toBe(false);

    const t = await run(`touch ${sh(join(other, 'made'))}`, cwd, { sandbox: 'read-only' });
    expect(t.exitCode).not.toBe(0);
    expect(existsSync(join(other, 'made'))).toBe(false);
  });

  it('has a private /tmp: what it writes there is gone afterwards', async () => {
    const cwd = await tempDir();
    const name = `/tmp/colloquy-private-${process.pid}-${Date.now()}`;
    const r = await run(`echo kept > ${name} && cat ${name}`, cwd, { sandbox: 'read-only' });
    expect(r).toMatchObject({ exitCode: 0, output: 'kept\n' });
    expect(existsSync(name)).toBe(false);
  });

  it('cannot delete files', async () => {
    const cwd = await tempDir();
    await writeFile(join(cwd, 'keep.txt'), 'x');
    const r = await run('rm -f keep.txt', cwd, { sandbox: 'read-only' });
    expect(r.exitCode).not.toBe(0);
    expect(existsSync(join(cwd, 'keep.txt'))).toBe(true);
  });
});

describe('workspace-write', () => {
  it('writes in its cwd and its writable roots, not outside them', async () => {
    const cwd = await tempDir();
    const sibling = await tempDir();
    const extra = await tempDir();
    const r = await run(`echo hi > made && touch ${sh(join(extra, 'made'))}`, cwd, { sandbox: 'workspace-write', writableRoots: [extra] });
    expect(r).toMatchObject({ exitCode: 0 });
    expect(existsSync(join(cwd, 'made'))).toBe(true);
    expect(existsSync(join(extra, 'made'))).toBe(true);

    const outside = await run(`touch ${sh(join(sibling, 'made'))}`, cwd, { sandbox: 'workspace-write', writableRoots: [extra] });
    expect(outside.exitCode).not.toBe(0);
    expect(existsSync(join(sibling, 'made'))).toBe(false);
  });

  it('a command in another directory still writes only the conversation cwd', async () => {
    const cwd = await tempDir();
    const elsewhere = await tempDir();
    const r = await runCommand(`touch here; touch ${sh(join(cwd, 'there'))}`, {
      cwd: elsewhere,
      signal: never,
      sandbox: { cwd, sandbox: 'workspace-write' },
    });
    expect(r.output).toMatch(/touch: cannot touch 'here': Read-only file system/);
    expect(existsSync(join(elsewhere, 'here'))).toBe(false);
    expect(existsSync(join(cwd, 'there'))).toBe(true);
  });
});

describe('network', () => {
  let server: Server;
  let port = 0;
  let client = '';
  let cwd = '';
  beforeAll(async () => {
    server = createServer((socket) => socket.end('hello from the host\n'));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as { port: number }).port;
    // In the commands' cwd: the rest of the real /tmp is out of sight under the private /tmp.
    cwd = await tempDir();
    client = join(cwd, 'client.cjs');
    await writeFile(
      client,
      `const s = require('node:net').connect(${port}, '127.0.0.1');
s.on('data', (d) => process.stdout.write(d));
s.on('end', () => process.exit(0));
s.on('error', (e) => { console.log('failed: ' + e.code); process.exit(3); });\n`,
    );
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  const connect = () => `${sh(process.execPath)} ${sh(client)}`;

  it('is off by default: a loopback server outside is out of reach', async () => {
    for (const sandbox of ['read-only', 'workspace-write'] as const) {
      const r = await run(connect(), cwd, { sandbox });
      expect(r.exitCode, sandbox).toBe(3);
      expect(r.output).toContain('failed: ECONNREFUSED');
    }
  });

  it('reaches it when allowed', async () => {
    const r = await run(connect(), cwd, { sandbox: 'workspace-write', networkAccess: true });
    expect(r).toMatchObject({ exitCode: 0, output: 'hello from the host\n' });
  });

  it('is untouched without a sandbox', async () => {
    const r = await run(connect(), cwd, { sandbox: 'danger-full-access' });
    expect(r).toMatchObject({ exitCode: 0, output: 'hello from the host\n' });
  });
});

describe('sandboxed commands keep the limits', () => {
  it('streams output, times out, and when aborted stops everything inside bwrap', async () => {
    const cwd = await tempDir();
    const chunks: string[] = [];
    const streamed = await run('echo one; sleep 0.2; echo two', cwd, { sandbox: 'read-only' }, { onOutput: (c) => chunks.push(c) });
    expect(streamed).toMatchObject({ exitCode: 0, output: 'one\ntwo\n' });
    expect(chunks.join('')).toBe('one\ntwo\n');
    expect(chunks.length).toBeGreaterThan(1);

    const timedOut = await run('sleep 5', cwd, { sandbox: 'read-only' }, { timeoutMs: 300 });
    expect(timedOut.exitCode).toBe(124);
    expect(timedOut.output).toContain('timed out after 300 ms');

    const controller = new AbortController();
    const t0 = Date.now();
    const pending = run('(sleep 1; touch late) & sleep 5; echo finished', cwd, { sandbox: 'workspace-write' }, { signal: controller.signal });
    setTimeout(() => controller.abort(), 300);
    const aborted = await pending;
    expect(aborted.exitCode).toBe(130);
    expect(aborted.output).not.toContain('finished');
    expect(Date.now() - t0).toBeLessThan(2_000);
    await new Promise((resolve) => setTimeout(resolve, 1_200));
    expect(existsSync(join(cwd, 'late'))).toBe(false);
  });

  it('truncates long output', async () => {
    const cwd = await tempDir();
    const r = await run('seq 1 100000', cwd, { sandbox: 'read-only' }, { maxOutputBytes: 1_000 });
    expect(r.output.startsWith('1\n2\n')).toBe(true);
    expect(r.output).toMatch(/… \d+ bytes elided …/);
  });
});

describe('where the sandbox cannot be applied', () => {
  it('without bwrap, a read-only or workspace-write command fails with a clear error and does not run; danger-full-access runs', async () => {
    const cwd = await tempDir();
    const host = { bwrap: '/nonexistent/bwrap' };
    for (const sandbox of ['read-only', 'workspace-write'] as const) {
      const r = await run('touch ran', cwd, { sandbox }, { host });
      expect(r.exitCode).toBe(126);
      expect(r.error).toBeInstanceOf(SandboxError);
      expect(r.error).toMatchObject({ code: 'sandbox_unavailable', mode: sandbox });
      expect(r.output).toContain(`sandbox ${sandbox} needs bubblewrap (bwrap): apt-get install bubblewrap`);
      expect(existsSync(join(cwd, 'ran'))).toBe(false);
    }
    const free = await run('touch ran', cwd, { sandbox: 'danger-full-access' }, { host });
    expect(free.exitCode).toBe(0);
    expect(existsSync(join(cwd, 'ran'))).toBe(true);
  });

  it('reads COLLOQUY_BWRAP', async () => {
    const saved = process.env.COLLOQUY_BWRAP;
    process.env.COLLOQUY_BWRAP = '/nonexistent/bwrap-env';
    try {
      const problem = await sandboxUnavailable({ mode: 'read-only', networkAccess: false, writableRoots: [], cwd: '/' });
      expect(problem?.message).toContain('needs bubblewrap (bwrap)');
    } finally {
      if (saved === undefined) delete process.env.COLLOQUY_BWRAP;
      else process.env.COLLOQUY_BWRAP = saved;
    }
  });

  it('a bwrap that fails to set up, or another OS, is named too', async () => {
    const policy = { mode: 'workspace-write', networkAccess: false, writableRoots: ['/w'], cwd: '/w' } as const;
    const failing = await sandboxUnavailable(policy, { bwrap: '/bin/false' });
    expect(failing?.message).toMatch(/^sandbox workspace-write could not be set up with bubblewrap \(\/bin\/false\)/);
    const mac = await sandboxUnavailable(policy, { platform: 'darwin' });
    expect(mac?.message).toContain('sandbox workspace-write is enforced only on Linux (with bubblewrap), not on darwin');
  });

  it('an unknown mode does not run either', async () => {
    const cwd = await tempDir();
    const r = await run('touch ran', cwd, { sandbox: 'readonly' });
    expect(r).toMatchObject({ exitCode: 126, error: { code: 'invalid_sandbox' } });
    expect(existsSync(join(cwd, 'ran'))).toBe(false);
  });
});

describe('the agents run their commands in the conversation sandbox', () => {
  let ids = 0;
  function turn(text: string, config: AgentTurn['config'], out: AgentEvent[]): AgentTurn {
    return {
      conversationId: 'C',
      turnId: 'T',
      number: 1,
      kind: 'regular',
      input: [{ type: 'text', text }],
      history: [],
      summary: null,
      config,
      signal: never,
      resumed: null,
      newItemId: () => `item_${ids++}`,
      requestApproval: async () => 'approved',
      takeSteeredInput: () => [],
      emit: (e) => out.push(e),
    };
  }
  async function commandOf(agent: ReturnType<typeof localAgent>, t: AgentTurn, out: AgentEvent[]): Promise<ThreadItem | undefined> {
    for await (const e of agent(t)) out.push(e);
    return out.flatMap((e) => (e.type === 'item.completed' && e.item.type === 'command_execution' ? [e.item] : [])).at(-1);
  }

  it("the local agent's !command under read-only fails and leaves no file", async () => {
    const cwd = await tempDir();
    const out: AgentEvent[] = [];
    const item = await commandOf(localAgent(), turn('!touch x', { model: 'local', cwd, approvalPolicy: 'never', sandbox: 'read-only' }, out), out);
    expect(item).toMatchObject({ type: 'command_execution', status: 'failed' });
    expect(existsSync(join(cwd, 'x'))).toBe(false);
  });

  it('a scripted command step, too', async () => {
    const cwd = await tempDir();
    const out: AgentEvent[] = [];
    const agent = localAgent({ script: { turns: [{ steps: [{ type: 'command', command: 'touch x' }] }] } });
    const item = await commandOf(agent, turn('go', { model: 'local', cwd, approvalPolicy: 'never', sandbox: 'read-only' }, out), out);
    expect(item).toMatchObject({ type: 'command_execution', status: 'failed' });
    expect(existsSync(join(cwd, 'x'))).toBe(false);
  });

  it('the shell tool reports an unavailable sandbox as a failed item without an exit code, with the message', async () => {
    const saved = process.env.COLLOQUY_BWRAP;
    process.env.COLLOQUY_BWRAP = '/nonexistent/bwrap-tool';
    try {
      const cwd = await tempDir();
      const tool = shellTool();
      const args = tool.parse({ command: 'touch x' });
      const started = tool.started(args, { itemId: 'item_1', callId: 'call_1' });
      const result = await tool.run(args, started, { callId: 'call_1', itemId: 'item_1', cwd, sandbox: { cwd, sandbox: 'read-only' }, signal: never, update: () => {} });
      expect(result.success).toBe(false);
      expect(result.item).toMatchObject({ type: 'command_execution', status: 'failed' });
      expect(result.item).not.toHaveProperty('exit_code');
      expect(result.output).toContain('sandbox read-only needs bubblewrap (bwrap): apt-get install bubblewrap');
      expect(existsSync(join(cwd, 'x'))).toBe(false);

      const out: AgentEvent[] = [];
      await commandOf(localAgent(), turn('!touch x', { model: 'local', cwd, approvalPolicy: 'never', sandbox: 'read-only' }, out), out);
      const reply = out.flatMap((e) => (e.type === 'item.completed' && e.item.type === 'agent_message' ? [e.item.text] : []));
      expect(reply[0]).toMatch(/^I could not run `touch x`: sandbox read-only needs bubblewrap/);
    } finally {
      if (saved === undefined) delete process.env.COLLOQUY_BWRAP;
      else process.env.COLLOQUY_BWRAP = saved;
    }
  });
});
