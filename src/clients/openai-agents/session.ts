/**
 * A Colloquy-backed `Session` for the OpenAI Agents SDK: `run(agent, input, { session })`
 * keeps its history in a Colloquy conversation log, durably, in the same store, listings and
 * leases as every other conversation.
 *
 * How the log holds a session. Every `addItems` call is one turn of the conversation, written
 * in one commit:
 *
 *   event  turn.started   { turn_id: T, kind: 'regular' }
 *   item   …              the items mapped to Colloquy items (what `sessions show` renders)
 *   opaque { source: 'openai-agents', line: { type: 'items', turn_id: T, items: [...] } }
 *   event  turn.completed { turn_id: T, … }
 *
 * The `opaque` record holds the items exactly as given (see `codec.ts`). The session's items
 * are the conversation's model-visible history, turn by turn: a turn with such a record
 * contributes its items verbatim; any other turn (one a Colloquy agent ran) contributes its
 * Colloquy items mapped to Agents SDK items. So a session can be opened on any conversation,
 * and a conversation written through a session can be resumed and continued by Colloquy.
 *
 * A session is a client of the runtime: it opens its conversation with `runtime.resume` (a new
 * one with `runtime.create`) and writes through the conversation actor (`appendRecords`, with
 * the `seq` it expects next), which numbers and records the records like its own and puts the
 * user messages into the global message history in the same commit.
 *
 * The log is append-only, so removal is recorded: `popItem` writes `rolled_back { turns }`
 * for the turns from the last non-empty one on, and writes the rest of that turn's items again
 * as a new turn; `clearSession` writes an `opaque` `cleared` marker and a `compacted` record
 * that keeps nothing, so replay (and a resume) starts there. The fold honours both, and
 * `runtime.read` still shows every turn ever written.
 */
import { hostname } from 'node:os';
import type { AgentInputItem, Session } from '@openai/agents';
import { SessionLockedError, StoreError } from '../../errors.js';
import { draft, type RecordDraft } from '../../log/draft.js';
import type { ConversationFold } from '../../log/fold.js';
import { replay } from '../../log/replay.js';
import { assertConversationId, idTime, newConversationId } from '../../protocol/ids.js';
import { ZERO_USAGE, type ThreadItem } from '../../protocol/items.js';
import { LOG_FORMAT_VERSION, type LogRecord, type Metadata, type SessionMetaPayload } from '../../protocol/records.js';
import type { Conversation } from '../../runtime/conversation.js';
import type { Runtime } from '../../runtime/runtime.js';
import { decode, encode } from '../../agents/openai-agents/codec.js';
import { toAgentInputItems, toThreadItems } from '../../agents/openai-agents/items.js';

/** The `source` of the `opaque` records a session writes. */
export const SESSION_SOURCE = 'openai-agents';

/** The summary a cleared session's `compacted` record carries (what a Colloquy agent is told). */
export const CLEARED_SUMMARY = 'The earlier conversation was cleared.';

/** Options of {@link colloquySession}. */
export interface ColloquySessionOptions {
  /**
   * The conversation to keep the session in (any conversation of the runtime's store). Without
   * it, a new conversation is created when the session is first written to (or asked for its id).
   */
  readonly conversationId?: string;
  /** The name of a new conversation (shown in listings). */
  readonly name?: string;
  /** Metadata of a new conversation (filterable in listings). */
  readonly metadata?: Metadata;
  /** The `model` setting recorded for a new conversation. Default `openai-agents`. */
  readonly model?: string;
  /** The working directory recorded for a new conversation. Default `process.cwd()`. */
  readonly cwd?: string;
}

/** One history turn as the session sees it: its items (encoded, see `codec.ts`). */
interface Group {
  readonly turnId: string | null;
  readonly items: readonly unknown[];
}

/**
 * One conversation's log as Agents SDK sessions see it. The sessions of one runtime on one
 * conversation share it, so their operations are serialised and see one state.
 */
class SessionLog {
  readonly #runtime: Runtime;
  readonly #options: ColloquySessionOptions;
  readonly id: string;
  /** The conversation does not exist yet (a new session not yet written to). */
  #unborn: boolean;
  /** The conversation, opened by this session (null until then, and after `close`). */
  #conversation: Conversation | null = null;
  /** The verbatim items of the session's turns: turn id → encoded items. */
  #verbatim = new Map<string, readonly unknown[]>();
  /** `seq` of the last `cleared` marker, and whether the last compaction was that clearing. */
  #clearedAt = -2;
  #summaryCleared = false;
  #tail: Promise<unknown> = Promise.resolve();

