/**
 * The HTTP/JSON API of the control server (every route needs the token):
 *
 * | route | does | answers |
 * | --- | --- | --- |
 * | `GET /api/health` | | `{ ok, version, resident }` |
 * | `GET /api/statechart` | the conversation statechart | `{ diagram }` (Mermaid) |
 * | `GET /api/conversations?limit&cursor&sort&archived&name` | `runtime.list` | `{ items, nextCursor }`; items add `resident`, `state`, `pendingApprovals` |
 * | `POST /api/conversations` | `runtime.start(body)` | 201 `{ conversation }` |
 * | `GET /api/conversations/:id` | `runtime.read` | `{ conversation, live }` (`live`: the state when resident, else null) |
 * | `GET /api/conversations/:id/state` | | the state when resident, else `{ conversationId, resident: false }` |
 * | `POST /api/conversations/:id/resume` | `runtime.resume` | `{ conversation }` |
 * | `POST /api/conversations/:id/fork` | `runtime.fork(id, body)` | 201 `{ conversation }` |
 * | `POST /api/conversations/:id/archive` / `unarchive` | | `{ ok: true }` |
 * | `POST /api/conversations/:id/ops` | `conversation.submit(body)` (resumed if needed) | 202 `{ submissionId }` |
 *
 * Errors: `{ error: { code, message, issues? } }` with 400 (`invalid_op` with the zod issues,
 * `invalid_id`, `invalid_json`, `invalid_query`), 401, 404, 409 (`session_locked`,
 * `conversation_busy`, `conversation_closed`), 413, 415, 503 (`runtime_closed`).
 */
import { assertConversationId } from '../protocol/ids.js';
import { parseOp } from '../protocol/validate.js';
import type { Conversation } from '../runtime/conversation.js';
import type { ForkOptions, Runtime, StartOptions } from '../runtime/runtime.js';
import type { ListQuery } from '../store/store.js';
import { VERSION } from '../version.js';
import { HttpError, readJson, Router } from './http.js';
import { conversationState, statechart } from './state.js';

/** A conversation as the API returns it: `conversation.info()` plus its active state nodes. */
function describe(conversation: Conversation): Record<string, unknown> {
  return { ...conversation.info(), active: conversationState(conversation).active };
}

function listQuery(params: URLSearchParams): ListQuery {
  const query: { -readonly [K in keyof ListQuery]: ListQuery[K] } = {};
  const limit = params.get('limit');
  if (limit !== null) {
    if (!/^\d+$/.test(limit)) throw new HttpError(400, 'invalid_query', `limit must be a whole number, got ${JSON.stringify(limit)}`);
    query.limit = Number(limit);
  }
  const cursor = params.get('cursor');
  if (cursor !== null && cursor !== '') query.cursor = cursor;
  const sort = params.get('sort');
  if (sort !== null) {
    if (sort !== 'created' && sort !== 'updated') throw new HttpError(400, 'invalid_query', `sort must be created or updated, got ${JSON.stringify(sort)}`);
    query.sort = sort;
  }
  const archived = params.get('archived');
  if (archived !== null) query.archived = archived === 'true' || archived === '1';
  const name = params.get('name');
  if (name !== null && name !== '') query.name = name;
  return query;
}

/** The routes of the API over `runtime`. `maxBodyBytes` bounds request bodies. */
export function apiRouter(runtime: Runtime, maxBodyBytes: number): Router {
  const live = async (id: string): Promise<Conversation> => {
    const resident = runtime.get(id);
    return resident && resident.state !== 'closed' ? resident : runtime.resume(id);
  };
  const router = new Router();
  router.on('GET', /^\/api\/health$/, () => [200, { ok: true, version: VERSION, resident: runtime.resident }]);
  router.on('GET', /^\/api\/statechart$/, () => [200, { diagram: statechart() }]);

  router.on('GET', /^\/api\/conversations$/, async ({ url }) => {
    const page = await runtime.list(listQuery(url.searchParams));
    const items = page.items.map((summary) => {
      // What the runtime holds of it, read without bringing a passivated conversation back.
      const info = runtime.get(summary.id)?.info();
      const open = info !== undefined && info.state !== 'closed';
      return {
        ...summary,
        resident: open,
        residency: open ? info.residency : null,
        owner: open ? (info.owner ?? null) : null,
        state: info ? info.state : null,
        pendingApprovals: open ? info.pendingApprovals.length : null,
      };
    });
    return [200, { items, nextCursor: page.nextCursor }];
  });

  router.on('POST', /^\/api\/conversations$/, async ({ req }) => {
    const body = await readJson(req, maxBodyBytes);
    const conversation = await runtime.start(body as StartOptions);
    return [201, { conversation: describe(conversation) }];
  });

  router.on('GET', /^\/api\/conversations\/(?<id>[^/]+)$/, async ({ params }) => {
    const id = assertConversationId(params.id as string);
    const record = await runtime.read(id);
    const resident = runtime.get(id);
    return [200, { conversation: record, live: resident && resident.residency !== 'closed' ? conversationState(resident) : null }];
  });

  router.on('GET', /^\/api\/conversations\/(?<id>[^/]+)\/state$/, ({ params }) => {
    const id = assertConversationId(params.id as string);
    const resident = runtime.get(id);
    if (!resident || resident.residency === 'closed') return [200, { conversationId: id, resident: false }];
    return [200, { resident: true, ...conversationState(resident) }];
  });

  router.on('POST', /^\/api\/conversations\/(?<id>[^/]+)\/resume$/, async ({ params }) => {
    const conversation = await runtime.resume(assertConversationId(params.id as string));
    return [200, { conversation: describe(conversation) }];
  });

  router.on('POST', /^\/api\/conversations\/(?<id>[^/]+)\/fork$/, async ({ req, params }) => {
    const id = assertConversationId(params.id as string);
    const body = await readJson(req, maxBodyBytes);
    const conversation = await runtime.fork(id, body as ForkOptions);
    return [201, { conversation: describe(conversation) }];
  });

  router.on('POST', /^\/api\/conversations\/(?<id>[^/]+)\/archive$/, async ({ params }) => {
    await runtime.archive(assertConversationId(params.id as string));
    return [200, { ok: true }];
  });

  router.on('POST', /^\/api\/conversations\/(?<id>[^/]+)\/unarchive$/, async ({ params }) => {
    await runtime.unarchive(assertConversationId(params.id as string));
    return [200, { ok: true }];
  });

  router.on('POST', /^\/api\/conversations\/(?<id>[^/]+)\/ops$/, async ({ req, params }) => {
    const id = assertConversationId(params.id as string);
    // Validated before anything else: a bad op is a 400 whatever the conversation.
    const op = parseOp(await readJson(req, maxBodyBytes));
    const conversation = await live(id);
    return [202, { submissionId: conversation.submit(op) }];
  });
  return router;
}
