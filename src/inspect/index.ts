/**
 * Inspection of a runtime's actors in the Stately inspector (`@statelyai/inspect`), safe by
 * default: the relay listens on 127.0.0.1 only, conversation content is hidden unless asked
 * for, and the stream can be narrowed to chosen conversations.
 *
 * ```ts
 * import { createRuntime } from 'colloquy';
 * import { createInspection } from 'colloquy/inspect';
 *
 * const inspection = await createInspection({ conversations: [id] });
 * console.log(`open ${inspection.url}`);
 * const runtime = createRuntime({ inspect: inspection.observer });
 * // …
 * await runtime.shutdown();
 * await inspection.close();
 * ```
 */
import { createInspector, type StatelyInspectionEvent } from '@statelyai/inspect';
import type { InspectionEvent, Observer } from 'xstate';
import { WebSocket } from 'ws';
import { conversationFilter, isForwarded, type InspectionFilter } from './filter.js';
import { redactContent, sanitizeContext, sanitizeEvent, toPlain } from './redact.js';
import { startRelay, type Relay, type RelayOptions } from './relay.js';

export { conversationFilter, isForwarded, type InspectionFilter } from './filter.js';
export { CONTENT_FIELDS, hiddenText, OPAQUE_CONTENT_FIELDS, redactContent, sanitizeContext, sanitizeEvent, toPlain } from './redact.js';
export { RELAY_HOST, startRelay, STATELY_INSPECTOR_URL, type Relay, type RelayOptions } from './relay.js';

/** Options of `createInspection`: which conversations to stream, whether message content is shown, and the relay to start (its port) or connect to. */
export interface InspectionOptions {
  /** The relay's port on 127.0.0.1. Default 0: any free port. Not used with `connect`. */
  readonly port?: number;
  /**
   * Show conversation content (message text, commands and their output, instructions, tool
   * arguments). Default false: each text is replaced by `‹hidden: N chars›`.
   */
  readonly content?: boolean;
  /** Only the actors of these conversations (ids; each conversation's actor and its turns). Default: every actor. */
  readonly conversations?: readonly string[];
  /** A further filter over raw XState inspection events (true keeps the event). */
  readonly filter?: InspectionFilter;
  /**
   * Send to a relay that is already running (e.g. `colloquy inspect`), given by its
   * `ws://` URL, instead of starting one. It must be on this machine (a loopback address).
   */
  readonly connect?: string;
  /** Replay and backlog settings of the relay started here. */
  readonly relay?: Omit<RelayOptions, 'port'>;
  /** A failure of the connection to `connect`. Default: a process warning. */
  readonly onError?: (error: Error) => void;
}

/** An inspection: pass `observer` to `createRuntime({ inspect })`. */
export interface Inspection {
  /** The page to open in a browser (the relay's bridge to the Stately inspector); null with `connect`. */
  readonly url: string | null;
  /** The relay's WebSocket URL: inspection clients and UIs connect here. */
  readonly wsUrl: string;
  /** The relay started here; null with `connect`. */
  readonly relay: Relay | null;
  /** The XState inspection observer (`createRuntime({ inspect: inspection.observer })`). */
  readonly observer: Observer<InspectionEvent>;
  /** Resolves once every event observed so far has been handed to the relay's clients (at most 2 s). */
  flush(): Promise<void>;
  /** Stop: events are no longer sent; the relay started here is closed. Idempotent. */
  close(): Promise<void>;
}

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '[::1]', '::1']);

/** Wait for the inspector's deferred conversions (it defers each event with `setTimeout(0)`). */
const tick = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, 0));

