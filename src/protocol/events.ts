/**
 * Thread events: what a conversation tells its subscribers, in the vocabulary of the
 * Codex SDK's `ThreadEvent` (the `codex exec --experimental-json` stream), extended with
 * `turn_id` fields, approvals, aborts, compaction, naming and closing (SPEC §4).
 *
 * `thread.started` is always the first event a subscriber sees.
 */
import * as z from 'zod/mini';
import { ThreadItemSchema, UsageSchema } from './items.js';
import { ApprovalDecisionSchema, ApprovalPolicySchema } from './ops.js';

/**
 * Why a turn ended without completing:
 * `interrupted` (an `interrupt` op, an `abort` approval decision or an aborted `signal`),
 * `replaced` (input with mode `interrupt` started a new turn),
 * `shutdown` (the conversation was closed or the runtime shut down mid-turn),
 * `restart` (the process ended mid-turn; found when the log was resumed),
 * `store_failure` (the turn's records could not be written).
 */
export const AbortReasonSchema = z.enum(['interrupted', 'replaced', 'shutdown', 'restart', 'store_failure']);
/** Why a turn ended without completing: `interrupted` (an `interrupt` op, an `abort` approval decision or an aborted `signal`), `replaced` (input with mode `interrupt` started a new turn), `shutdown` (the conversation was closed or the runtime shut down mid-turn), `restart` (the process ended mid-turn; found when the log was resumed), `store_failure` (the turn's records could not be written): the type `AbortReasonSchema` parses to. */
export type AbortReason = z.infer<typeof AbortReasonSchema>;

/** The kind of a turn, as Codex's `TaskKind`. */
export const TurnKindSchema = z.enum(['regular', 'review', 'compact']);
/** The kind of a turn, as Codex's `TaskKind`: the type `TurnKindSchema` parses to. */
export type TurnKind = z.infer<typeof TurnKindSchema>;

/** A turn error as reported in `turn.failed` (as the Codex SDK's `ThreadError`, plus a code). */
export const TurnErrorSchema = z.object({
  /** What went wrong, for a person. */
  message: z.string(),
  /** A stable code for programs (e.g. the model endpoint's error code). */
  code: z.optional(z.string()),
});
/** A turn error as reported in `turn.failed` (as the Codex SDK's `ThreadError`, plus a code): the type `TurnErrorSchema` parses to. */
export type TurnError = z.infer<typeof TurnErrorSchema>;

/** The turn's id (a ULID). */
const turnId = z.string();

/**
 * The first event a subscriber sees: the conversation's id (as Codex's `thread.started`) and
 * the settings its turns run with, as Codex's `SessionConfigured` carries them. Everything but
 * `thread_id` is an extra field, so the event stays valid for the Codex SDK.
 */
export const ThreadStartedEventSchema = z.object({
  type: z.literal('thread.started'),
  /** The conversation's id (a ULID). */
  thread_id: z.string(),
  /** The model the next turn asks (`local` for the built-in local agent). */
  model: z.optional(z.string()),
  /** The working directory of the turns' commands. */
  cwd: z.optional(z.string()),
  /** When commands need approval (`never`, `on-request`, `on-failure`, `untrusted`). */
  approval_policy: z.optional(ApprovalPolicySchema),
  /** The sandbox mode of the turns' commands, when one was set. */
  sandbox: z.optional(z.string()),
  /** The conversation's name, when it has one. */
  name: z.optional(z.string()),
  /** Turns started so far. */
  turns: z.optional(z.int().check(z.minimum(0))),
  /** The length of the model-visible history: the turns in it (those since the last compaction, minus rolled back ones). */
  history_turns: z.optional(z.int().check(z.minimum(0))),
});
/** A turn began; `kind` is absent for regular turns (as Codex's `turn.started`, plus its id). */
export const TurnStartedEventSchema = z.object({
  type: z.literal('turn.started'),
  turn_id: turnId,
  kind: z.optional(TurnKindSchema),
});
/** An item began (a command started, a message started streaming). Not recorded. */
export const ItemStartedEventSchema = z.object({ type: z.literal('item.started'), turn_id: turnId, item: ThreadItemSchema });
/** An item changed while in progress (streamed text, command output so far). Not recorded. */
export const ItemUpdatedEventSchema = z.object({ type: z.literal('item.updated'), turn_id: turnId, item: ThreadItemSchema });
/** An item's final form; recorded in the log and part of the history. */
export const ItemCompletedEventSchema = z.object({
  type: z.literal('item.completed'),
  turn_id: turnId,
  item: ThreadItemSchema,
});
/** The turn waits for a decision on `item` (answer with an `approval` op naming `callId`). */
export const ApprovalRequestedEventSchema = z.object({
  type: z.literal('approval.requested'),
  turn_id: turnId,
  /** The id to answer with (the `approval` op's `callId`). */
  callId: z.string(),
  item: ThreadItemSchema,
});
/** A pending approval was decided. */
export const ApprovalResolvedEventSchema = z.object({
  type: z.literal('approval.resolved'),
  turn_id: turnId,
  /** The `callId` of the approval that was decided. */
  callId: z.string(),
  decision: ApprovalDecisionSchema,
});
/** Input that arrived while a turn ran was queued, steered into the turn, or replaces it (`mode`). */
export const InputQueuedEventSchema = z.object({
  type: z.literal('input.queued'),
  /** Id of the submission that carried the input. */
  submission_id: z.string(),
  /** What happens to it: steered into the running turn, queued as the next turn, or replacing the running turn. */
  mode: z.enum(['steer', 'queue', 'interrupt']),
  /** The input's text. */
  text: z.string(),
});
/**
 * The turn completed and its records are durable. `usage` is the conversation's cumulative
 * usage (as Codex's `turn.completed`); `turn_usage` is this turn's (tokens).
 */
