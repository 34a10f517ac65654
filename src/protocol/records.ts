/**
 * Log records: the lines of a conversation's append-only JSONL log (the "rollout", SPEC §5).
 *
 * Every line is an envelope `{ ts, seq, type, payload }`: `ts` is an ISO-8601 UTC time
 * with milliseconds, `seq` increases by one from 0 in each file, and `type` selects the
 * payload. Line 0 is always `session_meta`. As Codex's `RolloutLine`, but with `seq`
 * (gaps and duplicates are detectable), pending approvals and queued input as records
 * (they survive a restart), and `compacted` holding a summary plus the `seq` where kept
 * history starts instead of a copy of the history.
 */
import * as z from 'zod/mini';
import { AbortReasonSchema, TurnErrorSchema, TurnKindSchema } from './events.js';
import { ThreadItemSchema, UserInputItemSchema, UsageSchema } from './items.js';
import { ApprovalDecisionSchema, ApprovalPolicySchema } from './ops.js';

/** The log format version written in `session_meta.format`. */
export const LOG_FORMAT_VERSION = 1;

/** Settings of a conversation's turns, stored in `session_meta.config` and `turn_context`. */
export const ConversationConfigSchema = z.object({
  /** The model turns ask (`local` for the built-in local agent). */
  model: z.string(),
  /** Instructions (the system prompt) of the turns. */
  instructions: z.optional(z.string()),
  /** Working directory of the turns' commands. */
  cwd: z.string(),
  approvalPolicy: ApprovalPolicySchema,
  /**
   * Sandbox mode of the turns' commands: `read-only`, `workspace-write` or `danger-full-access`
   * (enforced on Linux with bubblewrap; a command under another mode fails without running).
   */
  sandbox: z.optional(z.string()),
  /** Under a `read-only` or `workspace-write` sandbox: may commands use the network (default false). */
  networkAccess: z.optional(z.boolean()),
  /** Under a `workspace-write` sandbox: more directories commands may write, besides `cwd`. */
  writableRoots: z.optional(z.array(z.string())),
  /** JSON Schema the final message of a turn should follow. */
  outputSchema: z.optional(z.unknown()),
});
/** Settings of a conversation's turns, stored in `session_meta.config` and `turn_context`: the type `ConversationConfigSchema` parses to. */
export type ConversationConfig = z.infer<typeof ConversationConfigSchema>;

/** Metadata values an orchestrator may attach to a conversation (filterable in listings). */
export const MetadataSchema = z.record(z.string(), z.union([z.string(), z.number(), z.boolean(), z.null()]));
/** Metadata values an orchestrator may attach to a conversation (filterable in listings): the type `MetadataSchema` parses to. */
export type Metadata = z.infer<typeof MetadataSchema>;

/** Where a fork came from: the source conversation and the last of its `seq`s the fork includes. */
export const ForkOriginSchema = z.object({
  /** The source conversation's id. */
  id: z.string(),
  /** The last `seq` of the source's log that the fork includes. */
  up_to_seq: z.int().check(z.minimum(0)),
});
/** Where a fork came from: the source conversation and the last of its `seq`s the fork includes: the type `ForkOriginSchema` parses to. */
export type ForkOrigin = z.infer<typeof ForkOriginSchema>;

/** Line 0 of every log: the format version, the conversation's id, when it was created, its settings, and where it was forked from. */
export const SessionMetaPayloadSchema = z.object({
  /** The log format version (`LOG_FORMAT_VERSION`, now 1). */
  format: z.int(),
  /** The conversation's id (a ULID). */
  id: z.string(),
  /** When the conversation was created (ISO-8601 UTC). */
  created_at: z.string(),
  forked_from: z.optional(ForkOriginSchema),
  config: ConversationConfigSchema,
  /** The conversation's name, if it was given one when it started. */
  name: z.optional(z.string()),
  metadata: z.optional(MetadataSchema),
  /** What created the log: `colloquy`, or an import (`codex-import`). */
  source: z.optional(z.string()),
});
/** Line 0 of every log: the format version, the conversation's id, when it was created, its settings, and where it was forked from: the type `SessionMetaPayloadSchema` parses to. */
export type SessionMetaPayload = z.infer<typeof SessionMetaPayloadSchema>;

/** A completed item of a turn (model-visible history). */
export const ItemPayloadSchema = z.object({
  /** The turn the item belongs to. */
  turn_id: z.string(),
  item: ThreadItemSchema,
});
/** A completed item of a turn (model-visible history): the type `ItemPayloadSchema` parses to. */
export type ItemPayload = z.infer<typeof ItemPayloadSchema>;

