/**
 * `Conversation`: the handle an orchestrator holds for one conversation (SPEC §3). It wraps
 * the conversation actor: validates ops before they reach it, turns its emitted events into
 * subscriptions, promises and streams, and keeps the conversation's history current from
 * the records it commits (the fold).
 */
import type { ConversationActorRef, ConversationEmitted, ConversationStatus, OpEvent } from '../../machines/conversation.machine.js';
import { statusOf } from '../../machines/conversation.machine.js';
import {
  ColloquyError,
  ConversationBusyError,
  ConversationClosedError,
  InvalidOpError,
  StoreError,
  TurnAbortedError,
  TurnFailedError,
} from '../errors.js';
import type { ThreadEvent } from '../protocol/events.js';
import { UserInputItemSchema, type ThreadItem, type Usage, type UserInputItem } from '../protocol/items.js';
import type { ApprovalDecision, BusyMode, Op } from '../protocol/ops.js';
import type { ConversationConfig } from '../protocol/records.js';
import { fast, parseOp, toIssues } from '../protocol/validate.js';
import * as z from 'zod/mini';
import { AsyncQueue } from './async-queue.js';
import type { LogIssue } from '../store/store.js';
import type { ConversationFold } from '../log/fold.js';
import type { TurnHost } from './runner.js';
import { autoCompactLimit, DEFAULT_KEEP_USER_TOKENS, planKeptHistory, type ContextOptions } from './context-window.js';

/** Input to a turn: text, or parts (text and local images), as the Codex SDK's `Input`. */
export type Input = string | readonly UserInputItem[];

/** The result of `run`: the turn's items, its last agent message and its usage (tokens, this turn only). */
export interface TurnResult {
  readonly turnId: string;
  /** Every item the turn completed, in order (its user message included). */
  readonly items: readonly ThreadItem[];
  /** The text of the turn's last `agent_message`, or `''`. */
  readonly finalResponse: string;
  /** Tokens this turn used. The conversation's cumulative usage is in `turn.completed.usage`. */
  readonly usage: Usage;
}

/** Options of `run` / `runStreamed`: what to do if a turn is running (`mode`) and an `AbortSignal` that interrupts the turn. */
export interface RunOptions {
  /** Aborting interrupts the turn (it ends `turn.aborted`, and `run` rejects with `TurnAbortedError`). */
  readonly signal?: AbortSignal;
  /** What to do if a turn is already running. Default `queue`. */
  readonly mode?: BusyMode;
}

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

/** A snapshot of a conversation for display. */
export interface ConversationInfo {
  readonly id: string;
  readonly state: ConversationStatus;
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

/** What a conversation needs from its runtime. */
export interface ConversationDeps {
  /** Report an error that has nowhere else to go (a throwing listener). */
  readonly report: (error: unknown, conversationId: string) => void;
  /** New submission ids. */
  readonly newId: () => string;
  /** A user message was recorded (for the global message history). */
  readonly onUserMessage?: (conversationId: string, text: string) => void;
  /** Context windows and compaction settings. */
  readonly context?: ContextOptions;
}

/**
 * How a dormant conversation (its log written, no actor yet) comes to life or goes away:
 * `wake` creates and attaches its actor; `retire` gives it up without one (on close).
 */
export interface Dormancy {
  readonly wake: () => void;
  readonly retire: () => void;
}

interface PendingOp {
  readonly resolve: () => void;
  readonly reject: (error: unknown) => void;
  accepted: boolean;
}

interface DurableWaiter {
  readonly seq: number;
  readonly resolve: () => void;
  readonly reject: (error: unknown) => void;
}

const InputSchema = z.array(UserInputItemSchema).check(z.minLength(1));

/**
 * Normalise `input` to parts.
 * @throws {InvalidOpError} when it is empty or malformed.
 */
export function toInputItems(input: Input): UserInputItem[] {
  if (typeof input === 'string') return [{ type: 'text', text: input }];
  const result = fast(InputSchema).safeParse(input);
  if (result.success) return result.data;
  throw new InvalidOpError(toIssues(result.error.issues, input, ['input']), 'input');
}

/** One conversation. Get one from `runtime.start`, `resume` or `fork`. */
export class Conversation implements TurnHost {
  /** The conversation id (a ULID). */
  readonly id: string;
  readonly #deps: ConversationDeps;
  #actor: ConversationActorRef | null = null;
  /** Set while the conversation is dormant: started (its log exists) but its actor not yet created. */
  #dormancy: Dormancy | null = null;
  #fold: ConversationFold;
  #nextItem: number;
  #durableSeq = -1;
  #closed = false;
  #unavailable: Error | null = null;
  readonly #listeners = new Set<Listener>();
  readonly #ops = new Map<string, PendingOp>();
  #waiters: DurableWaiter[] = [];
  readonly #onEmitted = (event: ConversationEmitted): void => this.#emitted(event);