export const TurnCompletedEventSchema = z.object({
  type: z.literal('turn.completed'),
  turn_id: turnId,
  /** The conversation's usage so far, this turn included. */
  usage: UsageSchema,
  /** This turn's usage. */
  turn_usage: z.optional(UsageSchema),
});
/** The turn ended without completing (see `AbortReason`); announced once its end is durable. */
export const TurnAbortedEventSchema = z.object({ type: z.literal('turn.aborted'), turn_id: turnId, reason: AbortReasonSchema });
/** The turn failed (the conversation is now in `error`: `retry` or `reset`); announced once durable. */
export const TurnFailedEventSchema = z.object({ type: z.literal('turn.failed'), turn_id: turnId, error: TurnErrorSchema });
/** A compaction replaced the history before `kept_from_seq` with a summary. */
export const ContextCompactedEventSchema = z.object({
  type: z.literal('context.compacted'),
  turn_id: turnId,
  /** The first log `seq` of the history kept after the summary. */
  kept_from_seq: z.int(),
});
/** A non-fatal error (as Codex exec's `error` event). */
export const ErrorEventSchema = z.object({
  type: z.literal('error'),
  /** What went wrong. */
  message: z.string(),
  /** A stable code, when known: the store's (`store_error`, `lease_lost`, …). */
  code: z.optional(z.string()),
});
/** The conversation was named. */
export const ThreadNameUpdatedEventSchema = z.object({
  type: z.literal('thread.name_updated'),
  /** The new name. */
  name: z.string(),
});
/** The last `turns` turns were dropped from the model-visible history. */
export const ThreadRolledBackEventSchema = z.object({
  type: z.literal('thread.rolled_back'),
  /** How many turns were dropped. */
  turns: z.int(),
});
/** The conversation closed; nothing follows. */
export const ThreadClosedEventSchema = z.object({ type: z.literal('thread.closed') });
/**
 * Something in the conversation's log was not a clean record and was dealt with: a torn last
 * line (a crash mid-write) moved to the `.torn` side file, or a line skipped in lenient mode.
 * `line` is 1-based; `detail` never quotes the line.
 */
export const LogIssueEventSchema = z.object({
  type: z.literal('log.issue'),
  /** What was found: `torn_tail`, `bad_line`, `seq_gap`, `seq_duplicate`, `bom` or `bad_header`. */
  kind: z.string(),
  /** The line of the log it was found at (1-based). */
  line: z.int(),
  /** What was done about it. */
  detail: z.string(),
});

/**
 * A model endpoint's rate limits, merged across responses (a field a response lacks keeps its
 * last value): `requests` and `tokens`, each with `limit`, `remaining` and `reset_ms` (ms).
 */
export const RateLimitSnapshotSchema = z.record(
  z.string(),
  z.object({ limit: z.optional(z.number()), remaining: z.optional(z.number()), reset_ms: z.optional(z.number()) }),
);
/** A model endpoint's rate limits, merged across responses (a field a response lacks keeps its last value): `requests` and `tokens`, each with `limit`, `remaining` and `reset_ms` (ms): the type `RateLimitSnapshotSchema` parses to. */
export type RateLimitSnapshot = z.infer<typeof RateLimitSnapshotSchema>;

/** New rate-limit figures from the model endpoint (not recorded). */
export const RateLimitsUpdatedEventSchema = z.object({
  type: z.literal('rate_limits.updated'),
  /** The turn whose model request reported them. */
  turn_id: z.string(),
  rate_limits: RateLimitSnapshotSchema,
});
/** A model request failed and is tried again after `delay_ms` (not recorded; as Codex's `StreamError`). */
export const ModelRetryingEventSchema = z.object({
  type: z.literal('model.retrying'),
  /** The turn whose model request failed. */
  turn_id: z.string(),
  /** Which retry this is (1 for the first). */
  attempt: z.int(),
  /** How long until the request is sent again (ms). */
  delay_ms: z.int(),
  /** Why the request failed. */
  message: z.string(),
});

/** Any thread event (discriminated on `type`). */
export const ThreadEventSchema = z.discriminatedUnion('type', [
  ThreadStartedEventSchema,
  TurnStartedEventSchema,
  ItemStartedEventSchema,
  ItemUpdatedEventSchema,
  ItemCompletedEventSchema,
  ApprovalRequestedEventSchema,
  ApprovalResolvedEventSchema,
  InputQueuedEventSchema,
  TurnCompletedEventSchema,
  TurnAbortedEventSchema,
  TurnFailedEventSchema,
  ContextCompactedEventSchema,
  ErrorEventSchema,
  ThreadNameUpdatedEventSchema,
  ThreadRolledBackEventSchema,
  ThreadClosedEventSchema,
  LogIssueEventSchema,
  RateLimitsUpdatedEventSchema,
  ModelRetryingEventSchema,
]);
/** Any thread event. */
export type ThreadEvent = z.infer<typeof ThreadEventSchema>;
/** The `type` tag of a thread event. */
export type ThreadEventType = ThreadEvent['type'];
/** The thread event with tag `T`. */
export type ThreadEventOf<T extends ThreadEventType> = Extract<ThreadEvent, { type: T }>;
