/**
 * The plumbing of a conversation handle (`Conversation` is its public API): where the
 * conversation lives (its actor, or its log), what it holds of its state, its events and
 * subscribers, and how an op reaches the actor and comes back as a settled promise.
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
import type { AnyEventObject } from 'xstate';
import type { ConversationActorRef, ConversationContext, ConversationEmitted, ConversationStatus, OpEvent } from '../../machines/conversation.machine.js';
import { isQuiescent, statusOf, threadStarted } from '../../machines/conversation.machine.js';
import type { ConversationSeed } from '../../machines/shard.machine.js';
import { ColloquyError, ConversationClosedError, RuntimeClosedError } from '../errors.js';
import type { ConversationFold } from '../log/fold.js';
import type { LogIssue } from '../log/types.js';
import type { ThreadEvent } from '../protocol/events.js';
import type { ThreadItem } from '../protocol/items.js';
import type { Op } from '../protocol/ops.js';
import type { ConversationConfig, LogRecord } from '../protocol/records.js';
import { parseOp } from '../protocol/validate.js';
import { autoCompactLimit, DEFAULT_KEEP_USER_TOKENS, planKeptHistory } from './context-window.js';
import type { ConversationDeps, ConversationInfo, Listener, PendingApprovalInfo, Residency, SnapshotView } from './conversation-types.js';
import { PendingOps, type SentOp } from './pending-ops.js';
import { refusal } from './refusal.js';
import type { TurnHost } from './runner.js';

/** The plumbing of a conversation handle; see `Conversation`. */
export class ConversationCore implements TurnHost {
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
  #unavailable: Error | null = null;
  readonly #listeners = new Set<Listener>();
  /** Public subscribers (`subscribe`): while there is one, the conversation is not passivated. */
  #subscribers = 0;
  /** The next `thread.started` of a new actor is not told (its listeners already had theirs). */
  #quietStart = false;
  readonly #pending = new PendingOps();
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
    this.#pending.reset(actor.getSnapshot().context.durableSeq);
    this.#used();
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
    this.#pending.failOps(error);
    const activated = this.#activated;
    this.#activated = null;
    activated?.reject(error);
  }

  /** @internal Nobody follows the conversation and nothing of it is pending: it may be passivated. */
  mayPassivate(): boolean {
    return this.#residency === 'active' && this.#subscribers === 0 && this.#pending.idle;
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
    this.#pending.failAll(error);
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
    if (this.#pending.idle) return;
    this.#pending.failAll(error ?? new ConversationClosedError(this.id));
  }

  /** Ops handed to a new actor that it did not take: refused, with the reason their state gives. */
  #refuseUnaccepted(): void {
    this.#pending.refuseAll((op) => this.#refusalOf(op));
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

  /**
   * The conversation machine's state value (e.g. `'idle'`, `{ processing: 'awaitingApproval' }`):
   * its actor's, or the one a dormant (`'idle'`) or passivated conversation waits in. Never wakes it.
   * Null once closed.
   */
  stateValue(): unknown {
    if (this.#residency === 'closed') return null;
    if (this.#actor) return this.#actor.getSnapshot().value;
    return this.#rest ? this.#rest.value : 'idle';
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
      error: ctx?.error ? { kind: ctx.error.kind, message: ctx.error.message, code: ctx.error.code } : null,
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
    this.#used();
    switch (event.type) {
      case '@colloquy.recorded':
        this.#lastRecorded = event.records;
        for (const record of event.records) this.#fold?.apply(record);
        if (this.#fold) this.#nextItem = Math.max(this.#nextItem, this.#fold.nextItem);
        return;
      case '@colloquy.durable':
        this.#pending.durable(event.seq);
        return;
      case '@colloquy.accepted':
        this.#pending.accepted(event.submissionId, event.seq, this.#lastRecorded);
        return;
      case 'error':
        // The log could not be written: writers that asked not to wait for a retry are told.
        this.#pending.storeFailed(event.message);
        this.#tell(event);
        return;
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

  /** Its subscribers changed: a use (the idle time for passivation starts again). */
  #observed(): void {
    this.#used();
  }

  /** When it was last used (ms of the actor system's clock): an op, an event, a subscriber coming or going. */
  #lastUse = 0;

  #used(): void {
    this.#lastUse = this.#deps.now();
  }

  /**
   * @internal Whether it may be passivated at `now` (ms): active, quiescent (its machine says
   * nothing runs and everything is durable), unused for `idleMs`, nobody subscribed, nothing
   * pending.
   */
  idleFor(now: number, idleMs: number): boolean {
    const actor = this.#actor;
    if (!actor || now - this.#lastUse < idleMs || !this.mayPassivate()) return false;
    const snapshot = actor.getSnapshot();
    return snapshot.status === 'active' && isQuiescent(snapshot);
  }

  #listen(listener: Listener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  // ——— ops ———

  #refusalOf(op: SentOp): Error {
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
    op: SentOp,
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
    const { submissionId } = event;
    this.#used();
    const done = this.#pending.add(submissionId, op, onAccepted);
    if (actor) {
      actor.send(event);
      if (this.#pending.waiting(submissionId)) {
        // Sent from inside the actor's own processing (a listener): it is answered after this
        // macrostep; if it was not taken by then, the state changed under it.
        queueMicrotask(() => this.#pending.refuse(submissionId, (sent) => this.#refusalOf(sent)));
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


  // ——— for the public API (`Conversation`) ———

  /** The runtime's services. */
  protected get deps(): ConversationDeps {
    return this.#deps;
  }

  /** Send a validated op; `done` settles once its records are durable. @throws as `submit`. */
  protected dispatch(op: Op, submissionId?: string): { submissionId: string; done: Promise<void> } {
    return this.#dispatch(op, submissionId);
  }

  /** Send an event (an op or an append) to the actor; see `#send`. */
  protected send(
    event: OpEvent | Extract<Parameters<ConversationActorRef['send']>[0], { type: 'records.append' }>,
    op: SentOp,
    checked: boolean,
    onAccepted?: (records: readonly LogRecord[]) => void,
  ): Promise<void> {
    return this.#send(event, op, checked, onAccepted);
  }

  /** Listen to every event (not a subscriber: it does not keep the conversation from passivating). */
  protected listen(listener: Listener): () => void {
    return this.#listen(listener);
  }

  /** `thread.started` as a new subscriber gets it now. */
  protected startedEvent(): ThreadEvent {
    return this.#started();
  }

  /** A turn is admitted or running. */
  protected canInterrupt(): boolean {
    return this.#canInterrupt();
  }

  /** The id of the turn running now (or waiting for an approval), if any. */
  protected runningTurnId(): string | null {
    return this.#view()?.turn?.id ?? null;
  }

  /** Nothing runs and everything it wrote is durable: it can be closed without its actor. */
  protected closesWithoutActor(): boolean {
    return !this.#actor && !this.#activating && (this.#residency === 'dormant' || !this.#rest?.context.turn);
  }

  /** Have the supervisor end the conversation (its actor stopped, nothing more written); resolves once its lease is given up. */
  protected async terminate(): Promise<void> {
    this.#deps.terminate(this.id);
    await this.#ended.promise;
  }

  /** Settles once the conversation is closed and its lease given up. */
  protected get ended(): Promise<void> {
    return this.#ended.promise;
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
