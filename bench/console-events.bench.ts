/**
 * Console event delivery: N conversations run T turns each (local agent, file store, `sync`) while
 * WebSocket clients of the control server (`serve(runtime)`) are subscribed to every one of
 * them, as the console is. Reports the conversation events delivered per second to one
 * subscriber (wall clock, from the first turn until the subscriber has received every turn's
 * end), every message the server pushed (events and state changes) and the bytes, and the same
 * with two subscribers (each sees every event; each subscriber in a worker thread of its own,
 * as a browser is a process of its own). The baseline is the same turns with an
 * in-process `Conversation.subscribe` listener and no server. The subscribers share the
 * machine's two cores with the server.
 */
import { Worker } from 'node:worker_threads';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRuntime, type Conversation, type Runtime } from '../src/index.js';
import { serve, type ControlServer } from '../src/server/index.js';
import { report, smoke } from './machine.js';

const conversations = smoke ? 10 : Number(process.env.BENCH_CONVERSATIONS ?? 1_000);
const turns = smoke ? 3 : Number(process.env.BENCH_TURNS ?? 20);

interface Subscriber {
  events: number;
  messages: number;
  bytes: number;
  /** Resolves once `count` turn ends arrived (rejects if the server dropped the client). */
  untilEnds(count: number): Promise<void>;
  close(): Promise<void>;
}

/**
 * The subscriber runs in a worker thread: its own event loop, as a browser tab is its own
 * process, so reading the socket is not starved by the turns running in this thread (an
 * in-thread client falls behind and the server drops it once 32 MB are queued for it).
 */
const SUBSCRIBER = `
const { parentPort, workerData } = require('node:worker_threads');
const { WebSocket } = require(workerData.ws);
const ws = new WebSocket(workerData.url, { headers: { authorization: 'Bearer ' + workerData.token } });
const ids = workerData.ids;
const subscribed = new Set();
let measuring = false, events = 0, messages = 0, bytes = 0, ends = 0, target = Infinity;
const done = () => parentPort.postMessage({ type: 'done', events, messages, bytes });
ws.on('open', () => { for (const id of ids) ws.send(JSON.stringify({ type: 'subscribe', conversationId: id })); });
ws.on('error', (err) => parentPort.postMessage({ type: 'failed', reason: String(err) }));
ws.on('close', (code, reason) => { if (ends < target) parentPort.postMessage({ type: 'failed', reason: 'closed ' + code + ' ' + reason }); });
ws.on('message', (data) => {
  const message = JSON.parse(data.toString());
  if (measuring) { messages++; bytes += data.length; }
  if (message.type === 'event') {
    if (measuring) events++;
    const type = message.event.type;
    if (measuring && (type === 'turn.completed' || type === 'turn.failed' || type === 'turn.aborted') && ++ends >= target) done();
  } else if (message.type === 'state' && !subscribed.has(message.conversationId)) {
    subscribed.add(message.conversationId);
    if (subscribed.size === ids.length) { measuring = true; parentPort.postMessage({ type: 'ready' }); }
  } else if (message.type === 'error') {
    parentPort.postMessage({ type: 'failed', reason: message.code + ': ' + message.message });
  }
});
parentPort.on('message', (m) => { if (m.type === 'until') { target = m.count; if (ends >= target) done(); } else if (m.type === 'close') ws.close(); });
`;

async function subscriber(server: ControlServer, ids: readonly string[]): Promise<Subscriber> {
  const worker = new Worker(SUBSCRIBER, { eval: true, workerData: { url: server.wsUrl, token: server.token, ids, ws: require.resolve('ws') } });
  let fail: (err: Error) => void = () => {};
  let finish: (m: { events: number; messages: number; bytes: number }) => void = () => {};
  let ready: () => void = () => {};
  worker.on('message', (m: { type: string; reason?: string; events: number; messages: number; bytes: number }) => {
    if (m.type === 'ready') ready();
    else if (m.type === 'done') finish(m);
    else if (m.type === 'failed') fail(new Error(`the subscriber failed: ${m.reason}`));
  });
  worker.on('error', (err) => fail(err));
  await new Promise<void>((resolve, reject) => {
    ready = resolve;
    fail = reject;
  });
  const s: Subscriber = {
    events: 0,
    messages: 0,
    bytes: 0,
    untilEnds(count) {
      return new Promise((resolve, reject) => {
        fail = reject;
        finish = (m) => {
          s.events = m.events;
          s.messages = m.messages;
          s.bytes = m.bytes;
          resolve();
        };
        worker.postMessage({ type: 'until', count });
      });
    },
    close: async () => {
      worker.postMessage({ type: 'close' });
      await worker.terminate();
    },
  };
  return s;
}

