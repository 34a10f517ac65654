/**
 * Fault trials of a cluster (the nemesis): three node processes (`node.mjs`, the built package)
 * on one real PostgreSQL, conversations turning with every op sent to a random node, and one
 * fault per trial:
 *
 * - `kill`: a node is SIGKILLed at a random moment; its conversations must answer on another
 *   node (each is taken over once its lease expires);
 * - `pause`: a node is SIGSTOPped past its lease ttl (other nodes take its conversations over),
 *   then SIGCONTed: its late commits must be refused, nothing it writes after losing a lease
 *   may exist;
 * - `restart`: the PostgreSQL server is stopped and started again mid-load: turns fail with a
 *   store error meanwhile, and the cluster serves every conversation again once it is back.
 *
 * After each trial the logs are read straight from the database and checked: every
 * acknowledged turn is there, completed, with its input; no turn is written twice (two ends,
 * or records after its end); seqs run from 0 without a gap; no node crashed or let an error
 * escape.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import type { LogRecord } from '../../src/protocol/records.js';
import { PostgresStore } from '../../src/store/postgres/index.js';
import type { EmbeddedServer } from '../support/embedded-postgres.js';
import { prng } from '../support/prng.mjs';

const NODE = join(dirname(fileURLToPath(import.meta.url)), 'node.mjs');

/** A fault a trial injects. */
export type Fault = 'kill' | 'pause' | 'restart';

/** What one trial found. */
export interface TrialResult {
  readonly fault: Fault;
  readonly seed: number;
  readonly acknowledged: number;
  /** Acknowledged turns missing (or not completed, or with other input) in the log. */
  readonly lost: readonly string[];
  /** Turns written twice (two ends, records after the end, a second start). */
  readonly doubleWritten: readonly string[];
  /** Logs whose seqs do not run from 0 without a gap. */
  readonly gaps: readonly string[];
  /** Errors that escaped a node (it must never crash or leak one). */
  readonly escaped: readonly string[];
  /** Conversations that did not answer again after the fault (before the trial gave up). */
  readonly unanswered: readonly string[];
  /** For `kill` and `pause`: ms from the fault to each of the faulty node's conversations answering on another node. */
  readonly failoverMs: readonly number[];
  /** Failed ops by error code (`store_unavailable`, `lease_lost`, …). */
  readonly errors: Readonly<Record<string, number>>;
  /** The first message of each error code. */
  readonly samples: Readonly<Record<string, string>>;
  /** For `pause`: the ops the paused node answered with `lease_lost` after it resumed. */
  readonly refusedAfterPause: number;
}

/** Options of a trial (ms). */
export interface TrialOptions {
  readonly fault: Fault;
  readonly seed: number;
  /** The database (for `restart`, its server is stopped and started). */
  readonly url: string;
  readonly server?: EmbeddedServer;
  readonly conversations?: number;
  readonly nodes?: number;
  readonly ttlMs?: number;
}

interface Reply {
  readonly ok: boolean;
  readonly id?: string;
  readonly turnId?: string;
  readonly code?: string;
  readonly message?: string;
}

/** A node process and its IPC calls. */
class NodeProcess {
  readonly id: string;
  readonly child: ChildProcess;
  readonly escaped: string[] = [];
  readonly ready: Promise<void>;
  dead = false;
  paused = false;
  #next = 0;
  readonly #waiting = new Map<number, (reply: Reply) => void>();