/** Turn lifecycle and thread facts, recorded as `event` records. */
export const RecordedEventSchema = z.discriminatedUnion('type', [
  /** A turn began. */
  z.object({
    type: z.literal('turn.started'),
    /** The turn's id (a ULID). */
    turn_id: z.string(),
    kind: TurnKindSchema,
    /** Id of the submission that started the turn. */
    submission_id: z.optional(z.string()),
    /** The id of the failed turn this one runs again (after a `retry` op). */
    retry_of: z.optional(z.string()),
  }),
  /** The turn completed. */
  z.object({
    type: z.literal('turn.completed'),
    /** The turn's id. */
    turn_id: z.string(),
    /** The conversation's usage so far, this turn included. */
    usage: UsageSchema,
    /** This turn's usage. */
    turn_usage: UsageSchema,
  }),
  /** The turn ended without completing. */
  z.object({
    type: z.literal('turn.aborted'),
    /** The turn's id. */
    turn_id: z.string(),
    reason: AbortReasonSchema,
    /** Cumulative usage, as in `turn.completed`. */
    usage: z.optional(UsageSchema),
  }),
  /** The turn failed. */
  z.object({
    type: z.literal('turn.failed'),
    /** The turn's id. */
    turn_id: z.string(),
    error: TurnErrorSchema,
    /** Cumulative usage, as in `turn.completed`. */
    usage: z.optional(UsageSchema),
  }),
  /** The conversation was named. */
  z.object({
    type: z.literal('thread.name_updated'),
    /** The new name. */
    name: z.string(),
  }),
]);
/** Turn lifecycle and thread facts, recorded as `event` records: the type `RecordedEventSchema` parses to. */
export type RecordedEvent = z.infer<typeof RecordedEventSchema>;

/** The settings from here on: before a turn that changed them (`turn_id`), or after `override_turn_context` (`turn_id` null). */
export const TurnContextPayloadSchema = z.object({
  /** The turn that runs with these settings, or null after `override_turn_context`. */
  turn_id: z.nullable(z.string()),
  config: ConversationConfigSchema,
});
/** The settings from here on: before a turn that changed them (`turn_id`), or after `override_turn_context` (`turn_id` null): the type `TurnContextPayloadSchema` parses to. */
export type TurnContextPayload = z.infer<typeof TurnContextPayloadSchema>;

/**
 * A compaction: `summary` replaces the history before `kept_from_seq`; nothing is copied.
 * It also carries the conversation's state at that point, so a resume can start here
 * without reading what came before.
 */
export const CompactedPayloadSchema = z.object({
  /** The compaction's turn. */
  turn_id: z.string(),
  /** What the model sees instead of the history before `kept_from_seq`. */
  summary: z.string(),
  /** First `seq` of the history kept after the summary. */
  kept_from_seq: z.int().check(z.minimum(0)),
  /**
   * Where a resume may start reading: the earlier of `kept_from_seq` and the start of the
   * compaction's own turn (so input queued during it is not missed). Absent: `kept_from_seq`.
   */
  from_seq: z.optional(z.int().check(z.minimum(0))),
  /** How many turns the kept history holds. */
  kept_turns: z.int().check(z.minimum(0)),
  /** Next item number (`item_<n>`). */
  next_item: z.int().check(z.minimum(0)),
  /** Turns started so far. */
  turns: z.int().check(z.minimum(0)),
  /** The conversation's usage so far. */
  usage: UsageSchema,
  /** The settings in effect. */
  config: ConversationConfigSchema,
  /** The conversation's name, if it has one. */
  name: z.optional(z.string()),
  /** Keys of the requests approved for the rest of the conversation (`approved_for_session`), e.g. `command:ls -la`. */
  session_approvals: z.array(z.string()),
});
/** A compaction: `summary` replaces the history before `kept_from_seq`; nothing is copied: the type `CompactedPayloadSchema` parses to. */
export type CompactedPayload = z.infer<typeof CompactedPayloadSchema>;

/** A turn waits for a decision on `item`: a pending approval that survives a restart. */
export const ApprovalRequestedPayloadSchema = z.object({
  /** The waiting turn. */
  turn_id: z.string(),
  /** The id the approval is answered with (the `approval` op's `callId`). */
  call_id: z.string(),
  item: ThreadItemSchema,
});
/** A turn waits for a decision on `item`: a pending approval that survives a restart: the type `ApprovalRequestedPayloadSchema` parses to. */
export type ApprovalRequestedPayload = z.infer<typeof ApprovalRequestedPayloadSchema>;