async function runTurns(convos: readonly Conversation[]): Promise<void> {
  await Promise.all(
    convos.map(async (c) => {
      for (let i = 0; i < turns; i++) await c.run(`turn ${i}`);
    }),
  );
}

async function setup(): Promise<{ runtime: Runtime; convos: Conversation[] }> {
  // The file store with durability `sync`, as a deployment runs: turns wait on fsync, so the
  // event loop also serves the sockets (with a memory store and an agent that answers at once,
  // turns run back to back in microtasks and starve the sockets' writes).
  const runtime = createRuntime({ home: mkdtempSync(join(tmpdir(), 'colloquy-bench-console-')), durability: 'sync' });
  const convos = await Promise.all(Array.from({ length: conversations }, () => runtime.start()));
  await Promise.all(convos.map((c) => c.run('warm up')));
  return { runtime, convos };
}

async function viaServer(subscribers: number): Promise<Record<string, unknown>> {
  const { runtime, convos } = await setup();
  const server = await serve(runtime);
  try {
    const ids = convos.map((c) => c.id);
    const subs: Subscriber[] = [];
    for (let i = 0; i < subscribers; i++) subs.push(await subscriber(server, ids));
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    await runTurns(convos);
    await Promise.all(subs.map((s) => s.untilEnds(conversations * turns)));
    const seconds = (performance.now() - t0) / 1000;
    const cpu = process.cpuUsage(cpu0);
    const first = subs[0] as Subscriber;
    await Promise.all(subs.map((s) => s.close()));
    return {
      subscribers,
      turns: conversations * turns,
      eventsPerSubscriber: first.events,
      messagesPerSubscriber: first.messages,
      seconds: +seconds.toFixed(2),
      eventsPerSecond: Math.round(first.events / seconds),
      deliveredEventsPerSecond: Math.round(subs.reduce((n, s) => n + s.events, 0) / seconds),
      messagesPerSecond: Math.round(first.messages / seconds),
      megabytesPerSecond: +(first.bytes / 2 ** 20 / seconds).toFixed(2),
      cpuUsPerEvent: Math.round((cpu.user + cpu.system) / subs.reduce((n, s) => n + s.events, 0)),
    };
  } finally {
    await server.close();
    await runtime.shutdown();
  }
}

async function inProcess(): Promise<Record<string, unknown>> {
  const { runtime, convos } = await setup();
  try {
    let events = 0;
    const unsubscribe = convos.map((c) => c.subscribe(() => void events++));
    events = 0;
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    await runTurns(convos);
    const seconds = (performance.now() - t0) / 1000;
    const cpu = process.cpuUsage(cpu0);
    for (const u of unsubscribe) u();
    return {
      subscribers: 1,
      turns: conversations * turns,
      eventsPerSubscriber: events,
      seconds: +seconds.toFixed(2),
      eventsPerSecond: Math.round(events / seconds),
      cpuUsPerEvent: Math.round((cpu.user + cpu.system) / events),
    };
  } finally {
    await runtime.shutdown();
  }
}

const figures: Record<string, Record<string, unknown>> = {};
figures['in-process listener (no server)'] = await inProcess();
figures['WebSocket, 1 subscriber'] = await viaServer(1);
figures['WebSocket, 2 subscribers'] = await viaServer(2);
report({ name: 'console-events', conversations, turnsEach: turns, figures });
