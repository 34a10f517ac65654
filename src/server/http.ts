/**
 * HTTP plumbing of the control server: JSON bodies with a size limit, JSON replies, errors
 * with a status, and a small method + path router.
 *
 * Why `node:http` and not a framework: the API is a dozen JSON routes and one WebSocket
 * endpoint. A framework (fastify, hono) would bring routing, schema and plugin machinery the
 * protocol's zod schemas already cover, tens of modules to load, and its own upgrade
 * handling to reconcile with `ws`; the router below is 40 lines and the server starts in a
 * few milliseconds.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { ColloquyError, type Issue } from '../errors.js';

/** An error answered with `status` and `{ error: { code, message, issues? } }`. */
export class HttpError extends ColloquyError {
  readonly status: number;
  readonly issues: readonly Issue[] | undefined;
  constructor(status: number, code: string, message: string, issues?: readonly Issue[]) {
    super(code, message);
    this.name = 'HttpError';
    this.status = status;
    this.issues = issues;
  }
}

/** The HTTP status for a Colloquy error code (the `code` of a `ColloquyError`). */
export function statusOfCode(code: string): number {
  switch (code) {
    case 'invalid_op':
    case 'invalid_id':
    case 'invalid_json':
    case 'invalid_query':
      return 400;
    case 'unauthorized':
      return 401;
    case 'forbidden':
      return 403;
    case 'session_not_found':
    case 'not_found':
      return 404;
    case 'session_locked':
    case 'conversation_busy':
    case 'conversation_closed':
    case 'conversation_unavailable':
    case 'not_resident':
      return 409;
    case 'payload_too_large':
      return 413;
    case 'unsupported_media_type':
      return 415;
    case 'runtime_closed':
      return 503;
    default:
      return 500;
  }
}

/** An error as the API reports it: `{ code, message, issues? }` and its HTTP status. */
export function describeError(err: unknown): { status: number; body: { code: string; message: string; issues?: readonly Issue[] } } {
  if (err instanceof HttpError) {
    return { status: err.status, body: { code: err.code, message: err.message, ...(err.issues ? { issues: err.issues } : {}) } };
  }
  // Matched on `code`, not the class: the runtime may come from another bundle of Colloquy.
  const e = err as { code?: unknown; message?: unknown; issues?: unknown };
  const code = typeof e?.code === 'string' && e.code !== '' ? e.code : 'internal_error';
  const message = typeof e?.message === 'string' ? e.message : String(err);
  const issues = Array.isArray(e?.issues) ? (e.issues as Issue[]) : undefined;
  return { status: statusOfCode(code), body: { code, message, ...(issues ? { issues } : {}) } };
}

/**
 * The URL of a request. A path is taken as a path even when it starts with `//` (which
 * `new URL(path, base)` would read as a host).
 * @throws {HttpError} 400 (`invalid_query`) when the request target is not a URL.
 */
export function requestUrl(req: IncomingMessage): URL {
  const target = req.url ?? '/';
  try {
    return target.startsWith('/') ? new URL(`http://localhost${target}`) : new URL(target, 'http://localhost');
  } catch {
    throw new HttpError(400, 'invalid_query', `the request target is not a URL: ${JSON.stringify(target.slice(0, 200))}`);
  }
}

/** Reply with JSON. */
export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = body === undefined ? '' : JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'cache-control': 'no-store',
    'x-content-type-options': 'nosniff',
    ...headers,
  });
  res.end(text);
}

/**
 * Read a JSON request body. An empty body is `{}`.
 * @throws {HttpError} 415 when it is not `application/json`, 413 when longer than `limit`
 * bytes, 400 (`invalid_json`) when it does not parse.
 */
export async function readJson(req: IncomingMessage, limit: number): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > limit) throw new HttpError(413, 'payload_too_large', `the request body is larger than ${limit} bytes`);
    chunks.push(chunk as Buffer);
  }
  if (size === 0) return {};
  const type = (req.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase();
  if (type !== 'application/json') throw new HttpError(415, 'unsupported_media_type', 'send the body as application/json');
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown;
  } catch (err) {
    throw new HttpError(400, 'invalid_json', `the request body is not JSON: ${err instanceof Error ? err.message : String(err)}`);
  }
}

/** What a route handler gets. */
export interface RouteContext {
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  readonly url: URL;
  /** Named groups of the route's pattern. */
  readonly params: Readonly<Record<string, string>>;
}

/** A handler: returns `[status, body]` to reply with JSON, or nothing when it replied itself. */
export type RouteHandler = (ctx: RouteContext) => Promise<readonly [number, unknown] | void> | readonly [number, unknown] | void;

interface Route {
  readonly method: string;
  readonly pattern: RegExp;
  readonly handler: RouteHandler;
}

/** A method + path router. Patterns are anchored regular expressions with named groups. */
export class Router {
  readonly #routes: Route[] = [];

  /** Add a route, e.g. `on('POST', /^\/api\/conversations\/(?<id>[^/]+)\/fork$/, handler)`. */
  on(method: string, pattern: RegExp, handler: RouteHandler): this {
    this.#routes.push({ method, pattern, handler });
    return this;
  }

  /**
   * Find the route of a request.
   * @throws {HttpError} 404 when no path matches, 405 when the path matches another method.
   */
  match(method: string, path: string): { handler: RouteHandler; params: Record<string, string> } {
    let pathMatched = false;
    for (const route of this.#routes) {
      const m = route.pattern.exec(path);
      if (!m) continue;
      pathMatched = true;
      if (route.method !== method) continue;
      const params: Record<string, string> = {};
      for (const [k, v] of Object.entries(m.groups ?? {})) {
        try {
          params[k] = decodeURIComponent(v);
        } catch {
          throw new HttpError(400, 'invalid_query', `bad escape in the path: ${path}`);
        }
      }
      return { handler: route.handler, params };
    }
    if (pathMatched) throw new HttpError(405, 'method_not_allowed', `${method} is not allowed on ${path}`);
    throw new HttpError(404, 'not_found', `no such endpoint: ${method} ${path}`);
  }
}
