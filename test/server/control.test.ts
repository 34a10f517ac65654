/**
 * The control channel: serve(runtime) over HTTP/JSON and WebSocket — the token, op
 * validation, the conversation routes, event order for several subscribers, approvals.
 */
import { describe, expect, it } from 'vitest';
import { SimulatedClock } from 'xstate';
import type { EventMessage, StateMessage } from '../../src/server/index.js';
import { connect, handshake, served, until } from './helpers.js';

const SLOW = { turns: [{ steps: [{ type: 'delay' as const, ms: 300 }, { type: 'message' as const, text: 'slow answer' }] }], repeat: 'last' as const };

interface Json {
  [key: string]: any; // eslint-disable-line @typescript-eslint/no-explicit-any
}

async function json(res: Response): Promise<Json> {
  return (await res.json()) as Json;
}

describe('control server: authentication', () => {
  it('refuses HTTP requests without the token or with a wrong one (401), accepts the bearer token', async () => {
    const { api, server } = await served();
    const none = await api('/api/conversations', { auth: false });
    expect(none.status).toBe(401);
    expect(none.headers.get('www-authenticate')).toBe('Bearer');
    expect((await json(none)).error.code).toBe('unauthorized');
    const wrong = await api('/api/conversations', { auth: false, headers: { authorization: `Bearer ${server.token}x` } });
    expect(wrong.status).toBe(401);
    const wrongQuery = await api(`/api/conversations?token=nope`, { auth: false });
    expect(wrongQuery.status).toBe(401);
    const start = await api('/api/conversations', { auth: false, method: 'POST', json: {} });
    expect(start.status).toBe(401);
    expect((await api('/api/conversations')).status).toBe(200);
    expect((await api(`/api/conversations?token=${encodeURIComponent(server.token)}`, { auth: false })).status).toBe(200);
    // The token is random and long.
    expect(server.token).toMatch(/^[A-Za-z0-9_-]{43}$/);
  });

  it('refuses WebSocket upgrades without the token or with a wrong one (401)', async () => {
    const { server } = await served();
    expect(await handshake(server.wsUrl)).toBe(401);
    expect(await handshake(server.wsUrl, { authorization: 'Bearer wrong-token-wrong-token' })).toBe(401);
    expect(await handshake(`${server.wsUrl}?token=wrong`)).toBe(401);
    expect(await handshake(server.wsUrl, { authorization: `Bearer ${server.token}` })).toBe('open');
    expect(await handshake(`${server.wsUrl}?token=${encodeURIComponent(server.token)}`)).toBe('open');
  });

  it('listens on 127.0.0.1, answers only for its own host name and refuses other web origins', async () => {
    const { api, server } = await served();
    expect(server.address.address).toBe('127.0.0.1');
    expect(server.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/$/);
    // DNS rebinding: a request naming another host is refused even with the token.
    const { request } = await import('node:http');
    const status = await new Promise<number>((resolve, reject) => {
      const req = request(
        { host: '127.0.0.1', port: server.address.port, path: '/api/health', headers: { host: 'evil.example', authorization: `Bearer ${server.token}` } },
        (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        },
      );
      req.on('error', reject);
      req.end();
    });
    expect(status).toBe(421);
    const cross = await api('/api/conversations', { method: 'POST', json: {}, headers: { origin: 'https://evil.example' } });
    expect(cross.status).toBe(403);
    expect(await handshake(server.wsUrl, { authorization: `Bearer ${server.token}`, origin: 'https://evil.example' })).toBe(403);
  });

  it('logs the console in: ?token= sets an HttpOnly cookie that then authorizes the API', async () => {
    const { api, server } = await served();
    const login = await fetch(server.consoleUrl, { redirect: 'manual' });
    expect(login.status).toBe(303);
    expect(login.headers.get('location')).toBe('/');
    const setCookie = login.headers.get('set-cookie') ?? '';
    expect(setCookie).toMatch(/HttpOnly/);
    expect(setCookie).toMatch(/SameSite=Strict/);
    const cookie = setCookie.split(';')[0] as string;
    expect((await api('/api/health', { auth: false, headers: { cookie } })).status).toBe(200);
    expect((await api('/api/health', { auth: false, headers: { cookie: cookie.replace(/=.*/, '=wrong') } })).status).toBe(401);
    expect((await fetch(`${server.url}?token=wrong`, { redirect: 'manual' })).status).toBe(401);
    expect((await fetch(server.url, { redirect: 'manual' })).status).toBe(401);
  });
});

