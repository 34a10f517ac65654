/**
 * Typed errors. Every error Colloquy throws or rejects with is a `ColloquyError` with a
 * stable `code` and a message a person can act on. As zod's `ZodError`, validation errors
 * carry structured `issues` so a program can point at the bad field.
 */

/** Base class of every Colloquy error. `code` is stable across versions; match on it or on the class. */
export class ColloquyError extends Error {
  /** A stable machine-readable code, e.g. `invalid_op`. */
  readonly code: string;
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
  }
}

/** One problem found while validating input: where (`path`) and what (`message`). */
export interface Issue {
  /** Path to the bad value, e.g. `['op', 'items', 0, 'text']`. */
  readonly path: readonly (string | number)[];
  /** What is wrong, e.g. `expected string, got number`. */
  readonly message: string;
}

/** Render a path as `op.items[0].text`. An empty path renders as `(root)`. */
export function formatPath(path: readonly (string | number | symbol)[]): string {
  let out = '';
  for (const part of path) {
    if (typeof part === 'number') out += `[${part}]`;
    else out += out === '' ? String(part) : `.${String(part)}`;
  }
  return out === '' ? '(root)' : out;
}

/**
 * An op (or other input) failed validation, or is not valid in the conversation's current
 * state. Nothing was changed. `field` names the first bad field (`items[0].text`, `callId`).
 */
export class InvalidOpError extends ColloquyError {
  /** Dotted path of the first bad field. */
  readonly field: string;
  /** Every problem found. */
  readonly issues: readonly Issue[];
  constructor(issues: readonly Issue[], what = 'op') {
    const first = issues[0] ?? { path: [], message: 'invalid' };
    const field = formatPath(first.path);
    const more = issues.length > 1 ? ` (and ${issues.length - 1} more problem${issues.length > 2 ? 's' : ''})` : '';
    super('invalid_op', `invalid ${what}: ${field}: ${first.message}${more}`);
    this.field = field;
    this.issues = issues;
  }
}

/** A `user_input` op with mode `reject` arrived while a turn was running. Nothing was changed. */
export class ConversationBusyError extends ColloquyError {
  readonly conversationId: string;
  readonly turnId: string | null;
  constructor(conversationId: string, turnId: string | null) {
    super(
      'conversation_busy',
      `conversation ${conversationId} is running turn ${turnId ?? '(starting)'}; send the input with mode "queue", "steer" or "interrupt", or wait for the turn to end`,
    );
    this.conversationId = conversationId;
    this.turnId = turnId;
  }
}

/** The conversation is closed; resume it to use it again. */
export class ConversationClosedError extends ColloquyError {
  readonly conversationId: string;
  constructor(conversationId: string) {
    super('conversation_closed', `conversation ${conversationId} is closed; resume it with runtime.resume("${conversationId}")`);
    this.conversationId = conversationId;
  }
}

/** No conversation with this id exists in the store. */
export class SessionNotFoundError extends ColloquyError {
  readonly sessionId: string;
  constructor(sessionId: string, where?: string) {
    super('session_not_found', `no conversation with id ${JSON.stringify(sessionId)}${where ? ` in ${where}` : ''}`);
    this.sessionId = sessionId;
  }
}

/** The id is not a well-formed conversation id (a ULID); it was not used to build any path. */
export class InvalidIdError extends ColloquyError {
  readonly value: string;
  constructor(value: string) {
    super('invalid_id', `${JSON.stringify(value.length > 64 ? `${value.slice(0, 64)}…` : value)} is not a conversation id (expected a 26-character ULID)`);
    this.value = value;
  }
}

/** Who holds a conversation's write lease. */
export interface LeaseHolder {
  readonly pid: number;
  readonly host: string;
  /** When the lease was taken (ISO-8601). */
  readonly since: string;
  /** The cluster node holding it, for stores shared by several runtime nodes (`PostgresStore`). */
  readonly node?: string;
}

/** Another live writer holds the conversation's lease. Reading it is still allowed. */
export class SessionLockedError extends ColloquyError {
  readonly sessionId: string;
  readonly holder: LeaseHolder;
  constructor(sessionId: string, holder: LeaseHolder) {
    super(
      'session_locked',
      `conversation ${sessionId} is being written by ${holder.node !== undefined ? `node ${holder.node} (process ${holder.pid} on ${holder.host})` : `process ${holder.pid} on ${holder.host}`} (since ${holder.since}); stop that process or read the conversation instead`,
    );
    this.sessionId = sessionId;
    this.holder = holder;
  }
}