  constructor(id: string, env: Record<string, string>) {
    this.id = id;
    this.child = fork(NODE, [], { env: { ...process.env, ...env }, stdio: ['ignore', 'ignore', 'pipe', 'ipc'] });
    this.child.stderr?.resume();
    let ready!: () => void;
    this.ready = new Promise((resolve) => (ready = resolve));
    this.child.on('message', (m: { req?: number; ready?: string; unhandled?: string } & Reply) => {
      if (m.ready !== undefined) ready();
      else if (m.unhandled !== undefined) this.escaped.push(m.unhandled);
      else if (m.req !== undefined) {
        const done = this.#waiting.get(m.req);
        this.#waiting.delete(m.req);
        done?.(m);
      }
    });
    this.child.on('exit', () => {
      this.dead = true;
      for (const done of this.#waiting.values()) done({ ok: false, code: 'node_gone' });
      this.#waiting.clear();
    });
  }

  /** Call the node; a node that does not answer within `timeoutMs` gives `timeout`. */
  call(message: Record<string, unknown>, timeoutMs = 20_000): Promise<Reply> {
    if (this.dead) return Promise.resolve({ ok: false, code: 'node_gone' });
    const req = ++this.#next;
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.#waiting.delete(req);
        resolve({ ok: false, code: 'timeout' });
      }, timeoutMs);
      this.#waiting.set(req, (reply) => {
        clearTimeout(timer);
        resolve(reply);
      });
      try {
        this.child.send({ ...message, req });
      } catch {
        this.#waiting.delete(req);
        clearTimeout(timer);
        resolve({ ok: false, code: 'node_gone' });
      }
    });
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Run one trial (see the module doc). */
export async function runTrial(options: TrialOptions): Promise<TrialResult> {
  const { fault, seed, url } = options;
  const random = prng(seed);
  const pick = <T>(list: readonly T[]): T => list[Math.floor(random() * list.length)] as T;
  const ttlMs = options.ttlMs ?? 2000;
  const schema = `n_${randomBytes(6).toString('hex')}`;
  const nodes = Array.from({ length: options.nodes ?? 3 }, (_, i) => new NodeProcess(`node-${i}`, {
    COLLOQUY_NODE_URL: url,
    COLLOQUY_NODE_SCHEMA: schema,
    COLLOQUY_NODE_ID: `node-${i}`,
    COLLOQUY_NODE_TTL: String(ttlMs),
  }));
  const errors: Record<string, number> = {};
  const samples: Record<string, string> = {};
  const acks: { conversation: string; turnId: string; text: string }[] = [];
  const lastAnswer = new Map<string, number>();
  /** When each conversation first answered after the fault. */
  const firstAfterFault = new Map<string, number>();
  let faultAt = Number.POSITIVE_INFINITY;
  let faulty: NodeProcess | null = null;
  let refusedAfterPause = 0;
  let resumedAt = Number.POSITIVE_INFINITY;
  try {
    await Promise.all(nodes.map((n) => n.ready));
    const conversations: string[] = [];
    for (let i = 0; i < (options.conversations ?? 100); i++) {
      const reply = await pick(nodes).call({ op: 'start' });
      if (!reply.ok || !reply.id) throw new Error(`could not start a conversation: ${reply.code} ${reply.message}`);
      conversations.push(reply.id);
    }
    let stop = false;
    // One client per conversation: each op to a random node the load balancer thinks is up.
    const clients = conversations.map(async (conversation, c) => {
      let turn = 0;
      while (!stop) {
        const up = nodes.filter((n) => !n.dead && !n.paused);
        const node = pick(up.length > 0 ? up : nodes);
        const text = `c${c}-t${++turn}-${node.id}`;
        const reply = await node.call({ op: 'run', id: conversation, text });
        if (reply.ok && reply.turnId) {
          acks.push({ conversation, turnId: reply.turnId, text });
          const now = Date.now();
          lastAnswer.set(conversation, now);
          if (now > faultAt && !firstAfterFault.has(conversation)) firstAfterFault.set(conversation, now);
        } else {
          const code = reply.code ?? 'unknown';
          errors[code] = (errors[code] ?? 0) + 1;
          samples[code] ??= reply.message ?? '';
          if (node === faulty && fault === 'pause' && code === 'lease_lost' && Date.now() >= resumedAt) refusedAfterPause++;
          await sleep(20);
        }
      }
    });
    await sleep(300 + Math.floor(random() * 1200));
    // The faulty node's conversations: those it owns at the fault.
    const owned = async (nodeId: string): Promise<string[]> => {
      const client = new pg.Client({ connectionString: url });
      await client.connect();
      try {
        const { rows } = await client.query<{ conversation_id: string }>(
          `SELECT conversation_id FROM ${pg.escapeIdentifier(schema)}.leases WHERE owner_node = $1 AND expires_at >= now()`,
          [nodeId],
        );
        return rows.map((r) => r.conversation_id);
      } finally {
        await client.end();
      }
    };
    let theirs: string[] = [];
    const answeredAfter = (since: number) => conversations.filter((c) => (lastAnswer.get(c) ?? 0) > since);
    if (fault === 'kill' || fault === 'pause') {
      faulty = pick(nodes);
      theirs = await owned(faulty.id);
      faultAt = Date.now();
      if (fault === 'kill') {
        faulty.child.kill('SIGKILL');
        faulty.dead = true;
      } else {
        faulty.paused = true;
        faulty.child.kill('SIGSTOP');
        await sleep(ttlMs + 1500);
        faulty.child.kill('SIGCONT');
        resumedAt = Date.now();
        faulty.paused = false;
      }
    } else {
      if (!options.server) throw new Error('a restart trial needs its own server');
      await options.server.stop();
      faultAt = Date.now();
      await sleep(1500);
      await options.server.start();
    }
    // Load goes on until every conversation answered after the fault (or 30 s passed).
    const deadline = Date.now() + 30_000;
    while (Date.now() < deadline && answeredAfter(faultAt).length < conversations.length) await sleep(50);
    await sleep(500);
    stop = true;
    await Promise.all(clients);
    const failoverMs = theirs.flatMap((c) => {
      const first = firstAfterFault.get(c);
      return first === undefined ? [] : [first - faultAt];
    });
    const unanswered = conversations.filter((c) => !answeredAfter(faultAt).includes(c));
    await Promise.all(nodes.filter((n) => !n.dead).map((n) => n.call({ op: 'shutdown' }, 15_000)));
    const checked = await checkLogs(url, schema, conversations, acks);
    return {
      fault,
      seed,
      acknowledged: acks.length,
      ...checked,
      escaped: nodes.flatMap((n) => n.escaped.map((e) => `${n.id}: ${e}`)),
      unanswered,
      failoverMs,
      errors,
      samples,
      refusedAfterPause,
    };
  } finally {
    for (const n of nodes) {
      if (n.paused) n.child.kill('SIGCONT');
      if (!n.dead) n.child.kill('SIGKILL');
    }
    await dropSchema(url, schema).catch(() => {});
  }
}

