/**
 * The runtime (SPEC §3): creates the persistence and supervisor actors, and through the
 * supervisor starts, resumes, forks, restarts and closes conversation actors.
 */
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { createActor, fromCallback, fromPromise, waitFor, type InspectionEvent, type Observer } from 'xstate';
import * as z from 'zod/mini';
import { conversationMachine, type ConversationActorRef, type ConversationInput } from '../../machines/conversation.machine.js';
import { persistenceMachine, type CommitInput, type CommitOutcome, type PersistReply } from '../../machines/persistence.machine.js';
import { DEFAULT_RESTART_POLICY, supervisorMachine, type RestartPolicy, type SpawnOrigin } from '../../machines/supervisor.machine.js';
import { turnMachine } from '../../machines/turn.machine.js';
import type { Agent } from '../agents/agent.js';
import { localAgent } from '../agents/local.js';
import { ColloquyError, ConversationHasForksError, InvalidOpError, RuntimeClosedError, SessionNotFoundError, StoreError } from '../errors.js';
import { assertConversationId, idTime, newConversationId } from '../protocol/ids.js';
import { ApprovalPolicySchema } from '../protocol/ops.js';
import { LOG_FORMAT_VERSION, MetadataSchema, type ConversationConfig, type LogRecord, type SessionMetaPayload } from '../protocol/records.js';
import { parseOrThrow } from '../protocol/validate.js';
import { FileStore } from '../store/file-store.js';
import { MessageHistory, type HistoryPersistence } from '../store/history.js';
import type { CommitEntry, Durability, ListPage, ListQuery, LogIssue, ReadMode, Store } from '../store/store.js';
import { Conversation, type ConversationDeps } from './conversation.js';
import { ConversationFold, type PendingApprovalView, type PendingInputView, type TurnTranscript } from '../log/fold.js';
import { replay } from '../log/replay.js';
import { agentRunner } from './runner.js';
import type { ContextOptions } from './context-window.js';

/** An XState inspection observer: sees every actor, event and snapshot of the runtime. */
export type InspectionObserver = Observer<InspectionEvent> | ((event: InspectionEvent) => void);

/** Options of `createRuntime`: the store (or home and read mode), durability, agent, turn defaults, inspection observer, restart policy, context windows, message history and error callbacks. */
export interface RuntimeOptions {
  /** Where logs live. Default: a `FileStore` at `home`. */
  readonly store?: Store;
  /** The file store's directory when no `store` is given. Default `$COLLOQUY_HOME`, else `~/.colloquy`. */
  readonly home?: string;
  /** The model side. Default: the built-in local agent. */
  readonly agent?: Agent;
  /** When commits are acknowledged. Default `sync`. */
  readonly durability?: Durability;
  /** For `batched` durability: the longest a record waits for its fsync (ms). Default 100. */
  readonly fsyncIntervalMs?: number;
  /** Passed to every actor (supervisor, persistence, conversations and their turns). */
  readonly inspect?: InspectionObserver;
  /** How failed conversation actors are restarted. */
  readonly restartPolicy?: RestartPolicy;
  /** Settings of new conversations where `start` gives none. */
  readonly defaults?: Partial<Pick<ConversationConfig, 'model' | 'cwd' | 'approvalPolicy' | 'instructions'>>;
  /** Errors with nowhere else to go (a throwing listener, a conversation given up). Default: a process warning. */
  readonly onError?: (error: unknown, context: { readonly conversationId?: string }) => void;
  /**
   * Things found in logs that are not clean records (torn tails repaired, lines skipped). Each
   * is also reported to its conversation's subscribers as a `log.issue` event when resident.
   */
  readonly onLogIssue?: (issue: LogIssue) => void;
  /**
   * How bad lines in the middle of a log are treated on resume and read: `strict` (default)
   * fails with a `CorruptLogError` naming file and line; `lenient` skips and reports them.
   */
  readonly readMode?: ReadMode;
  /**
   * The global message history (`<home>/history.jsonl`, every user message of every
   * conversation, as Codex's). `home` defaults to the file store's; with another store and no
   * `home`, nothing is recorded. `maxBytes` caps the file (bytes; trimmed to 80%).
   */
  readonly history?: { readonly home?: string; readonly maxBytes?: number; readonly persistence?: HistoryPersistence };
  /**
   * Context windows per model and automatic compaction: a conversation compacts before its next
   * turn once the last model request used min(`autoCompactTokenLimit`, 90% of the window)
   * tokens, keeping its newest turns up to `keepUserTokens` (default 20,000 tokens).
   */
  readonly context?: ContextOptions;
}

