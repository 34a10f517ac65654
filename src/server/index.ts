/**
 * The control server: drive a runtime's conversations from other processes and from the
 * browser console. HTTP/JSON for listing, starting, resuming, forking, reading and archiving
 * (see `api.ts`); a WebSocket (`/ws`, see `messages.ts`) to follow a conversation's events
 * and statechart and to submit ops; the console page at `/`.
 *
 * Every request needs the server's bearer token (`401` otherwise, WebSocket upgrades
 * included). It listens on 127.0.0.1 unless told otherwise; requests that name another host
 * (DNS rebinding) and requests from web pages of other origins are refused.
 *
 * A client of the runtime: `serve(runtime, options)` from `colloquy/server`. Importing `colloquy`
 * does not load it.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { WebSocketServer } from 'ws';
import { closeServers, listen } from './lifecycle.js';
import { InvalidOpError } from '../errors.js';
import type { Runtime } from '../runtime/runtime.js';
import { CONSOLE_FILES, CONSOLE_PAGE_HEADERS, findAssets, sendAsset } from './assets.js';
import { cookieName, credentialsOf, newToken, tokenMatches } from './auth.js';
import { apiRouter } from './api.js';
import { describeError, HttpError, requestUrl, sendJson } from './http.js';
import { ClientSession } from './socket.js';

export type { ClientMessage, ErrorMessage, EventMessage, HelloMessage, RuntimeMessage, ServerMessage, StateMessage, SubmittedMessage, UnsubscribedMessage } from './messages.js';
export { ClientMessageSchema } from './messages.js';
export type { ConversationState } from './state.js';
export { activeNodeIds, conversationState, statechart } from './state.js';
export { newToken } from './auth.js';

/** Options of `serve`. */
export interface ServeOptions {
  /** TCP port. Default 0: a free port chosen by the system (see `ControlServer.url`). */
  readonly port?: number;
  /**
   * Interface to listen on. Default `127.0.0.1`. Anything else exposes the control channel to
   * the network (protected by the token alone, without TLS).
   */
  readonly host?: string;
  /** The bearer token. Default: 32 random bytes (`crypto.randomBytes`), base64url. At least 16 characters. */
  readonly token?: string;
  /** Directory of the built console. Default: `dist/public` of this installation. */
  readonly assets?: string;
  /** Largest request body (bytes). Default 1 MiB. */
  readonly maxBodyBytes?: number;
  /** A WebSocket client with more unsent bytes than this is disconnected (close code 1013). Default 32 MiB. */
  readonly maxBacklogBytes?: number;
}

/** A running control server. */
export interface ControlServer {
  /** `http://<host>:<port>/`. */
  readonly url: string;
  /** The console's address with the token (`…/?token=…`): opening it logs the browser in. */
  readonly consoleUrl: string;
  /** The WebSocket endpoint, `ws://<host>:<port>/ws` (send the token as a header or `?token=`). */
  readonly wsUrl: string;
  /** The bearer token every request needs. */
  readonly token: string;
  /** The bound address. */
  readonly address: AddressInfo;
  /** Connected WebSocket clients. */
  readonly clients: number;
  /** Stop listening and disconnect every client. The runtime is left running. Idempotent. */
  close(): Promise<void>;
}

/** This module's directory (also in a CommonJS bundle, where `import.meta.url` is not available). */
function moduleDir(): string | undefined {
  return typeof __dirname === 'string' ? __dirname : undefined;
}

const LOOPBACK_HOSTS = new Set(['127.0.0.1', 'localhost', '::1', '[::1]']);

function unauthorizedPage(): string {
  return `<!DOCTYPE html><html><head><meta charset="utf-8"><title>Colloquy console</title></head>
<body style="font-family: system-ui, sans-serif; margin: 3rem;">
<h1>Colloquy console</h1>
<p>This page needs the token of the server. Open the address <code>colloquy serve</code> printed (it ends with <code>?token=…</code>).</p>
</body></html>`;
}

/**
 * Serve `runtime`'s control channel: HTTP/JSON, a WebSocket and the browser console, on
 * 127.0.0.1 and a free port unless told otherwise, with a random bearer token. The server is a
 * client of the runtime: close it before (or after) `runtime.shutdown()`, which does not close it.
 * @example
 * import { serve } from 'colloquy/server';
 * const server = await serve(runtime, { port: 7420 });
 * @throws {InvalidOpError} for a token shorter than 16 characters.
 * @throws the listen error (`EADDRINUSE` when the port is taken).
 */
