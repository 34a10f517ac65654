/**
 * Helpers for the control-server tests: a runtime with its server, HTTP calls with or without
 * the token, and WebSocket clients that collect what the server sends.
 */
import { afterEach } from 'vitest';
import { WebSocket } from 'ws';
import { createRuntime, localAgent, MemoryStore, type AgentScript, type Runtime, type RuntimeOptions } from '../../src/index.js';
import { serve, type ControlServer, type ServerMessage } from '../../src/server/index.js';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()?.();
});

/** Run `fn` after the test (last registered, first run). */
export function later(fn: () => Promise<void> | void): void {
  cleanups.push(fn);
}

export interface Served {
  readonly runtime: Runtime;
  readonly server: ControlServer;
  /** `fetch` against the server with the token (`auth: false` leaves it out). */
  api(path: string, init?: RequestInit & { auth?: boolean; json?: unknown }): Promise<Response>;
}

/** A runtime (memory store, local agent, optionally scripted) and its control server. */
export async function served(options: { script?: AgentScript; runtime?: RuntimeOptions } = {}): Promise<Served> {
  const runtime = createRuntime({
    store: new MemoryStore(),
    agent: localAgent(options.script ? { script: options.script } : {}),
    ...options.runtime,
  });
  const server = await serve(runtime);
  later(() => runtime.shutdown());
  later(() => server.close());
  const api = (path: string, init: RequestInit & { auth?: boolean; json?: unknown } = {}): Promise<Response> => {
    const { auth = true, json, headers, ...rest } = init;
    return fetch(new URL(path, server.url), {
      ...rest,
      headers: {
        ...(auth ? { authorization: `Bearer ${server.token}` } : {}),
        ...(json !== undefined ? { 'content-type': 'application/json' } : {}),
        ...(headers as Record<string, string> | undefined),
      },
      ...(json !== undefined ? { body: JSON.stringify(json) } : {}),
    });
  };
  return { runtime, server, api };
}

/** A WebSocket client of the control server, collecting every message. */
export interface Client {
  readonly ws: WebSocket;
  readonly messages: ServerMessage[];
  send(message: unknown): void;
  /** Resolves with the first message (from the start) matching `predicate`. */
  waitFor<T extends ServerMessage = ServerMessage>(predicate: (m: ServerMessage) => boolean, what?: string, timeoutMs?: number): Promise<T>;
  close(): void;
}

/** Connect with the token (as a header). */
export async function connect(server: ControlServer, headers: Record<string, string> = { authorization: `Bearer ${server.token}` }): Promise<Client> {
  const ws = new WebSocket(server.wsUrl, { headers });
  const messages: ServerMessage[] = [];
  const waiters = new Set<() => void>();
  ws.on('message', (data) => {
    messages.push(JSON.parse(data.toString()) as ServerMessage);
    for (const w of waiters) w();
  });
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  later(() => ws.close());
  return {
    ws,
    messages,
    send: (message) => ws.send(JSON.stringify(message)),
    waitFor: <T extends ServerMessage>(predicate: (m: ServerMessage) => boolean, what = 'a message', timeoutMs = 10_000) =>
      new Promise<T>((resolve, reject) => {
        const check = (): boolean => {
          const found = messages.find(predicate);
          if (!found) return false;
          waiters.delete(check);
          clearTimeout(timer);
          resolve(found as T);
          return true;
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`timed out waiting for ${what}; got ${JSON.stringify(messages.map((m) => (m.type === 'event' ? `event:${m.event.type}` : m.type)))}`));
        }, timeoutMs);
        waiters.add(check);
        check();
      }),
    close: () => ws.close(),
  };
}

/** The outcome of a WebSocket handshake: `open`, or the HTTP status it was refused with. */
export function handshake(url: string, headers: Record<string, string> = {}): Promise<'open' | number> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { headers });
    ws.once('open', () => {
      ws.close();
      resolve('open');
    });
    ws.once('unexpected-response', (_req, res) => {
      resolve(res.statusCode ?? 0);
      ws.terminate();
    });
    ws.once('error', (err) => reject(err));
  });
}

/** Poll until `predicate` holds. */
export async function until(predicate: () => Promise<boolean> | boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await predicate())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
