/**
 * `Conversation`: the handle an orchestrator holds for one conversation (SPEC §3). It wraps
 * the conversation actor: validates ops before they reach it, turns its emitted events into
 * subscriptions, promises and streams, and keeps the conversation's history current from the
 * records it commits (the fold).
 *
 * The handle outlives its actor. A conversation is
 * - `active`: its actor runs (a child of its shard supervisor);
 * - `dormant`: started, its log holds only its header, no actor yet (the first use creates it);
 * - `passivated`: idle for `passivateAfterMs`, its actor stopped and its history released; the
 *   next op, `state` read, `subscribe` or `wake` brings it back from its log, with its pending
 *   approvals and queued input (as a virtual actor of Orleans comes back when called);
 * - `closed`.
 * Every activation goes through the supervisor; ops that arrive while the conversation is being
 * brought back wait for it there, in order.
 */
import type { ConversationActorRef, ConversationContext, ConversationEmitted, ConversationStatus, OpEvent } from '../../machines/conversation.machine.js';
import { statusOf, threadStarted } from '../../machines/conversation.machine.js';
import type { ConversationSeed } from '../../machines/shard.machine.js';
import type { AnyEventObject } from 'xstate';
import { ColloquyError, ConversationClosedError, RuntimeClosedError, StoreError, TurnAbortedError, TurnFailedError } from '../errors.js';
import type { RecordDraft } from '../log/draft.js';
import type { ConversationFold } from '../log/fold.js';
import type { LogIssue } from '../log/types.js';
import type { ThreadEvent } from '../protocol/events.js';
import type { ThreadItem, Usage } from '../protocol/items.js';
import type { ApprovalDecision, Op } from '../protocol/ops.js';
import type { ConversationConfig, LogRecord } from '../protocol/records.js';
import { parseOp } from '../protocol/validate.js';
import { checkDrafts } from './append.js';
import { AsyncQueue } from './async-queue.js';
import { autoCompactLimit, DEFAULT_KEEP_USER_TOKENS, planKeptHistory, type ContextOptions } from './context-window.js';
import { toInputItems, type Input } from './input.js';
import { refusal } from './refusal.js';
import type { TurnHost } from './runner.js';
import { runTurn, type RunOptions, type TurnResult } from './turn-run.js';

export { toInputItems, type Input } from './input.js';
export type { RunOptions, TurnResult } from './turn-run.js';

/** A streamed turn, as the Codex SDK's `runStreamed` result. */
export interface StreamedTurn {
  /** `thread.started`, then the turn's events, ending with its `turn.completed`, `turn.failed` or `turn.aborted`. */
  readonly events: AsyncIterable<ThreadEvent>;
}

/** An approval waiting for a decision. */
export interface PendingApprovalInfo {
  readonly turnId: string;
  readonly callId: string;
  readonly item: ThreadItem;
}

/** Where a conversation lives now (see `Conversation`). */
export type Residency = 'active' | 'dormant' | 'passivated' | 'closed';

/** A snapshot of a conversation for display. */
export interface ConversationInfo {
  readonly id: string;
  readonly state: ConversationStatus;
  /** Whether its actor runs now (`active`), or it waits in its log (`dormant`, `passivated`). */
  readonly residency: Residency;
  readonly name: string | null;
  readonly config: ConversationConfig;
  readonly turnId: string | null;
  readonly pendingApprovals: readonly PendingApprovalInfo[];
  readonly queued: number;
  readonly usage: Usage;
  readonly error: { readonly kind: string; readonly message: string } | null;
}

/** A subscriber to a conversation's events. */
export type Listener = (event: ThreadEvent) => void;

/** A machine snapshot as far as a conversation handle uses it. */
export interface SnapshotView {
  readonly value: unknown;
  readonly context: ConversationContext;
  readonly status?: string;
  can(event: AnyEventObject): boolean;
}

/** What a conversation needs from its runtime. */
export interface ConversationDeps {
  /** Report an error that has nowhere else to go (a throwing listener). */
  readonly report: (error: unknown, conversationId: string) => void;
  /** New submission ids. */
  readonly newId: () => string;
  /** Context windows and compaction settings. */
  readonly context?: ContextOptions;
  /** The runtime is shutting down: nothing new is taken. */
  readonly closing: () => boolean;
  /** Ask the supervisor to activate the conversation (from `seed`, or from its log). */
  readonly activate: (id: string, seed: ConversationSeed | null) => void;
  /** Give the supervisor an event for the conversation, to deliver once it is active. */
  readonly deliver: (id: string, event: AnyEventObject, seed: ConversationSeed | null) => void;
  /** Ask the supervisor to passivate the conversation. */
  readonly passivate: (id: string) => void;
  /** Ask the supervisor to end the conversation without its actor. */
  readonly terminate: (id: string) => void;
  /** The machine snapshot a conversation that is not active would have: to check ops against. */
  readonly preview: (rest: { readonly value: unknown; readonly context: ConversationContext }) => SnapshotView;
}