export async function serve(runtime: Runtime, options: ServeOptions = {}): Promise<ControlServer> {
  const host = options.host ?? '127.0.0.1';
  const token = options.token ?? newToken();
  if (token.length < 16) throw new InvalidOpError([{ path: ['token'], message: 'must have at least 16 characters' }], 'serve options');
  const assets = options.assets ?? findAssets(moduleDir() ?? undefined);
  const maxBody = options.maxBodyBytes ?? 2 ** 20;
  const maxBacklog = options.maxBacklogBytes ?? 32 * 2 ** 20;
  const router = apiRouter(runtime, maxBody);
  const sessions = new Set<ClientSession>();
  let port = 0;
  let cookie = '';

  const loopback = LOOPBACK_HOSTS.has(host);
  const urlHost = host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;
  /** Hosts a request may name: when bound to loopback, only this server (no DNS rebinding). */
  const hostAllowed = (req: IncomingMessage): boolean => {
    if (!loopback) return true;
    const named = req.headers.host ?? '';
    return [`127.0.0.1:${port}`, `localhost:${port}`, `[::1]:${port}`, `${urlHost}:${port}`].includes(named);
  };
  /** A request from a web page of another origin (a cross-site request or WebSocket). */
  const foreignOrigin = (req: IncomingMessage): boolean => {
    const origin = req.headers.origin;
    if (origin === undefined) return false;
    return origin !== `http://${req.headers.host ?? ''}`;
  };
  const authorized = (req: IncomingMessage, url: URL): boolean => credentialsOf(req, url, cookie).some((given) => tokenMatches(given, token));

  const consolePage = async (req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> => {
    const given = url.searchParams.get('token');
    if (given !== null) {
      if (!tokenMatches(given, token)) throw new HttpError(401, 'unauthorized', 'wrong token');
      // Log in: the token goes into a cookie only this origin sends, and out of the address bar.
      res.writeHead(303, {
        location: '/',
        'set-cookie': `${cookie}=${encodeURIComponent(token)}; Path=/; HttpOnly; SameSite=Strict`,
        'cache-control': 'no-store',
        'referrer-policy': 'no-referrer',
      });
      res.end();
      return;
    }
    if (!authorized(req, url)) {
      res.writeHead(401, { 'content-type': 'text/html; charset=utf-8', 'www-authenticate': 'Bearer', ...CONSOLE_PAGE_HEADERS });
      res.end(unauthorizedPage());
      return;
    }
    if (assets === null) throw new HttpError(503, 'console_not_built', 'the console has not been built: run `npm run build`');
    await sendAsset(res, assets, 'index.html', CONSOLE_PAGE_HEADERS);
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    try {
      if (!hostAllowed(req)) throw new HttpError(421, 'misdirected_request', `this server does not answer for host ${JSON.stringify(req.headers.host ?? '')}`);
      const url = requestUrl(req);
      const method = req.method ?? 'GET';
      const path = url.pathname;
      if (method === 'GET' && path !== '/' && path !== '/index.html' && !path.startsWith('/api/')) {
        // The console's code (`/<name>` or `/assets/<name>`): the same for everyone, no data in it.
        const name = path.startsWith('/assets/') ? path.slice('/assets/'.length) : path.slice(1);
        if (name !== 'index.html' && Object.hasOwn(CONSOLE_FILES, name)) {
          if (assets === null) throw new HttpError(404, 'not_found', 'the console has not been built: run `npm run build`');
          await sendAsset(res, assets, name);
          return;
        }
      }
      if (method === 'GET' && path === '/') {
        await consolePage(req, res, url);
        return;
      }
      if (method === 'GET' && path === '/favicon.ico') {
        res.writeHead(204).end();
        return;
      }
      if (!authorized(req, url)) throw new HttpError(401, 'unauthorized', 'missing or wrong token: send Authorization: Bearer <token>');
      if (method !== 'GET' && method !== 'HEAD' && foreignOrigin(req)) {
        throw new HttpError(403, 'forbidden', 'requests from other web origins are refused');
      }
      const { handler, params } = router.match(method, path);
      const out = await handler({ req, res, url, params });
      if (out) sendJson(res, out[0], out[1]);
    } catch (err) {
      const { status, body } = describeError(err);
      if (res.headersSent) {
        res.destroy();
        return;
      }
      // A request whose body was not read: do not let the client hang sending it.
      if (!req.complete) res.setHeader('connection', 'close');
      sendJson(res, status, { error: body }, status === 401 ? { 'www-authenticate': 'Bearer' } : {});
    }
  };

  const server = createServer((req, res) => void handle(req, res));
  const wss = new WebSocketServer({ noServer: true, maxPayload: maxBody });
  const refuse = (socket: Socket, status: number, reason: string): void => {
    socket.end(`HTTP/1.1 ${status} ${reason}\r\nConnection: close\r\nContent-Length: 0\r\n${status === 401 ? 'WWW-Authenticate: Bearer\r\n' : ''}\r\n`);
  };
  server.on('upgrade', (req: IncomingMessage, socket: Socket, head: Buffer) => {
    socket.on('error', () => socket.destroy());
    if (!hostAllowed(req)) return refuse(socket, 421, 'Misdirected Request');
    let url: URL;
    try {
      url = requestUrl(req);
    } catch {
      return refuse(socket, 400, 'Bad Request');
    }
    if (url.pathname !== '/ws') return refuse(socket, 404, 'Not Found');
    if (!authorized(req, url)) return refuse(socket, 401, 'Unauthorized');
    if (foreignOrigin(req)) return refuse(socket, 403, 'Forbidden');
    wss.handleUpgrade(req, socket, head, (ws) => {
      const session = new ClientSession(ws, runtime, { maxBacklogBytes: maxBacklog });
      sessions.add(session);
      ws.on('close', () => sessions.delete(session));
    });
  });

  // Activations, passivations and ends of conversations go to every client.
  const unwatch = runtime.subscribe((event) => {
    for (const session of sessions) session.runtimeEvent(event);
  });
  const address = await listen(server, options.port ?? 0, host);
  port = address.port;
  cookie = cookieName(port);
  const url = `http://${urlHost}:${port}/`;
  let closing: Promise<void> | null = null;

  return {
    url,
    consoleUrl: `${url}?token=${encodeURIComponent(token)}`,
    wsUrl: `ws://${urlHost}:${port}/ws`,
    token,
    address,
    get clients() {
      return wss.clients.size;
    },
    close() {
      if (!closing) {
        unwatch();
        for (const session of sessions) session.dispose();
        closing = closeServers(server, wss, 'server closing');
      }
      return closing;
    },
  };
}