  constructor(runtime: Runtime, id: string, unborn: boolean, options: ColloquySessionOptions) {
    this.#runtime = runtime;
    this.id = id;
    this.#unborn = unborn;
    this.#options = options;
  }

  /** Run `op` after every operation queued before it (one at a time, in call order). */
  serial<T>(op: () => Promise<T>): Promise<T> {
    const result = this.#tail.then(op);
    this.#tail = result.catch(() => {});
    return result;
  }

  // ——— loading ———

  #onRecord = (record: LogRecord): void => {
    if (record.type === 'opaque' && record.payload.source === SESSION_SOURCE) {
      const line = record.payload.line;
      if (line.type === 'items' && typeof line.turn_id === 'string' && Array.isArray(line.items)) this.#verbatim.set(line.turn_id, line.items);
      else if (line.type === 'cleared') this.#clearedAt = record.seq;
    } else if (record.type === 'compacted') {
      this.#summaryCleared = this.#clearedAt === record.seq - 1;
    }
  };

  /** A conversation someone else holds in the runtime is theirs: the session must not write it too. */
  #checkNotHeld(): void {
    const held = this.#runtime.get(this.id);
    if (held && held !== this.#conversation && held.residency !== 'closed') {
      throw new SessionLockedError(this.id, { pid: process.pid, host: hostname(), since: new Date().toISOString() });
    }
  }

  /**
   * The conversation's state (its fold), opening the conversation first (once; again after
   * `close`). With `create`, a conversation that does not exist yet is created. Null for an
   * unborn one.
   */
  async #load(create: boolean): Promise<ConversationFold | null> {
    let conversation = this.#conversation;
    if (conversation && conversation.residency === 'closed') conversation = this.#conversation = null;
    if (!conversation) {
      if (this.#unborn && !create) return null;
      this.#checkNotHeld();
      conversation = this.#unborn ? await this.#create() : await this.#open();
      this.#conversation = conversation;
    }
    // Passivated while the session was idle: back from its log.
    await conversation.wake();
    const fold = conversation.fold;
    if (!fold) throw new StoreError(`conversation ${this.id} is not loaded`);
    this.#prune(fold);
    return fold;
  }

  async #create(): Promise<Conversation> {
    const o = this.#options;
    const meta: SessionMetaPayload = {
      format: LOG_FORMAT_VERSION,
      id: this.id,
      created_at: new Date(idTime(this.id)).toISOString(),
      config: { model: o.model ?? 'openai-agents', cwd: o.cwd ?? process.cwd(), approvalPolicy: 'on-request' },
      ...(o.name !== undefined ? { name: o.name } : {}),
      ...(o.metadata !== undefined ? { metadata: o.metadata } : {}),
      source: SESSION_SOURCE,
    };
    const conversation = await this.#runtime.create(meta);
    this.#unborn = false;
    this.#verbatim = new Map();
    return conversation;
  }

  async #open(): Promise<Conversation> {
    // The runtime takes the write lease, reads the log and ends a turn a crash left open.
    const conversation = await this.#runtime.resume(this.id);
    this.#verbatim = new Map();
    this.#clearedAt = -2;
    this.#summaryCleared = false;
    // The session's own records (the items verbatim) are in the log, not in the fold.
    await replay(this.#runtime.store, this.id, { onRecord: this.#onRecord });
    return conversation;
  }

  /** Write records through the conversation actor, durable (per the runtime's durability) when this resolves. */
  async #commit(fold: ConversationFold, drafts: readonly RecordDraft[]): Promise<void> {
    const conversation = this.#conversation;
    if (!conversation) throw new StoreError(`conversation ${this.id} is not open`);
    const written = await conversation.appendRecords(drafts, { expectedSeq: fold.nextSeq, remember: true });
    for (const record of written) this.#onRecord(record);
    this.#prune(fold);
  }

  /** Forget the verbatim items of turns no longer in the history. */
  #prune(fold: ConversationFold): void {
    if (this.#verbatim.size <= fold.historyTurns) return;
    const live = new Set(fold.historyBounds.map((b) => b.turnId));
    for (const turnId of this.#verbatim.keys()) if (!live.has(turnId)) this.#verbatim.delete(turnId);
  }

  // ——— the session's view ———

  /** The history turn by turn (the compaction summary first, when there is one). */
  #groups(fold: ConversationFold): Group[] {
    const groups: Group[] = [];
    if (fold.summary !== null && !this.#summaryCleared) groups.push({ turnId: null, items: toAgentInputItems([], fold.summary) });
    const bounds = fold.historyBounds;
    const history = fold.history;
    bounds.forEach((bound, i) => {
      const verbatim = this.#verbatim.get(bound.turnId);
      if (verbatim) return void groups.push({ turnId: bound.turnId, items: verbatim });
      const end = bounds[i + 1]?.index ?? history.length;
      groups.push({ turnId: bound.turnId, items: toAgentInputItems(history.slice(bound.index, end)) });
    });
    return groups;
  }

  #view(fold: ConversationFold): unknown[] {
    const out: unknown[] = [];
    for (const group of this.#groups(fold)) for (const item of group.items) out.push(item);
    return out;
  }

  /** The records of one turn holding `items` (encoded as `encoded`). */
  #turn(fold: ConversationFold, items: readonly AgentInputItem[], encoded: readonly unknown[]): RecordDraft[] {
    const turnId = newConversationId();
    let next = fold.nextItem;
    const mirrored: ThreadItem[] = toThreadItems(items, () => `item_${next++}`);
    return [
      draft('event', { type: 'turn.started', turn_id: turnId, kind: 'regular' }),
      ...mirrored.map((item) => draft('item', { turn_id: turnId, item })),
      draft('opaque', { source: SESSION_SOURCE, line: { type: 'items', turn_id: turnId, items: [...encoded] } }),
      draft('event', { type: 'turn.completed', turn_id: turnId, usage: fold.usage, turn_usage: ZERO_USAGE }),
    ];
  }

  // ——— operations (call them through `serial`) ———

  async ensure(): Promise<void> {
    await this.#load(true);
  }

  async items(limit?: number): Promise<AgentInputItem[]> {
    const fold = await this.#load(false);
    if (!fold) return [];
    const view = this.#view(fold);
    let picked = view;
    if (limit !== undefined) {
      if (limit <= 0) return [];
      picked = view.slice(Math.max(view.length - limit, 0));
    }
    return picked.map((item) => decode(item) as AgentInputItem);
  }

  async add(items: readonly AgentInputItem[]): Promise<void> {
    if (items.length === 0) return;
    // Refused before anything is written: values a log cannot keep.
    const encoded = items.map((item, i) => encode(item, `items[${i}]`));
    const copies = encoded.map((item) => decode(item) as AgentInputItem);
    const fold = (await this.#load(true)) as ConversationFold;
    await this.#commit(fold, this.#turn(fold, copies, encoded));
  }

  async pop(): Promise<AgentInputItem | undefined> {
    const fold = await this.#load(false);
    if (!fold) return undefined;
    const groups = this.#groups(fold);
    let last = groups.length - 1;
    while (last >= 0 && (groups[last] as Group).items.length === 0) last--;
    if (last < 0) return undefined;
    const group = groups[last] as Group;
    const popped = group.items[group.items.length - 1];
    if (group.turnId === null) {
      // Only the compaction summary is left.
      await this.#clearRecords(fold);
      return decode(popped) as AgentInputItem;
    }
    const rest = group.items.slice(0, -1);
    const drafts: RecordDraft[] = [draft('rolled_back', { turns: groups.length - last })];
    if (rest.length > 0) drafts.push(...this.#turn(fold, rest.map((item) => decode(item) as AgentInputItem), rest));
    await this.#commit(fold, drafts);
    return decode(popped) as AgentInputItem;
  }

  async clear(): Promise<void> {
    const fold = await this.#load(false);
    if (!fold) return;
    if (this.#view(fold).length === 0) return;
    await this.#clearRecords(fold);
  }

  /** A `cleared` marker and a `compacted` record that keeps nothing: replay starts at the marker. */
  async #clearRecords(fold: ConversationFold): Promise<void> {
    const marker = fold.nextSeq;
    const config = fold.config;
    if (!config) throw new StoreError(`conversation ${this.id} has no settings`);
    await this.#commit(fold, [
      draft('opaque', { source: SESSION_SOURCE, line: { type: 'cleared' } }),
      draft('compacted', {
        turn_id: newConversationId(),
        summary: CLEARED_SUMMARY,
        kept_from_seq: marker + 2,
        // Input still waiting to run was recorded before the marker: then replay reads it all.
        from_seq: fold.pendingInput().length > 0 ? 0 : marker,
        kept_turns: 0,
        next_item: fold.nextItem,
        turns: fold.turns,
        usage: fold.usage,
        config,
        ...(fold.name !== null ? { name: fold.name } : {}),
        session_approvals: [...fold.sessionApprovals],
      }),
    ]);
  }

  /** Close the conversation (its write lease is given up); the next operation opens it again. */
  async close(): Promise<void> {
    const conversation = this.#conversation;
    this.#conversation = null;
    this.#verbatim = new Map();
    if (conversation) await conversation.close();
  }
}