const StartOptionsSchema = z.strictObject({
  model: z.optional(z.string().check(z.minLength(1))),
  instructions: z.optional(z.string()),
  cwd: z.optional(z.string().check(z.minLength(1))),
  approvalPolicy: z.optional(ApprovalPolicySchema),
  sandbox: z.optional(z.string()),
  outputSchema: z.optional(z.unknown()),
  name: z.optional(z.string().check(z.minLength(1), z.maxLength(256))),
  metadata: z.optional(MetadataSchema),
});
/** Options of `runtime.start`. */
export type StartOptions = z.infer<typeof StartOptionsSchema>;

const ForkOptionsSchema = z.strictObject({
  beforeUserTurn: z.optional(z.int().check(z.minimum(1))),
  name: z.optional(z.string().check(z.minLength(1), z.maxLength(256))),
});
/**
 * Options of `runtime.fork`. `beforeUserTurn: n` keeps the user turns before the n-th
 * (1-based); without it the fork keeps everything up to the last finished turn.
 */
export type ForkOptions = z.infer<typeof ForkOptionsSchema>;

/** A conversation read back from its log (`runtime.read`). */
export interface ConversationRecord {
  readonly id: string;
  readonly meta: SessionMetaPayload;
  readonly name: string | null;
  readonly config: ConversationConfig;
  readonly turns: readonly TurnTranscript[];
  readonly pending: { readonly approvals: readonly PendingApprovalView[]; readonly input: readonly PendingInputView[] };
}

/** The default home directory: `$COLLOQUY_HOME`, else `~/.colloquy`. */
export function defaultHome(): string {
  return process.env.COLLOQUY_HOME && process.env.COLLOQUY_HOME !== '' ? resolve(process.env.COLLOQUY_HOME) : join(homedir(), '.colloquy');
}

function mergeByConversation(input: CommitInput): CommitEntry[] {
  const byId = new Map<string, LogRecord[]>();
  for (const request of input.requests) {
    const list = byId.get(request.conversationId);
    if (list) for (const r of request.records) list.push(r);
    else byId.set(request.conversationId, [...request.records]);
  }
  return [...byId].map(([conversationId, records]) => ({ conversationId, records }));
}

function warn(error: unknown, context: { conversationId?: string }): void {
  const message = error instanceof Error ? error.message : String(error);
  process.emitWarning(`${context.conversationId ? `conversation ${context.conversationId}: ` : ''}${message}`, { code: 'COLLOQUY' });
}

/** A Colloquy runtime. Create it with `createRuntime`. */
export class Runtime {
  /** The store conversations are kept in. */
  readonly store: Store;
  /** The agent turns run. */
  readonly agent: Agent;
  /** When commits are acknowledged. */
  readonly durability: Durability;
  /** The global message history: `append`, `lookup(id)`, `search(text)`, `list()`. */
  readonly history: MessageHistory;
  readonly #options: RuntimeOptions;
  readonly #residents = new Map<string, Conversation>();
  readonly #loading = new Map<string, Promise<Conversation>>();
  /** Conversations the supervisor was asked to spawn: their fold, and who waits for the handle. */
  readonly #spawning = new Map<string, { fold: ConversationFold; ready?: (handle: Conversation) => void }>();
  readonly #persistence;
  readonly #supervisor;
  readonly #conversationLogic;
  #flushTokens = 0;
  #closed = false;
  #shutdown: Promise<void> | null = null;

