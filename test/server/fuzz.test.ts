/**
 * Fuzzing the control server: random JSON bodies, paths, ids, query strings and WebSocket
 * messages at every route. Whatever comes in, the answer is never a 5xx (nor a WebSocket
 * error whose code maps to one), and the server stays up and answering.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FileStore, newConversationId, type RuntimeOptions } from '../../src/index.js';
import { statusOfCode } from '../../src/server/http.js';
import type { ServerMessage } from '../../src/server/index.js';
import { connect, later, served, type Served } from './helpers.js';

/** Answers only with messages: no shell command can run, whatever the fuzzer sends. */
const SCRIPT = { turns: [{ steps: [{ type: 'message' as const, text: 'fuzzed' }] }], repeat: 'last' as const };

/** The stores fuzzed: the memory store, and the file store, where ids become paths. */
const STORES: readonly [string, () => RuntimeOptions][] = [
  ['memory store', () => ({})],
  [
    'file store',
    () => {
      const home = mkdtempSync(join(tmpdir(), 'colloquy-fuzz-'));
      later(() => rmSync(home, { recursive: true, force: true }));
      return { store: new FileStore({ home }) };
    },
  ],
];

interface Answer {
  readonly status: number;
  readonly body: string;
}

/** A raw HTTP request (any method, path and body bytes), answered with its status and body. */
function raw(s: Served, method: string, path: string, body?: string, headers: Record<string, string> = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port: s.server.address.port,
        method,
        path,
        headers: {
          authorization: `Bearer ${s.server.token}`,
          ...(body !== undefined ? { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)) } : {}),
          ...headers,
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

/** Ids of every kind: fresh and existing ones, ULID look-alikes (any first character), lower case, junk. */
function idArb(existing: string): fc.Arbitrary<string> {
  return fc.oneof(
    fc.constant(existing),
    fc.constant(existing.toLowerCase()),
    fc.constant(newConversationId()),
    fc.constantFrom('ZZZZZZZZZZZZZZZZZZZZZZZZZZ', '80000000000000000000000000', '7ZZZZZZZZZZZZZZZZZZZZZZZZZ', 'zzzzzzzzzzzzzzzzzzzzzzzzzz', '0000000000000000000000000I'),
    fc.stringMatching(/^[0-9A-Za-z]{26}$/),
    fc.string({ maxLength: 40 }),
    fc.constantFrom('..', '%2e%2e', '%2F', '%ZZ', '%', 'null', '0', '-1', '%00'),
  );
}

/** A path segment as it goes into a request line (escaped, so the request itself is well formed). */
const segment = (id: string): string => (/^%[0-9A-Za-z]*$/.test(id) ? id : encodeURIComponent(id));

/** Bodies: any JSON, near-misses of the real options and ops, and bytes that are not JSON. */
const bodyArb = fc.oneof(
  fc.jsonValue({ maxDepth: 3 }).map((v) => JSON.stringify(v) ?? 'null'),
  fc.constantFrom('null', '[]', '""', '0', 'true', '{"__proto__":{}}', '{"metadata":null}', '{"constructor":{"prototype":{}}}'),
  fc
    .record(
      {
        model: fc.oneof(fc.string(), fc.integer(), fc.constant(null)),
        cwd: fc.oneof(fc.string(), fc.constant(null), fc.constant({})),
        approvalPolicy: fc.oneof(fc.constantFrom('never', 'on-request', 'untrusted'), fc.string()),
        name: fc.oneof(fc.string({ maxLength: 300 }), fc.integer()),
        metadata: fc.oneof(fc.dictionary(fc.string(), fc.jsonValue({ maxDepth: 1 })), fc.constant(null), fc.array(fc.string())),
        beforeUserTurn: fc.oneof(fc.integer(), fc.double(), fc.string()),
        instructions: fc.oneof(fc.string(), fc.integer()),
        sandbox: fc.oneof(fc.string(), fc.jsonValue({ maxDepth: 1 })),
        outputSchema: fc.jsonValue({ maxDepth: 2 }),
      },
      { requiredKeys: [] },
    )
    .map((v) => JSON.stringify(v)),
  fc
    .record(
      {
        type: fc.constantFrom('user_input', 'interrupt', 'compact', 'rollback', 'set_name', 'override_turn_context', 'retry', 'reset', 'approval', 'warp'),
        items: fc.oneof(fc.constant([{ type: 'text', text: 'hi' }]), fc.jsonValue({ maxDepth: 2 })),
        mode: fc.oneof(fc.constantFrom('steer', 'queue', 'interrupt', 'reject'), fc.string()),
        turns: fc.oneof(fc.integer(), fc.double(), fc.string()),
        name: fc.string(),
        callId: fc.oneof(fc.string(), fc.integer()),
        decision: fc.oneof(fc.constantFrom('approved', 'denied', 'abort'), fc.string()),
      },
      { requiredKeys: ['type'] },
    )
    .map((v) => JSON.stringify(v)),
  fc.string({ maxLength: 60 }),
);

