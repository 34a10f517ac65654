/**
 * Following one turn a caller started (`run`, `runStreamed`): find the turn that took the input,
 * collect its items, and settle with its result or its typed error, as the Codex SDK's `run`.
 */
import { ConversationClosedError, StoreError, TurnAbortedError, TurnFailedError } from '../errors.js';
import type { ThreadEvent } from '../protocol/events.js';
import type { ThreadItem, Usage, UserInputItem } from '../protocol/items.js';
import type { BusyMode, Op } from '../protocol/ops.js';
import type { AsyncQueue } from './async-queue.js';

/** The result of `run`: the turn's items, its last agent message and its usage (tokens, this turn only). */
export interface TurnResult {
  readonly turnId: string;
  /** Every item the turn completed, in order (its user message included). */
  readonly items: readonly ThreadItem[];
  /** The text of the turn's last `agent_message`, or `''`. */
  readonly finalResponse: string;
  /** Tokens this turn used. The conversation's cumulative usage is in `turn.completed.usage`. */
  readonly usage: Usage;
}

/** Options of `run` / `runStreamed`: what to do if a turn is running (`mode`) and an `AbortSignal` that interrupts the turn. */
export interface RunOptions {
  /** Aborting interrupts the turn (it ends `turn.aborted`, and `run` rejects with `TurnAbortedError`). */
  readonly signal?: AbortSignal;
  /** What to do if a turn is already running. Default `queue`. */
  readonly mode?: BusyMode;
}

/** What following a turn needs of its conversation. */
export interface TurnRunHost {
  readonly id: string;
  newId(): string;
  /** Listen to every event (without `thread.started`); returns the unlisten function. */
  listen(listener: (event: ThreadEvent) => void): () => void;
  /** Send an op; `done` settles once its records are durable (or it is refused). @throws as `submit`. */
  dispatch(op: Op, submissionId: string): { readonly done: Promise<void> };
  /** The id of the turn running now, if any. */
  runningTurnId(): string | null;
  interrupt(): Promise<void>;
  /** The code of the conversation's error when it is in `error` (a store failure's: `store_error`, `lease_lost`…). */
  errorCode(): string | undefined;
}

/** The code a failed store write gives the error a turn's promise rejects with (`lease_lost`…; default `store_error`). */
function storeCode(host: TurnRunHost): { code?: string } {
  const code = host.errorCode();
  return code !== undefined ? { code } : {};
}

/**
 * Submit `items` as user input and follow the turn that takes it. `stream`, when given, gets
 * every event of that turn. `stop` stops following (not the turn).
 */
export function runTurn(
  host: TurnRunHost,
  items: UserInputItem[],
  options: RunOptions,
  stream: AsyncQueue<ThreadEvent> | null,
): { result: Promise<TurnResult>; stop: () => void } {
  const signal = options.signal;
  if (signal?.aborted) {
    return { result: Promise.reject(new TurnAbortedError('(not started)', 'interrupted')), stop: () => {} };
  }
  let turnId: string | null = null;
  const submissionId = host.newId();
  let unlisten = (): void => {};
  const collected: ThreadItem[] = [];
  let finish!: (r: TurnResult) => void;
  let fail!: (e: unknown) => void;
  const result = new Promise<TurnResult>((resolve, reject) => {
    finish = resolve;
    fail = reject;
  });
  const onAbort = (): void => {
    if (turnId !== null && host.runningTurnId() === turnId) void host.interrupt().catch(() => {});
  };
  const cleanup = (): void => {
    unlisten();
    signal?.removeEventListener('abort', onAbort);
  };
  unlisten = host.listen((event) => {
    if (turnId === null) {
      // Find the turn that took this input.
      if (event.type === 'turn.started' && event.turn_id === submissionId) turnId = submissionId;
      else if (event.type === 'item.completed' && event.item.type === 'user_message' && event.item.submission_id === submissionId) {
        turnId = event.turn_id;
      } else if (event.type === 'thread.closed') {
        cleanup();
        fail(new ConversationClosedError(host.id));
        return;
      } else if (event.type === 'error') {
        cleanup();
        fail(new StoreError(`${event.message} (the input is kept and runs after retry)`, storeCode(host)));
        return;
      } else return;
      if (signal?.aborted) onAbort();
    }
    if ('turn_id' in event && event.turn_id !== turnId) return;
    stream?.push(event);
    switch (event.type) {
      case 'error':
        // The log could not be written: the turn is interrupted and its end is not durable.
        cleanup();
        fail(new StoreError(`${event.message}; retry runs the turn again`, storeCode(host)));
        return;
      case 'item.completed':
        collected.push(event.item);
        return;
      case 'turn.completed': {
        cleanup();
        let finalResponse = '';
        for (const item of collected) if (item.type === 'agent_message') finalResponse = item.text;
        finish({ turnId: event.turn_id, items: collected, finalResponse, usage: event.turn_usage ?? event.usage });
        return;
      }
      case 'turn.failed':
        cleanup();
        fail(new TurnFailedError(event.turn_id, event.error.message, event.error.code ?? 'turn_failed'));
        return;
      case 'turn.aborted':
        cleanup();
        fail(new TurnAbortedError(event.turn_id, event.reason));
        return;
    }
  });
  signal?.addEventListener('abort', onAbort, { once: true });
  try {
    const dispatched = host.dispatch({ type: 'user_input', items, mode: options.mode ?? 'queue' }, submissionId);
    // A failure to record the input fails the turn's promise too.
    dispatched.done.catch((err: unknown) => {
      cleanup();
      fail(err);
    });
  } catch (err) {
    cleanup();
    return { result: Promise.reject(err), stop: cleanup };
  }
  return { result, stop: cleanup };
}