describe('control server: op validation', () => {
  it('answers a malformed op with 400 and the zod issues, and changes nothing', async () => {
    const { api } = await served();
    const started = await json(await api('/api/conversations', { method: 'POST', json: { approvalPolicy: 'on-request' } }));
    const id = started.conversation.id as string;
    const bad = await api(`/api/conversations/${id}/ops`, { method: 'POST', json: { type: 'approval', callId: 7 } });
    expect(bad.status).toBe(400);
    const body = await json(bad);
    expect(body.error.code).toBe('invalid_op');
    expect(body.error.issues).toEqual(
      expect.arrayContaining([
        { path: ['callId'], message: 'expected string, got number' },
        { path: ['decision'], message: expect.stringMatching(/decision|expected/) },
      ]),
    );
    const unknown = await json(await api(`/api/conversations/${id}/ops`, { method: 'POST', json: { type: 'dance' } }));
    expect(unknown.error.issues[0].path).toEqual(['type']);
    const extra = await json(await api(`/api/conversations/${id}/ops`, { method: 'POST', json: { type: 'interrupt', now: true } }));
    expect(extra.error.issues[0].message).toMatch(/unknown field "now"/);
    const notJson = await api(`/api/conversations/${id}/ops`, { method: 'POST', body: '{nope', headers: { 'content-type': 'application/json' } });
    expect(notJson.status).toBe(400);
    expect((await json(notJson)).error.code).toBe('invalid_json');
    const textBody = await api(`/api/conversations/${id}/ops`, { method: 'POST', body: 'type=interrupt', headers: { 'content-type': 'application/x-www-form-urlencoded' } });
    expect(textBody.status).toBe(415);
    // An op that is well-formed but not valid now: 400 naming the field.
    const noApproval = await json(await api(`/api/conversations/${id}/ops`, { method: 'POST', json: { type: 'approval', callId: 'c1', decision: 'approved' } }));
    expect(noApproval.error.issues[0].path).toEqual(['callId']);
    // Bad start options: 400 with issues.
    const badStart = await api('/api/conversations', { method: 'POST', json: { approvalPolicy: 'sometimes' } });
    expect(badStart.status).toBe(400);
    expect((await json(badStart)).error.issues[0].path).toEqual(['approvalPolicy']);
    // A bad id: 400; an unknown one: 404.
    expect((await api('/api/conversations/not-an-id')).status).toBe(400);
    expect((await api('/api/conversations/01ARZ3NDEKTSV4RRFFQ69G5FAV')).status).toBe(404);
    // Nothing happened to the conversation.
    const read = await json(await api(`/api/conversations/${id}`));
    expect(read.conversation.turns).toEqual([]);
  });

  it('answers a malformed op over the WebSocket with an error message carrying the issues', async () => {
    const { api, server } = await served();
    const id = (await json(await api('/api/conversations', { method: 'POST', json: {} }))).conversation.id as string;
    const client = await connect(server);
    client.send({ type: 'submit', conversationId: id, ref: 'r1', op: { type: 'user_input', items: [{ type: 'text', text: 5 }] } });
    const error = await client.waitFor((m) => m.type === 'error' && m.ref === 'r1', 'the error');
    expect(error).toMatchObject({ type: 'error', code: 'invalid_op', conversationId: id, ref: 'r1' });
    expect(error.type === 'error' && error.issues).toEqual([{ path: ['items', 0, 'text'], message: 'expected string, got number' }]);
    client.send({ type: 'launch', conversationId: id });
    const envelope = await client.waitFor((m) => m.type === 'error' && m.code === 'invalid_op' && m.ref === undefined, 'the envelope error');
    expect(envelope.type === 'error' && envelope.issues?.[0]?.path).toEqual(['type']);
    client.ws.send('{not json');
    await client.waitFor((m) => m.type === 'error' && m.code === 'invalid_json', 'the JSON error');
    client.send({ type: 'subscribe', conversationId: '../../etc/passwd' });
    await client.waitFor((m) => m.type === 'error' && m.code === 'invalid_id', 'the id error');
    // The connection is still usable.
    client.send({ type: 'submit', conversationId: id, ref: 'ok', op: { type: 'set_name', name: 'renamed' } });
    await client.waitFor((m) => m.type === 'submitted' && m.ref === 'ok', 'the submission');
  });
});