  constructor(options: RuntimeOptions = {}) {
    this.#options = options;
    this.durability = options.durability ?? 'sync';
    this.store = options.store ?? new FileStore({ home: options.home ?? defaultHome(), ...(options.readMode ? { mode: options.readMode } : {}) });
    this.store.watchIssues?.((issue) => this.#logIssue(issue));
    this.agent = options.agent ?? localAgent();
    const historyHome = options.history?.home ?? (this.store instanceof FileStore ? this.store.paths.home : undefined);
    this.history = new MessageHistory({
      home: historyHome ?? defaultHome(),
      persistence: historyHome === undefined ? 'none' : (options.history?.persistence ?? 'save-all'),
      ...(options.history?.maxBytes !== undefined ? { maxBytes: options.history.maxBytes } : {}),
    });
    const inspect = options.inspect ? { inspect: options.inspect } : {};
    const commitOptions = { durability: this.durability, ...(options.fsyncIntervalMs !== undefined ? { fsyncIntervalMs: options.fsyncIntervalMs } : {}) };
    const store = this.store;
    this.#persistence = createActor(
      persistenceMachine.provide({
        actors: { commit: fromPromise<readonly CommitOutcome[], CommitInput>(({ input }) => store.commit(mergeByConversation(input), commitOptions)) },
      }),
      { ...inspect, id: 'persistence', systemId: 'persistence' },
    );
    this.#conversationLogic = conversationMachine.provide({
      actors: { turn: turnMachine.provide({ actors: { agentRunner: agentRunner(this.agent, (id) => this.#residents.get(id)) } }) },
    });
    this.#supervisor = createActor(
      supervisorMachine.provide({
        actions: {
          spawnConversation: (_, p) => this.#spawn(p.id, p.origin, p.input),
          stopConversation: (_, p) => this.#stop(p.id),
          releaseConversation: (_, p) => this.#release(p.id),
          restartConversation: (_, p) => void this.#restart(p.id),
          giveUp: (_, p) => this.#giveUp(p.id, p.error),
        },
        actors: { drain: fromPromise(() => this.#drain()) },
      }),
      { ...inspect, id: 'supervisor', systemId: 'supervisor', input: { policy: options.restartPolicy ?? DEFAULT_RESTART_POLICY } },
    );
    this.#persistence.start();
    this.#supervisor.start();
  }

  // ——— supervisor effects ———

  #report(error: unknown, conversationId?: string): void {
    try {
      (this.#options.onError ?? warn)(error, conversationId ? { conversationId } : {});
    } catch {
      // An error reporter that throws has nowhere left to report to.
    }
  }

  /**
   * The supervisor's spawn effect. The actor is created once the supervisor's transition is
   * over (a microtask later): an actor's own built-in actions must not run inside another
   * actor's custom action.
   */
  /** Add a user message to the global history; a failure there never affects the conversation. */
  #remember(conversationId: string, text: string): void {
    if (text === '') return;
    try {
      void this.history.append(conversationId, text).catch((err: unknown) => this.#report(err, conversationId));
    } catch (err) {
      this.#report(err, conversationId);
    }
  }

  #spawn(id: string, origin: SpawnOrigin, input: ConversationInput): void {
    const pending = this.#spawning.get(id);
    this.#spawning.delete(id);
    queueMicrotask(() => {
      const handle = this.#create(id, origin, input, pending?.fold ?? new ConversationFold());
      pending?.ready?.(handle);
    });
  }

  #create(id: string, origin: SpawnOrigin, input: ConversationInput, fold: ConversationFold): Conversation {
    const handle = this.#residents.get(id) ?? new Conversation(id, fold, this.#conversationDeps());
    const actor: ConversationActorRef = createActor(this.#conversationLogic, {
      input,
      id: `conversation:${id}`,
      systemId: `conversation:${id}`,
      ...(this.#options.inspect ? { inspect: this.#options.inspect } : {}),
    });
    actor.subscribe({
      complete: () => this.#supervisor.send({ type: 'conversation.exited', id }),
      error: (error) => {
        handle.markUnavailable(error instanceof Error ? error : new Error(String(error)));
        this.#supervisor.send({ type: 'conversation.failed', id, error, at: Date.now() });
      },
    });
    handle.attach(actor, origin === 'start' ? undefined : fold);
    this.#residents.set(id, handle);
    actor.start();
    return handle;
  }

  #conversationDeps(): ConversationDeps {
    return {
      report: (err, cid) => this.#report(err, cid),
      newId: newConversationId,
      onUserMessage: (cid, text) => this.#remember(cid, text),
      ...(this.#options.context ? { context: this.#options.context } : {}),
    };
  }

  #stop(id: string): void {
    const handle = this.#residents.get(id);
    if (!handle) return;
    this.#residents.delete(id);
    if (!handle.dormant) handle.actor?.stop();
    handle.markClosed();
    void this.store.release(id).catch((err: unknown) => this.#report(err, id));
  }

  #release(id: string): void {
    const handle = this.#residents.get(id);
    this.#residents.delete(id);
    handle?.markClosed();
    this.#persistence.send({ type: 'discard', conversationId: id });
    void this.store.release(id).catch((err: unknown) => this.#report(err, id));
  }

  async #restart(id: string): Promise<void> {
    try {
      // Let what the dead actor sent settle, and drop what it could not write: its log is the truth.
      await this.#flush();
      this.#persistence.send({ type: 'discard', conversationId: id });
      await this.store.release(id);
      const fold = await replay(this.store, id, this.#readOptions());
      this.#spawning.set(id, { fold });
      this.#supervisor.send({
        type: 'conversation.spawn',
        id,
        origin: 'restart',
        input: { id, persistence: this.#persistence, restore: fold.restored() },
      });
    } catch (err) {
      this.#giveUp(id, err);
    }
  }

  #giveUp(id: string, error: unknown): void {
    const handle = this.#residents.get(id);
    this.#residents.delete(id);
    const reason = error instanceof Error ? error : new Error(String(error));
    handle?.markClosed(new ColloquyError('conversation_failed', `conversation ${id} failed and was not restarted: ${reason.message}`, { cause: error }));
    this.#report(reason, id);
  }

