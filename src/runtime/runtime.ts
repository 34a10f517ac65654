/**
 * The runtime (SPEC §3): the public API over one actor system. Its root is the supervisor,
 * which owns every activation through its shard supervisors and the persistence actor, the one
 * door to the log (`system.ts` builds it). The runtime keeps the handles (`Conversation`) and
 * carries out what the supervisor decides: attaching actors to handles, reading logs back,
 * leases.
 */
import { resolve } from 'node:path';
import { waitFor } from 'xstate';
import type { ConversationContext } from '../../machines/conversation.machine.js';
import type { ActivationOrigin, ConversationSeed } from '../../machines/shard.machine.js';
import type { Agent } from '../agents/agent.js';
import { localAgent } from '../agents/local.js';
import { ConversationHasForksError, InvalidOpError, LeaseLostError, RuntimeClosedError, SessionNotFoundError, ShutdownError, StoreError } from '../errors.js';
import { ConversationFold } from '../log/fold.js';
import { replay } from '../log/replay.js';
import type { LogIssue, ReadMode } from '../log/types.js';
import { assertConversationId, idTime, newConversationId } from '../protocol/ids.js';
import { LOG_FORMAT_VERSION, SessionMetaPayloadSchema, type ConversationConfig, type SessionMetaPayload } from '../protocol/records.js';
import { parseOrThrow } from '../protocol/validate.js';
import { FileStore } from '../store/file-store.js';
import type { Durability, ListPage, ListQuery, MessageHistoryReader, Store } from '../store/store.js';
import { systemClock } from './clock.js';
import { Conversation, type ConversationDeps } from './conversation.js';
import {
  DEFAULT_PASSIVATE_AFTER_MS,
  defaultHome,
  ForkOptionsSchema,
  StartOptionsSchema,
  type ConversationRecord,
  type ForkOptions,
  type RuntimeOptions,
  type StartOptions,
} from './options.js';
import { Activations } from './activations.js';
import { ClusterNode } from './cluster.js';
import { RemoteFollower } from './remote.js';
import type { RoutedOutcome, RoutedRequest } from '../store/cluster.js';
import { planFork } from './fork-plan.js';
import { Leases } from './leases.js';
import { Registry } from './registry.js';
import type { RuntimeEvent } from './runtime-events.js';
import { startSystem, type ActorSystem } from './system.js';

export type { RuntimeEvent } from './runtime-events.js';

export {
  DEFAULT_PASSIVATE_AFTER_MS,
  defaultHome,
  type ConversationRecord,
  type ForkOptions,
  type InspectionObserver,
  type RuntimeOptions,
  type StartOptions,
} from './options.js';

function warn(error: unknown, context: { conversationId?: string }): void {
  const message = error instanceof Error ? error.message : String(error);
  process.emitWarning(`${context.conversationId ? `conversation ${context.conversationId}: ` : ''}${message}`, { code: 'COLLOQUY' });
}

/** A Colloquy runtime. Create it with `createRuntime`. */
export class Runtime {
  /** Everything the runtime persists: logs, listing, leases, message history. */
  readonly store: Store;
  /** The agent turns run. */
  readonly agent: Agent;
  /** When commits are acknowledged. */
  readonly durability: Durability;
  /** After this long (ms) with nothing to do and nobody subscribed, a conversation is passivated (0: never). */
  readonly passivateAfterMs: number;
  readonly #options: RuntimeOptions;
  readonly #registry = new Registry();
  readonly #loading = new Map<string, Promise<Conversation>>();
  /** The write leases this runtime holds. */
  readonly #leases: Leases;
  readonly #activations: Activations;
  readonly #listeners = new Set<(event: RuntimeEvent) => void>();
  readonly #system: ActorSystem;
  readonly #deps: ConversationDeps;
  /** This runtime as a node of the cluster sharing its store, when it is shared. */
  readonly #cluster: ClusterNode | null;
  #closed = false;
  #shutdown: Promise<void> | null = null;