describe('control server: conversations over HTTP', () => {
  it('starts, lists (with a cursor), reads, forks, archives and unarchives', async () => {
    const { api } = await served();
    const ids: string[] = [];
    for (const name of ['first', 'second', 'third']) {
      const res = await api('/api/conversations', { method: 'POST', json: { name } });
      expect(res.status).toBe(201);
      const body = await json(res);
      expect(body.conversation).toMatchObject({ name, state: 'idle', pendingApprovals: [], active: ['conversation.idle'] });
      ids.push(body.conversation.id as string);
    }
    const [first, second, third] = ids as [string, string, string];
    // A turn on the first, through the ops route.
    const op = await api(`/api/conversations/${first}/ops`, { method: 'POST', json: { type: 'user_input', items: [{ type: 'text', text: 'hello' }] } });
    expect(op.status).toBe(202);
    expect((await json(op)).submissionId).toMatch(/^[0-9A-Z]{26}$/);
    await until(async () => (await json(await api(`/api/conversations/${first}`))).conversation.turns.length === 1 && (await json(await api(`/api/conversations/${first}/state`))).status === 'idle', 'the turn');

    const page1 = await json(await api('/api/conversations?limit=2'));
    expect(page1.items.map((i: Json) => i.id)).toEqual([third, second]);
    expect(page1.items[0]).toMatchObject({ name: 'third', resident: true, state: 'idle', pendingApprovals: 0 });
    expect(page1.nextCursor).toEqual(expect.any(String));
    const page2 = await json(await api(`/api/conversations?limit=2&cursor=${encodeURIComponent(page1.nextCursor as string)}`));
    expect(page2.items.map((i: Json) => i.id)).toEqual([first]);
    expect(page2.nextCursor).toBeNull();
    expect((await api('/api/conversations?limit=lots')).status).toBe(400);

    const read = await json(await api(`/api/conversations/${first}`));
    expect(read.conversation.name).toBe('first');
    expect(read.conversation.turns[0].status).toBe('completed');
    expect(read.conversation.turns[0].items.map((i: Json) => i.type)).toEqual(['user_message', 'agent_message']);
    expect(read.live).toMatchObject({ conversationId: first, status: 'idle' });

    const forked = await api(`/api/conversations/${first}/fork`, { method: 'POST', json: { name: 'the fork' } });
    expect(forked.status).toBe(201);
    const fork = (await json(forked)).conversation;
    expect(fork.id).not.toBe(first);
    const forkRead = await json(await api(`/api/conversations/${fork.id}`));
    expect(forkRead.conversation.meta.forked_from.id).toBe(first);
    expect(forkRead.conversation.turns).toHaveLength(1);
    expect((await api(`/api/conversations/${first}/fork`, { method: 'POST', json: { beforeUserTurn: 9 } })).status).toBe(400);

    expect((await api(`/api/conversations/${second}/archive`, { method: 'POST' })).status).toBe(200);
    const afterArchive = (await json(await api('/api/conversations'))).items.map((i: Json) => i.id);
    expect(afterArchive).not.toContain(second);
    expect(afterArchive).toContain(fork.id);
    const archived = (await json(await api('/api/conversations?archived=true'))).items.map((i: Json) => i.id);
    expect(archived).toEqual([second]);
    expect((await api(`/api/conversations/${second}/unarchive`, { method: 'POST' })).status).toBe(200);
    expect((await json(await api('/api/conversations'))).items.map((i: Json) => i.id)).toContain(second);
    expect((await json(await api('/api/conversations?archived=true'))).items).toEqual([]);
  });

  it('resumes a conversation that is not resident', async () => {
    const { api, runtime } = await served();
    const id = (await json(await api('/api/conversations', { method: 'POST', json: { name: 'sleeper' } }))).conversation.id as string;
    await runtime.get(id)!.close();
    expect((await json(await api(`/api/conversations/${id}/state`))).resident).toBe(false);
    const resumed = await api(`/api/conversations/${id}/resume`, { method: 'POST' });
    expect(resumed.status).toBe(200);
    expect((await json(resumed)).conversation).toMatchObject({ id, name: 'sleeper', state: 'idle' });
    expect((await json(await api(`/api/conversations/${id}/state`))).resident).toBe(true);
  });

  it('refuses bodies larger than the limit (413)', async () => {
    const { api } = await served();
    const res = await api('/api/conversations', { method: 'POST', json: { name: 'x'.repeat(2 * 2 ** 20) } });
    expect(res.status).toBe(413);
  });
});