/** A pending approval was decided (`approved_for_session` is remembered for the conversation). */
export const ApprovalResolvedPayloadSchema = z.object({
  /** The turn that waited. */
  turn_id: z.string(),
  /** The `call_id` of the `approval_requested` record. */
  call_id: z.string(),
  decision: ApprovalDecisionSchema,
});
/** A pending approval was decided (`approved_for_session` is remembered for the conversation): the type `ApprovalResolvedPayloadSchema` parses to. */
export type ApprovalResolvedPayload = z.infer<typeof ApprovalResolvedPayloadSchema>;

/** Input that arrived while a turn ran, to be run exactly once (queued, steered or replacing the turn). */
export const InputQueuedPayloadSchema = z.object({
  /** Id of the submission that carried the input. */
  submission_id: z.string(),
  /** Steered into the running turn, queued as the next turn, or replacing the running turn. */
  mode: z.enum(['steer', 'queue', 'interrupt']),
  /** The input. */
  items: z.array(UserInputItemSchema),
  /** Id of the `user_message` item the input becomes. */
  item_id: z.string(),
});
/** Input that arrived while a turn ran, to be run exactly once (queued, steered or replacing the turn): the type `InputQueuedPayloadSchema` parses to. */
export type InputQueuedPayload = z.infer<typeof InputQueuedPayloadSchema>;

/** The last `turns` turns were dropped from the model-visible history. */
export const RolledBackPayloadSchema = z.object({
  /** How many turns were dropped. */
  turns: z.int().check(z.minimum(1)),
});
/** The last `turns` turns were dropped from the model-visible history: the type `RolledBackPayloadSchema` parses to. */
export type RolledBackPayload = z.infer<typeof RolledBackPayloadSchema>;

/**
 * Data of a foreign format kept verbatim so nothing is lost: a line of a foreign log (e.g. a
 * Codex rollout) that an import could not map to a Colloquy record, or what an adapter keeps in
 * its own format next to the Colloquy records it writes (the Agents SDK session's items).
 * `source` names the format (`codex`, `openai-agents`), `line` is the JSON object. The fold
 * ignores it; it is never model-visible history for Colloquy agents.
 */
export const OpaquePayloadSchema = z.object({
  /** The foreign format (`codex`, `openai-agents`). */
  source: z.string().check(z.minLength(1)),
  /** The foreign line or data, verbatim. */
  line: z.record(z.string(), z.unknown()),
});
/** Data of a foreign format kept verbatim so nothing is lost: the type `OpaquePayloadSchema` parses to. */
export type OpaquePayload = z.infer<typeof OpaquePayloadSchema>;

const envelope = <T extends string, P extends z.ZodMiniType>(type: T, payload: P) =>
  z.object({
    /** When the record was written (ISO-8601 UTC with milliseconds). */
    ts: z.string(),
    /** The line's number in the log, from 0, increasing by one. */
    seq: z.int().check(z.minimum(0)),
    /** The record kind: what `payload` holds. */
    type: z.literal(type),
    /** The record's data, as described below. */
    payload,
  });

/** Any log record (discriminated on `type`). */
export const LogRecordSchema = z.discriminatedUnion('type', [
  envelope('session_meta', SessionMetaPayloadSchema),
  envelope('item', ItemPayloadSchema),
  envelope('event', RecordedEventSchema),
  envelope('turn_context', TurnContextPayloadSchema),
  envelope('compacted', CompactedPayloadSchema),
  envelope('approval_requested', ApprovalRequestedPayloadSchema),
  envelope('approval_resolved', ApprovalResolvedPayloadSchema),
  envelope('input_queued', InputQueuedPayloadSchema),
  envelope('rolled_back', RolledBackPayloadSchema),
  envelope('opaque', OpaquePayloadSchema),
]);
/** Any log record. */
export type LogRecord = z.infer<typeof LogRecordSchema>;
/** The `type` tag of a log record. */
export type LogRecordType = LogRecord['type'];
/** The record with tag `T`. */
export type LogRecordOf<T extends LogRecordType> = Extract<LogRecord, { type: T }>;
/** The payload of the record with tag `T`. */
export type RecordPayload<T extends LogRecordType> = LogRecordOf<T>['payload'];

/** Every record kind, in the order SPEC §5 lists them, then `opaque` (imported lines kept verbatim). */
export const LOG_RECORD_TYPES: readonly LogRecordType[] = [
  'session_meta',
  'item',
  'event',
  'turn_context',
  'compacted',
  'approval_requested',
  'approval_resolved',
  'input_queued',
  'rolled_back',
  'opaque',
];