/** A client of a running relay: keeps up to `limit` messages until the socket opens. */
class RelayClient {
  readonly #socket: WebSocket;
  #waiting: string[] = [];
  #open = false;
  readonly #limit: number;
  constructor(url: string, limit: number, onError: (error: Error) => void) {
    this.#limit = limit;
    this.#socket = new WebSocket(url);
    this.#socket.on('open', () => {
      this.#open = true;
      for (const message of this.#waiting) this.#socket.send(message);
      this.#waiting = [];
    });
    this.#socket.on('error', (err) => onError(new Error(`inspection relay ${url}: ${err.message}`)));
  }
  send(message: string): void {
    if (this.#open) {
      if (this.#socket.readyState === WebSocket.OPEN) this.#socket.send(message);
      return;
    }
    this.#waiting.push(message);
    if (this.#waiting.length > this.#limit) this.#waiting.shift();
  }
  get backlog(): number {
    return this.#open ? this.#socket.bufferedAmount : 0;
  }
  close(): void {
    this.#socket.close(1000);
  }
}

function checkConnectUrl(url: string): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new TypeError(`inspection relay URL ${JSON.stringify(url)} is not a URL (expected ws://127.0.0.1:<port>)`);
  }
  if (parsed.protocol !== 'ws:' || !LOOPBACK.has(parsed.hostname)) {
    throw new TypeError(`inspection relay URL ${JSON.stringify(url)} must be ws:// on this machine (127.0.0.1, localhost or [::1])`);
  }
  return parsed.href;
}

/**
 * Start inspecting: a relay on 127.0.0.1 (or a connection to a running one, `connect`) and an
 * observer that streams the runtime's actors to it in the Stately inspector's format, with
 * `sanitizeContext` / `sanitizeEvent` hiding conversation content unless `content` is true.
 * @throws the relay's listen error (`EADDRINUSE` when `port` is taken).
 * @throws {TypeError} when `connect` is not a `ws://` URL on a loopback address.
 */
export async function createInspection(options: InspectionOptions = {}): Promise<Inspection> {
  const content = options.content === true;
  const byConversation = options.conversations && options.conversations.length > 0 ? conversationFilter(options.conversations) : null;
  const extra = options.filter;
  const onError = options.onError ?? ((error: Error) => process.emitWarning(error.message, { code: 'COLLOQUY_INSPECT' }));
  const connectUrl = options.connect !== undefined ? checkConnectUrl(options.connect) : null;
  const relay = connectUrl === null ? await startRelay({ ...options.relay, ...(options.port !== undefined ? { port: options.port } : {}) }) : null;
  const client = connectUrl !== null ? new RelayClient(connectUrl, options.relay?.replay ?? 1000, onError) : null;
  let closed = false;

  const publish = (event: StatelyInspectionEvent): void => {
    if (closed) return;
    let message: string;
    try {
      message = JSON.stringify(event);
    } catch (err) {
      onError(new Error(`an inspection event could not be serialized: ${err instanceof Error ? err.message : String(err)}`));
      return;
    }
    if (relay) relay.publish(message, event.type === '@xstate.actor' ? event.sessionId : undefined);
    else client?.send(message);
  };

  const inspector = createInspector(
    { send: publish },
    {
      ...(content ? {} : { sanitizeContext, sanitizeEvent }),
      // Plain JSON data; an actor's input, output and error (not covered by the sanitizers) hidden too.
      serialize: (event) => {
        const plain = toPlain(event) as StatelyInspectionEvent & { snapshot?: Record<string, unknown> };
        if (!content && plain.snapshot && typeof plain.snapshot === 'object') {
          for (const key of ['input', 'output', 'error']) {
            if (plain.snapshot[key] !== undefined) plain.snapshot[key] = redactContent(plain.snapshot[key]);
          }
        }
        return plain;
      },
    },
  );

  const observer: Observer<InspectionEvent> = {
    next: (event) => {
      if (closed || !isForwarded(event)) return;
      if (byConversation && !byConversation(event)) return;
      if (extra && !extra(event)) return;
      inspector.inspect.next?.(event);
    },
  };

  const backlog = (): number => {
    if (client) return client.backlog;
    return 0;
  };
  const flush = async (): Promise<void> => {
    await tick();
    await tick();
    const deadline = Date.now() + 2000;
    while (backlog() > 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10));
  };

  let closing: Promise<void> | null = null;
  return {
    url: relay?.url ?? null,
    wsUrl: relay?.wsUrl ?? (connectUrl as string),
    relay,
    observer,
    flush,
    close() {
      closing ??= (async () => {
        await flush();
        closed = true;
        client?.close();
        await relay?.close();
      })();
      return closing;
    },
  };
}
