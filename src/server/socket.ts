/**
 * One WebSocket client of the control server: its subscriptions to conversations (events in
 * order, then `state` messages when the statechart moves) and the ops it submits.
 */
import type { WebSocket } from 'ws';
import { InvalidOpError } from '../errors.js';
import { assertConversationId } from '../protocol/ids.js';
import type { ThreadEvent } from '../protocol/events.js';
import { parseOp, toIssues } from '../protocol/validate.js';
import type { Conversation } from '../runtime/conversation.js';
import type { Runtime, RuntimeEvent } from '../runtime/runtime.js';
import { VERSION } from '../version.js';
import { describeError } from './http.js';
import { ClientMessageSchema, type ClientMessage, type ServerMessage } from './messages.js';
import { conversationState, stateKey, statechart } from './state.js';

/** How a session treats its client. */
export interface SessionOptions {
  /** A client with more unsent bytes than this is disconnected (close code 1013). */
  readonly maxBacklogBytes: number;
}

interface Subscription {
  readonly conversation: Conversation;
  unsubscribe: () => void;
  /** The actor whose snapshots are watched (a restarted conversation gets a new one). */
  actor: Conversation['actor'];
  stopWatching: () => void;
  /** Events sent so far. */
  n: number;
  lastKey: string;
  lastActive: string | null;
  scheduled: boolean;
  /** Send the highlighted statechart with states whose active nodes changed. */
  readonly diagram: boolean;
}

/** Serves one WebSocket connection. */
export class ClientSession {
  readonly #ws: WebSocket;
  readonly #runtime: Runtime;
  readonly #options: SessionOptions;
  readonly #subs = new Map<string, Subscription>();
  /** Messages are handled one after another, so a subscribe is done before the submit that follows it. */
  #queue: Promise<void> = Promise.resolve();
  #closed = false;

  constructor(ws: WebSocket, runtime: Runtime, options: SessionOptions) {
    this.#ws = ws;
    this.#runtime = runtime;
    this.#options = options;
    ws.on('message', (data, isBinary) => {
      const text = isBinary ? null : data.toString();
      this.#queue = this.#queue.then(() => this.#handle(text));
    });
    ws.on('close', () => this.dispose());
    ws.on('error', () => ws.terminate());
    this.#send({ type: 'hello', version: VERSION });
  }

  /** Conversations this client is subscribed to. */
  get subscriptions(): number {
    return this.#subs.size;
  }

  /** Tell the client what happened to a conversation as a whole (an activation, a passivation, an end). */
  runtimeEvent(event: RuntimeEvent): void {
    this.#send({ type: 'runtime', event });
    // A followed conversation got a new actor (or lost it): its statechart is watched anew.
    const sub = this.#subs.get(event.conversationId);
    if (sub) this.#schedule(sub);
  }

