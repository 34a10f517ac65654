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
 * - `remote`: another node of the cluster owns it; its ops are routed to that node and its
 *   events read back from the records it commits (see `cluster.ts`, `remote.ts`). When that
 *   node dies or lets it go, the next op (or a followed turn) takes it over here;
 * - `closed`.
 * Every activation goes through the supervisor; ops that arrive while the conversation is being
 * brought back wait for it there, in order.
 */
import type { AnyEventObject } from 'xstate';
import type { ConversationActorRef, ConversationContext, ConversationEmitted, ConversationStatus, OpEvent } from '../../machines/conversation.machine.js';
import { isQuiescent, statusOf, threadStarted } from '../../machines/conversation.machine.js';
import type { ConversationSeed } from '../../machines/shard.machine.js';
import { reviveError } from '../error-wire.js';
import { ColloquyError, ConversationClosedError, LeaseLostError, RuntimeClosedError } from '../errors.js';
import type { ConversationFold } from '../log/fold.js';
import type { LogIssue } from '../log/types.js';
import type { ThreadEvent } from '../protocol/events.js';
import type { ThreadItem } from '../protocol/items.js';
import type { Op } from '../protocol/ops.js';
import type { ConversationConfig, LogRecord } from '../protocol/records.js';
import { parseOp } from '../protocol/validate.js';
import type { RoutedRequest } from '../store/cluster.js';
import { autoCompactLimit, DEFAULT_KEEP_USER_TOKENS, planKeptHistory } from './context-window.js';
import type { ConversationDeps, ConversationInfo, Listener, PendingApprovalInfo, Residency, SnapshotView } from './conversation-types.js';
import { PendingOps, type SentOp } from './pending-ops.js';
import { refusal } from './refusal.js';
import type { RemoteFollower } from './remote.js';
import type { TurnHost } from './runner.js';

/** How many times a routed request follows its conversation to a new owner before it fails. */
const MAX_HOPS = 8;

/** The append event a conversation actor takes (see `Conversation.appendRecords`). */
type AppendRecordsEvent = Extract<Parameters<ConversationActorRef['send']>[0], { type: 'records.append' }>;

/** The plumbing of a conversation handle; see `Conversation`. */
export abstract class ConversationCore implements TurnHost {
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
  /** While another node owns it: that node and the records followed from its log. */
  #remote: RemoteFollower | null = null;
  /** Stops watching the owner of a remote conversation someone follows. */
  #unwatch: (() => void) | null = null;
  /** Requests routed to the owner and not answered yet. */
  #routing = 0;

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

  /** Where the conversation lives now: `active`, `dormant`, `passivated`, `remote` or `closed`. */
  get residency(): Residency {
    return this.#residency;
  }

  /** The node that owns the conversation while it is `remote`; null otherwise. */
  get owner(): string | null {
    return this.#remote?.owner ?? null;
  }

  /**
   * @internal Another node owns the conversation (its lease is that node's): from now on its ops
   * are routed there and its events read back from its log. `fold` is its state read from its
   * log; `buffered` the events that waited for an activation here, routed in order.
   */
  becomeRemote(owner: string, fold: ConversationFold, buffered: readonly AnyEventObject[]): void {
    const cluster = this.#deps.cluster;
    if (!cluster) throw new Error('a conversation can only be remote in a cluster');
    this.#residency = 'remote';
    this.#activating = false;
    this.#actor = null;
    this.#rest = null;
    if (this.#remote) {
      // Followed already (a take-over that found another owner first): it goes on from where it read.
      this.#remote.owner = owner;
      this.#fold = this.#remote.fold;
    } else {
      this.#fold = fold;
      this.#remote = cluster.follower(this.id, owner, fold, (record, events) => this.#followed(record, events));
    }
    this.#nextItem = Math.max(this.#nextItem, this.#fold.nextItem);
    this.#remote.start();
    this.#syncWatch();
    const activated = this.#activated;
    this.#activated = null;
    activated?.resolve();
    for (const event of buffered) this.#routeBuffered(event);
  }

