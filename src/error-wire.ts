/**
 * Errors as they cross between the nodes of a cluster: a node that ran a routed op for another
 * sends back the typed error it threw, and the caller's node throws the same class with the same
 * code, message and fields, as if the op had run there.
 */
import {
  ColloquyError,
  ConversationBusyError,
  ConversationClosedError,
  ConversationHasForksError,
  CorruptLogError,
  InvalidIdError,
  InvalidOpError,
  LeaseLostError,
  RuntimeClosedError,
  SessionLockedError,
  SessionNotFoundError,
  ShutdownError,
  StoreError,
  TurnAbortedError,
  TurnFailedError,
} from './errors.js';
/** An error as it crosses between cluster nodes: its class, code, message and own fields (JSON values). */
export interface SerializedError {
  /** The class name (`InvalidOpError`, …); unknown names revive as `ColloquyError`. */
  readonly name: string;
  readonly code: string;
  readonly message: string;
  /** Its own fields (`field`, `issues`, `conversationId`, …). */
  readonly fields?: Readonly<Record<string, unknown>>;
}

const ERROR_CLASSES: Readonly<Record<string, { prototype: ColloquyError }>> = {
  ColloquyError,
  InvalidOpError,
  ConversationBusyError,
  ConversationClosedError,
  SessionNotFoundError,
  InvalidIdError,
  SessionLockedError,
  ConversationHasForksError,
  TurnFailedError,
  TurnAbortedError,
  StoreError,
  CorruptLogError,
  LeaseLostError,
  ShutdownError,
  RuntimeClosedError,
};

const NOT_FIELDS = new Set(['name', 'code', 'message', 'stack', 'cause']);

/** An error as another node revives it (see `reviveError`); a non-Colloquy error becomes code `internal`. */
export function serializeError(error: unknown): SerializedError {
  if (!(error instanceof ColloquyError)) {
    return { name: 'ColloquyError', code: 'internal', message: error instanceof Error ? error.message : String(error) };
  }
  const fields: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(error)) {
    if (NOT_FIELDS.has(key) || value === undefined) continue;
    // Only JSON values cross (a `ShutdownError`'s failures keep their messages).
    fields[key] = JSON.parse(JSON.stringify(value, (_k, v: unknown) => (v instanceof Error ? { message: v.message } : v)));
  }
  return { name: error.name, code: error.code, message: error.message, ...(Object.keys(fields).length > 0 ? { fields } : {}) };
}

/**
 * The error another node threw, as this node's caller gets it: an instance of the same class
 * (so `instanceof` and `code` hold) with its message and fields; its stack is this node's.
 */
export function reviveError(serialized: SerializedError): ColloquyError {
  const known = Object.hasOwn(ERROR_CLASSES, serialized.name) ? ERROR_CLASSES[serialized.name] : undefined;
  // Built without its constructor (whose arguments are gone): the fields say everything.
  const error = Object.create((known ?? ColloquyError).prototype as object) as ColloquyError & Record<string, unknown>;
  const name = known ? serialized.name : 'ColloquyError';
  const here = (new Error().stack ?? '').split('\n').slice(1);
  const stack = [`${name}: ${serialized.message}`, ...here].join('\n');
  Object.defineProperties(error, {
    message: { value: serialized.message, writable: true, configurable: true },
    name: { value: name, writable: true, enumerable: true, configurable: true },
    code: { value: serialized.code, enumerable: true },
    stack: { value: stack, writable: true, configurable: true },
  });
  for (const [key, value] of Object.entries(serialized.fields ?? {})) {
    if (!NOT_FIELDS.has(key)) error[key] = value;
  }
  return error;
}
