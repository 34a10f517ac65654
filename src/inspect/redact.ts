/**
 * Hiding conversation content from inspection streams. XState inspection sees everything an
 * actor holds: user and agent message text, command lines and their output, instructions,
 * tool arguments. By default the inspector gets the shape of that data (which fields exist,
 * how long each text is) but not the text itself.
 *
 * Redaction is by field name, so it follows the protocol's item shapes wherever they are
 * nested (an op's `items`, a turn's `pending` approvals, a commit's `records`, an actor's
 * `input` or `output`).
 */

/** Fields whose string value is conversation content: hidden, replaced by `‹hidden: N chars›`. */
export const CONTENT_FIELDS: ReadonlySet<string> = new Set([
  'text',
  'command',
  'aggregated_output',
  'output',
  'instructions',
  'summary',
  'query',
  'prompt',
  'finalResponse',
  'stdout',
  'stderr',
  'diff',
]);

/**
 * Fields whose whole value (any type) is content: tool arguments and results, and the user
 * messages a commit carries for the message history (`messages`).
 */
export const OPAQUE_CONTENT_FIELDS: ReadonlySet<string> = new Set(['arguments', 'result', 'content', 'structured_content', 'messages']);

/** Deepest nesting walked; deeper values become `‹depth›`. */
export const MAX_DEPTH = 12;

/** What a hidden string becomes: its length survives (in UTF-16 code units), its text does not. */
export function hiddenText(value: string): string {
  return `‹hidden: ${value.length} chars›`;
}

const HIDDEN = '‹hidden›';

interface WalkOptions {
  /** Hide content fields. */
  readonly redact: boolean;
  readonly depth: number;
  readonly seen: WeakSet<object>;
}

function walk(value: unknown, key: string | null, o: WalkOptions): unknown {
  if (key !== null && o.redact) {
    if (OPAQUE_CONTENT_FIELDS.has(key) && value !== undefined && value !== null) return HIDDEN;
    if (typeof value === 'string' && CONTENT_FIELDS.has(key)) return hiddenText(value);
  }
  if (value === null || typeof value !== 'object') {
    if (typeof value === 'bigint') return value.toString();
    if (typeof value === 'function') return { type: value.name || 'function' };
    if (typeof value === 'symbol') return value.toString();
    return value;
  }
  if (o.depth >= MAX_DEPTH) return '‹depth›';
  if (o.seen.has(value)) return '‹circular›';
  // Snapshots and actor refs know how to become JSON (a ref becomes `{ xstate$$type, id }`).
  const json = (value as { toJSON?: () => unknown }).toJSON;
  if (typeof json === 'function' && !(value instanceof Date)) {
    const plain = json.call(value);
    if (plain !== value) return walk(plain, null, o);
  }
  if (value instanceof Date) return value.toISOString();
  o.seen.add(value);
  const inner: WalkOptions = { ...o, depth: o.depth + 1 };
  try {
    if (value instanceof Error) {
      const out: Record<string, unknown> = { name: value.name, message: value.message };
      const code = (value as { code?: unknown }).code;
      if (code !== undefined) out.code = walk(code, 'code', inner);
      return out;
    }
    if (Array.isArray(value)) return value.map((v) => walk(v, null, inner));
    if (value instanceof Map) return [...value].map(([k, v]) => [walk(k, null, inner), walk(v, null, inner)]);
    if (value instanceof Set) return [...value].map((v) => walk(v, null, inner));
    if (ArrayBuffer.isView(value)) return `‹${value.byteLength} bytes›`;
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(value)) {
      const v = (value as Record<string, unknown>)[k];
      if (v === undefined) continue;
      out[k] = walk(v, k, inner);
    }
    return out;
  } finally {
    o.seen.delete(value);
  }
}

/**
 * A copy of `value` with conversation content hidden (see `CONTENT_FIELDS` and
 * `OPAQUE_CONTENT_FIELDS`), made JSON-safe: `toJSON` is honoured (snapshots, actor refs),
 * errors become `{ name, message, code? }`, maps and sets arrays, cycles and nesting deeper
 * than `MAX_DEPTH` markers. The input is never modified.
 */
export function redactContent(value: unknown): unknown {
  return walk(value, null, { redact: true, depth: 0, seen: new WeakSet() });
}

/** The same JSON-safe copy as `redactContent`, with nothing hidden. */
export function toPlain(value: unknown): unknown {
  return walk(value, null, { redact: false, depth: 0, seen: new WeakSet() });
}

/**
 * For `@statelyai/inspect`'s `sanitizeContext` option: an actor's context with message text,
 * command lines and output, instructions and tool arguments hidden.
 */
export function sanitizeContext<T>(context: T): T {
  return redactContent(context) as T;
}

/**
 * For `@statelyai/inspect`'s `sanitizeEvent` option: an event (an op, a turn report, a
 * commit, a persistence reply) with its content hidden. Its `type` is kept.
 */
export function sanitizeEvent<T extends { type: string }>(event: T): T {
  return redactContent(event) as T;
}