describe('control server: WebSocket', () => {
  it('gives two subscribers of one conversation the same events in the same order, thread.started first', async () => {
    const { api, server } = await served({ script: SLOW });
    const id = (await json(await api('/api/conversations', { method: 'POST', json: {} }))).conversation.id as string;
    const a = await connect(server);
    const b = await connect(server);
    a.send({ type: 'subscribe', conversationId: id, diagram: true });
    b.send({ type: 'subscribe', conversationId: id });
    await a.waitFor((m) => m.type === 'state', 'a state');
    await b.waitFor((m) => m.type === 'state', 'b state');
    a.send({ type: 'submit', conversationId: id, op: { type: 'user_input', items: [{ type: 'text', text: 'one' }] } });
    // While the first turn runs: steer input in, and queue a second turn.
    await a.waitFor((m) => m.type === 'event' && m.event.type === 'turn.started', 'the first turn');
    b.send({ type: 'submit', conversationId: id, op: { type: 'user_input', items: [{ type: 'text', text: 'two' }], mode: 'queue' } });
    const done = (c: typeof a): Promise<unknown> =>
      c.waitFor((m) => m.type === 'event' && m.event.type === 'turn.completed' && c.messages.filter((x) => x.type === 'event' && x.event.type === 'turn.completed').length === 2, 'two turns');
    await Promise.all([done(a), done(b)]);
    const events = (c: typeof a): EventMessage[] => c.messages.filter((m): m is EventMessage => m.type === 'event' && m.conversationId === id);
    const ea = events(a);
    const eb = events(b);
    expect(ea[0]?.event).toEqual({ type: 'thread.started', thread_id: id, model: 'local', cwd: expect.any(String), approval_policy: 'on-request', turns: 0, history_turns: 0 });
    expect(ea.map((m) => m.n)).toEqual(ea.map((_, i) => i));
    expect(ea.map((m) => m.event)).toEqual(eb.map((m) => m.event));
    expect(ea.filter((m) => m.event.type === 'turn.started')).toHaveLength(2);
    // The statechart moved through processing and back to idle, and the diagram came with it.
    const states = a.messages.filter((m): m is StateMessage => m.type === 'state');
    expect(states[0]).toMatchObject({ conversationId: id, status: 'idle', active: ['conversation.idle'] });
    expect(states[0]?.diagram).toMatch(/^stateDiagram-v2/);
    expect(states[0]?.diagram).toContain('class conversation_idle active');
    expect(states.some((s) => s.status === 'processing' && s.active.includes('conversation.processing.streaming'))).toBe(true);
    expect(states.at(-1)).toMatchObject({ status: 'idle' });
    const processing = states.find((s) => s.active.includes('conversation.processing.streaming'));
    expect(processing?.diagram).toContain('class conversation_processing_streaming active');
    expect(processing?.diagram).not.toContain('class conversation_idle active');
    // Without `diagram: true`, states come without it.
    expect(b.messages.filter((m) => m.type === 'state').every((m) => m.type === 'state' && m.diagram === undefined)).toBe(true);
    // Each state comes after the event that caused it: the last message of a finished turn is a state.
    const lastEvent = a.messages.findLastIndex((m) => m.type === 'event');
    expect(a.messages.slice(lastEvent + 1).some((m) => m.type === 'state')).toBe(true);
  });

  it('resolves a pending !command with an approval submitted over the WebSocket', async () => {
    const { api, server } = await served();
    const id = (await json(await api('/api/conversations', { method: 'POST', json: { approvalPolicy: 'on-request' } }))).conversation.id as string;
    const client = await connect(server);
    client.send({ type: 'subscribe', conversationId: id });
    await client.waitFor((m) => m.type === 'state', 'the state');
    client.send({ type: 'submit', conversationId: id, ref: 'run', op: { type: 'user_input', items: [{ type: 'text', text: '!echo approved-over-ws' }] } });
    const requested = await client.waitFor((m) => m.type === 'event' && m.event.type === 'approval.requested', 'the approval request');
    const callId = requested.type === 'event' && requested.event.type === 'approval.requested' ? requested.event.callId : '';
    const waiting = await client.waitFor<StateMessage>((m) => m.type === 'state' && m.pendingApprovals.length === 1, 'the awaiting state');
    expect(waiting.active).toContain('conversation.processing.awaitingApproval');
    expect(waiting.pendingApprovals[0]).toMatchObject({ callId, item: { type: 'command_execution', command: 'echo approved-over-ws' } });
    // Listed with its pending approval.
    const listed = (await json(await api('/api/conversations'))).items.find((i: Json) => i.id === id);
    expect(listed).toMatchObject({ state: 'processing', pendingApprovals: 1 });
    client.send({ type: 'submit', conversationId: id, ref: 'approve', op: { type: 'approval', callId, decision: 'approved' } });
    await client.waitFor((m) => m.type === 'submitted' && m.ref === 'approve', 'the approval submission');
    const completed = await client.waitFor(
      (m) => m.type === 'event' && m.event.type === 'item.completed' && m.event.item.type === 'command_execution',
      'the command',
    );
    expect(completed.type === 'event' && completed.event.type === 'item.completed' && completed.event.item).toMatchObject({
      type: 'command_execution',
      status: 'completed',
      aggregated_output: 'approved-over-ws\n',
    });
    await client.waitFor((m) => m.type === 'event' && m.event.type === 'turn.completed', 'the end of the turn');
    await client.waitFor<StateMessage>((m) => m.type === 'state' && m.status === 'idle' && m.pendingApprovals.length === 0 && client.messages.indexOf(m) > client.messages.indexOf(waiting), 'idle again');
  });

  it('subscribes to a conversation that is not resident by resuming it, and unsubscribes', async () => {
    const { api, runtime, server } = await served();
    const id = (await json(await api('/api/conversations', { method: 'POST', json: {} }))).conversation.id as string;
    await runtime.get(id)!.close();
    const client = await connect(server);
    client.send({ type: 'subscribe', conversationId: id.toLowerCase() });
    const first = await client.waitFor((m) => m.type === 'event', 'thread.started');
    expect(first).toMatchObject({ type: 'event', conversationId: id, n: 0, event: { type: 'thread.started', thread_id: id } });
    client.send({ type: 'unsubscribe', conversationId: id, ref: 'u' });
    await client.waitFor((m) => m.type === 'unsubscribed' && m.ref === 'u', 'unsubscribed');
    const before = client.messages.length;
    await api(`/api/conversations/${id}/ops`, { method: 'POST', json: { type: 'set_name', name: 'quiet' } });
    await new Promise((r) => setTimeout(r, 100));
    expect(client.messages.slice(before)).toEqual([]);
    client.send({ type: 'subscribe', conversationId: '01ARZ3NDEKTSV4RRFFQ69G5FAV' });
    await client.waitFor((m) => m.type === 'error' && m.code === 'session_not_found', 'not found');
  });

  it('follows a conversation that was closed and resumed by a submission', async () => {
    const { api, runtime, server } = await served();
    const id = (await json(await api('/api/conversations', { method: 'POST', json: {} }))).conversation.id as string;
    const client = await connect(server);
    client.send({ type: 'subscribe', conversationId: id });
    await client.waitFor((m) => m.type === 'state', 'the state');
    await runtime.get(id)!.close();
    await client.waitFor((m) => m.type === 'event' && m.event.type === 'thread.closed', 'thread.closed');
    await client.waitFor((m) => m.type === 'state' && m.status === 'closed', 'the closed state');
    client.send({ type: 'submit', conversationId: id, op: { type: 'user_input', items: [{ type: 'text', text: 'back again' }] } });
    await client.waitFor((m) => m.type === 'event' && m.event.type === 'turn.completed', 'the turn of the resumed conversation');
    const starts = client.messages.filter((m) => m.type === 'event' && m.event.type === 'thread.started');
    expect(starts.map((m) => m.type === 'event' && m.n)).toEqual([0, 0]);
  });

  it('tells every client when a conversation is passivated and when it comes back; listings show where it lives', async () => {
    const clock = new SimulatedClock();
    const { api, server } = await served({ runtime: { clock, passivateAfterMs: 60_000 } });
    const id = (await json(await api('/api/conversations', { method: 'POST', json: { name: 'napper' } }))).conversation.id as string;
    const watcher = await connect(server);
    await api(`/api/conversations/${id}/ops`, { method: 'POST', json: { type: 'user_input', items: [{ type: 'text', text: 'hi' }] } });
    await watcher.waitFor((m) => m.type === 'runtime' && m.event.type === 'conversation.activated', 'the activation');
    const listed = async () => (await json(await api('/api/conversations'))).items.find((i: Json) => i.id === id);
    await until(async () => (await listed()).state === 'idle', 'the turn to end');
    expect(await listed()).toMatchObject({ resident: true, residency: 'active', state: 'idle' });
    clock.increment(60_000);
    const passivated = await watcher.waitFor((m) => m.type === 'runtime' && m.event.type === 'conversation.passivated', 'the passivation');
    expect(passivated).toEqual({ type: 'runtime', event: { type: 'conversation.passivated', conversationId: id } });
    // Listing and reading its state do not bring it back.
    expect(await listed()).toMatchObject({ resident: true, residency: 'passivated', state: 'idle', pendingApprovals: 0 });
    expect(await json(await api(`/api/conversations/${id}/state`))).toMatchObject({ resident: true, residency: 'passivated', status: 'idle', active: ['conversation.idle'] });
    expect((await listed()).residency).toBe('passivated');
    // A subscription does.
    watcher.send({ type: 'subscribe', conversationId: id });
    await watcher.waitFor((m) => m.type === 'runtime' && m.event.type === 'conversation.activated' && m.event.origin === 'wake', 'the wake');
    await watcher.waitFor<StateMessage>((m) => m.type === 'state' && m.residency === 'active', 'an active state');
  });

  it('disconnects clients when the server closes', async () => {
    const { server } = await served();
    const client = await connect(server);
    expect(server.clients).toBe(1);
    const closed = new Promise<number>((resolve) => client.ws.once('close', (code) => resolve(code)));
    await server.close();
    expect(await closed).toBe(1001);
    await expect(fetch(server.url)).rejects.toThrow();
  });
});