/**
 * The conversation cannot be deleted: other conversations were forked from it, and a fork
 * reads the turns it was forked with from its source's log. Delete the forks first (or
 * archive the source instead). Nothing was changed.
 */
export class ConversationHasForksError extends ColloquyError {
  readonly sessionId: string;
  /** The ids of the conversations forked from it (active and archived). */
  readonly forks: readonly string[];
  constructor(sessionId: string, forks: readonly string[]) {
    const n = forks.length;
    const list = n > 3 ? `${forks.slice(0, 3).join(', ')} and ${n - 3} more` : forks.join(', ');
    super(
      'has_forks',
      `not deleting ${sessionId}: ${n === 1 ? 'a conversation was' : `${n} conversations were`} forked from it (${list}) and ${n === 1 ? 'reads its' : 'read their'} first turns from its log; delete ${n === 1 ? 'that fork' : 'those forks'} first, or archive this conversation instead`,
    );
    this.sessionId = sessionId;
    this.forks = forks;
  }
}

/** The turn failed (agent or tool error). The conversation is in `error`; `retry` runs the turn again. */
export class TurnFailedError extends ColloquyError {
  readonly turnId: string;
  constructor(turnId: string, message: string, code = 'turn_failed', options?: { cause?: unknown }) {
    super(code, message, options);
    this.turnId = turnId;
  }
}

/** The turn ended without completing (see `AbortReason`). */
export class TurnAbortedError extends ColloquyError {
  readonly turnId: string;
  readonly reason: string;
  constructor(turnId: string, reason: string) {
    super('turn_aborted', `turn ${turnId} was aborted (${reason})`);
    this.turnId = turnId;
    this.reason = reason;
  }
}

/** A store operation failed. `path` names the file when there is one. */
export class StoreError extends ColloquyError {
  readonly path: string | undefined;
  constructor(message: string, options?: { path?: string; cause?: unknown; code?: string }) {
    super(options?.code ?? 'store_error', message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.path = options?.path;
  }
}

/** A log line could not be read. `line` is 1-based. No log content is included beyond the reason. */
export class CorruptLogError extends StoreError {
  readonly line: number;
  readonly reason: string;
  constructor(path: string, line: number, reason: string) {
    super(`corrupt log ${path}:${line}: ${reason}`, { path, code: 'corrupt_log' });
    this.line = line;
    this.reason = reason;
  }
}

/** The lease of a conversation was taken over by another writer: this one may no longer append. */
export class LeaseLostError extends ColloquyError {
  readonly sessionId: string;
  constructor(sessionId: string, holder: LeaseHolder | null) {
    super(
      'lease_lost',
      `this process no longer holds the write lease of conversation ${sessionId}${
        holder ? ` (process ${holder.pid} on ${holder.host} took it over at ${holder.since})` : ''
      }; nothing more was written; resume the conversation to continue`,
    );
    this.sessionId = sessionId;
  }
}

/**
 * `runtime.shutdown()` could not make everything durable: `failures` names each conversation
 * whose records could not be written, with why. Nothing was dropped: those records are kept in
 * memory and the runtime keeps running those conversations; call `shutdown()` again once the
 * cause is fixed (disk space back, say).
 */
export class ShutdownError extends ColloquyError {
  /** Each conversation that could not be closed, and why. */
  readonly failures: readonly { readonly conversationId: string; readonly error: Error }[];
  constructor(failures: readonly { readonly conversationId: string; readonly error: Error }[]) {
    const list = failures.map((f) => `${f.conversationId} (${f.error.message})`).join('; ');
    super('shutdown_incomplete', `shutdown could not make everything durable, and was not completed: ${list}; fix the cause and call shutdown() again`);
    this.failures = failures;
  }
}

/** The runtime was shut down; create a new one. */
export class RuntimeClosedError extends ColloquyError {
  constructor() {
    super('runtime_closed', 'the runtime has been shut down; create a new one with createRuntime()');
  }
}

