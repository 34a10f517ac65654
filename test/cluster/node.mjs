// One node of a test cluster: a runtime on the BUILT package's Postgres store, driven by its
// parent over the IPC channel (child_process.fork). Every message carries `req`, answered once:
//   { req, op: 'start' }                    → { req, ok, id }
//   { req, op: 'run', id, text }            → { req, ok, turnId, finalResponse } | { req, ok: false, code, message }
//   { req, op: 'shutdown' }                 → { req, ok }
// On start it sends { ready: nodeId }. Failures that reach no caller are counted and sent as
// { unhandled: message } (the parent fails the trial on one): the host process must never crash.
// Environment: COLLOQUY_NODE_URL, COLLOQUY_NODE_SCHEMA, COLLOQUY_NODE_ID, COLLOQUY_NODE_TTL (ms).
import { createRuntime } from '../../dist/src/index.js';
import { postgresStore } from '../../dist/src/store/postgres/index.js';

const nodeId = process.env.COLLOQUY_NODE_ID;
const store = postgresStore({
  connectionString: process.env.COLLOQUY_NODE_URL,
  schema: process.env.COLLOQUY_NODE_SCHEMA,
  nodeId,
  leaseTtlMs: Number(process.env.COLLOQUY_NODE_TTL ?? 2000),
  pool: { max: 8, connectionTimeoutMillis: 2000 },
  onClusterError: () => {},
});
const runtime = createRuntime({ store, passivateAfterMs: 0, onError: () => {} });

const send = (message) => {
  try {
    process.send?.(message);
  } catch {
    // The parent is gone.
  }
};
process.on('unhandledRejection', (reason) => send({ unhandled: String(reason?.stack ?? reason) }));
process.on('uncaughtException', (err) => send({ unhandled: String(err?.stack ?? err) }));
process.on('disconnect', () => process.exit(0));

const handles = new Map();
async function handle(id) {
  const known = handles.get(id);
  if (known && known.residency !== 'closed') return known;
  const convo = await runtime.resume(id);
  handles.set(id, convo);
  return convo;
}

process.on('message', async (m) => {
  try {
    if (m.op === 'start') {
      const convo = await runtime.start();
      handles.set(convo.id, convo);
      send({ req: m.req, ok: true, id: convo.id });
    } else if (m.op === 'run') {
      const convo = await handle(m.id);
      const result = await convo.run(m.text);
      send({ req: m.req, ok: true, turnId: result.turnId, finalResponse: result.finalResponse });
    } else if (m.op === 'shutdown') {
      await runtime.shutdown();
      send({ req: m.req, ok: true });
    }
  } catch (err) {
    send({ req: m.req, ok: false, code: err?.code ?? 'internal', message: String(err?.message ?? err) });
  }
});

send({ ready: nodeId });
