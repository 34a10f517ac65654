/**
 * Console event delivery: N conversations run T turns each (local agent, memory store) while
 * WebSocket clients of the control server (`runtime.serve()`) are subscribed to every one of
 * them, as the console is. Reports the conversation events delivered per second to one
 * subscriber (wall clock, from the first turn until the subscriber has received every turn's
 * end), every message the server pushed (events and state changes) and the bytes, and the same
 * with two subscribers (each sees every event). The baseline is the same turns with an
 * in-process `Conversation.subscribe` listener and no server. The clients run in the same
 * process as the server, so their parsing shares its CPU.
 */
import { WebSocket } from 'ws';
import { createRuntime, MemoryStore, type Conversation, type Runtime } from '../src/index.js';
import type { ControlServer, ServerMessage } from '../src/server/index.js';
import { report, smoke } from './machine.js';

const conversations = smoke ? 10 : Number(process.env.BENCH_CONVERSATIONS ?? 200);
const turns = smoke ? 3 : Number(process.env.BENCH_TURNS ?? 20);

interface Subscriber {
  events: number;
  messages: number;
  bytes: number;
  ends: number;
  /** Resolves once `count` turn ends arrived. */
  untilEnds(count: number): Promise<void>;
  close(): void;
}

async function subscriber(server: ControlServer, ids: readonly string[]): Promise<Subscriber> {
  const ws = new WebSocket(server.wsUrl, { headers: { authorization: `Bearer ${server.token}` } });
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  const subscribed = new Set<string>();
  let onSubscribed = (): void => {};
  let onEnd = (): void => {};
  const s: Subscriber = {
    events: 0,
    messages: 0,
    bytes: 0,
    ends: 0,
    untilEnds(count) {
      return new Promise((resolve) => {
        onEnd = () => {
          if (s.ends >= count) resolve();
        };
        onEnd();
      });
    },
    close: () => ws.close(),
  };
  ws.on('message', (data: Buffer) => {
    s.messages++;
    s.bytes += data.length;
    const message = JSON.parse(data.toString()) as ServerMessage;
    if (message.type === 'event') {
      s.events++;
      const type = message.event.type;
      if (type === 'turn.completed' || type === 'turn.failed' || type === 'turn.aborted') {
        s.ends++;
        onEnd();
      }
    } else if (message.type === 'state' && !subscribed.has(message.conversationId)) {
      subscribed.add(message.conversationId);
      onSubscribed();
    } else if (message.type === 'error') {
      throw new Error(`the server answered with an error: ${message.code}: ${message.message}`);
    }
  });
  await new Promise<void>((resolve) => {
    onSubscribed = () => {
      if (subscribed.size === ids.length) resolve();
    };
    for (const id of ids) ws.send(JSON.stringify({ type: 'subscribe', conversationId: id }));
  });
  // From here on, count only what the measured turns produce.
  s.events = 0;
  s.messages = 0;
  s.bytes = 0;
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
  const runtime = createRuntime({ store: new MemoryStore(), durability: 'none' });
  const convos = await Promise.all(Array.from({ length: conversations }, () => runtime.start()));
  await Promise.all(convos.map((c) => c.run('warm up')));
  return { runtime, convos };
}

async function viaServer(subscribers: number): Promise<Record<string, unknown>> {
  const { runtime, convos } = await setup();
  const server = await runtime.serve();
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
    for (const s of subs) s.close();
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
