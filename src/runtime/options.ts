/**
 * What a runtime and its operations are configured with: the options of `createRuntime`,
 * `start` and `fork`, validated at the boundary.
 */
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import type { InspectionEvent, Observer } from 'xstate';
import * as z from 'zod/mini';
import type { RestartPolicy } from '../../machines/shard.machine.js';
import type { Agent } from '../agents/agent.js';
import type { LogIssue, ReadMode } from '../log/types.js';
import type { PendingApprovalView, PendingInputView, TurnTranscript } from '../log/fold.js';
import { TurnSettingsSchema } from '../protocol/ops.js';
import { MetadataSchema, type ConversationConfig, type SessionMetaPayload } from '../protocol/records.js';
import type { HistoryPersistence } from '../store/history.js';
import type { Durability, Store } from '../store/store.js';
import type { Clock } from './clock.js';
import type { ContextOptions } from './context-window.js';

/** An XState inspection observer: sees every actor, event and snapshot of the runtime. */
export type InspectionObserver = Observer<InspectionEvent> | ((event: InspectionEvent) => void);

/** How long a conversation stays active with nothing to do before it is passivated, by default: 15 minutes (ms), as Orleans' default collection age. */
export const DEFAULT_PASSIVATE_AFTER_MS = 15 * 60_000;

/** Options of `createRuntime`: the store (or home and read mode), durability, agent, turn defaults, inspection observer, restart policy, passivation, clock, context windows, message history and error callbacks. */
export interface RuntimeOptions {
  /** Everything the runtime persists (logs, listing, leases, message history). Default: a `FileStore` at `home`. */
  readonly store?: Store;
  /** The file store's directory when no `store` is given. Default `$COLLOQUY_HOME`, else `~/.colloquy`. */
  readonly home?: string;
  /** The model side. Default: the built-in local agent. */
  readonly agent?: Agent;
  /** When commits are acknowledged. Default `sync`. */
  readonly durability?: Durability;
  /** For `batched` durability: the longest a record waits for its fsync (ms). Default 100. */
  readonly fsyncIntervalMs?: number;
  /** Passed to the actor system: sees the supervisor, the persistence actor, every shard, conversation and turn. */
  readonly inspect?: InspectionObserver;
  /** How failed conversation actors are restarted. */
  readonly restartPolicy?: RestartPolicy;
  /**
   * Passivate a conversation that has had no running turn and no subscriber for this long (ms):
   * its actor is stopped and its memory released; its handle stays valid and the next use brings
   * it back from its log. Default 15 minutes (`DEFAULT_PASSIVATE_AFTER_MS`, as Orleans); `0` never.
   */
  readonly passivateAfterMs?: number;
  /** Shard supervisors conversations are spread over (default 512). */
  readonly shards?: number;
  /**
   * This runtime as a node of the cluster sharing its store (a store with a `cluster` side,
   * `postgresStore`): `id` names it in lease rows and messages (default: the store's own id,
   * `<hostname>-<pid>-<random>`). Give it here or as the store's `nodeId`, not both differently.
   */
  readonly node?: { readonly id?: string };
  /**
   * The clock the actor system runs on (XState's `clock` option with `now()`): record times,
   * passivation and restart timers. Default: the wall clock. Tests pass XState's `SimulatedClock`.
   */
  readonly clock?: Clock;
  /** Settings of new conversations where `start` gives none. */
  readonly defaults?: Partial<Pick<ConversationConfig, 'model' | 'cwd' | 'approvalPolicy' | 'instructions'>>;
  /** Errors with nowhere else to go (a throwing listener, a conversation given up). Default: a process warning. */
  readonly onError?: (error: unknown, context: { readonly conversationId?: string }) => void;
  /**
   * Things found in logs that are not clean records (torn tails repaired, lines skipped). Each
   * is also reported to its conversation's subscribers as a `log.issue` event when resident.
   */
  readonly onLogIssue?: (issue: LogIssue) => void;
  /**
   * How bad lines in the middle of a log are treated on resume and read: `strict` (default)
   * fails with a `CorruptLogError` naming file and line; `lenient` skips and reports them.
   */
  readonly readMode?: ReadMode;
  /**
   * The global message history of the default file store (`<home>/history.jsonl`, every user
   * message of every conversation, as Codex's): `maxBytes` caps the file (bytes; trimmed to
   * 80%), `persistence: 'none'` records nothing. A store given as `store` keeps its own.
   */
  readonly history?: { readonly maxBytes?: number; readonly persistence?: HistoryPersistence };
  /**
   * Context windows per model and automatic compaction: a conversation compacts before its next
   * turn once the last model request used min(`autoCompactTokenLimit`, 90% of the window)
   * tokens, keeping its newest turns up to `keepUserTokens` (default 20,000 tokens).
   */
  readonly context?: ContextOptions;
}

/** `start` options: the settings of the turns (as `override_turn_context` takes them), a name and metadata. */
export const StartOptionsSchema = z.extend(TurnSettingsSchema, {
  name: z.optional(z.string().check(z.minLength(1), z.maxLength(256))),
  metadata: z.optional(MetadataSchema),
});
/** Options of `runtime.start`. */
export type StartOptions = z.infer<typeof StartOptionsSchema>;

export const ForkOptionsSchema = z.strictObject({
  beforeUserTurn: z.optional(z.int().check(z.minimum(1))),
  name: z.optional(z.string().check(z.minLength(1), z.maxLength(256))),
});
/**
 * Options of `runtime.fork`. `beforeUserTurn: n` keeps the user turns before the n-th
 * (1-based); without it the fork keeps everything up to the last finished turn.
 */
export type ForkOptions = z.infer<typeof ForkOptionsSchema>;

/** A conversation read back from its log (`runtime.read`). */
export interface ConversationRecord {
  readonly id: string;
  readonly meta: SessionMetaPayload;
  readonly name: string | null;
  readonly config: ConversationConfig;
  readonly turns: readonly TurnTranscript[];
  readonly pending: { readonly approvals: readonly PendingApprovalView[]; readonly input: readonly PendingInputView[] };
}

/** The default home directory: `$COLLOQUY_HOME`, else `~/.colloquy`. */
export function defaultHome(): string {
  return process.env.COLLOQUY_HOME && process.env.COLLOQUY_HOME !== '' ? resolve(process.env.COLLOQUY_HOME) : join(homedir(), '.colloquy');
}