  constructor(options: RuntimeOptions = {}) {
    this.#options = options;
    this.durability = options.durability ?? 'sync';
    this.passivateAfterMs = options.passivateAfterMs ?? DEFAULT_PASSIVATE_AFTER_MS;
    if (!(Number.isFinite(this.passivateAfterMs) && this.passivateAfterMs >= 0)) {
      throw new InvalidOpError([{ path: ['passivateAfterMs'], message: 'expected a number of ms ≥ 0 (0: never passivate)' }], 'runtime options');
    }
    this.store =
      options.store ??
      new FileStore({
        home: options.home ?? defaultHome(),
        ...(options.readMode ? { mode: options.readMode } : {}),
        ...(options.history ? { history: options.history } : {}),
      });
    const nodeId = options.node?.id;
    if (nodeId !== undefined) {
      if (!this.store.assignNodeId) {
        throw new InvalidOpError([{ path: ['node', 'id'], message: `${this.store.description} is not shared by a cluster of nodes (use postgresStore)` }], 'runtime options');
      }
      this.store.assignNodeId(nodeId);
    }
    this.store.watchIssues?.((issue) => this.#logIssue(issue));
    // Another node or process took a conversation over: it stops here, writing nothing more.
    this.store.watchLeases?.((id) => this.#registry.get(id)?.leaseLost(new LeaseLostError(id, null)));
    this.#leases = new Leases(this.store, (err, id) => this.#report(err, id));
    const link = this.store.cluster;
    this.#cluster = link
      ? new ClusterNode({
          link,
          serve: (id, request, taken) => this.#serveRouted(id, request, taken),
          // Often enough that a dead owner's conversation is taken over soon after its lease expires.
          checkEveryMs: Math.max(50, Math.min(1000, Math.floor(link.leaseTtlMs / 4))),
          newId: newConversationId,
          report: (err, id) => this.#report(err, id),
        })
      : null;
    this.#activations = new Activations({
      ...(link ? { nodeId: link.nodeId } : {}),
      store: this.store,
      registry: this.#registry,
      leases: this.#leases,
      system: () => this.#system,
      ...(options.readMode ? { readMode: options.readMode } : {}),
      report: (err, id) => this.#report(err, id),
      tell: (event) => this.#tell(event),
    });
    this.agent = options.agent ?? localAgent();
    const clock = options.clock ?? systemClock;
    this.#system = startSystem({
      store: this.store,
      agent: this.agent,
      durability: this.durability,
      ...(options.fsyncIntervalMs !== undefined ? { fsyncIntervalMs: options.fsyncIntervalMs } : {}),
      clock,
      ...(options.inspect ? { inspect: options.inspect } : {}),
      ...(options.restartPolicy ? { restartPolicy: options.restartPolicy } : {}),
      ...(options.shards !== undefined ? { shards: options.shards } : {}),
      passivateAfterMs: this.passivateAfterMs,
      host: (id) => this.#registry.get(id),
      effects: this.#activations,
      onError: (err) => this.#report(err),
    });
    this.#deps = {
      report: (err, id) => this.#report(err, id),
      newId: newConversationId,
      ...(options.context ? { context: options.context } : {}),
      closing: () => this.#closed,
      activate: (id, seed) => {
        this.#holdWhileActivating(id);
        this.#system.send({ type: 'conversation.activate', id, origin: 'wake', ...(seed ? { seed } : {}) });
      },
      deliver: (id, event, seed) => {
        this.#holdWhileActivating(id);
        this.#system.send({ type: 'conversation.deliver', id, event, ...(seed ? { seed } : {}) });
      },
      now: () => clock.now(),
      terminate: (id) => this.#system.send({ type: 'conversation.terminate', id }),
      preview: (rest) => this.#system.preview(rest),
      ...(this.#cluster ? { cluster: this.#clusterDeps(this.#cluster) } : {}),
    };
  }

  #clusterDeps(node: ClusterNode): NonNullable<ConversationDeps['cluster']> {
    return {
      node,
      follower: (id, owner, fold, onRecord) =>
        new RemoteFollower(owner, fold, {
          id,
          store: this.store,
          cluster: node,
          ...(this.#options.readMode ? { readMode: this.#options.readMode } : {}),
          onRecord,
          report: (err) => this.#report(err, id),
        }),
      forget: (id) => {
        const handle = this.#registry.get(id);
        if (handle?.residency === 'closed') this.#registry.remove(id, handle);
      },
    };
  }

  /**
   * A request another node routed here for a conversation it found this node owns: taken on
   * this node's handle (brought back from its log when it was passivated here, or taken over
   * when nobody owns it), or answered with its owner when another node has it now.
   */
  async #serveRouted(id: string, request: RoutedRequest, taken: () => void): Promise<RoutedOutcome> {
    if (this.#closed) return { ok: false, redirect: null };
    let handle = this.#registry.get(id);
    if (!handle || handle.residency === 'closed') handle = await this.resume(id);
    else await handle.wake();
    return handle.serveRouted(request, taken);
  }

  /** A conversation being brought back is held (a shutdown closes it, and it is not collected meanwhile). */
  #holdWhileActivating(id: string): void {
    const handle = this.#registry.get(id);
    if (handle) this.#registry.hold(handle);
  }

  #report(error: unknown, conversationId?: string): void {
    try {
      (this.#options.onError ?? warn)(error, conversationId ? { conversationId } : {});
    } catch {
      // An error reporter that throws has nowhere left to report to.
    }
  }

  #tell(event: RuntimeEvent): void {
    for (const listener of this.#listeners) {
      try {
        listener(event);
      } catch (err) {
        this.#report(err, event.conversationId);
      }
    }
  }

  /** A log issue: to `onLogIssue`, and as an event to its conversation when it has a handle. */
  #logIssue(issue: LogIssue): void {
    try {
      this.#options.onLogIssue?.(issue);
    } catch (err) {
      this.#report(err);
    }
    const id = issue.conversationId;
    if (id !== undefined && !this.#activations.hydrating(id)) this.#registry.get(id)?.reportLogIssue(issue);
  }

  #readOptions(): { mode?: ReadMode } {
    return this.#options.readMode ? { mode: this.#options.readMode } : {};
  }

  #open(): void {
    if (this.#closed) throw new RuntimeClosedError();
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
    this.#system.send({ type: 'conversation.terminate', id: handle.id });
    throw new StoreError(`could not create conversation ${handle.id} in ${this.store.description}: ${message}`);
  }

  /** Activate a new handle from `seed` (a fork) and wait for its actor. */
  async #activate(handle: Conversation, origin: ActivationOrigin, seed?: ConversationSeed): Promise<Conversation> {
    this.#registry.hold(handle);
    const active = handle.whenActive();
    this.#system.send({ type: 'conversation.activate', id: handle.id, origin, ...(seed ? { seed } : {}) });
    await active;
    return handle;
  }

  // ——— public API ———

  /**
   * Start a new conversation. Resolves once its log exists (its `session_meta` is durable); the
   * conversation is dormant (no actor) until it is first used.
   * @throws {InvalidOpError} for bad options (naming the field).
   * @throws {StoreError} when the log cannot be created.
   * @throws {RuntimeClosedError} after `shutdown`.
   */
  async start(options: StartOptions = {}): Promise<Conversation> {
    this.#open();
    // Validated first: `null` or a non-object (a JSON body of `null`) is an InvalidOpError too.
    const o = parseOrThrow(StartOptionsSchema, options, 'start options');
    // A parsed object drops an own `__proto__` key: refused, so metadata is never silently lost.
    if (options.metadata && Object.hasOwn(options.metadata, '__proto__')) {
      throw new InvalidOpError([{ path: ['metadata', '__proto__'], message: 'a metadata key cannot be "__proto__"' }], 'start options');
    }
    const defaults = this.#options.defaults ?? {};
    const id = newConversationId();
    const config: ConversationConfig = {
      model: o.model ?? defaults.model ?? 'local',
      cwd: resolve(o.cwd ?? defaults.cwd ?? process.cwd()),
      approvalPolicy: o.approvalPolicy ?? defaults.approvalPolicy ?? 'on-request',
      ...(o.instructions !== undefined || defaults.instructions !== undefined ? { instructions: o.instructions ?? defaults.instructions } : {}),
      ...(o.sandbox !== undefined ? { sandbox: o.sandbox } : {}),
      ...(o.networkAccess !== undefined ? { networkAccess: o.networkAccess } : {}),
      ...(o.writableRoots !== undefined ? { writableRoots: o.writableRoots } : {}),
      ...(o.outputSchema !== undefined ? { outputSchema: o.outputSchema } : {}),
    };
    return this.#startDormant({
      format: LOG_FORMAT_VERSION,
      id,
      created_at: new Date(idTime(id)).toISOString(),
      config,
      ...(o.name !== undefined ? { name: o.name } : {}),
      ...(o.metadata !== undefined ? { metadata: o.metadata } : {}),
      source: 'colloquy',
    });
  }

  /**
   * Create a conversation from a complete header (for importers and adapters that write their
   * own records, such as the Codex import and the Agents SDK session): `meta.id` must be a new
   * conversation id. Resolves once the header is durable; the conversation is dormant.
   * @throws {InvalidOpError} for a header that is not a valid `session_meta` (naming the field).
   * @throws {InvalidIdError} for a malformed id; {@link StoreError} when the log cannot be created
   *   (one with this id exists).
   */
  async create(meta: SessionMetaPayload): Promise<Conversation> {
    this.#open();
    const header = parseOrThrow(SessionMetaPayloadSchema, meta, 'session_meta');
    assertConversationId(header.id);
    if (header.forked_from) throw new InvalidOpError([{ path: ['forked_from'], message: 'use runtime.fork to fork a conversation' }], 'session_meta');
    if (this.#registry.get(header.id) || (await this.store.exists(header.id))) {
      throw new StoreError(`conversation ${header.id} already exists in ${this.store.description}`, { code: 'conversation_exists' });
    }
    return this.#startDormant(header);
  }

  /**
   * A new conversation: its shard writes its `session_meta` through the persistence actor and,
   * once it is durable, the handle is returned without an actor (dormant). The actor is created,
   * from the fold of that one record, when the conversation is first used.
   */
  async #startDormant(meta: SessionMetaPayload): Promise<Conversation> {
    const id = meta.id;
    await this.#leases.acquire(id);
    const started = this.#activations.whenStarted(id);
    this.#system.send({ type: 'conversation.start', id, meta });
    const failure = await started;
    if (failure !== null) {
      void this.#leases.release(id);
      throw new StoreError(`could not create conversation ${id} in ${this.store.description}: ${failure.message}`);
    }
    const fold = new ConversationFold();
    fold.apply({ ts: meta.created_at, seq: 0, type: 'session_meta', payload: meta });
    const handle = new Conversation(id, fold, this.#deps, 'dormant');
    this.#registry.hold(handle);
    return handle;
  }

  /**
   * Resume a conversation from its log: its history, its pending approvals and its queued
   * input come back. Returns the conversation's handle if the runtime has one (brought back
   * into memory when it was passivated).
   * @throws {InvalidIdError} for a malformed id; {@link SessionNotFoundError} when it does not exist.
   * @throws {SessionLockedError} naming the holder when another live process writes it.
   * @throws {CorruptLogError} when its log has a bad line (strict mode).
   */
  async resume(conversationId: string): Promise<Conversation> {
    this.#open();
    const id = assertConversationId(conversationId);
    const known = this.#registry.get(id);
    if (known && known.residency !== 'closed') {
      await known.wake();
      return known;
    }
    const loading = this.#loading.get(id);
    if (loading) return loading;
    const handle = new Conversation(id, null, this.#deps, 'activating');
    const load = this.#activate(handle, 'resume').catch((err: unknown) => {
      this.#registry.remove(id, handle);
      throw err;
    });
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
    const plan = await planFork(this.store, id, o, this.#readOptions());
    const childId = plan.id;
    await this.#leases.acquire(childId);
    const handle = new Conversation(childId, plan.fold, this.#deps, 'activating');
    try {
      await this.#activate(handle, 'fork', plan.seed);
    } catch (err) {
      this.#registry.remove(childId, handle);
      void this.#leases.release(childId);
      throw err;
    }
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

  /** The conversation with this id, if the runtime has a handle for it (active, dormant or passivated). */
  get(id: string): Conversation | undefined {
    return this.#registry.get(id.toUpperCase());
  }

  /** This runtime's node id in the cluster sharing its store; null when its store is not shared. */
  get nodeId(): string | null {
    return this.store.cluster?.nodeId ?? null;
  }

  /** Conversations the runtime holds now: active, dormant, or being brought back (passivated ones are not held). */
  get resident(): number {
    return this.#registry.held;
  }

  /** The global message history of the store: every user message of every conversation, newest first. */
  get history(): MessageHistoryReader {
    return this.store.history;
  }

  /** Follow what happens to conversations (activations, passivations, ends); returns the unsubscribe function. */
  subscribe(listener: (event: RuntimeEvent) => void): () => void {
    this.#listeners.add(listener);
    return () => {
      this.#listeners.delete(listener);
    };
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
   * Delete a conversation for good: its actor is stopped if it runs (nothing more is written),
   * then its log, side files and listing entry are removed.
   * @throws {ConversationHasForksError} when conversations were forked from it (they read their
   *   first turns from its log); nothing is deleted.
   */
  async delete(conversationId: string): Promise<void> {
    this.#open();
    const id = assertConversationId(conversationId);
    const forks = await this.forks(id);
    if (forks.length > 0) throw new ConversationHasForksError(id, forks);
    // In a cluster, a conversation another node runs is stopped there first.
    const known = this.#registry.get(id) ?? (this.#cluster && (await this.store.exists(id)) ? await this.resume(id) : undefined);
    if (known) {
      await known.end();
      // What it sent before it stopped is written (or dropped) before its log goes.
      await this.#system.flush();
    }
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
   * durable, stop every actor and close the store. Nothing new is taken from the first call on.
   * Idempotent while it runs.
   * @throws {ShutdownError} naming each conversation whose records could not be written (a full
   *   disk, say): nothing was dropped, those conversations stay in memory with their records,
   *   and calling `shutdown()` again retries.
   */
  shutdown(): Promise<void> {
    if (this.#shutdown) return this.#shutdown;
    this.#closed = true;
    this.#shutdown = (async () => {
      const handles = this.#registry.heldHandles();
      const results = await Promise.allSettled(handles.map((c) => c.close()));
      const failures = results.flatMap((r, i) =>
        r.status === 'rejected' ? [{ conversationId: (handles[i] as Conversation).id, error: r.reason instanceof Error ? r.reason : new Error(String(r.reason)) }] : [],
      );
      if (failures.length > 0) {
        this.#shutdown = null;
        throw new ShutdownError(failures);
      }
      await this.#system.shutdown(() => this.#drain());
    })();
    return this.#shutdown;
  }

  /** The supervisor's drain: whatever is still held is closed, every record flushed, the store closed (its leases given up). */
  async #drain(): Promise<void> {
    const results = await Promise.allSettled(this.#registry.heldHandles().map((c) => c.close()));
    for (const r of results) if (r.status === 'rejected') this.#report(r.reason);
    await this.#system.flush();
    // Requests still routed to other nodes end here (a shutting-down node takes nothing over).
    this.#cluster?.close();
    for (const handle of this.#registry.weakHandles()) handle.letGo();
    await this.store.close();
  }
}

/** The context of a conversation snapshot (re-exported for clients that show it). */
export type { ConversationContext };

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
