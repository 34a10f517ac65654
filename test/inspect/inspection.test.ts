/**
 * Inspection through the relay: a WebSocket client playing the inspector UI receives the
 * Stately inspection messages of a conversation's actors; content is hidden unless asked for;
 * the relay is reachable on the loopback address only.
 */
import { connect as tcpConnect } from 'node:net';
import { networkInterfaces } from 'node:os';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { createRuntime, localAgent, MemoryStore, type Runtime } from '../../src/index.js';
import { createInspection, type Inspection } from '../../src/inspect/index.js';

interface Message {
  type: string;
  sessionId: string;
  rootId?: string;
  parentId?: string;
  name?: string;
  event?: { type: string };
  snapshot?: { value?: unknown; context?: unknown };
}

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()?.();
});

async function inspection(options: Parameters<typeof createInspection>[0] = {}): Promise<Inspection> {
  const made = await createInspection(options);
  cleanups.push(() => made.close());
  return made;
}

function runtime(inspect: Inspection, secret = 'the-secret-answer-42'): Runtime {
  const rt = createRuntime({
    store: new MemoryStore(),
    inspect: inspect.observer,
    agent: localAgent({
      script: {
        turns: [{ steps: [{ type: 'command', command: `echo ${secret}`, output: `${secret}\n`, exit_code: 0 }, { type: 'message', text: `I said ${secret}` }] }],
        repeat: 'last',
      },
    }),
  });
  cleanups.push(() => rt.shutdown());
  return rt;
}

/** A client of the relay (as the inspector UI), collecting every message. */
async function client(url: string): Promise<{ messages: Message[]; raw: string[]; close: () => void }> {
  const ws = new WebSocket(url);
  const messages: Message[] = [];
  const raw: string[] = [];
  ws.on('message', (data) => {
    raw.push(data.toString());
    messages.push(JSON.parse(data.toString()) as Message);
  });
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  cleanups.push(async () => ws.close());
  return { messages, raw, close: () => ws.close() };
}

/** Run one full turn (with an approval) on a new conversation; returns its id. */
async function fullTurn(rt: Runtime, input: string): Promise<string> {
  const convo = await rt.start({ approvalPolicy: 'on-request' });
  const stop = convo.subscribe((event) => {
    if (event.type === 'approval.requested') void convo.approve(event.callId, 'approved');
  });
  await convo.run(input);
  stop();
  return convo.id;
}