  /** Resolve once everything sent to the persistence actor so far is committed (or parked). */
  #flush(): Promise<void> {
    const token = `flush-${++this.#flushTokens}`;
    return new Promise((resolve) => {
      const sub = this.#persistence.on('flushed', (event) => {
        if (event.token !== token) return;
        sub.unsubscribe();
        resolve();
      });
      this.#persistence.send({ type: 'flush', token });
    });
  }

  async #drain(): Promise<void> {
    const results = await Promise.allSettled([...this.#residents.values()].map((c) => c.close()));
    for (const r of results) if (r.status === 'rejected') this.#report(r.reason);
    await this.#flush();
    this.#persistence.stop();
    await this.history.close().catch((err: unknown) => this.#report(err));
    await this.store.close();
  }

  /** A log issue: to `onLogIssue`, and as an event to its conversation when resident. */
  #logIssue(issue: LogIssue): void {
    try {
      this.#options.onLogIssue?.(issue);
    } catch (err) {
      this.#report(err);
    }
    if (issue.conversationId !== undefined) this.#residents.get(issue.conversationId)?.reportLogIssue(issue);
  }

  #readOptions(): { mode?: ReadMode } {
    return this.#options.readMode ? { mode: this.#options.readMode } : {};
  }

  #open(): void {
    if (this.#closed) throw new RuntimeClosedError();
  }

  /** Spawn through the supervisor; resolves with the handle once the actor runs. */
  #launch(id: string, origin: SpawnOrigin, input: ConversationInput, fold: ConversationFold): Promise<Conversation> {
    return new Promise((resolve) => {
      this.#spawning.set(id, { fold, ready: resolve });
      this.#supervisor.send({ type: 'conversation.spawn', id, origin, input });
    });
  }

  /** Wait until a new conversation's `session_meta` is durable; on failure, undo the start. */
  async #created(handle: Conversation): Promise<Conversation> {
    const actor = handle.actor;
    if (!actor) throw new StoreError(`conversation ${handle.id} could not be created`);
    const snapshot = await waitFor(
      actor,
      (s) => (s.context.durableSeq >= 0 && s.context.durableSeq >= s.context.seq - 1) || s.value === 'error' || s.status !== 'active',
    );
    if (snapshot.status === 'active' && snapshot.value !== 'error') return handle;
    const message = snapshot.context.error?.message ?? 'the conversation actor stopped';
    this.#supervisor.send({ type: 'conversation.terminate', id: handle.id });
    this.#persistence.send({ type: 'discard', conversationId: handle.id });
    throw new StoreError(`could not create conversation ${handle.id} in ${this.store.description}: ${message}`);
  }

  // ——— public API ———

  /**
   * Start a new conversation. Resolves once its log exists (its `session_meta` is durable).
   * @throws {InvalidOpError} for bad options (naming the field).
   * @throws {StoreError} when the log cannot be created.
   * @throws {RuntimeClosedError} after `shutdown`.
   */
  async start(options: StartOptions = {}): Promise<Conversation> {
    this.#open();
    // A parsed object drops an own `__proto__` key: refused, so metadata is never silently lost.
    if (options.metadata && Object.hasOwn(options.metadata, '__proto__')) {
      throw new InvalidOpError([{ path: ['metadata', '__proto__'], message: 'a metadata key cannot be "__proto__"' }], 'start options');
    }
    const o = parseOrThrow(StartOptionsSchema, options, 'start options');
    const defaults = this.#options.defaults ?? {};
    const id = newConversationId();
    const config: ConversationConfig = {
      model: o.model ?? defaults.model ?? 'local',
      cwd: resolve(o.cwd ?? defaults.cwd ?? process.cwd()),
      approvalPolicy: o.approvalPolicy ?? defaults.approvalPolicy ?? 'on-request',
      ...(o.instructions !== undefined || defaults.instructions !== undefined ? { instructions: o.instructions ?? defaults.instructions } : {}),
      ...(o.sandbox !== undefined ? { sandbox: o.sandbox } : {}),
      ...(o.outputSchema !== undefined ? { outputSchema: o.outputSchema } : {}),
    };
    const meta: SessionMetaPayload = {
      format: LOG_FORMAT_VERSION,
      id,
      created_at: new Date(idTime(id)).toISOString(),
      config,
      ...(o.name !== undefined ? { name: o.name } : {}),
      ...(o.metadata !== undefined ? { metadata: o.metadata } : {}),
      source: 'colloquy',
    };
    await this.store.acquire(id);
    return this.#startDormant(id, meta);
  }

  /**
   * A new conversation is created dormant: its `session_meta` goes to the persistence actor
   * (the only writer) and, once durable, the handle is returned without an actor. The actor is
   * created, from the fold of that one record, when the conversation is first used; an idle
   * conversation holds only its handle and fold.
   */
  async #startDormant(id: string, meta: SessionMetaPayload): Promise<Conversation> {
    const header: LogRecord = { ts: new Date().toISOString(), seq: 0, type: 'session_meta', payload: meta };
    const failure = await new Promise<string | null>((resolveReply) => {
      const reply = createActor(
        fromCallback<PersistReply>(({ receive }) => {
          receive((event) => resolveReply(event.type === 'persist.ack' ? null : event.error.message));
        }),
      );
      reply.start();
      this.#persistence.send({ type: 'append', request: { conversationId: id, records: [header], replyTo: reply } });
    });
    if (failure !== null) {
      this.#persistence.send({ type: 'discard', conversationId: id });
      await this.store.release(id).catch(() => {});
      throw new StoreError(`could not create conversation ${id} in ${this.store.description}: ${failure}`);
    }
    const fold = new ConversationFold();
    fold.apply(header);
    const handle = new Conversation(id, fold, this.#conversationDeps());
    handle.sleep({
      wake: () => {
        // Created here, synchronously (the op that woke it is delivered next), and reported to
        // the supervisor, which counts it and supervises it from now on like any other.
        this.#create(id, 'resume', { id, persistence: this.#persistence, restore: fold.restored() }, fold);
        this.#supervisor.send({ type: 'conversation.activated', id });
      },
      retire: () => {
        if (this.#residents.get(id) === handle) this.#residents.delete(id);
        void this.store.release(id).catch((err: unknown) => this.#report(err, id));
      },
    });
    this.#residents.set(id, handle);
    return handle;
  }

  /**
   * Resume a conversation from its log: its history, its pending approvals and its queued
   * input come back. Returns the resident conversation if it is already loaded.
   * @throws {InvalidIdError} for a malformed id; {@link SessionNotFoundError} when it does not exist.
   * @throws {SessionLockedError} naming the holder when another live process writes it.
   * @throws {CorruptLogError} when its log has a bad line (strict mode).
   */
  async resume(conversationId: string): Promise<Conversation> {
    this.#open();
    const id = assertConversationId(conversationId);
    const resident = this.#residents.get(id);
    if (resident && resident.state !== 'closed') return resident;
    const loading = this.#loading.get(id);
    if (loading) return loading;
    const load = (async () => {
      if (!(await this.store.exists(id))) throw new SessionNotFoundError(id, this.store.description);
      // Take the write lease first, so the log read is the log this process goes on writing.
      await this.store.acquire(id);
      try {
        const issues: LogIssue[] = [];
        const fold = await replay(this.store, id, { ...this.#readOptions(), onIssue: (issue) => void issues.push(issue) });
        this.#open();
        const handle = await this.#launch(id, 'resume', { id, persistence: this.#persistence, restore: fold.restored() }, fold);
        // What the replay found (lines skipped in lenient mode) stays visible on the conversation.
        for (const issue of issues) handle.reportLogIssue(issue);
        return handle;
      } catch (err) {
        await this.store.release(id).catch(() => {});
        throw err;
      }
    })();
    this.#loading.set(id, load);
    try {
      return await load;
    } finally {
      this.#loading.delete(id);
    }
  }

  /**
   * Fork a conversation into a new one. The fork's log references the source and the last
   * source `seq` it keeps; the source is never modified. A source in the middle of a turn is
   * forked before that turn.
   * @throws {InvalidOpError} when `beforeUserTurn` is beyond the last turn + 1.
   * @throws {SessionNotFoundError} when the source does not exist.
   */
  async fork(conversationId: string, options: ForkOptions = {}): Promise<Conversation> {
    this.#open();
    const id = assertConversationId(conversationId);
    const o = parseOrThrow(ForkOptionsSchema, options, 'fork options');
    let source: ConversationFold;
    let cut: number; // first seq NOT kept
    if (o.beforeUserTurn !== undefined) {
      // Counting user turns needs every turn from the start: a replay with the transcript, up to
      // the start of the n-th user turn (or to the end, when there is none).
      const n = o.beforeUserTurn;
      let seen = 0;
      source = await replay(this.store, id, {
        ...this.#readOptions(),
        transcript: true,
        until: (r) => r.type === 'event' && r.payload.type === 'turn.started' && r.payload.kind === 'regular' && ++seen === n,
      });
      const userTurns = source.transcript.filter((t) => t.kind === 'regular');
      if (o.beforeUserTurn > userTurns.length + 1) {
        throw new InvalidOpError(
          [{ path: ['beforeUserTurn'], message: `the conversation has ${userTurns.length} user turn${userTurns.length === 1 ? '' : 's'}; use 1 to ${userTurns.length + 1}` }],
          'fork options',
        );
      }
      cut = userTurns[o.beforeUserTurn - 1]?.startSeq ?? source.nextSeq;
    } else {
      // Up to the last finished turn: the live fold (from the last compaction, as a resume
      // reads it) tells whether a turn is still open, and where it started.
      source = await replay(this.store, id, this.#readOptions());
      cut = source.restored().openTurn?.startSeq ?? source.nextSeq;
    }
    const upTo = cut - 1;
    // Kept whole: the source's own fold is the fork's state; otherwise fold again up to the cut.
    const fold = cut === source.nextSeq ? source : await replay(this.store, id, { ...this.#readOptions(), upToSeq: upTo });
    const base = fold.restored();
    const childId = newConversationId();
    const meta: SessionMetaPayload = {
      format: LOG_FORMAT_VERSION,
      id: childId,
      created_at: new Date(idTime(childId)).toISOString(),
      forked_from: { id, up_to_seq: upTo },
      config: base.config,
      ...(o.name !== undefined ? { name: o.name } : base.name !== null ? { name: base.name } : {}),
      ...(source.meta?.metadata !== undefined ? { metadata: source.meta.metadata } : {}),
      source: 'colloquy',
    };
    const restore = { ...base, queue: [], openTurn: null, failed: null, ...(o.name !== undefined ? { name: o.name } : {}) };
    await this.store.acquire(childId);
    const handle = await this.#launch(childId, 'fork', { id: childId, persistence: this.#persistence, create: { meta, seq: cut }, restore }, fold);
    return this.#created(handle);
  }

  /** A page of conversations, newest first (see `ListQuery`). @throws {InvalidOpError} for a bad limit or cursor. */
  async list(query: ListQuery = {}): Promise<ListPage> {
    this.#open();
    return this.store.list(query);
  }

  /**
   * Read a conversation from its log without taking it over (no lease; works while another
   * process writes it).
   * @throws {SessionNotFoundError} when it does not exist.
   */
  async read(conversationId: string): Promise<ConversationRecord> {
    this.#open();
    const id = assertConversationId(conversationId);
    const fold = await replay(this.store, id, { ...this.#readOptions(), transcript: true });
    if (!fold.meta || !fold.config) throw new SessionNotFoundError(id, this.store.description);
    return {
      id,
      meta: fold.meta,
      name: fold.name,
      config: fold.config,
      turns: fold.transcript,
      pending: { approvals: fold.pendingApprovals(), input: fold.pendingInput() },
    };
  }

  /**
   * Rebuild the store's listing index from the logs (after files were copied in or removed by
   * hand, or to recover names after a crash). A store without an index does nothing.
   */
  async reindex(): Promise<void> {
    this.#open();
    await this.store.reindex?.();
  }

  /** The resident conversation with this id, if it is loaded. */
  get(id: string): Conversation | undefined {
    return this.#residents.get(id.toUpperCase());
  }

  /** Conversations loaded now. */
  get resident(): number {
    return this.#residents.size;
  }

  /** Archive a conversation (it leaves the default listing; resume still works). */
  async archive(id: string): Promise<void> {
    this.#open();
    await this.store.archive(assertConversationId(id));
  }

  /** Bring an archived conversation back. */
  async unarchive(id: string): Promise<void> {
    this.#open();
    await this.store.unarchive(assertConversationId(id));
  }

  /**
   * Delete a conversation for good (closing it first if it is loaded): its log, side files and
   * listing entry.
   * @throws {ConversationHasForksError} when conversations were forked from it (they read their
   *   first turns from its log); nothing is deleted.
   */
  async delete(conversationId: string): Promise<void> {
    this.#open();
    const id = assertConversationId(conversationId);
    const forks = await this.forks(id);
    if (forks.length > 0) throw new ConversationHasForksError(id, forks);
    const resident = this.#residents.get(id);
    if (resident) await resident.close();
    await this.store.delete(id);
  }

  /**
   * The conversations forked directly from `conversationId` (active and archived), oldest
   * first: each reads the turns it was forked with from that conversation's log. Walks the
   * listing index (one page per 1,000 conversations).
   * @throws {InvalidIdError} for a malformed id.
   */
  async forks(conversationId: string): Promise<string[]> {
    this.#open();
    const id = assertConversationId(conversationId);
    const forks: string[] = [];
    for (const archived of [false, true]) {
      let cursor: string | null = null;
      do {
        const page: ListPage = await this.list({ limit: 1000, sort: 'created', archived, cursor });
        for (const summary of page.items) if (summary.forkedFrom?.id === id) forks.push(summary.id);
        cursor = page.nextCursor;
      } while (cursor !== null);
    }
    return forks;
  }

  /**
   * Shut down: close every conversation (interrupting running turns), make every record
   * durable, stop every actor and close the store. Idempotent.
   */
  shutdown(): Promise<void> {
    if (this.#shutdown) return this.#shutdown;
    this.#closed = true;
    this.#supervisor.send({ type: 'shutdown' });
    this.#shutdown = waitFor(this.#supervisor, (s) => s.status === 'done', { timeout: Infinity }).then(() => {});
    return this.#shutdown;
  }
}

/**
 * Create a runtime.
 * @example
 * const runtime = createRuntime();                       // file store at ~/.colloquy, local agent
 * const convo = await runtime.start({ name: 'demo' });
 * const { finalResponse } = await convo.run('hello');
 * await runtime.shutdown();
 */
export function createRuntime(options: RuntimeOptions = {}): Runtime {
  return new Runtime(options);
}