  /** A record the owner committed, read back here: its events go to the listeners. */
  #followed(record: LogRecord, events: readonly ThreadEvent[]): void {
    this.#used();
    this.#nextItem = Math.max(this.#nextItem, this.#fold?.nextItem ?? 0);
    this.#lastRecorded = [record];
    for (const event of events) this.#tell(event);
  }

  /** An event that waited for an activation here, sent to the owner instead. */
  #routeBuffered(event: AnyEventObject): void {
    const submissionId = (event as { submissionId?: string }).submissionId;
    const waiting = submissionId !== undefined ? this.#pending.take(submissionId) : undefined;
    const request = requestOf(event);
    if (!request) {
      waiting?.reject(new ConversationClosedError(this.id));
      return;
    }
    this.#request(request, waiting?.onAccepted).then(waiting?.resolve, waiting?.reject ?? (() => {}));
  }

  /** Watch the owner while someone listens (a turn followed here comes back if the owner dies). */
  #syncWatch(): void {
    const cluster = this.#deps.cluster;
    const remote = this.#remote;
    const wanted = cluster !== undefined && remote !== null && this.#residency === 'remote' && this.#listeners.size > 0;
    if (!wanted) {
      this.#unwatch?.();
      this.#unwatch = null;
      return;
    }
    if (this.#unwatch) return;
    this.#unwatch = cluster.node.watch(this.id, remote.owner, (owner) => {
      this.#unwatch = null;
      void this.#place(owner).catch((err: unknown) => this.#deps.report(err, this.id));
    });
  }

  /**
   * Ownership changed (`owner` now, null: nobody): follow it to its new owner, or take the
   * conversation over here (its actor comes back from its log, pending approvals and queued
   * input included). Resolves once it is placed.
   */
  async #place(owner: string | null): Promise<void> {
    const cluster = this.#deps.cluster;
    if (!cluster) return;
    if (this.#residency === 'remote' && this.#remote && owner !== null && owner !== cluster.node.nodeId) {
      this.#remote.owner = owner;
      this.#unwatch?.();
      this.#unwatch = null;
      this.#syncWatch();
      return;
    }
    if (this.#residency === 'remote') {
      this.#unwatch?.();
      this.#unwatch = null;
      // Its remote state is kept until the log is read back here (`leaveRemote`).
      this.#residency = 'passivated';
    }
    if (this.#residency === 'closed' || this.#residency === 'active') return;
    await this.wake();
  }

  /**
   * @internal The conversation is being taken over here: every record its last owner wrote is
   * read and told first, then following stops (this node writes the log from now on).
   */
  async leaveRemote(): Promise<void> {
    const remote = this.#remote;
    if (!remote) return;
    await remote.catchUp();
    remote.stop();
    if (this.#remote === remote) this.#remote = null;
  }

  /**
   * Send `request` where the conversation lives now: routed to its owner, following it across
   * ownership changes (at most `MAX_HOPS`), or taken here once it is local (an op already in the
   * log, taken before a failover, is not taken again). Resolves as the op would locally.
   */
  async #request(request: RoutedRequest, onAccepted?: (records: readonly LogRecord[]) => void): Promise<void> {
    const cluster = this.#deps.cluster;
    for (let hop = 0; ; hop++) {
      const remote = this.#remote;
      if (this.#residency !== 'remote' || !remote || !cluster) return this.#here(request, onAccepted);
      this.#routing++;
      let outcome;
      try {
        outcome = await cluster.node.call(remote.owner, this.id, request);
      } finally {
        this.#routing--;
      }
      if (outcome.ok) {
        // Its records are read here before the caller goes on (they are durable on the owner).
        await remote.catchUp();
        onAccepted?.(outcome.records ?? []);
        return;
      }
      if ('error' in outcome) throw reviveError(outcome.error);
      if (hop >= MAX_HOPS) {
        throw new ColloquyError('conversation_unavailable', `conversation ${this.id} changed owner ${hop} times while a request was routed to it; try again`);
      }
      if (this.#deps.closing()) throw new RuntimeClosedError();
      await this.#place(outcome.redirect);
    }
  }

  /** A request taken on this node (the conversation is local now). */
  #here(request: RoutedRequest, onAccepted?: (records: readonly LogRecord[]) => void): Promise<void> {
    switch (request.kind) {
      case 'op':
        if (this.#fold?.hasSubmission(request.submissionId)) return Promise.resolve();
        if (request.op.type === 'shutdown') return this.close();
        return this.#dispatch(request.op, request.submissionId).done;
      case 'append':
        return this.#send(
          {
            type: 'records.append',
            submissionId: request.submissionId,
            drafts: request.drafts,
            remember: request.remember,
            ...(request.expectedSeq !== undefined ? { expectedSeq: request.expectedSeq } : {}),
          },
          { type: 'records.append', ...(request.expectedSeq !== undefined ? { expectedSeq: request.expectedSeq } : {}) },
          true,
          onAccepted,
        );
      case 'close':
        return this.close();
      case 'end':
        return this.end();
    }
  }

  /** Route `request` to the owner (see `#request`), for the public API's close and end. */
  protected routed(request: RoutedRequest): Promise<void> {
    return this.#request(request);
  }

  /** @internal Whether a remote conversation may be let go at `now` (ms): nobody listens, nothing is routed, unused for `idleMs`. */
  remoteIdleFor(now: number, idleMs: number): boolean {
    return this.#residency === 'remote' && this.#listeners.size === 0 && this.#routing === 0 && now - this.#lastUse >= idleMs;
  }

  /** @internal Stop following a remote conversation (idle, or its runtime shutting down): it is `passivated`, and comes back on its next use. */
  letGo(): void {
    if (this.#residency !== 'remote') return;
    this.#remote?.stop();
    this.#remote = null;
    this.#unwatch?.();
    this.#unwatch = null;
    this.#fold = null;
    this.#residency = 'passivated';
  }

  /** Close the conversation (see `Conversation.close`). */
  abstract close(): Promise<void>;

  /** End the conversation without writing more (see `Conversation.end`). */
  abstract end(): Promise<void>;

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
    error ??= this.#lost ?? undefined;
    this.#residency = 'closed';
    this.#remote?.stop();
    this.#remote = null;
    this.#unwatch?.();
    this.#unwatch = null;
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
    if (this.#residency === 'closed' || this.#residency === 'active' || this.#residency === 'remote' || this.#activating) return;
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
    if (this.#residency === 'active' || this.#residency === 'remote') return;
    if (this.#deps.closing()) throw new RuntimeClosedError();
    const active = this.whenActive();
    this.#wake();
    await active;
  }

  /** @internal Resolves when an actor is next attached, or another node is found to own it (at once when either holds); rejects when activation fails. */
  whenActive(): Promise<void> {
    if (this.#residency === 'active' || this.#residency === 'remote') return Promise.resolve();
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
    if (this.#residency === 'remote') return remoteStatus(this.#fold);
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
    if (this.#residency === 'remote') return this.#fold?.pendingApprovals() ?? [];
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
    if (this.#residency === 'remote') return remoteStatus(this.#fold);
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
      ...(this.#remote ? { owner: this.#remote.owner } : {}),
      name: this.name,
      config: this.config,
      turnId: this.runningTurnId(),
      pendingApprovals: this.pendingApprovals,
      queued: this.#residency === 'remote' ? (this.#fold?.pendingInput().length ?? 0) : (ctx?.queue.length ?? 0),
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
        // Another owner took the conversation over: nothing more can be written here. It stops
        // (once the actor's own step is over), and whoever waits is told why.
        if (event.code === 'lease_lost' && !this.#lost) {
          this.#lost = new LeaseLostError(this.id, null);
          queueMicrotask(() => this.#deps.terminate(this.id));
        }
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
  /** Another owner took it over (its lease was lost): it stopped, and ops are refused with this. */
  #lost: LeaseLostError | null = null;

  /** @internal Its lease was lost (another node or process owns it now): it stops without writing anything more. */
  leaseLost(error: LeaseLostError): void {
    if (this.#lost || this.#residency === 'closed') return;
    this.#lost = error;
    this.#deps.terminate(this.id);
  }

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
    this.#syncWatch();
    let subscribed = true;
    return () => {
      if (!subscribed) return;
      subscribed = false;
      this.#listeners.delete(listener);
      this.#subscribers--;
      this.#observed();
      this.#syncWatch();
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
    this.#syncWatch();
    return () => {
      this.#listeners.delete(listener);
      this.#syncWatch();
    };
  }

  // ——— ops ———

  #refusalOf(op: SentOp): Error {
    const ctx = this.#view();
    if (!ctx) return new ConversationClosedError(this.id);
    return refusal(this.id, op, this.#status(), ctx);
  }

  /** Throw unless ops can be taken now (while the runtime shuts down, only closing). */
  #check(closing: boolean): void {
    if (this.#lost) throw this.#lost;
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
    if (this.#residency === 'remote') {
      const request = requestOf(event);
      if (!request) return Promise.reject(new ConversationClosedError(this.id));
      this.#used();
      return this.#request(request, onAccepted);
    }
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
    if (this.#residency === 'remote') {
      this.#check(op.type === 'shutdown');
      this.#used();
      return { submissionId, done: this.#request({ kind: 'op', op, submissionId }) };
    }
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
    if (this.#residency === 'remote') return this.#fold?.openTurnId ?? null;
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

/** The status a remote conversation's records give it (its owner's actor has the exact one). */
function remoteStatus(fold: ConversationFold | null): ConversationStatus {
  switch (fold?.phase()) {
    case 'turn':
    case 'awaiting_approval':
      return 'processing';
    case 'failed':
      return 'error';
    default:
      return 'idle';
  }
}

/** The request an event for the actor stands for, to route it to another node (null: none). */
function requestOf(event: AnyEventObject): RoutedRequest | null {
  const { submissionId, itemId: _itemId, ...rest } = event as AnyEventObject & { submissionId?: string; itemId?: string };
  if (submissionId === undefined) return null;
  if (event.type === 'records.append') {
    const e = event as AppendRecordsEvent;
    return { kind: 'append', drafts: e.drafts, submissionId, remember: e.remember ?? true, ...(e.expectedSeq !== undefined ? { expectedSeq: e.expectedSeq } : {}) };
  }
  if (event.type === 'shutdown') return { kind: 'close' };
  return { kind: 'op', op: rest as Op, submissionId };
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
