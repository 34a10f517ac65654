/**
 * The lines of a Codex rollout file (`~/.codex/sessions/YYYY/MM/DD/rollout-*.jsonl`), told
 * apart by shape. Three variants exist (openai/codex, read for this module):
 *
 * - **Legacy** (Codex ≤ mid-2025; `codex-rs/core/src/rollout.rs` at 89a151f5): the first line is
 *   a bare `SessionMeta` object `{ id, timestamp, instructions?, git? }`; every other line is a
 *   bare `ResponseItem` (`{ type: "message" | "function_call" | "function_call_output" |
 *   "local_shell_call" | "reasoning", … }`) or a state line `{ record_type: "state", … }`.
 *   Lines carry no timestamp.
 * - **Envelope** (`RolloutLine` in `codex-rs/protocol/src/protocol.rs`): every line is
 *   `{ timestamp, type, payload }` with `type` one of `session_meta`, `response_item`,
 *   `event_msg`, `turn_context`, `compacted` (later also `world_state`,
 *   `inter_agent_communication`, `inter_agent_communication_metadata`, `token_usage_record`).
 * - **Paginated** (`codex-rs/history/src/lib.rs`, `codex-rs/rollout/src/ordinal.rs`): the envelope
 *   plus a top-level `ordinal` counting lines from 0, announced by
 *   `session_meta.payload.history_mode: "paginated"` (absent or `"legacy"` otherwise).
 */

/** A JSON object. */
export type JsonObject = Record<string, unknown>;

/** What a line is. `other` is every kind the importer keeps verbatim (opaque). */
export type CodexLineKind = 'session_meta' | 'response_item' | 'event_msg' | 'turn_context' | 'compacted' | 'other';

/** One rollout line, classified. */
export interface CodexLine {
  readonly kind: CodexLineKind;
  /** The object the kind describes: the envelope's `payload`, or the bare object of a legacy line. */
  readonly payload: JsonObject;
  /** The whole line as read. */
  readonly raw: JsonObject;
  /** Whether the line is of the legacy bare-object variant. */
  readonly legacy: boolean;
  /** The line's `timestamp`, when it has a usable one (ISO-8601). */
  readonly timestamp: string | undefined;
  /** The line's `ordinal` (paginated variant), when it has one. */
  readonly ordinal: number | undefined;
}

const ENVELOPE_KINDS = new Set<CodexLineKind>(['session_meta', 'response_item', 'event_msg', 'turn_context', 'compacted']);

/** Whether `value` is a plain JSON object. */
export function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** `value` when it is a string, else `undefined`. */
export function str(value: unknown): string | undefined {
  return typeof value === 'string' ? value : undefined;
}

function timestampOf(value: unknown): string | undefined {
  if (typeof value !== 'string') return undefined;
  const ms = Date.parse(value);
  return Number.isFinite(ms) ? new Date(ms).toISOString() : undefined;
}

/**
 * Classify one parsed line. `first` is true for the first non-blank line of the file (where a
 * legacy bare `SessionMeta` may stand).
 */
export function classifyCodexLine(raw: JsonObject, first: boolean): CodexLine {
  const timestamp = timestampOf(raw.timestamp);
  const ordinal = typeof raw.ordinal === 'number' && Number.isInteger(raw.ordinal) ? raw.ordinal : undefined;
  const type = str(raw.type);
  if (type !== undefined && 'payload' in raw) {
    const kind = ENVELOPE_KINDS.has(type as CodexLineKind) && isObject(raw.payload) ? (type as CodexLineKind) : 'other';
    return { kind, payload: isObject(raw.payload) ? raw.payload : {}, raw, legacy: false, timestamp, ordinal };
  }
  // Legacy bare objects (no envelope).
  if (first && type === undefined && typeof raw.id === 'string') {
    return { kind: 'session_meta', payload: raw, raw, legacy: true, timestamp: timestampOf(raw.timestamp), ordinal };
  }
  if (raw.record_type === 'state' || type === undefined) return { kind: 'other', payload: raw, raw, legacy: true, timestamp, ordinal };
  return { kind: 'response_item', payload: raw, raw, legacy: true, timestamp: undefined, ordinal };
}