interface PendingOp {
  readonly resolve: () => void;
  readonly reject: (error: unknown) => void;
  /** The op, for the error a refusal gives. */
  readonly op: Op | { readonly type: 'records.append'; readonly expectedSeq?: number };
  accepted: boolean;
  /** Told the records its step recorded, when the actor takes it. */
  onAccepted?: (records: readonly LogRecord[]) => void;
  /** Rejected when its records cannot be written, rather than waiting for a `retry`. */
  failFast?: boolean;
}

interface DurableWaiter {
  readonly seq: number;
  readonly resolve: () => void;
  readonly reject: (error: unknown) => void;
  /** Rejected when the log cannot be written (instead of waiting for a `retry`). */
  readonly failFast?: boolean;
}

/** Options of `appendRecords`. */
export interface AppendOptions {
  /** The `seq` the first draft must get (the conversation's next `seq`): refused otherwise, as an event store's expected revision. */
  readonly expectedSeq?: number;
  /** Put the user messages among the drafts into the global message history (default true). */
  readonly remember?: boolean;
}

/** One conversation. Get one from `runtime.start`, `resume` or `fork`. */
export class Conversation implements TurnHost {
  /** The conversation id (a ULID). */
  readonly id: string;
  readonly #deps: ConversationDeps;
  #actor: ConversationActorRef | null = null;
  #residency: Residency;
  /** The conversation's state folded from its records; null while passivated (released). */
  #fold: ConversationFold | null;
  /** The last machine state of a passivated conversation (what its reads and op checks use). */
  #rest: { readonly value: unknown; readonly context: ConversationContext } | null = null;
  /** An activation was asked for and has not attached an actor yet. */
  #activating = false;
  #activated: { promise: Promise<void>; resolve: () => void; reject: (e: unknown) => void } | null = null;
  #nextItem: number;
  #durableSeq = -1;
  #unavailable: Error | null = null;
  readonly #listeners = new Set<Listener>();
  /** Public subscribers (`subscribe`): while there is one, the conversation is not passivated. */
  #subscribers = 0;
  /** The next `thread.started` of a new actor is not told (its listeners already had theirs). */
  #quietStart = false;
  readonly #ops = new Map<string, PendingOp>();
  #waiters: DurableWaiter[] = [];
  readonly #onEmitted = (event: ConversationEmitted): void => this.#emitted(event);
  #emittedSub: { unsubscribe(): void } | null = null;
  /** The records of the step being executed (they come just before its op's acceptance). */
  #lastRecorded: readonly LogRecord[] = [];
  /** Settles once the conversation is closed and its lease given up. */
  readonly #ended = withResolvers();

  /**
   * @internal Created by the runtime: `dormant` with the fold of its header (a start), or
   * `activating` for a conversation being brought back or forked (`fold` null until loaded).
   */
  constructor(id: string, fold: ConversationFold | null, deps: ConversationDeps, residency: 'dormant' | 'activating') {
    this.id = id;
    this.#fold = fold;
    this.#nextItem = fold?.nextItem ?? 0;
    this.#deps = deps;
    this.#residency = residency === 'dormant' ? 'dormant' : 'passivated';
    this.#activating = residency === 'activating';
  }

  // ——— residency (runtime) ———

  /** Where the conversation lives now: `active`, `dormant`, `passivated` or `closed`. */
  get residency(): Residency {
    return this.#residency;
  }

  /** @internal The conversation's records were read back from its log (before its actor is spawned). */
  loaded(fold: ConversationFold, issues: readonly LogIssue[]): void {
    this.#fold = fold;
    this.#nextItem = Math.max(this.#nextItem, fold.nextItem);
    for (const issue of issues) this.reportLogIssue(issue);
  }