/** Runs per property (`FUZZ_RUNS` to fuzz longer). */
const RUNS = Number(process.env.FUZZ_RUNS ?? 300);

const METHODS = ['GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'HEAD', 'OPTIONS'] as const;

/** A request: a method, a path under one of the routes (or anywhere), a query string and maybe a body. */
function requestArb(existing: string): fc.Arbitrary<{ method: string; path: string; body: string | undefined }> {
  const route = fc.oneof(
    fc.constantFrom('/api/health', '/api/statechart', '/api/conversations', '/', '/index.html', '/favicon.ico', '/assets/', '/api/', '/api', '//api/conversations', '/api/conversations/'),
    idArb(existing).map((id) => `/api/conversations/${segment(id)}`),
    fc
      .tuple(idArb(existing), fc.constantFrom('state', 'resume', 'fork', 'archive', 'unarchive', 'ops', 'nope', ''))
      .map(([id, tail]) => `/api/conversations/${segment(id)}/${tail}`),
    fc.webPath().map((p) => (p.startsWith('/') ? p : `/${p}`)),
  );
  const query = fc.oneof(
    fc.constant(''),
    fc
      .record(
        {
          limit: fc.oneof(fc.nat().map(String), fc.string(), fc.constant('1e3'), fc.constant('-1'), fc.constant('99999999999999999999')),
          cursor: fc.oneof(fc.string(), idArb(existing).map((id) => `c:${id}`), idArb(existing).map((id) => `u:123:${id}`), fc.constant('u:99999999999999999:ZZZZZZZZZZZZZZZZZZZZZZZZZZ')),
          sort: fc.oneof(fc.constantFrom('created', 'updated'), fc.string()),
          archived: fc.oneof(fc.constantFrom('true', 'false', '1', '0'), fc.string()),
          name: fc.string(),
        },
        { requiredKeys: [] },
      )
      .map((q) => `?${new URLSearchParams(q as Record<string, string>).toString()}`),
    fc.webQueryParameters().map((q) => `?${q}`),
  );
  return fc.record({
    method: fc.constantFrom(...METHODS),
    path: fc.tuple(route, query).map(([r, q]) => r + q),
    body: fc.option(bodyArb, { nil: undefined }),
  });
}

/** WebSocket messages: the three kinds with random fields, any JSON, and text that is not JSON. */
function messageArb(existing: string): fc.Arbitrary<string> {
  const op = bodyArb.map((b) => {
    try {
      return JSON.parse(b) as unknown;
    } catch {
      return b;
    }
  });
  return fc.oneof(
    fc
      .record(
        {
          type: fc.oneof(fc.constantFrom('subscribe', 'unsubscribe', 'submit'), fc.string()),
          conversationId: fc.oneof(idArb(existing), fc.integer(), fc.constant(null)),
          diagram: fc.oneof(fc.boolean(), fc.string()),
          ref: fc.oneof(fc.string({ maxLength: 200 }), fc.integer()),
          op,
        },
        { requiredKeys: ['type'] },
      )
      .map((m) => JSON.stringify(m)),
    fc.jsonValue({ maxDepth: 3 }).map((v) => JSON.stringify(v) ?? 'null'),
    fc.string({ maxLength: 60 }),
  );
}

describe.each(STORES)('control server: fuzzing (%s)', (_, storeOptions) => {
  it('answers every HTTP request without a 5xx and stays up', async () => {
    const s = await served({ script: SCRIPT, runtime: storeOptions() });
    const started = await s.api('/api/conversations', { method: 'POST', json: { name: 'target' } });
    const existing = ((await started.json()) as { conversation: { id: string } }).conversation.id;
    await fc.assert(
      fc.asyncProperty(requestArb(existing), async ({ method, path, body }) => {
        const answer = await raw(s, method, path, method === 'GET' || method === 'HEAD' ? undefined : body);
        if (answer.status >= 500) throw new Error(`${method} ${path} ${body ?? ''} → ${answer.status} ${answer.body}`);
      }),
      { numRuns: RUNS },
    );
    expect((await s.api('/api/health')).status).toBe(200);
  }, 120_000);

  it('answers the inputs that once gave a 500 with a 4xx naming what is wrong', async () => {
    const s = await served({ script: SCRIPT, runtime: storeOptions() });
    for (const id of ['ZZZZZZZZZZZZZZZZZZZZZZZZZZ', '80000000000000000000000000', 'zzzzzzzzzzzzzzzzzzzzzzzzzz']) {
      for (const [method, path] of [
        ['GET', `/api/conversations/${id}`],
        ['GET', `/api/conversations/${id}/state`],
        ['POST', `/api/conversations/${id}/resume`],
        ['POST', `/api/conversations/${id}/fork`],
        ['POST', `/api/conversations/${id}/archive`],
        ['POST', `/api/conversations/${id}/unarchive`],
        ['POST', `/api/conversations/${id}/ops`],
      ] as const) {
        const answer = await raw(s, method, path, method === 'POST' ? '{"type":"interrupt"}' : undefined);
        expect({ path, status: answer.status }).toEqual({ path, status: 400 });
        expect(JSON.parse(answer.body).error.code).toBe('invalid_id');
      }
    }
    const nullStart = await raw(s, 'POST', '/api/conversations', 'null');
    expect(nullStart.status).toBe(400);
    expect(JSON.parse(nullStart.body).error).toMatchObject({ code: 'invalid_op', issues: [{ path: [] }] });
    const arrayStart = await raw(s, 'POST', '/api/conversations', '[]');
    expect(arrayStart.status).toBe(400);
    const id = newConversationId();
    const nullFork = await raw(s, 'POST', `/api/conversations/${id}/fork`, 'null');
    expect(nullFork.status).toBeLessThan(500);
    const client = await connect(s.server);
    for (const type of ['subscribe', 'unsubscribe', 'submit'] as const) {
      client.send({ type, conversationId: 'ZZZZZZZZZZZZZZZZZZZZZZZZZZ', ref: type, ...(type === 'submit' ? { op: { type: 'interrupt' } } : {}) });
      const error = await client.waitFor((m) => m.type === 'error' && m.ref === type, `the answer to ${type}`);
      expect(error).toMatchObject({ code: 'invalid_id' });
    }
  });

  it('answers every WebSocket message without an error of a 5xx code, and keeps the connection', async () => {
    const s = await served({ script: SCRIPT, runtime: storeOptions() });
    const started = await s.api('/api/conversations', { method: 'POST', json: {} });
    const existing = ((await started.json()) as { conversation: { id: string } }).conversation.id;
    const client = await connect(s.server);
    let ref = 0;
    await fc.assert(
      fc.asyncProperty(messageArb(existing), async (text) => {
        const from = client.messages.length;
        client.ws.send(text);
        // A marker after each message: once it is answered, the fuzzed one has been handled.
        const marker = `marker-${ref++}`;
        client.send({ type: 'unsubscribe', conversationId: newConversationId(), ref: marker });
        await client.waitFor((m) => m.type === 'unsubscribed' && m.ref === marker, `the answer to ${marker}`);
        const failed = client.messages
          .slice(from)
          .filter((m): m is Extract<ServerMessage, { type: 'error' }> => m.type === 'error' && statusOfCode(m.code) >= 500);
        if (failed.length > 0) throw new Error(`${text} → ${JSON.stringify(failed)}`);
      }),
      { numRuns: RUNS },
    );
    expect(client.ws.readyState).toBe(1);
    expect((await s.api('/api/health')).status).toBe(200);
  }, 120_000);
});