async function dropSchema(url: string, schema: string): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query(`DROP SCHEMA IF EXISTS ${pg.escapeIdentifier(schema)} CASCADE`);
  } finally {
    await client.end();
  }
}

/** Read every log back from the database and check it (see the module doc). */
async function checkLogs(
  url: string,
  schema: string,
  conversations: readonly string[],
  acks: readonly { conversation: string; turnId: string; text: string }[],
): Promise<{ lost: string[]; doubleWritten: string[]; gaps: string[] }> {
  const store = new PostgresStore({ connectionString: url, schema, nodeId: 'checker' });
  const lost: string[] = [];
  const doubleWritten: string[] = [];
  const gaps: string[] = [];
  try {
    const turns = new Map<string, Map<string, { ended: number; started: number; late: number; completed: boolean; input: string[] }>>();
    for (const id of conversations) {
      const records: LogRecord[] = [];
      for await (const record of store.read(id)) records.push(record);
      if (records.some((r, i) => r.seq !== i)) gaps.push(id);
      const byTurn = new Map<string, { ended: number; started: number; late: number; completed: boolean; input: string[] }>();
      const turn = (turnId: string) => {
        let t = byTurn.get(turnId);
        if (!t) byTurn.set(turnId, (t = { ended: 0, started: 0, late: 0, completed: false, input: [] }));
        return t;
      };
      for (const r of records) {
        if (r.type === 'event') {
          const p = r.payload;
          if (p.type === 'turn.started') turn(p.turn_id).started++;
          else if (p.type === 'turn.completed' || p.type === 'turn.aborted' || p.type === 'turn.failed') {
            const t = turn(p.turn_id);
            t.ended++;
            if (p.type === 'turn.completed') t.completed = true;
          }
        } else if (r.type === 'item') {
          const t = turn(r.payload.turn_id);
          if (t.ended > 0) t.late++;
          if (r.payload.item.type === 'user_message') t.input.push(r.payload.item.text);
        }
      }
      for (const [turnId, t] of byTurn) if (t.ended > 1 || t.started > 1 || t.late > 0) doubleWritten.push(`${id}/${turnId}`);
      turns.set(id, byTurn);
    }
    for (const ack of acks) {
      const t = turns.get(ack.conversation)?.get(ack.turnId);
      if (!t || !t.completed || !t.input.includes(ack.text)) lost.push(`${ack.conversation}/${ack.turnId}`);
    }
  } finally {
    await store.close();
  }
  return { lost, doubleWritten, gaps };
}
