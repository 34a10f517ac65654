/**
 * A runtime as one node of a cluster sharing a store (`Store.cluster`): the requests it routes
 * to the owners of conversations it does not own, and the requests it serves for the
 * conversations it owns. As an Orleans silo forwards a grain call to the silo the directory
 * names, and Akka Cluster Sharding buffers and resends to a shard's new home after a hand-over.
 *
 * - **Calling**: a request waits for its reply; while it waits, the owner's lease is checked
 *   every `checkEveryMs`. Same owner, still live: the request is sent again (same request id,
 *   answered once); another owner, or none (the owner died and its lease expired, or it let
 *   the conversation go): the call ends with a redirect, and the handle places the conversation
 *   again (routing to the new owner, or taking the conversation over itself).
 * - **Serving**: requests are answered once per request id (a resend gets the first answer),
 *   one conversation's requests are taken in the order they arrived, and a request for a
 *   conversation this node does not own is answered with its owner.
 * - **Watching**: handles of conversations owned elsewhere that someone follows are checked
 *   with the same poll, so a turn followed here comes back (taken over here) when its owner dies.
 */
import { serializeError } from '../error-wire.js';
import type { ClusterLink, NodeMessage, RoutedOutcome, RoutedRequest } from '../store/cluster.js';

/**
 * What serving a request takes: the runtime runs it on its own handle of the conversation,
 * calling `taken()` once the conversation has it (the next request for it may then go).
 */
export type ServeRequest = (conversationId: string, request: RoutedRequest, taken: () => void) => Promise<RoutedOutcome>;

/** Options of a cluster node (ms). */
export interface ClusterNodeOptions {
  readonly link: ClusterLink;
  readonly serve: ServeRequest;
  /** How often the owner of a conversation waited on is checked (ms). */
  readonly checkEveryMs: number;
  readonly newId: () => string;
  readonly report: (error: unknown, conversationId?: string) => void;
}

interface Call {
  readonly conversationId: string;
  owner: string;
  readonly message: NodeMessage & { type: 'request' };
  readonly resolve: (outcome: RoutedOutcome) => void;
}

/** How many answered request ids a node remembers, to answer a resend the same way. */
const ANSWERED = 4096;

/** One runtime's side of the cluster (see the module doc). */
export class ClusterNode {
  readonly nodeId: string;
  readonly #o: ClusterNodeOptions;
  readonly #calls = new Map<string, Call>();
  /** Handles followed here whose owner is elsewhere: told when the owner is gone. */
  readonly #watched = new Map<string, { owner: string; gone: (owner: string | null) => void }>();
  /** Requests served (or being served), by request id: a resend gets the same answer. */
  readonly #answers = new Map<string, Promise<RoutedOutcome>>();
  /** Per conversation, the request being taken: the next one waits for it to be taken. */
  readonly #taking = new Map<string, Promise<unknown>>();
  #timer: NodeJS.Timeout | null = null;
  #polling = false;
  readonly #unlisten: () => void;
  #closed = false;

  constructor(options: ClusterNodeOptions) {
    this.#o = options;
    this.nodeId = options.link.nodeId;
    this.#unlisten = options.link.onMessage((message) => this.#received(message));
  }

  /**
   * Send `request` for `conversationId` to its owner and wait for the outcome (see the module
   * doc). Resolves with a redirect when ownership changed, never rejects.
   */
  call(owner: string, conversationId: string, request: RoutedRequest): Promise<RoutedOutcome> {
    if (this.#closed) return Promise.resolve({ ok: false, redirect: null });
    const requestId = this.#o.newId();
    const message = { type: 'request', requestId, from: this.nodeId, conversationId, request } as const;
    return new Promise<RoutedOutcome>((resolve) => {
      this.#calls.set(requestId, { conversationId, owner, message, resolve });
      this.#send(owner, message);
      this.#startPolling();
    });
  }

  /**
   * Tell `gone` once `conversationId` is no longer owned by `owner` (its lease expired or was
   * given up, or another node took it); returns the function that stops watching.
   */
  watch(conversationId: string, owner: string, gone: (owner: string | null) => void): () => void {
    const entry = { owner, gone };
    this.#watched.set(conversationId, entry);
    this.#startPolling();
    return () => {
      if (this.#watched.get(conversationId) === entry) this.#watched.delete(conversationId);
    };
  }

  /** Follow the growth of a conversation's log on every node (see `ClusterLink.follow`). */
  follow(conversationId: string, listener: (lastSeq: number | null) => void): () => void {
    return this.#o.link.follow(conversationId, listener);
  }

  /** Stop: calls still waiting end with a redirect to nobody; nothing more is served. */
  close(): void {
    this.#closed = true;
    this.#unlisten();
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = null;
    const calls = [...this.#calls.values()];
    this.#calls.clear();
    for (const call of calls) call.resolve({ ok: false, redirect: null });
    this.#watched.clear();
  }

  #send(to: string, message: NodeMessage): void {
    this.#o.link.send(to, message).catch((err: unknown) => {
      // The store is unreachable: a call is sent again at the next check, a reply when asked again.
      this.#o.report(err, message.type === 'request' ? message.conversationId : undefined);
    });
  }

