/// <reference lib="dom" />
/**
 * The console's client of the control server: JSON over HTTP and the WebSocket.
 *
 * Authentication: the address `colloquy serve` prints carries the token (`?token=…`). The
 * server answers it by setting a same-site cookie and showing the page without the token;
 * a page that still sees `?token=` in its address (served by other means) keeps it in
 * `sessionStorage`, removes it from the address bar, and sends it as `Authorization: Bearer`
 * and as the WebSocket's `?token=`.
 */
import { ColloquyError, type Issue } from '../errors.js';
import type { ClientMessage, ServerMessage } from '../server/messages.js';

const TOKEN_KEY = 'colloquy.token';

/** The token from the address (kept for this tab) or from earlier in this tab; null with the cookie login. */
export function takeToken(): string | null {
  const url = new URL(window.location.href);
  const given = url.searchParams.get('token');
  if (given) {
    try {
      window.sessionStorage.setItem(TOKEN_KEY, given);
    } catch {
      // Storage refused (private mode): the token lives in memory only.
    }
    url.searchParams.delete('token');
    window.history.replaceState(null, '', url.pathname + url.search + url.hash);
    return given;
  }
  try {
    return window.sessionStorage.getItem(TOKEN_KEY);
  } catch {
    return null;
  }
}

/** An error answer of the API: its HTTP status and `{ code, message, issues? }`. */
export class ApiError extends ColloquyError {
  readonly status: number;
  readonly issues: readonly Issue[];
  constructor(status: number, code: string, message: string, issues: readonly Issue[] = []) {
    super(code, message);
    this.name = 'ApiError';
    this.status = status;
    this.issues = issues;
  }
}

/** JSON requests to the API, with the token when the page has one. */
export class Api {
  readonly #token: string | null;

  constructor(token: string | null) {
    this.#token = token;
  }

  /** The token for the WebSocket address, or null (the cookie is sent instead). */
  get token(): string | null {
    return this.#token;
  }

  /** @throws {ApiError} for every answer that is not 2xx. */
  async request<T>(method: 'GET' | 'POST', path: string, body?: unknown): Promise<T> {
    const headers: Record<string, string> = { accept: 'application/json' };
    if (this.#token) headers.authorization = `Bearer ${this.#token}`;
    if (body !== undefined) headers['content-type'] = 'application/json';
    const res = await fetch(path, {
      method,
      headers,
      credentials: 'same-origin',
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
    const text = await res.text();
    let parsed: unknown = null;
    try {
      parsed = text === '' ? null : JSON.parse(text);
    } catch {
      parsed = null;
    }
    if (!res.ok) {
      const e = (parsed as { error?: { code?: string; message?: string; issues?: ApiError['issues'] } } | null)?.error;
      throw new ApiError(res.status, e?.code ?? `http_${res.status}`, e?.message ?? (text || res.statusText), e?.issues ?? []);
    }
    return parsed as T;
  }

  get<T>(path: string): Promise<T> {
    return this.request<T>('GET', path);
  }

  post<T>(path: string, body?: unknown): Promise<T> {
    return this.request<T>('POST', path, body ?? {});
  }
}

/** What the socket tells the page. */
export interface SocketHandlers {
  readonly message: (message: ServerMessage) => void;
  /** The connection opened (again): subscriptions must be renewed. */
  readonly open: () => void;
  readonly close: (reason: string) => void;
}

/**
 * The WebSocket to the server, reconnecting after a drop (1 s, then up to 10 s apart).
 * Messages sent while it is not open wait for it.
 */
export class Socket {
  readonly #url: string;
  readonly #handlers: SocketHandlers;
  #ws: WebSocket | null = null;
  #waiting: string[] = [];
  #retry = 1000;
  #stopped = false;

  constructor(token: string | null, handlers: SocketHandlers) {
    const scheme = window.location.protocol === 'https:' ? 'wss:' : 'ws:';
    this.#url = `${scheme}//${window.location.host}/ws${token ? `?token=${encodeURIComponent(token)}` : ''}`;
    this.#handlers = handlers;
    this.#connect();
  }

  get open(): boolean {
    return this.#ws?.readyState === WebSocket.OPEN;
  }

  #connect(): void {
    if (this.#stopped) return;
    const ws = new WebSocket(this.#url);
    this.#ws = ws;
    ws.addEventListener('open', () => {
      this.#retry = 1000;
      this.#handlers.open();
      const waiting = this.#waiting;
      this.#waiting = [];
      for (const text of waiting) ws.send(text);
    });
    ws.addEventListener('message', (e: MessageEvent) => {
      if (typeof e.data !== 'string') return;
      let message: ServerMessage;
      try {
        message = JSON.parse(e.data) as ServerMessage;
      } catch {
        return;
      }
      this.#handlers.message(message);
    });
    ws.addEventListener('close', (e: CloseEvent) => {
      if (this.#ws !== ws) return;
      this.#ws = null;
      this.#handlers.close(e.reason || `closed (${e.code})`);
      if (this.#stopped) return;
      const delay = this.#retry;
      this.#retry = Math.min(this.#retry * 2, 10_000);
      window.setTimeout(() => this.#connect(), delay);
    });
  }

  send(message: ClientMessage): void {
    const text = JSON.stringify(message);
    if (this.#ws && this.#ws.readyState === WebSocket.OPEN) this.#ws.send(text);
    else this.#waiting.push(text);
  }

  close(): void {
    this.#stopped = true;
    this.#ws?.close(1000);
  }
}