  /** End every subscription (the socket closed). */
  dispose(): void {
    this.#closed = true;
    for (const sub of this.#subs.values()) this.#end(sub);
    this.#subs.clear();
  }

  #send(message: ServerMessage): void {
    const ws = this.#ws;
    if (this.#closed || ws.readyState !== 1 /* OPEN */) return;
    if (ws.bufferedAmount > this.#options.maxBacklogBytes) {
      this.dispose();
      ws.close(1013, 'too far behind: reconnect and subscribe again');
      return;
    }
    this.#cork();
    ws.send(JSON.stringify(message));
  }

  #corked = false;

  /**
   * Gather the frames sent in one tick into one write: a turn's events come in bursts, and a
   * write per frame (a system call each) would cost more than the frames themselves. `ws`
   * keeps its socket as `_socket`; without it, frames go one by one.
   */
  #cork(): void {
    if (this.#corked) return;
    const socket = (this.#ws as unknown as { _socket?: { cork(): void; uncork(): void } })._socket;
    if (!socket || typeof socket.cork !== 'function') return;
    this.#corked = true;
    socket.cork();
    process.nextTick(() => {
      this.#corked = false;
      socket.uncork();
    });
  }

  #fail(err: unknown, context: { conversationId?: string; ref?: string | undefined }): void {
    const { body } = describeError(err);
    this.#send({
      type: 'error',
      ...body,
      ...(context.conversationId !== undefined ? { conversationId: context.conversationId } : {}),
      ...(context.ref !== undefined ? { ref: context.ref } : {}),
    });
  }

  async #handle(text: string | null): Promise<void> {
    if (this.#closed) return;
    let raw: unknown;
    try {
      if (text === null) throw new Error('binary messages are not accepted');
      raw = JSON.parse(text);
    } catch (err) {
      this.#fail({ code: 'invalid_json', message: `not a JSON message: ${err instanceof Error ? err.message : String(err)}` }, {});
      return;
    }
    const parsed = ClientMessageSchema.safeParse(raw);
    if (!parsed.success) {
      this.#fail(new InvalidOpError(toIssues(parsed.error.issues, raw), 'message'), {});
      return;
    }
    const message = parsed.data;
    try {
      switch (message.type) {
        case 'subscribe':
          await this.#subscribe(message);
          return;
        case 'unsubscribe': {
          const id = assertConversationId(message.conversationId);
          const sub = this.#subs.get(id);
          if (sub) {
            this.#end(sub);
            this.#subs.delete(id);
          }
          this.#send({ type: 'unsubscribed', conversationId: id, ...(message.ref !== undefined ? { ref: message.ref } : {}) });
          return;
        }
        case 'submit':
          await this.#submit(message);
          return;
      }
    } catch (err) {
      this.#fail(err, { conversationId: message.conversationId, ref: message.ref });
    }
  }

  /** The live conversation: the resident one, or resumed from the store. */
  async #conversation(id: string): Promise<Conversation> {
    const resident = this.#runtime.get(id);
    if (resident && resident.state !== 'closed') return resident;
    return this.#runtime.resume(id);
  }

  async #subscribe(message: Extract<ClientMessage, { type: 'subscribe' }>): Promise<void> {
    const id = assertConversationId(message.conversationId);
    const existing = this.#subs.get(id);
    if (existing && existing.conversation.state !== 'closed') {
      // Already subscribed: a fresh state is the answer.
      this.#sendState(existing, true);
      return;
    }
    if (existing) {
      this.#end(existing);
      this.#subs.delete(id);
    }
    const conversation = await this.#conversation(id);
    if (this.#closed) return;
    this.#attach(conversation, message.diagram === true);
  }

  /** Subscribe to `conversation`: `thread.started` at once, then every event, and its states. */
  #attach(conversation: Conversation, diagram: boolean): void {
    const sub: Subscription = {
      conversation,
      unsubscribe: () => {},
      actor: null,
      stopWatching: () => {},
      n: 0,
      lastKey: '',
      lastActive: null,
      scheduled: false,
      diagram,
    };
    this.#subs.set(conversation.id, sub);
    sub.unsubscribe = conversation.subscribe((event) => this.#event(sub, event));
    this.#watch(sub);
    this.#sendState(sub, true);
  }

  async #submit(message: Extract<ClientMessage, { type: 'submit' }>): Promise<void> {
    const id = assertConversationId(message.conversationId);
    const op = parseOp(message.op);
    const conversation = await this.#conversation(id);
    // Closed and resumed since the client subscribed: follow the new one (from `thread.started`).
    const sub = this.#subs.get(id);
    if (sub && sub.conversation !== conversation) {
      this.#end(sub);
      this.#attach(conversation, sub.diagram);
    }
    const submissionId = conversation.submit(op);
    this.#send({ type: 'submitted', conversationId: id, submissionId, ...(message.ref !== undefined ? { ref: message.ref } : {}) });
  }

  #event(sub: Subscription, event: ThreadEvent): void {
    this.#send({ type: 'event', conversationId: sub.conversation.id, n: sub.n++, event });
    this.#schedule(sub);
  }

  /** Watch the actor's snapshots: the statechart moves on transitions that emit no event too. */
  #watch(sub: Subscription): void {
    sub.stopWatching();
    const actor = sub.conversation.actor;
    sub.actor = actor;
    if (!actor) {
      sub.stopWatching = () => {};
      return;
    }
    const schedule = (): void => this.#schedule(sub);
    // An observer without `error` would make an actor failure an unhandled error.
    const subscription = actor.subscribe({ next: schedule, error: schedule, complete: schedule });
    sub.stopWatching = () => subscription.unsubscribe();
  }

  /** Send the state once the current macrostep is over (the snapshot is then the new one). */
  #schedule(sub: Subscription): void {
    if (sub.scheduled) return;
    sub.scheduled = true;
    queueMicrotask(() => {
      sub.scheduled = false;
      if (this.#closed || this.#subs.get(sub.conversation.id) !== sub) return;
      if (sub.conversation.actor !== sub.actor) this.#watch(sub);
      this.#sendState(sub, false);
    });
  }

  #sendState(sub: Subscription, force: boolean): void {
    const state = conversationState(sub.conversation);
    const key = stateKey(state);
    if (!force && key === sub.lastKey) return;
    sub.lastKey = key;
    const active = state.active.join(',');
    const diagram = sub.diagram && active !== sub.lastActive ? statechart(state.active) : undefined;
    sub.lastActive = active;
    this.#send({ type: 'state', ...state, ...(diagram !== undefined ? { diagram } : {}) });
  }

  #end(sub: Subscription): void {
    sub.unsubscribe();
    sub.stopWatching();
  }
}