  #received(message: NodeMessage): void {
    if (message.type === 'reply') {
      const call = this.#calls.get(message.requestId);
      if (!call) return;
      this.#calls.delete(message.requestId);
      call.resolve(message.outcome);
      return;
    }
    if (this.#closed) return;
    let answer = this.#answers.get(message.requestId);
    if (!answer) {
      answer = this.#serve(message.conversationId, message.request);
      this.#answers.set(message.requestId, answer);
      if (this.#answers.size > ANSWERED) {
        const oldest = this.#answers.keys().next();
        if (!oldest.done) this.#answers.delete(oldest.value);
      }
    }
    void answer.then((outcome) => {
      // A redirect is not remembered: asked again, the node looks again.
      if (!outcome.ok && 'redirect' in outcome) this.#answers.delete(message.requestId);
      this.#send(message.from, { type: 'reply', requestId: message.requestId, from: this.nodeId, outcome });
    });
  }

  /** Serve one request once the conversation has taken its earlier ones (not finished them). */
  #serve(conversationId: string, request: RoutedRequest): Promise<RoutedOutcome> {
    const before = this.#taking.get(conversationId) ?? Promise.resolve();
    let markTaken!: () => void;
    const taken = new Promise<void>((resolve) => (markTaken = resolve));
    this.#taking.set(conversationId, taken);
    void taken.then(() => {
      if (this.#taking.get(conversationId) === taken) this.#taking.delete(conversationId);
    });
    const outcome = before.then(() =>
      this.#o.serve(conversationId, request, markTaken).catch((err: unknown): RoutedOutcome => ({ ok: false, error: serializeError(err) })),
    );
    // However it ends, the next request is not held back by it.
    void outcome.then(markTaken);
    return outcome;
  }

  #startPolling(): void {
    if (this.#timer || this.#closed) return;
    this.#timer = setInterval(() => void this.#poll(), this.#o.checkEveryMs);
    this.#timer.unref();
  }

  /** Check the owners of every conversation waited on or watched, in one query. */
  async #poll(): Promise<void> {
    if (this.#polling) return;
    if (this.#calls.size === 0 && this.#watched.size === 0) {
      if (this.#timer) clearInterval(this.#timer);
      this.#timer = null;
      return;
    }
    this.#polling = true;
    try {
      const ids = new Set<string>();
      for (const call of this.#calls.values()) ids.add(call.conversationId);
      for (const id of this.#watched.keys()) ids.add(id);
      let owners: Map<string, string>;
      try {
        owners = await this.#o.link.ownersOf([...ids]);
      } catch (err) {
        // The store is unreachable: nothing can be taken over either; look again next time.
        this.#o.report(err);
        return;
      }
      for (const [requestId, call] of [...this.#calls]) {
        const owner = owners.get(call.conversationId) ?? null;
        if (owner === call.owner) {
          // Still the owner: the request or its reply may have been lost; it is answered once.
          this.#send(owner, call.message);
          continue;
        }
        this.#calls.delete(requestId);
        call.resolve({ ok: false, redirect: owner });
      }
      for (const [id, entry] of [...this.#watched]) {
        const owner = owners.get(id) ?? null;
        if (owner === entry.owner) continue;
        this.#watched.delete(id);
        try {
          entry.gone(owner);
        } catch (err) {
          this.#o.report(err, id);
        }
      }
    } finally {
      this.#polling = false;
    }
  }
}