/** The session logs of each runtime, by conversation id. */
const registry = new WeakMap<Runtime, Map<string, SessionLog>>();

function sessionLog(runtime: Runtime, id: string, unborn: boolean, options: ColloquySessionOptions): SessionLog {
  let logs = registry.get(runtime);
  if (!logs) {
    logs = new Map();
    registry.set(runtime, logs);
  }
  let log = logs.get(id);
  if (!log) {
    log = new SessionLog(runtime, id, unborn, options);
    logs.set(id, log);
  }
  return log;
}

/**
 * An Agents SDK `Session` kept in a Colloquy conversation. Create it with {@link colloquySession}.
 *
 * Items are stored exactly as given: `getItems` returns items deep-equal to those added (fresh
 * copies every time). Every method resolves once what it wrote is durable (per the runtime's
 * durability). Operations of all sessions on one conversation in one runtime run one at a
 * time, in call order, so concurrent `addItems` calls keep each call's items together.
 *
 * While a session has written to (or read) its conversation, it holds the conversation's write
 * lease: `runtime.resume` of it in another process fails with `SessionLockedError`, and the
 * session refuses to write a conversation that is resident in its own runtime. `close()` gives
 * the lease up (the next operation takes it again); `runtime.shutdown()` releases it too.
 */
export class ColloquySession implements Session {
  readonly #log: SessionLog;