  /** @internal Its actor was spawned and is about to start: bind it and hand it the events that waited for it. */
  attach(actor: ConversationActorRef, buffered: readonly AnyEventObject[], restarted = false): void {
    // A restarted actor's `thread.started` tells its listeners it is a new one; a woken one's does not.
    this.#quietStart = !restarted;
    this.#actor = actor;
    this.#residency = 'active';
    this.#activating = false;
    this.#rest = null;
    this.#unavailable = null;
    this.#durableSeq = actor.getSnapshot().context.durableSeq;
    this.#emittedSub = actor.on('*', this.#onEmitted);
    // The actor has not started: these are its first events, ahead of anything sent later.
    for (const event of buffered) actor.send(event as Parameters<ConversationActorRef['send']>[0]);
    if (buffered.length > 0) queueMicrotask(() => this.#refuseUnaccepted());
    const activated = this.#activated;
    this.#activated = null;
    activated?.resolve();
  }

  /** @internal Bringing the conversation back failed: what waited for it fails with `error`. */
  activationFailed(error: unknown): void {
    this.#activating = false;
    this.#failOps(error);
    const activated = this.#activated;
    this.#activated = null;
    activated?.reject(error);
  }

  /** @internal Nobody follows the conversation and nothing of it is pending: it may be passivated. */
  mayPassivate(): boolean {
    return this.#residency === 'active' && this.#subscribers === 0 && this.#ops.size === 0 && this.#waiters.length === 0;
  }

  /** @internal Its actor is being stopped by passivation: keep its last state, release the rest. */
  passivated(): void {
    const actor = this.#actor;
    if (!actor) return;
    const snapshot = actor.getSnapshot();
    this.#rest = { value: snapshot.value, context: snapshot.context };
    this.#nextItem = Math.max(this.#nextItem, this.#fold?.nextItem ?? 0);
    this.#emittedSub?.unsubscribe();
    this.#emittedSub = null;
    this.#actor = null;
    this.#fold = null;
    this.#residency = 'passivated';
  }

  /** @internal The actor failed: ops are refused until it is restarted or given up. */
  markUnavailable(error: Error): void {
    this.#unavailable = error;
    this.#failWaiters(error);
  }

  /** @internal The conversation is gone for good (closed, or not restarted). */
  markClosed(error?: Error, released: Promise<void> = Promise.resolve()): void {
    const wasOpen = this.#residency !== 'closed';
    this.#residency = 'closed';
    this.#emittedSub?.unsubscribe();
    this.#emittedSub = null;
    this.#actor = null;
    this.#rest = null;
    this.#activating = false;
    // Closed without its actor telling them (no actor, or one stopped): its listeners are told here.
    if (wasOpen && !error && !this.#toldClosed) this.#tell({ type: 'thread.closed' });
    void released.catch(() => {}).then(() => this.#ended.resolve());
    const activated = this.#activated;
    this.#activated = null;
    activated?.reject(error ?? new ConversationClosedError(this.id));
    if (this.#waiters.length === 0 && this.#ops.size === 0) return;
    this.#failWaiters(error ?? new ConversationClosedError(this.id));
  }

  #failWaiters(error: Error): void {
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const w of waiters) w.reject(error);
    this.#failOps(error);
  }

  #failOps(error: unknown): void {
    const ops = [...this.#ops.values()];
    this.#ops.clear();
    for (const op of ops) op.reject(error);
  }

  /** Ops handed to a new actor that it did not take: refused, with the reason their state gives. */
  #refuseUnaccepted(): void {
    for (const [submissionId, op] of this.#ops) {
      if (op.accepted) continue;
      this.#ops.delete(submissionId);
      op.reject(this.#refusalOf(op.op));
    }
  }

  /** The seed a dormant conversation's actor starts from (its fold), or null when its log must be read. */
  #seed(): ConversationSeed | null {
    return this.#residency === 'dormant' && this.#fold ? { restore: this.#fold.restored() } : null;
  }

  /** Ask for the actor (once); with a seed it is usually attached when this returns. */
  #wake(): void {
    if (this.#residency === 'closed' || this.#residency === 'active' || this.#activating) return;
    if (this.#deps.closing()) return;
    this.#activating = true;
    this.#deps.activate(this.id, this.#seed());
  }

  /**
   * Bring the conversation's actor into memory (from its log when it was passivated). Resolves
   * once it is active; at once when it is.
   * @throws {ConversationClosedError} when it is closed.
   * @throws {SessionLockedError} when another process took the conversation over while it was passivated.
   * @throws {CorruptLogError} when its log cannot be read back.
   */
  async wake(): Promise<void> {
    if (this.#residency === 'closed') throw new ConversationClosedError(this.id);
    if (this.#residency === 'active') return;
    if (this.#deps.closing()) throw new RuntimeClosedError();
    const active = this.whenActive();
    this.#wake();
    await active;
  }

  /** @internal Resolves when an actor is next attached (at once when there is one); rejects when activation fails. */
  whenActive(): Promise<void> {
    if (this.#residency === 'active') return Promise.resolve();
    return (this.#activated ??= withResolvers()).promise;
  }

  /** The conversation actor (for inspection); a dormant conversation's is created by this read. */
  get actor(): ConversationActorRef | null {
    if (!this.#actor && this.#residency === 'dormant') this.#wake();
    return this.#actor;
  }

  /**
   * The conversation's state folded from its records (history, turns, settings, usage), kept
   * current as its actor records; null while it is passivated (`wake` loads it again). For
   * clients of the runtime that write their own records (see `appendRecords`).
   */
  get fold(): ConversationFold | null {
    return this.#fold;
  }

  // ——— TurnHost (the agent runner reads these) ———

  /** @internal */
  get history(): readonly ThreadItem[] {
    return this.#fold?.history ?? [];
  }

  /** @internal */
  get summary(): string | null {
    return this.#fold?.summary ?? null;
  }

  /** The settings the next turn runs with. */
  get config(): ConversationConfig {
    return this.#view()?.config ?? this.#fold?.config ?? { model: 'local', cwd: '.', approvalPolicy: 'on-request' };
  }

  /** @internal */
  newItemId(): string {
    return `item_${this.#nextItem++}`;
  }

  /** @internal */
  compactionPlan(): { keptFromSeq: number; keptTurns: number; nextItem: number } {
    const ctx = this.#live().context;
    // History ends where the compaction's own turn starts.
    const end = ctx.turn?.startSeq ?? ctx.seq;
    const budget = this.#deps.context?.keepUserTokens ?? DEFAULT_KEEP_USER_TOKENS;
    const fold = this.#fold;
    const kept = fold ? planKeptHistory(fold.history, fold.historyBounds, end, budget) : { keptFromSeq: end, keptTurns: 0 };
    return { ...kept, nextItem: this.#nextItem };
  }

  /** @internal */
  autoCompactLimit(): number | null {
    return autoCompactLimit(this.config.model, this.#deps.context);
  }

  // ——— state ———

  /** The live actor's snapshot. @throws {ConversationClosedError} when there is no actor. */
  #live(): ReturnType<ConversationActorRef['getSnapshot']> {
    const actor = this.#actor;
    if (!actor) throw new ConversationClosedError(this.id);
    return actor.getSnapshot();
  }

  /** The context reads use: the actor's, or the one a passivated conversation kept; null for a dormant one. */
  #view(): ConversationContext | null {
    if (this.#actor) return this.#actor.getSnapshot().context;
    return this.#rest?.context ?? null;
  }

  /** `idle`, `active` (turn admitted), `processing` (output flowing, awaiting approval, committing), `error` or `closed`. A passivated conversation is brought back by this read (its state is the one it was passivated in). */
  get state(): ConversationStatus {
    if (this.#residency === 'passivated') this.#wake();
    return this.#status();
  }

  #status(): ConversationStatus {
    if (this.#residency === 'closed') return 'closed';
    const actor = this.#actor;
    if (!actor) return this.#rest ? statusOf(this.#rest.value) : 'idle';
    const snapshot = actor.getSnapshot();
    if (snapshot.status === 'done') return 'closed';
    if (snapshot.status !== 'active') return 'error';
    return statusOf(snapshot.value);
  }

  /** The conversation's name, if set. */
  get name(): string | null {
    if (this.#residency === 'closed') return null;
    const view = this.#view();
    return view ? view.name : (this.#fold?.name ?? null);
  }

  /** Approvals waiting for a decision. */
  get pendingApprovals(): PendingApprovalInfo[] {
    const turn = this.#view()?.turn;
    if (!turn) return [];
    return Object.entries(turn.pending).map(([callId, item]) => ({ turnId: turn.id, callId, item }));
  }

  /** A snapshot for display. Never wakes the conversation. */
  info(): ConversationInfo {
    const ctx = this.#view();
    return {
      id: this.id,
      state: this.#status(),
      residency: this.#residency,
      name: this.name,
      config: this.config,
      turnId: ctx?.turn?.id ?? null,
      pendingApprovals: this.pendingApprovals,
      queued: ctx?.queue.length ?? 0,
      usage: ctx?.usage ?? this.#fold?.usage ?? { input_tokens: 0, cached_input_tokens: 0, output_tokens: 0, reasoning_output_tokens: 0 },
      error: ctx?.error ? { kind: ctx.error.kind, message: ctx.error.message } : null,
    };
  }

  /** What was found in this conversation's log that was not a clean record, oldest first. */
  readonly logIssues: LogIssue[] = [];

  /** @internal Something was found in this conversation's log (a torn tail repaired, a line skipped). */
  reportLogIssue(issue: LogIssue): void {
    if (this.logIssues.length < 100) this.logIssues.push(issue);
    this.#emitted({ type: 'log.issue', kind: issue.kind, line: issue.line, detail: issue.detail });
  }

  /**
   * The model-visible history (items since the last compaction), oldest first.
   * @throws {ColloquyError} `conversation_passivated` for a passivated conversation: `await convo.wake()` first.
   */
  historyItems(): readonly ThreadItem[] {
    if (this.#residency === 'passivated' && !this.#fold) {
      throw new ColloquyError('conversation_passivated', `conversation ${this.id} is passivated (its history is in its log); await convo.wake() first`);
    }
    return this.#fold?.history ?? [];
  }

  /** `thread.started` as this conversation's subscribers get it now. */
  #started(): ThreadEvent {
    const ctx = this.#view();
    if (ctx) return threadStarted(this.id, ctx);
    const fold = this.#fold;
    return threadStarted(this.id, { config: this.config, name: this.name, turns: fold?.turns ?? 0, historyTurns: fold?.historyTurns ?? 0 });
  }

  // ——— events ———

  #emitted(event: ConversationEmitted): void {
    switch (event.type) {
      case '@colloquy.recorded':
        this.#lastRecorded = event.records;
        for (const record of event.records) this.#fold?.apply(record);
        if (this.#fold) this.#nextItem = Math.max(this.#nextItem, this.#fold.nextItem);
        return;
      case '@colloquy.durable':
        this.#durable(event.seq);
        return;
      case '@colloquy.accepted': {
        const op = this.#ops.get(event.submissionId);
        if (!op) return;
        op.accepted = true;
        this.#ops.delete(event.submissionId);
        op.onAccepted?.(this.#lastRecorded);
        this.#whenDurable(event.seq, op.failFast === true).then(op.resolve, op.reject);
        return;
      }
      case '@colloquy.quiescent':
        if (this.mayPassivate()) this.#deps.passivate(this.id);
        return;
      case 'error': {
        // The log could not be written: writers that asked not to wait for a retry are told.
        const failing = this.#waiters.filter((w) => w.failFast);
        if (failing.length > 0) {
          this.#waiters = this.#waiters.filter((w) => !w.failFast);
          for (const w of failing) w.reject(new StoreError(event.message));
        }
        this.#tell(event);
        return;
      }
      case 'thread.closed':
        this.#toldClosed = true;
        this.#tell(event);
        return;
      case 'thread.started':
        if (this.#quietStart) {
          this.#quietStart = false;
          return;
        }
        this.#tell(event);
        return;
      default:
        this.#tell(event);
    }
  }

  /** Its listeners were told `thread.closed`. */
  #toldClosed = false;

  #tell(event: ThreadEvent): void {
    for (const listener of this.#listeners) {
      try {
        listener(event);
      } catch (err) {
        this.#deps.report(err, this.id);
      }
    }
  }

  #durable(seq: number): void {
    if (seq <= this.#durableSeq) return;
    this.#durableSeq = seq;
    if (this.#waiters.length === 0) return;
    const still: DurableWaiter[] = [];
    for (const w of this.#waiters) {
      if (w.seq <= seq) w.resolve();
      else still.push(w);
    }
    this.#waiters = still;
  }

  #whenDurable(seq: number, failFast = false): Promise<void> {
    if (seq <= this.#durableSeq) return Promise.resolve();
    return new Promise((resolve, reject) => this.#waiters.push({ seq, resolve, reject, ...(failFast ? { failFast } : {}) }));
  }

  /**
   * Subscribe to every event. The listener is called at once with `thread.started`, then with
   * each event as it happens. Returns the unsubscribe function. A throwing listener is
   * reported to the runtime's `onError` and does not affect the conversation. A dormant or
   * passivated conversation is brought back first.
   */
  subscribe(listener: Listener): () => void {
    // Woken first, so its listeners see one `thread.started`, as ever.
    this.#wake();
    try {
      listener(this.#started());
    } catch (err) {
      this.#deps.report(err, this.id);
    }
    this.#listeners.add(listener);
    this.#subscribers++;
    this.#observed();
    let subscribed = true;
    return () => {
      if (!subscribed) return;
      subscribed = false;
      this.#listeners.delete(listener);
      this.#subscribers--;
      this.#observed();
    };
  }

  /** Its subscribers changed: a use, after which the passivation timer starts again. */
  #observed(): void {
    const actor = this.#actor;
    if (actor && actor.getSnapshot().status === 'active') actor.send({ type: 'observe' });
  }

  #listen(listener: Listener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  // ——— ops ———

  #refusalOf(op: PendingOp['op']): Error {
    const ctx = this.#view();
    if (!ctx) return new ConversationClosedError(this.id);
    return refusal(this.id, op, this.#status(), ctx);
  }

  /** Throw unless ops can be taken now (while the runtime shuts down, only closing). */
  #check(closing: boolean): void {
    if (this.#residency === 'closed') throw new ConversationClosedError(this.id);
    if (!closing && this.#deps.closing()) throw new RuntimeClosedError();
    if (this.#unavailable) {
      throw new ColloquyError(
        'conversation_unavailable',
        `conversation ${this.id} failed (${this.#unavailable.message}) and is being restarted from its log; try again shortly`,
      );
    }
  }

  /**
   * Send a validated event to the actor (bringing the conversation back first when it is not
   * active). Resolves once the records it produced are durable.
   * @throws {InvalidOpError} when it is not valid in the current state (nothing changes).
   * @throws {ConversationBusyError} for input with mode `reject` while a turn runs.
   * @throws {ConversationClosedError} when the conversation is closed.
   */
  #send(
    event: OpEvent | Extract<Parameters<ConversationActorRef['send']>[0], { type: 'records.append' }>,
    op: PendingOp['op'],
    checked: boolean,
    onAccepted?: (records: readonly LogRecord[]) => void,
  ): Promise<void> {
    this.#check(event.type === 'shutdown');
    // A dormant conversation's actor is created now (from its fold): usually at once.
    if (!this.#actor && this.#residency === 'dormant' && !this.#activating) this.#wake();
    const actor = this.#actor;
    let snapshot: SnapshotView | null = null;
    if (actor) {
      snapshot = actor.getSnapshot();
      if (snapshot.status !== 'active') throw new ConversationClosedError(this.id);
    } else if (this.#rest) snapshot = this.#deps.preview(this.#rest);
    if (checked && snapshot && !snapshot.can(event)) throw this.#refusalOf(op);
    let pending!: PendingOp;
    const done = new Promise<void>((resolve, reject) => {
      pending = { resolve, reject, op, accepted: false, ...(onAccepted ? { onAccepted, failFast: true } : {}) };
    });
    this.#ops.set(event.submissionId, pending);
    if (actor) {
      actor.send(event);
      if (!pending.accepted) {
        // Sent from inside the actor's own processing (a listener): it is answered after this
        // macrostep; if it was not taken by then, the state changed under it.
        queueMicrotask(() => {
          if (pending.accepted || !this.#ops.has(event.submissionId)) return;
          this.#ops.delete(event.submissionId);
          pending.reject(this.#refusalOf(op));
        });
      }
    } else {
      // Not active: the supervisor holds it until the conversation is back, then it goes first.
      const seed = this.#seed();
      this.#activating = true;
      this.#deps.deliver(this.id, event, seed);
    }
    return done;
  }

  #dispatch(op: Op, submissionId = this.#deps.newId()): { submissionId: string; done: Promise<void> } {
    const event = (
      op.type === 'user_input' || op.type === 'retry' ? { ...op, submissionId, itemId: this.newItemId() } : { ...op, submissionId }
    ) as OpEvent;
    // Input that is not `reject` is taken in every state but closed; every other op is checked against the machine first.
    const checked = op.type !== 'user_input' || op.mode === 'reject';
    return { submissionId, done: this.#send(event, op, checked) };
  }

  /**
   * Submit an op (SPEC §4). Validates it and returns its submission id; the op takes effect
   * at once (once the conversation is back, when it was passivated). Use the promise-returning
   * methods to wait for an op's effects.
   * @throws {InvalidOpError} naming the bad field, or when the op is not valid in the current state.
   * @throws {ConversationBusyError} for input with mode `reject` while a turn runs.
   * @throws {ConversationClosedError} when the conversation is closed.
   */
  submit(op: unknown): string {
    const parsed = parseOp(op);
    if (parsed.type === 'interrupt' && !this.#canInterrupt()) return this.#deps.newId();
    const { submissionId, done } = this.#dispatch(parsed);
    done.catch(() => {});
    return submissionId;
  }

  #canInterrupt(): boolean {
    const state = this.#status();
    return state === 'active' || state === 'processing';
  }

  /**
   * Write records a client of the runtime made (the Agents SDK session, an importer) into this
   * conversation, through its actor, which numbers them: the one door to its log. The
   * conversation must be idle, and the drafts whole turns (every `turn.started` ended, every
   * item inside its turn); `session_meta`, approvals and queued input are the actor's own.
   * Resolves with the records as written, once they are durable.
   * @throws {InvalidOpError} for drafts that are not valid records or leave a turn open, or when
   *   `expectedSeq` is not the conversation's next `seq` (nothing is written).
   * @throws {ConversationBusyError} while a turn runs.
   */
  async appendRecords(drafts: readonly RecordDraft[], options: AppendOptions = {}): Promise<LogRecord[]> {
    const checked = checkDrafts(drafts);
    if (checked.length === 0) return [];
    const submissionId = this.#deps.newId();
    const event = {
      type: 'records.append' as const,
      submissionId,
      drafts: checked,
      ...(options.expectedSeq !== undefined ? { expectedSeq: options.expectedSeq } : {}),
      remember: options.remember ?? true,
    };
    let written: readonly LogRecord[] = [];
    const expected = options.expectedSeq !== undefined ? { expectedSeq: options.expectedSeq } : {};
    await this.#send(event, { type: 'records.append', ...expected }, true, (records) => {
      written = records;
    });
    return [...written];
  }

  /**
   * Run a turn and wait for it. With mode `queue` (default) the input becomes its own turn
   * after any running one; with `steer` it joins the running turn (whose result is returned).
   * Resolves after the turn's records are durable.
   * @throws {TurnFailedError} when the turn fails (the conversation is then in `error`).
   * @throws {TurnAbortedError} when it is interrupted (including through `signal`).
   */
  async run(input: Input, options: RunOptions = {}): Promise<TurnResult> {
    return runTurn(this.#turnHost(), toInputItems(input), options, null).result;
  }

  /**
   * Run a turn and stream its events: `thread.started`, then everything of the turn until its
   * `turn.completed`, `turn.failed` or `turn.aborted` (as the Codex SDK's `runStreamed`).
   * Failures are events here, not exceptions. Breaking out of the loop stops the stream, not the turn.
   */
  async runStreamed(input: Input, options: RunOptions = {}): Promise<StreamedTurn> {
    const items = toInputItems(input);
    const queue = new AsyncQueue<ThreadEvent>(() => stop());
    queue.push(this.#started());
    const { result, stop } = runTurn(this.#turnHost(), items, options, queue);
    result.then(
      () => queue.end(),
      (err) => (err instanceof TurnFailedError || err instanceof TurnAbortedError ? queue.end() : queue.fail(err)),
    );
    return { events: queue };
  }

  #turnHost(): Parameters<typeof runTurn>[0] {
    return {
      id: this.id,
      newId: () => this.#deps.newId(),
      listen: (listener) => this.#listen(listener),
      dispatch: (op, submissionId) => this.#dispatch(op, submissionId),
      runningTurnId: () => this.#actor?.getSnapshot().context.turn?.id ?? null,
      interrupt: () => this.interrupt(),
    };
  }

  /**
   * Answer a pending approval. Resolves once the decision is durable.
   * @throws {InvalidOpError} when no approval with `callId` is pending (field `callId`).
   */
  async approve(callId: string, decision: ApprovalDecision = 'approved'): Promise<void> {
    await this.#dispatch(parseOp({ type: 'approval', callId, decision })).done;
  }

  /** Wait for the running turn, if any, to end (however it ends). */
  #turnEnd(): Promise<void> {
    const turnId = this.#view()?.turn?.id;
    if (!turnId || !this.#canInterrupt()) return Promise.resolve();
    return new Promise((resolve) => {
      const unlisten = this.#listen((event) => {
        if ((event.type === 'turn.completed' || event.type === 'turn.aborted' || event.type === 'turn.failed') && event.turn_id === turnId) {
          unlisten();
          resolve();
        } else if (event.type === 'thread.closed' || event.type === 'error') {
          unlisten();
          resolve();
        }
      });
    });
  }

  /**
   * Interrupt the running turn through its AbortSignal. Resolves when it has ended
   * (`turn.aborted` emitted and durable). Does nothing when no turn runs.
   */
  async interrupt(): Promise<void> {
    if (!this.#canInterrupt()) return;
    const ended = this.#turnEnd();
    await this.#dispatch({ type: 'interrupt' }).done;
    await ended;
  }

  /**
   * Compact the history: the agent summarises it and a `compacted` record replaces what came
   * before (nothing is copied). Resolves when the compaction turn has completed.
   * @throws {InvalidOpError} while a turn runs.
   */
  async compact(): Promise<void> {
    const submissionId = this.#deps.newId();
    const outcome = new Promise<void>((resolve, reject) => {
      const unlisten = this.#listen((event) => {
        if (event.type === 'error') {
          unlisten();
          reject(new StoreError(event.message));
          return;
        }
        if (!('turn_id' in event) || event.turn_id !== submissionId) return;
        if (event.type === 'turn.completed') {
          unlisten();
          resolve();
        } else if (event.type === 'turn.failed') {
          unlisten();
          reject(new TurnFailedError(submissionId, event.error.message, event.error.code ?? 'turn_failed'));
        } else if (event.type === 'turn.aborted') {
          unlisten();
          reject(new TurnAbortedError(submissionId, event.reason));
        }
      });
      try {
        this.#dispatch({ type: 'compact' }, submissionId).done.catch((err: unknown) => {
          unlisten();
          reject(err);
        });
      } catch (err) {
        unlisten();
        reject(err);
      }
    });
    await outcome;
  }

  /** Run the failed turn again (from `error`). Resolves when the op is durable; watch events for the turn. */
  async retry(): Promise<void> {
    await this.#dispatch({ type: 'retry' }).done;
  }

  /** Leave `error` without re-running the failed turn. */
  async reset(): Promise<void> {
    await this.#dispatch({ type: 'reset' }).done;
  }

  /** Name the conversation. */
  async setName(name: string): Promise<void> {
    await this.#dispatch(parseOp({ type: 'set_name', name })).done;
  }

  /** Drop the last `turns` turns from the model-visible history (the log keeps them). */
  async rollback(turns: number): Promise<void> {
    await this.#dispatch(parseOp({ type: 'rollback', turns })).done;
  }

  /** Change the settings of the turns to come. */
  async overrideTurnContext(settings: Omit<Extract<Op, { type: 'override_turn_context' }>, 'type'>): Promise<void> {
    await this.#dispatch(parseOp({ type: 'override_turn_context', ...settings })).done;
  }

  /**
   * @internal End the conversation at once, without writing anything more (for `runtime.delete`):
   * its actor is stopped, what it had not made durable is dropped. Resolves once its lease is given up.
   */
  async end(): Promise<void> {
    if (this.#residency === 'closed') return;
    this.#deps.terminate(this.id);
    await this.#ended.promise;
  }

  /**
   * Close the conversation: a running turn (or one waiting for an approval) is interrupted
   * (`turn.aborted`, reason `shutdown`), every record is made durable, `thread.closed` is
   * emitted. Idempotent.
   */
  async close(): Promise<void> {
    if (this.#residency === 'closed' || this.#status() === 'closed') return;
    // Nothing runs and everything it wrote is durable: no actor is needed to close it.
    if (!this.#actor && !this.#activating && (this.#residency === 'dormant' || !this.#rest?.context.turn)) {
      this.#deps.terminate(this.id);
      await this.#ended.promise;
      return;
    }
    const closed = new Promise<void>((resolve, reject) => {
      const unlisten = this.#listen((event) => {
        if (event.type === 'thread.closed') {
          unlisten();
          resolve();
        } else if (event.type === 'error') {
          // The final writes failed: the conversation stays open, in `error`.
          unlisten();
          reject(new StoreError(`could not close conversation ${this.id}: ${event.message}`));
        }
      });
    });
    await this.#dispatch({ type: 'shutdown' }).done;
    await closed;
    // Its lease is given up when its shard has ended it.
    await this.#ended.promise;
  }
}

function withResolvers(): { promise: Promise<void>; resolve: () => void; reject: (e: unknown) => void } {
  let resolve!: () => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  promise.catch(() => {});
  return { promise, resolve, reject };
}
