/**
 * `Conversation`: the handle an orchestrator holds for one conversation (SPEC §3): run turns,
 * stream them, answer approvals, interrupt, compact, name, roll back, close; and, for clients of
 * the runtime, write records through the conversation actor. The plumbing (where the
 * conversation lives, its events, how an op reaches its actor) is `ConversationCore`.
 */
import { StoreError, TurnAbortedError, TurnFailedError } from '../errors.js';
import type { RecordDraft } from '../log/draft.js';
import type { ThreadEvent } from '../protocol/events.js';
import type { ApprovalDecision, Op } from '../protocol/ops.js';
import type { LogRecord } from '../protocol/records.js';
import { parseOp } from '../protocol/validate.js';
import { checkDrafts } from './append.js';
import { AsyncQueue } from './async-queue.js';
import { ConversationCore } from './conversation-core.js';
import type { AppendOptions, StreamedTurn } from './conversation-types.js';
import { toInputItems, type Input } from './input.js';
import { runTurn, type RunOptions, type TurnResult } from './turn-run.js';

export { toInputItems, type Input } from './input.js';
export type { RunOptions, TurnResult } from './turn-run.js';
export type {
  AppendOptions,
  ConversationDeps,
  ConversationInfo,
  Listener,
  PendingApprovalInfo,
  Residency,
  SnapshotView,
  StreamedTurn,
} from './conversation-types.js';

/** One conversation. Get one from `runtime.start`, `resume` or `fork`. */
export class Conversation extends ConversationCore {
  /**
   * Write records a client of the runtime made (the Agents SDK session, an importer) into this
   * conversation, through its actor, which numbers them: the one door to its log. The
   * conversation must be idle, and the drafts whole turns (every `turn.started` ended, every
   * item inside its turn); `session_meta`, approvals and queued input are the actor's own.
   * Resolves with the records as written, once they are durable.
   * @throws {InvalidOpError} for drafts that are not valid records or leave a turn open, or when
   *   `expectedSeq` is not the conversation's next `seq` (nothing is written).
   * @throws {ConversationBusyError} while a turn runs.
   */
  async appendRecords(drafts: readonly RecordDraft[], options: AppendOptions = {}): Promise<LogRecord[]> {
    const checked = checkDrafts(drafts);
    if (checked.length === 0) return [];
    const submissionId = this.deps.newId();
    const event = {
      type: 'records.append' as const,
      submissionId,
      drafts: checked,
      ...(options.expectedSeq !== undefined ? { expectedSeq: options.expectedSeq } : {}),
      remember: options.remember ?? true,
    };
    let written: readonly LogRecord[] = [];
    const expected = options.expectedSeq !== undefined ? { expectedSeq: options.expectedSeq } : {};
    await this.send(event, { type: 'records.append', ...expected }, true, (records) => {
      written = records;
    });
    return [...written];
  }

  /**
   * Run a turn and wait for it. With mode `queue` (default) the input becomes its own turn
   * after any running one; with `steer` it joins the running turn (whose result is returned).
   * Resolves after the turn's records are durable.
   * @throws {TurnFailedError} when the turn fails (the conversation is then in `error`).
   * @throws {TurnAbortedError} when it is interrupted (including through `signal`).
   */
  async run(input: Input, options: RunOptions = {}): Promise<TurnResult> {
    return runTurn(this.#turnHost(), toInputItems(input), options, null).result;
  }

  /**
   * Run a turn and stream its events: `thread.started`, then everything of the turn until its
   * `turn.completed`, `turn.failed` or `turn.aborted` (as the Codex SDK's `runStreamed`).
   * Failures are events here, not exceptions. Breaking out of the loop stops the stream, not the turn.
   */
  async runStreamed(input: Input, options: RunOptions = {}): Promise<StreamedTurn> {
    const items = toInputItems(input);
    const queue = new AsyncQueue<ThreadEvent>(() => stop());
    queue.push(this.startedEvent());
    const { result, stop } = runTurn(this.#turnHost(), items, options, queue);
    result.then(
      () => queue.end(),
      (err) => (err instanceof TurnFailedError || err instanceof TurnAbortedError ? queue.end() : queue.fail(err)),
    );
    return { events: queue };
  }

  #turnHost(): Parameters<typeof runTurn>[0] {
    return {
      id: this.id,
      newId: () => this.deps.newId(),
      listen: (listener) => this.listen(listener),
      dispatch: (op, submissionId) => this.dispatch(op, submissionId),
      runningTurnId: () => this.runningTurnId(),
      interrupt: () => this.interrupt(),
      errorCode: () => this.info().error?.code,
    };
  }

  /**
   * Answer a pending approval. Resolves once the decision is durable.
   * @throws {InvalidOpError} when no approval with `callId` is pending (field `callId`).
   */
  async approve(callId: string, decision: ApprovalDecision = 'approved'): Promise<void> {
    await this.dispatch(parseOp({ type: 'approval', callId, decision })).done;
  }

  /** Wait for the running turn, if any, to end (however it ends). */
  #turnEnd(): Promise<void> {
    const turnId = this.runningTurnId();
    if (!turnId || !this.canInterrupt()) return Promise.resolve();
    return new Promise((resolve) => {
      const unlisten = this.listen((event) => {
        if ((event.type === 'turn.completed' || event.type === 'turn.aborted' || event.type === 'turn.failed') && event.turn_id === turnId) {
          unlisten();
          resolve();
        } else if (event.type === 'thread.closed' || event.type === 'error') {
          unlisten();
          resolve();
        }
      });
    });
  }