  /** @internal Use {@link colloquySession}. */
  constructor(runtime: Runtime, options: ColloquySessionOptions = {}) {
    const given = options.conversationId;
    const id = given === undefined ? newConversationId() : assertConversationId(given);
    this.#log = sessionLog(runtime, id, given === undefined, options);
  }

  /** The id of the conversation the session is kept in. */
  get conversationId(): string {
    return this.#log.id;
  }

  /** The conversation id, once the conversation exists (it is created if it does not yet). */
  async getSessionId(): Promise<string> {
    await this.#log.serial(() => this.#log.ensure());
    return this.#log.id;
  }

  /**
   * The session's items, oldest first: all of them, or the last `limit` (none for `limit` ≤ 0).
   * @throws {SessionNotFoundError} when the conversation given does not exist.
   */
  getItems(limit?: number): Promise<AgentInputItem[]> {
    return this.#log.serial(() => this.#log.items(limit));
  }

  /**
   * Append items (one turn of the conversation); resolves once they are durable.
   * @throws {UnsupportedValueError} for a value a log cannot keep (nothing is written).
   */
  addItems(items: AgentInputItem[]): Promise<void> {
    return this.#log.serial(() => this.#log.add(items));
  }

  /** Remove and return the newest item (undefined when there is none); the removal is recorded. */
  popItem(): Promise<AgentInputItem | undefined> {
    return this.#log.serial(() => this.#log.pop());
  }

  /** Remove every item. The log keeps them; the session (and a resume) starts after them. */
  clearSession(): Promise<void> {
    return this.#log.serial(() => this.#log.clear());
  }

  /** Give up the conversation's write lease until the next operation. */
  close(): Promise<void> {
    return this.#log.serial(() => this.#log.close());
  }
}

/**
 * An Agents SDK `Session` kept in a Colloquy conversation of `runtime`: a new one, or the
 * conversation `conversationId` (which may also have been written by Colloquy turns).
 * @example
 * const session = colloquySession(runtime, { name: 'support chat' });
 * await run(agent, 'hello', { session });
 * const id = await session.getSessionId();   // reopen later: colloquySession(runtime, { conversationId: id })
 * @throws {InvalidIdError} for a malformed `conversationId`.
 */
export function colloquySession(runtime: Runtime, options: ColloquySessionOptions = {}): ColloquySession {
  return new ColloquySession(runtime, options);
}
