/**
 * `colloquy serve` as a user runs it: the built executable prints its address and a token,
 * serves the API until SIGTERM, then shuts down cleanly. Its server code is a separate bundle
 * that `colloquy exec` never loads.
 */
import { readFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { logFiles, removeTempDirs, startCli, tempDir, writeScript } from '../cli/helpers.js';

afterEach(removeTempDirs);

const DIST = resolve(dirname(fileURLToPath(import.meta.url)), '../../dist');

describe('colloquy serve', () => {
  it('prints the URL and a random token, serves the API with it, and stops on SIGTERM', async () => {
    const home = await tempDir('colloquy-home-');
    const cli = startCli(['serve', '--port', '0', '--json'], { home });
    await cli.waitForStdout('\n');
    const info = JSON.parse(cli.stdout().split('\n')[0] as string) as { url: string; token: string; consoleUrl: string; wsUrl: string; home: string };
    expect(info.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/$/);
    expect(info.token).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(info.consoleUrl).toBe(`${info.url}?token=${info.token}`);
    expect(info.home).toBe(home);
    const auth = { authorization: `Bearer ${info.token}` };
    expect((await fetch(new URL('/api/conversations', info.url))).status).toBe(401);
    const started = await fetch(new URL('/api/conversations', info.url), {
      method: 'POST',
      headers: { ...auth, 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'from the cli' }),
    });
    expect(started.status).toBe(201);
    const id = ((await started.json()) as { conversation: { id: string } }).conversation.id;
    // A turn over the WebSocket.
    const ws = new WebSocket(info.wsUrl, { headers: auth });
    const events: string[] = [];
    ws.on('message', (d) => {
      const m = JSON.parse(d.toString()) as { type: string; event?: { type: string } };
      if (m.type === 'event') events.push(m.event!.type);
    });
    await new Promise((r) => ws.once('open', r));
    ws.send(JSON.stringify({ type: 'subscribe', conversationId: id }));
    ws.send(JSON.stringify({ type: 'submit', conversationId: id, op: { type: 'user_input', items: [{ type: 'text', text: 'hi' }] } }));
    const deadline = Date.now() + 10_000;
    while (!events.includes('turn.completed') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    expect(events[0]).toBe('thread.started');
    expect(events).toContain('turn.completed');
    ws.close();
    cli.child.kill('SIGTERM');
    const result = await cli.done;
    expect(result.code, result.stderr).toBe(0);
    // The conversation is in the home, and its lease was released (it resumes elsewhere).
    expect((await logFiles(home)).some((f) => f.endsWith(`${id}.jsonl`))).toBe(true);
    const again = startCli(['exec', 'resume', id, 'again'], { home });
    expect((await again.done).code).toBe(0);
  });

  it('--passivate-after stops idle conversations (clients are told); a bad value is a usage error', async () => {
    const home = await tempDir('colloquy-home-');
    const bad = startCli(['serve', '--port', '0', '--passivate-after', 'soon'], { home });
    const refused = await bad.done;
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/--passivate-after/);
    const cli = startCli(['serve', '--port', '0', '--json', '--passivate-after', '300'], { home });
    await cli.waitForStdout('\n');
    const info = JSON.parse(cli.stdout().split('\n')[0] as string) as { url: string; token: string; wsUrl: string };
    const auth = { authorization: `Bearer ${info.token}` };
    const ws = new WebSocket(info.wsUrl, { headers: auth });
    const runtime: { type: string; conversationId: string }[] = [];
    ws.on('message', (d) => {
      const m = JSON.parse(d.toString()) as { type: string; event?: { type: string; conversationId: string } };
      if (m.type === 'runtime' && m.event) runtime.push(m.event);
    });
    await new Promise((r) => ws.once('open', r));
    const post = (path: string, body: unknown) =>
      fetch(new URL(path, info.url), { method: 'POST', headers: { ...auth, 'content-type': 'application/json' }, body: JSON.stringify(body) });
    const id = ((await (await post('/api/conversations', {})).json()) as { conversation: { id: string } }).conversation.id;
    await post(`/api/conversations/${id}/ops`, { type: 'user_input', items: [{ type: 'text', text: 'hi' }] });
    const deadline = Date.now() + 10_000;
    while (!runtime.some((e) => e.type === 'conversation.passivated') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    expect(runtime).toEqual([
      { type: 'conversation.activated', conversationId: id, origin: 'wake' },
      { type: 'conversation.passivated', conversationId: id },
    ]);
    ws.close();
    cli.child.kill('SIGTERM');
    expect((await cli.done).code).toBe(0);
  });

  it('prints a human summary with the token and serves the console login', async () => {
    const home = await tempDir('colloquy-home-');
    const cli = startCli(['serve', '--port', '0'], { home });
    await cli.waitForStdout('Ctrl-C');
    const out = cli.stdout();
    const token = /token:\s+(\S+)/.exec(out)?.[1];
    const url = /url:\s+(\S+)/.exec(out)?.[1];
    expect(token).toMatch(/^[A-Za-z0-9_-]{43}$/);
    const login = await fetch(`${url}?token=${token}`, { redirect: 'manual' });
    expect(login.status).toBe(303);
    cli.child.kill('SIGINT');
    expect((await cli.done).code).toBe(0);
  });

  it('runs a scripted agent and streams to an inspection relay with --inspect', async () => {
    const home = await tempDir('colloquy-home-');
    const work = await tempDir('colloquy-work-');
    const script = await writeScript(work, { turns: [{ steps: [{ type: 'message', text: 'scripted hello' }] }], repeat: 'last' });
    const cli = startCli(['serve', '--port', '0', '--json', '--agent-script', script, '--inspect'], { home });
    await cli.waitForStdout('\n');
    const info = JSON.parse(cli.stdout().split('\n')[0] as string) as { url: string; token: string };
    const relay = /relay (ws:\/\/127\.0\.0\.1:\d+)/.exec(cli.stderr())?.[1];
    expect(relay, cli.stderr()).toBeDefined();
    const ui = new WebSocket(relay!);
    const names: string[] = [];
    ui.on('message', (d) => {
      const m = JSON.parse(d.toString()) as { type: string; name?: string };
      if (m.type === '@xstate.actor' && m.name) names.push(m.name);
    });
    await new Promise((r) => ui.once('open', r));
    const res = await fetch(new URL('/api/conversations', info.url), {
      method: 'POST',
      headers: { authorization: `Bearer ${info.token}`, 'content-type': 'application/json' },
      body: '{}',
    });
    const id = ((await res.json()) as { conversation: { id: string } }).conversation.id;
    // Its actor is spawned by its first op (a started conversation is dormant until then).
    await fetch(new URL(`/api/conversations/${id}/ops`, info.url), {
      method: 'POST',
      headers: { authorization: `Bearer ${info.token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ type: 'user_input', items: [{ type: 'text', text: 'hi' }] }),
    });
    const deadline = Date.now() + 10_000;
    while (!names.includes(`conversation:${id}`) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    expect(names).toContain(`conversation:${id}`);
    ui.close();
    cli.child.kill('SIGTERM');
    expect((await cli.done).code).toBe(0);
  });

  it('rejects a bad port with exit code 2', async () => {
    const home = await tempDir('colloquy-home-');
    const r = await startCli(['serve', '--port', 'eighty'], { home }).done;
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--port "eighty": expected a port number/);
  });

  it('keeps the server out of the main CLI bundle (exec never loads it)', async () => {
    const main = await readFile(join(DIST, 'cli.cjs'), 'utf8');
    const extras = await readFile(join(DIST, 'cli-extras.cjs'), 'utf8');
    expect(main).toContain('cli-extras.cjs');
    for (const marker of ['WebSocketServer', 'colloquy_token_', '@statelyai', 'stately.ai/inspect']) {
      expect(main.includes(marker), marker).toBe(false);
      expect(extras.includes(marker), marker).toBe(true);
    }
  });
});