  /**
   * Interrupt the running turn through its AbortSignal. Resolves when it has ended
   * (`turn.aborted` emitted and durable). Does nothing when no turn runs.
   */
  async interrupt(): Promise<void> {
    if (!this.canInterrupt()) return;
    const ended = this.#turnEnd();
    await this.dispatch({ type: 'interrupt' }).done;
    await ended;
  }

  /**
   * Compact the history: the agent summarises it and a `compacted` record replaces what came
   * before (nothing is copied). Resolves when the compaction turn has completed.
   * @throws {InvalidOpError} while a turn runs.
   */
  async compact(): Promise<void> {
    const submissionId = this.deps.newId();
    const outcome = new Promise<void>((resolve, reject) => {
      const unlisten = this.listen((event) => {
        if (event.type === 'error') {
          unlisten();
          reject(new StoreError(event.message));
          return;
        }
        if (!('turn_id' in event) || event.turn_id !== submissionId) return;
        if (event.type === 'turn.completed') {
          unlisten();
          resolve();
        } else if (event.type === 'turn.failed') {
          unlisten();
          reject(new TurnFailedError(submissionId, event.error.message, event.error.code ?? 'turn_failed'));
        } else if (event.type === 'turn.aborted') {
          unlisten();
          reject(new TurnAbortedError(submissionId, event.reason));
        }
      });
      try {
        this.dispatch({ type: 'compact' }, submissionId).done.catch((err: unknown) => {
          unlisten();
          reject(err);
        });
      } catch (err) {
        unlisten();
        reject(err);
      }
    });
    await outcome;
  }

  /** Run the failed turn again (from `error`). Resolves when the op is durable; watch events for the turn. */
  async retry(): Promise<void> {
    await this.dispatch({ type: 'retry' }).done;
  }

  /** Leave `error` without re-running the failed turn. */
  async reset(): Promise<void> {
    await this.dispatch({ type: 'reset' }).done;
  }

  /** Name the conversation. */
  async setName(name: string): Promise<void> {
    await this.dispatch(parseOp({ type: 'set_name', name })).done;
  }

  /** Drop the last `turns` turns from the model-visible history (the log keeps them). */
  async rollback(turns: number): Promise<void> {
    await this.dispatch(parseOp({ type: 'rollback', turns })).done;
  }

  /** Change the settings of the turns to come. */
  async overrideTurnContext(settings: Omit<Extract<Op, { type: 'override_turn_context' }>, 'type'>): Promise<void> {
    await this.dispatch(parseOp({ type: 'override_turn_context', ...settings })).done;
  }

  /**
   * @internal End the conversation at once, without writing anything more (for `runtime.delete`):
   * its actor is stopped, what it had not made durable is dropped. Resolves once its lease is given up.
   */
  async end(): Promise<void> {
    if (this.residency === 'closed') return;
    await this.terminate();
  }

  /**
   * Close the conversation: a running turn (or one waiting for an approval) is interrupted
   * (`turn.aborted`, reason `shutdown`), every record is made durable, `thread.closed` is
   * emitted. Idempotent.
   */
  async close(): Promise<void> {
    if (this.residency === 'closed' || this.info().state === 'closed') return;
    // Nothing runs and everything it wrote is durable: no actor is needed to close it.
    if (this.closesWithoutActor()) {
      await this.terminate();
      return;
    }
    const closed = new Promise<void>((resolve, reject) => {
      const unlisten = this.listen((event) => {
        if (event.type === 'thread.closed') {
          unlisten();
          resolve();
        } else if (event.type === 'error') {
          // The final writes failed: the conversation stays open, in `error`.
          unlisten();
          reject(new StoreError(`could not close conversation ${this.id}: ${event.message}`));
        }
      });
    });
    await this.dispatch({ type: 'shutdown' }).done;
    await closed;
    // Its lease is given up when its shard has ended it.
    await this.ended;
  }
}