async function until(predicate: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('inspection relay', () => {
  it("delivers @xstate.actor, @xstate.event and @xstate.snapshot of a conversation's actors through a full turn", async () => {
    const insp = await inspection();
    const ui = await client(insp.wsUrl);
    const rt = runtime(insp);
    const id = await fullTurn(rt, 'hello inspector');
    await insp.flush();
    await until(() => ui.messages.some((m) => m.type === '@xstate.snapshot' && m.event?.type === 'persist.ack'), 'snapshots');

    const conversationActor = ui.messages.find((m) => m.type === '@xstate.actor' && m.name === `conversation:${id}`);
    expect(conversationActor, 'the conversation actor is registered').toBeDefined();
    const root = conversationActor!.sessionId;
    // The turn actor: a child of the conversation actor.
    const turnActor = ui.messages.find((m) => m.type === '@xstate.actor' && m.parentId === root);
    expect(turnActor, 'the turn actor is registered as a child').toBeDefined();
    // The supervision tree, by the stream's parent links: supervisor → shard → conversation → turn.
    const supervisor = ui.messages.find((m) => m.type === '@xstate.actor' && m.name === 'supervisor');
    const shard = ui.messages.find((m) => m.type === '@xstate.actor' && m.sessionId === conversationActor!.parentId);
    expect(supervisor?.parentId, 'the supervisor is the root').toBeUndefined();
    expect(shard?.name).toMatch(/^shard:\d+$/);
    expect(shard?.parentId).toBe(supervisor?.sessionId);
    expect(turnActor!.rootId).toBe(supervisor?.sessionId);
    expect(conversationActor!.rootId).toBe(supervisor?.sessionId);

    // Snapshots reach the UI through the relay after the turn's end: wait for the last one.
    const lastValue = (): string | undefined => {
      const snapshots = ui.messages.filter((m) => m.sessionId === root && m.type === '@xstate.snapshot');
      return JSON.stringify(snapshots.at(-1)?.snapshot?.value);
    };
    await until(() => lastValue() === '"idle"', 'the conversation back in idle');
    const ofConversation = ui.messages.filter((m) => m.sessionId === root);
    const eventTypes = ofConversation.filter((m) => m.type === '@xstate.event').map((m) => m.event!.type);
    expect(eventTypes).toEqual(expect.arrayContaining(['user_input', 'approval', 'persist.ack']));
    const values = ofConversation.filter((m) => m.type === '@xstate.snapshot').map((m) => JSON.stringify(m.snapshot!.value));
    expect(values).toContain('"active"');
    expect(values).toContain('{"processing":"awaitingApproval"}');
    expect(values.at(-1)).toBe('"idle"');
    // The turn actor's own events and snapshots arrive too.
    expect(ui.messages.some((m) => m.type === '@xstate.event' && m.sessionId === turnActor!.sessionId)).toBe(true);
    expect(ui.messages.some((m) => m.type === '@xstate.snapshot' && m.sessionId === turnActor!.sessionId)).toBe(true);
    // The supervisor and the persistence actor are inspected as well (no filter).
    expect(ui.messages.some((m) => m.type === '@xstate.actor' && m.name === 'persistence')).toBe(true);
  });

  it('hides message text, commands and their output by default', async () => {
    const insp = await inspection();
    const ui = await client(insp.wsUrl);
    const rt = runtime(insp, 'zebra-7734');
    await fullTurn(rt, 'my private question about llamas');
    await insp.flush();
    await until(() => ui.messages.some((m) => m.type === '@xstate.snapshot' && m.event?.type === 'persist.ack'), 'snapshots');
    const all = ui.raw.join('\n');
    expect(ui.raw.length).toBeGreaterThan(20);
    expect(all).not.toContain('llamas');
    expect(all).not.toContain('zebra-7734');
    // The shape survives: the user's input is there, as a length.
    expect(all).toContain(`‹hidden: ${'my private question about llamas'.length} chars›`);
  });

  it('shows message text with content enabled', async () => {
    const insp = await inspection({ content: true });
    const ui = await client(insp.wsUrl);
    const rt = runtime(insp, 'zebra-7734');
    await fullTurn(rt, 'my private question about llamas');
    await insp.flush();
    await until(() => ui.raw.join('\n').includes('I said zebra-7734'), 'the agent message');
    const all = ui.raw.join('\n');
    expect(all).toContain('my private question about llamas');
    expect(all).toContain('echo zebra-7734');
    expect(all).not.toContain('‹hidden');
  });

  it('streams only the chosen conversations with a conversation filter', async () => {
    // Two conversations made without inspection; then only the second is inspected once resumed.
    const store = new MemoryStore();
    const maker = createRuntime({ store });
    const first = await maker.start();
    const second = await maker.start();
    await maker.shutdown();
    const only = await inspection({ conversations: [second.id.toLowerCase()] });
    expect(only.wsUrl).toMatch(/^ws:\/\/127\.0\.0\.1:\d+$/);
    const rt = createRuntime({ store, inspect: only.observer });
    cleanups.push(() => rt.shutdown());
    const ui = await client(only.wsUrl);
    const a = await rt.resume(first.id);
    const b = await rt.resume(second.id);
    await a.run('one');
    await b.run('two');
    await only.flush();
    await until(() => ui.messages.some((m) => m.type === '@xstate.snapshot' && m.event?.type === 'persist.ack'), 'snapshots');
    const names = ui.messages.filter((m) => m.type === '@xstate.actor').map((m) => m.name);
    expect(names).toContain(`conversation:${second.id}`);
    expect(names).not.toContain(`conversation:${first.id}`);
    expect(names).not.toContain('persistence');
    expect(names).not.toContain('supervisor');
    // Everything that came is of the chosen conversation's actor tree.
    const roots = new Set(ui.messages.map((m) => m.rootId));
    expect(roots.size).toBe(1);
    const conversation = ui.messages.find((m) => m.type === '@xstate.actor' && m.name === `conversation:${second.id}`);
    const tree = new Set([conversation?.sessionId]);
    for (const m of ui.messages) if (m.type === '@xstate.actor' && m.parentId !== undefined && tree.has(m.parentId)) tree.add(m.sessionId);
    expect(ui.messages.every((m) => tree.has(m.sessionId))).toBe(true);
  });

  it('replays actor registrations to a UI that connects late', async () => {
    const insp = await inspection({ relay: { replay: 5 } });
    const rt = runtime(insp);
    const id = await fullTurn(rt, 'before anyone watched');
    await insp.flush();
    const ui = await client(insp.wsUrl);
    await until(() => ui.messages.length > 0, 'the replay');
    await new Promise((r) => setTimeout(r, 50));
    expect(ui.messages.some((m) => m.type === '@xstate.actor' && m.name === `conversation:${id}`)).toBe(true);
    expect(ui.messages.filter((m) => m.type !== '@xstate.actor').length).toBeLessThanOrEqual(5);
  });

  it('relays messages between clients, as createInspectorServer does, and serves the bridge page', async () => {
    const insp = await inspection();
    const producer = await client(insp.wsUrl);
    const ui = await client(insp.wsUrl);
    void producer;
    const ws = new WebSocket(insp.wsUrl);
    await new Promise((r) => ws.once('open', r));
    ws.send(JSON.stringify({ type: '@xstate.event', sessionId: 'x:1', event: { type: 'PING' } }));
    await until(() => ui.messages.some((m) => m.event?.type === 'PING'), 'the relayed message');
    ws.close();
    const page = await fetch(insp.url!);
    expect(page.status).toBe(200);
    const html = await page.text();
    expect(html).toContain(insp.wsUrl);
    expect(html).toContain('https://stately.ai/inspect');
  });

  it('refuses WebSocket connections from other web origins', async () => {
    const insp = await inspection();
    const ws = new WebSocket(insp.wsUrl, { origin: 'https://evil.example' });
    const outcome = await new Promise<string>((resolve) => {
      ws.once('open', () => resolve('open'));
      ws.once('unexpected-response', (_req, res) => resolve(`refused ${res.statusCode}`));
      ws.once('error', () => resolve('error'));
    });
    expect(outcome).not.toBe('open');
    const own = new WebSocket(insp.wsUrl, { origin: insp.url!.replace(/\/$/, '') });
    await new Promise((resolve, reject) => {
      own.once('open', resolve);
      own.once('error', reject);
    });
    own.close();
  });

  it('listens on 127.0.0.1 only', async () => {
    const insp = await inspection();
    const address = insp.relay!.address;
    expect(address.address).toBe('127.0.0.1');
    expect(address.family).toBe('IPv4');
    const external = Object.values(networkInterfaces())
      .flat()
      .find((i) => i && i.family === 'IPv4' && !i.internal);
    if (!external) return; // no non-loopback IPv4 on this machine: the bound address above is the proof
    const reached = await new Promise<boolean>((resolve) => {
      const socket = tcpConnect({ host: external.address, port: address.port });
      socket.setTimeout(2000, () => {
        socket.destroy();
        resolve(false);
      });
      socket.once('connect', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
    expect(reached, `the relay answered on ${external.address}:${address.port}`).toBe(false);
  });

  it('refuses a relay URL that is not on this machine', async () => {
    await expect(createInspection({ connect: 'ws://example.com:8080' })).rejects.toThrow(/on this machine/);
  });

  it('streams to a running relay with connect', async () => {
    const relay = await inspection();
    const ui = await client(relay.wsUrl);
    const insp = await inspection({ connect: relay.wsUrl });
    expect(insp.url).toBeNull();
    const rt = runtime(insp);
    const id = await fullTurn(rt, 'through another relay');
    await insp.flush();
    await until(() => ui.messages.some((m) => m.type === '@xstate.actor' && m.name === `conversation:${id}`), 'the conversation actor');
  });
});