  /** @internal Created by the runtime. */
  constructor(id: string, fold: ConversationFold, deps: ConversationDeps) {
    this.id = id;
    this.#fold = fold;
    this.#nextItem = fold.nextItem;
    this.#deps = deps;
  }

  // ——— wiring (runtime) ———

  /**
   * @internal Leave the conversation dormant: its actor is created on first use (any op, a
   * read of its state that needs the actor, or a subscription), not now.
   */
  sleep(dormancy: Dormancy): void {
    this.#dormancy = dormancy;
  }

  /** Create the actor of a dormant conversation. */
  #wake(): void {
    const dormancy = this.#dormancy;
    if (!dormancy || this.#closed) return;
    this.#dormancy = null;
    dormancy.wake();
  }

  /** @internal Bind a (new) actor; the previous one, if any, is dead. */
  attach(actor: ConversationActorRef, fold?: ConversationFold): void {
    this.#dormancy = null;
    if (fold) {
      this.#fold = fold;
      this.#nextItem = Math.max(this.#nextItem, fold.nextItem);
    }
    this.#actor = actor;
    this.#unavailable = null;
    this.#durableSeq = actor.getSnapshot().context.durableSeq;
    actor.on('*', this.#onEmitted);
  }

  /** @internal The actor failed: ops are refused until it is restarted or given up. */
  markUnavailable(error: Error): void {
    this.#unavailable = error;
    this.#failWaiters(error);
  }

  /** @internal The conversation is gone for good (closed, or not restarted). */
  markClosed(error?: Error): void {
    this.#closed = true;
    this.#dormancy = null;
    if (this.#waiters.length === 0 && this.#ops.size === 0) return;
    this.#failWaiters(error ?? new ConversationClosedError(this.id));
  }

  #failWaiters(error: Error): void {
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const w of waiters) w.reject(error);
    for (const op of this.#ops.values()) op.reject(error);
    this.#ops.clear();
  }

  /** @internal Whether the conversation is dormant (started, its actor not yet created). */
  get dormant(): boolean {
    return this.#dormancy !== null;
  }

  /** The conversation actor (for inspection); a dormant conversation's is created by this read. */
  get actor(): ConversationActorRef | null {
    if (!this.#actor) this.#wake();
    return this.#actor;
  }

  // ——— TurnHost (the agent runner reads these) ———

  /** @internal */
  get history(): readonly ThreadItem[] {
    return this.#fold.history;
  }

  /** @internal */
  get summary(): string | null {
    return this.#fold.summary;
  }

  /** The settings the next turn runs with. */
  get config(): ConversationConfig {
    if (!this.#actor && this.#dormancy && this.#fold.config) return this.#fold.config;
    return this.#snapshot().context.config;
  }

  /** @internal */
  newItemId(): string {
    return `item_${this.#nextItem++}`;
  }

  /** @internal */
  compactionPlan(): { keptFromSeq: number; keptTurns: number; nextItem: number } {
    const ctx = this.#snapshot().context;
    // History ends where the compaction's own turn starts.
    const end = ctx.turn?.startSeq ?? ctx.seq;
    const budget = this.#deps.context?.keepUserTokens ?? DEFAULT_KEEP_USER_TOKENS;
    const kept = planKeptHistory(this.#fold.history, this.#fold.historyBounds, end, budget);
    return { ...kept, nextItem: this.#nextItem };
  }

  /** @internal */
  autoCompactLimit(): number | null {
    return autoCompactLimit(this.config.model, this.#deps.context);
  }

  // ——— state ———

  #snapshot(): ReturnType<ConversationActorRef['getSnapshot']> {
    if (!this.#actor) this.#wake();
    const actor = this.#actor;
    if (!actor) throw new ConversationClosedError(this.id);
    return actor.getSnapshot();
  }

  /** `idle`, `active` (turn admitted), `processing` (output flowing, awaiting approval, committing), `error` or `closed`. */
  get state(): ConversationStatus {
    if (this.#closed) return 'closed';
    if (!this.#actor) return this.#dormancy ? 'idle' : 'closed';
    const snapshot = this.#actor.getSnapshot();
    if (snapshot.status === 'done') return 'closed';
    if (snapshot.status !== 'active') return 'error';
    return statusOf(snapshot.value);
  }

  /** The conversation's name, if set. */
  get name(): string | null {
    if (!this.#actor) return this.#dormancy ? this.#fold.name : null;
    return this.#snapshot().context.name;
  }

  /** Approvals waiting for a decision. */
  get pendingApprovals(): PendingApprovalInfo[] {
    const turn = this.#actor?.getSnapshot().context.turn;
    if (!turn) return [];
    return Object.entries(turn.pending).map(([callId, item]) => ({ turnId: turn.id, callId, item }));
  }

  /** A snapshot for display. */
  info(): ConversationInfo {
    const ctx = this.#snapshot().context;
    return {
      id: this.id,
      state: this.state,
      name: ctx.name,
      config: ctx.config,
      turnId: ctx.turn?.id ?? null,
      pendingApprovals: this.pendingApprovals,
      queued: ctx.queue.length,
      usage: ctx.usage,
      error: ctx.error ? { kind: ctx.error.kind, message: ctx.error.message } : null,
    };
  }

  /** What was found in this conversation's log that was not a clean record, oldest first. */
  readonly logIssues: LogIssue[] = [];

  /** @internal Something was found in this conversation's log (a torn tail repaired, a line skipped). */
  reportLogIssue(issue: LogIssue): void {
    if (this.logIssues.length < 100) this.logIssues.push(issue);
    this.#emitted({ type: 'log.issue', kind: issue.kind, line: issue.line, detail: issue.detail });
  }

  /** The model-visible history (items since the last compaction), oldest first. */
  historyItems(): readonly ThreadItem[] {
    return this.#fold.history;
  }

  // ——— events ———

  #emitted(event: ConversationEmitted): void {
    switch (event.type) {
      case '@colloquy.recorded':
        for (const record of event.records) {
          this.#fold.apply(record);
          if (record.type === 'item' && record.payload.item.type === 'user_message') {
            this.#deps.onUserMessage?.(this.id, record.payload.item.text);
          }
        }
        return;
      case '@colloquy.durable':
        this.#durable(event.seq);
        return;
      case '@colloquy.quiescent':
        return;
      case '@colloquy.accepted': {
        const op = this.#ops.get(event.submissionId);
        if (!op) return;
        op.accepted = true;
        this.#ops.delete(event.submissionId);
        this.#whenDurable(event.seq).then(op.resolve, op.reject);
        return;
      }
      default:
        for (const listener of this.#listeners) {
          try {
            listener(event);
          } catch (err) {
            this.#deps.report(err, this.id);
          }
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

  #whenDurable(seq: number): Promise<void> {
    if (seq <= this.#durableSeq) return Promise.resolve();
    return new Promise((resolve, reject) => this.#waiters.push({ seq, resolve, reject }));
  }

  /**
   * Subscribe to every event. The listener is called at once with `thread.started`, then with
   * each event as it happens. Returns the unsubscribe function. A throwing listener is
   * reported to the runtime's `onError` and does not affect the conversation.
   */
  subscribe(listener: Listener): () => void {
    // A dormant conversation wakes first, so its listeners see one `thread.started`, as ever.
    this.#wake();
    try {
      listener({ type: 'thread.started', thread_id: this.id });
    } catch (err) {
      this.#deps.report(err, this.id);
    }
    this.#listeners.add(listener);
    return () => {
      this.#listeners.delete(listener);
    };
  }

  #listen(listener: Listener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  // ——— ops ———

  #check(): ConversationActorRef {
    if (this.#closed) throw new ConversationClosedError(this.id);
    this.#wake();
    if (this.#unavailable) {
      throw new ColloquyError(
        'conversation_unavailable',
        `conversation ${this.id} failed (${this.#unavailable.message}) and is being restarted from its log; try again shortly`,
      );
    }
    const actor = this.#actor;
    if (!actor || actor.getSnapshot().status !== 'active') throw new ConversationClosedError(this.id);
    return actor;
  }

  /** Why `op` cannot be taken now. */
  #refusal(op: Op): Error {
    const state = this.state;
    const ctx = this.#snapshot().context;
    const invalid = (field: string, message: string): InvalidOpError => new InvalidOpError([{ path: [field], message }]);
    switch (op.type) {
      case 'user_input':
        if (op.mode === 'reject' && (state === 'active' || state === 'processing')) return new ConversationBusyError(this.id, ctx.turn?.id ?? null);
        break;
      case 'approval': {
        const known = Object.keys(ctx.turn?.pending ?? {});
        return invalid(
          'callId',
          known.length > 0
            ? `no pending approval with call id ${JSON.stringify(op.callId)} (pending: ${known.join(', ')})`
            : `no approval is pending (call id ${JSON.stringify(op.callId)})`,
        );
      }
      case 'rollback':
        if (state !== 'idle') return invalid('type', `rollback is only possible when the conversation is idle (it is ${state})`);
        return invalid('turns', `only ${ctx.historyTurns} turn${ctx.historyTurns === 1 ? '' : 's'} can be rolled back`);
      case 'retry':
      case 'reset':
        return invalid('type', `${op.type} is only possible in the error state (the conversation is ${state})`);
      case 'compact':
        return invalid('type', `compact is only possible when no turn is running (the conversation is ${state})`);
    }
    return invalid('type', `${JSON.stringify(op.type)} is not possible while the conversation is ${state}`);
  }

  /**
   * Send a validated op to the actor. Resolves once the records it produced are durable.
   * @throws {InvalidOpError} when the op is malformed or not valid in the current state (nothing changes).
   * @throws {ConversationBusyError} for input with mode `reject` while a turn runs.
   * @throws {ConversationClosedError} when the conversation is closed.
   */
  #dispatch(op: Op, submissionId = this.#deps.newId()): { submissionId: string; done: Promise<void> } {
    const actor = this.#check();
    const event = (
      op.type === 'user_input' || op.type === 'retry' ? { ...op, submissionId, itemId: this.newItemId() } : { ...op, submissionId }
    ) as OpEvent;
    // Input that is not `reject` is taken in every state but closed (checked above); every other
    // op is checked against the machine first.
    if ((op.type !== 'user_input' || op.mode === 'reject') && !actor.getSnapshot().can(event)) throw this.#refusal(op);
    let pending!: PendingOp;
    const done = new Promise<void>((resolve, reject) => {
      pending = { resolve, reject, accepted: false };
    });
    this.#ops.set(submissionId, pending);
    actor.send(event);
    if (!pending.accepted) {
      // Sent from inside the actor's own processing (a listener): it is answered after this
      // macrostep; if it was not taken by then, the state changed under it.
      queueMicrotask(() => {
        if (pending.accepted || !this.#ops.has(submissionId)) return;
        this.#ops.delete(submissionId);
        pending.reject(this.#refusal(op));
      });
    }
    return { submissionId, done };
  }

  /**
   * Submit an op (SPEC §4). Validates it and returns its submission id; the op takes effect
   * at once. Use the promise-returning methods to wait for an op's effects.
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
    const state = this.state;
    return state === 'active' || state === 'processing';
  }

  /**
   * Run a turn and wait for it. With mode `queue` (default) the input becomes its own turn
   * after any running one; with `steer` it joins the running turn (whose result is returned).
   * Resolves after the turn's records are durable.
   * @throws {TurnFailedError} when the turn fails (the conversation is then in `error`).
   * @throws {TurnAbortedError} when it is interrupted (including through `signal`).
   */
  async run(input: Input, options: RunOptions = {}): Promise<TurnResult> {
    const { result } = this.#startTurn(input, options, null);
    return result;
  }

  /**
   * Run a turn and stream its events: `thread.started`, then everything of the turn until its
   * `turn.completed`, `turn.failed` or `turn.aborted` (as the Codex SDK's `runStreamed`).
   * Failures are events here, not exceptions. Breaking out of the loop stops the stream, not the turn.
   */
  async runStreamed(input: Input, options: RunOptions = {}): Promise<StreamedTurn> {
    const queue = new AsyncQueue<ThreadEvent>(() => stop());
    queue.push({ type: 'thread.started', thread_id: this.id });
    const { result, stop } = this.#startTurn(input, options, queue);
    result.then(
      () => queue.end(),
      (err) => (err instanceof TurnFailedError || err instanceof TurnAbortedError ? queue.end() : queue.fail(err)),
    );
    return { events: queue };
  }

  #startTurn(input: Input, options: RunOptions, stream: AsyncQueue<ThreadEvent> | null): { result: Promise<TurnResult>; stop: () => void } {
    const items = toInputItems(input);
    const signal = options.signal;
    if (signal?.aborted) {
      return { result: Promise.reject(new TurnAbortedError('(not started)', 'interrupted')), stop: () => {} };
    }
    let turnId: string | null = null;
    const submissionId = this.#deps.newId();
    let unlisten = (): void => {};
    const collected: ThreadItem[] = [];
    let finish!: (r: TurnResult) => void;
    let fail!: (e: unknown) => void;
    const result = new Promise<TurnResult>((resolve, reject) => {
      finish = resolve;
      fail = reject;
    });
    const onAbort = (): void => {
      if (turnId !== null && this.#actor?.getSnapshot().context.turn?.id === turnId) void this.interrupt().catch(() => {});
    };
    const cleanup = (): void => {
      unlisten();
      signal?.removeEventListener('abort', onAbort);
    };
    unlisten = this.#listen((event) => {
      if (turnId === null) {
        // Find the turn that took this input.
        if (event.type === 'turn.started' && event.turn_id === submissionId) turnId = submissionId;
        else if (event.type === 'item.completed' && event.item.type === 'user_message' && event.item.submission_id === submissionId) {
          turnId = event.turn_id;
        } else if (event.type === 'thread.closed') {
          cleanup();
          fail(new ConversationClosedError(this.id));
          return;
        } else if (event.type === 'error') {
          cleanup();
          fail(new StoreError(`${event.message} (the input is kept and runs after retry)`));
          return;
        } else return;
        if (signal?.aborted) onAbort();
      }
      if ('turn_id' in event && event.turn_id !== turnId) return;
      stream?.push(event);
      switch (event.type) {
        case 'error':
          // The log could not be written: the turn is interrupted and its end is not durable.
          cleanup();
          fail(new StoreError(`${event.message}; retry runs the turn again`));
          return;
        case 'item.completed':
          collected.push(event.item);
          return;
        case 'turn.completed': {
          cleanup();
          let finalResponse = '';
          for (const item of collected) if (item.type === 'agent_message') finalResponse = item.text;
          finish({ turnId: event.turn_id, items: collected, finalResponse, usage: event.turn_usage ?? event.usage });
          return;
        }
        case 'turn.failed':
          cleanup();
          fail(new TurnFailedError(event.turn_id, event.error.message, event.error.code ?? 'turn_failed'));
          return;
        case 'turn.aborted':
          cleanup();
          fail(new TurnAbortedError(event.turn_id, event.reason));
          return;
      }
    });
    signal?.addEventListener('abort', onAbort, { once: true });
    try {
      const dispatched = this.#dispatch({ type: 'user_input', items, mode: options.mode ?? 'queue' }, submissionId);
      // A failure to record the input fails the turn's promise too.
      dispatched.done.catch((err: unknown) => {
        cleanup();
        fail(err);
      });
    } catch (err) {
      cleanup();
      return { result: Promise.reject(err), stop: cleanup };
    }
    return { result, stop: cleanup };
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
    const turnId = this.#actor?.getSnapshot().context.turn?.id;
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
   * Close the conversation: a running turn is interrupted (`turn.aborted`, reason `shutdown`),
   * every record is made durable, `thread.closed` is emitted. Idempotent.
   */
  async close(): Promise<void> {
    if (this.#closed || this.state === 'closed') return;
    const dormancy = this.#dormancy;
    if (dormancy) {
      // Nothing ran and everything it wrote is durable: no actor is needed to close it.
      this.#dormancy = null;
      this.#closed = true;
      for (const listener of this.#listeners) {
        try {
          listener({ type: 'thread.closed' });
        } catch (err) {
          this.#deps.report(err, this.id);
        }
      }
      dormancy.retire();
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
  }
}
