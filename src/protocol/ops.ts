/**
 * Submissions and ops: everything a client can ask of a conversation (SPEC §4),
 * modelled on Codex's `Submission { id, op }` / `Op` protocol.
 *
 * Every op is validated with these schemas before it reaches a conversation actor;
 * unknown fields are errors, so a typo never silently does nothing.
 */
import * as z from 'zod/mini';
import { UserInputItemSchema } from './items.js';

/**
 * When commands need the user's approval, as Codex's `approval_policy`:
 * `never` (run without asking), `on-request` (ask for every command),
 * `on-failure` (ask when a command fails), `untrusted` (ask for all but trusted commands).
 */
export const ApprovalPolicySchema = z.enum(['never', 'on-request', 'on-failure', 'untrusted']);
/** When commands need the user's approval, as Codex's `approval_policy`: `never` (run without asking), `on-request` (ask for every command), `on-failure` (ask when a command fails), `untrusted` (ask for all but trusted commands): the type `ApprovalPolicySchema` parses to. */
export type ApprovalPolicy = z.infer<typeof ApprovalPolicySchema>;

/**
 * Where a turn's commands run, as Codex's `sandbox_mode`: `read-only` (nothing on disk can be
 * changed), `workspace-write` (only the working directory and the writable roots can be),
 * `danger-full-access` (no sandbox). On Linux it is enforced with bubblewrap (`bwrap`).
 */
export const SandboxModeSchema = z.enum(['read-only', 'workspace-write', 'danger-full-access']);
/** Where a turn's commands run, as Codex's `sandbox_mode`: `read-only` (nothing on disk can be changed), `workspace-write` (only the working directory and the writable roots can be), `danger-full-access` (no sandbox): the type `SandboxModeSchema` parses to. */
export type SandboxMode = z.infer<typeof SandboxModeSchema>;

/**
 * An answer to an approval request, as Codex's `ReviewDecision`:
 * `approved` (this call), `approved_for_session` (this and every later identical request
 * in the conversation), `denied` (the call is declined, the turn goes on),
 * `abort` (deny and interrupt the turn).
 */
export const ApprovalDecisionSchema = z.enum(['approved', 'approved_for_session', 'denied', 'abort']);
/** An answer to an approval request, as Codex's `ReviewDecision`: `approved` (this call), `approved_for_session` (this and every later identical request in the conversation), `denied` (the call is declined, the turn goes on), `abort` (deny and interrupt the turn): the type `ApprovalDecisionSchema` parses to. */
export type ApprovalDecision = z.infer<typeof ApprovalDecisionSchema>;

/**
 * What to do with input that arrives while a turn is running:
 * `steer` (inject it into the running turn before its next model call, Codex's behaviour),
 * `queue` (run it as the next turn), `interrupt` (abort the running turn and start a new one),
 * `reject` (refuse it with `ConversationBusyError`). When no turn runs, every mode starts a turn.
 */
export const BusyModeSchema = z.enum(['steer', 'queue', 'interrupt', 'reject']);
/** What to do with input that arrives while a turn is running: `steer` (inject it into the running turn before its next model call, Codex's behaviour), `queue` (run it as the next turn), `interrupt` (abort the running turn and start a new one), `reject` (refuse it with `ConversationBusyError`): the type `BusyModeSchema` parses to. */
export type BusyMode = z.infer<typeof BusyModeSchema>;

/** Settings a turn runs with. Recorded as `turn_context` records. */
export const TurnSettingsSchema = z.strictObject({
  model: z.optional(z.string().check(z.minLength(1))),
  instructions: z.optional(z.string()),
  cwd: z.optional(z.string().check(z.minLength(1))),
  approvalPolicy: z.optional(ApprovalPolicySchema),
  sandbox: z.optional(SandboxModeSchema),
  /** Under a `read-only` or `workspace-write` sandbox: may commands use the network (default false). */
  networkAccess: z.optional(z.boolean()),
  /** Under a `workspace-write` sandbox: more directories commands may write, besides `cwd`. */
  writableRoots: z.optional(z.array(z.string().check(z.minLength(1)))),
  outputSchema: z.optional(z.unknown()),
});
/** Settings a turn runs with: the type `TurnSettingsSchema` parses to. */
export type TurnSettings = z.infer<typeof TurnSettingsSchema>;

/** Input from the user: starts a turn, or while one runs, follows `mode` (default `queue`). */
const UserInputOp = z.strictObject({
  type: z.literal('user_input'),
  items: z.array(UserInputItemSchema).check(z.minLength(1)),
  mode: z.optional(BusyModeSchema),
});
/** Abort the running turn (it ends `turn.aborted`, reason `interrupted`). */
const InterruptOp = z.strictObject({ type: z.literal('interrupt') });
/** Decide a pending approval (`callId` from `approval.requested`); `abort` interrupts the turn. */
const ApprovalOp = z.strictObject({
  type: z.literal('approval'),
  /** The `callId` of the `approval.requested` event being answered. */
  callId: z.string().check(z.minLength(1)),
  decision: ApprovalDecisionSchema,
});
/** Run a `compact` turn: the history is replaced by a summary (recorded as a `compacted` record). */
const CompactOp = z.strictObject({ type: z.literal('compact') });
/** Drop the last `turns` turns from the model-visible history (they stay in the log). */
const RollbackOp = z.strictObject({
  type: z.literal('rollback'),
  /** How many of the newest turns to drop. */
  turns: z.int().check(z.minimum(1)),
});
/** Change the settings later turns run with (recorded as a `turn_context` record). */
const OverrideTurnContextOp = z.strictObject({
  type: z.literal('override_turn_context'),
  /** The model later turns ask. */
  model: z.optional(z.string().check(z.minLength(1))),
  /** Instructions (the system prompt) for later turns. */
  instructions: z.optional(z.string()),
  /** Working directory of later turns' commands. */
  cwd: z.optional(z.string().check(z.minLength(1))),
  approvalPolicy: z.optional(ApprovalPolicySchema),
  /** Sandbox mode of later turns' commands (e.g. `workspace-write`), enforced on Linux with bubblewrap. */
  sandbox: z.optional(SandboxModeSchema),
  /** Under a `read-only` or `workspace-write` sandbox: may later turns' commands use the network. */
  networkAccess: z.optional(z.boolean()),
  /** Under a `workspace-write` sandbox: more directories later turns' commands may write, besides `cwd` (replaces the earlier list). */
  writableRoots: z.optional(z.array(z.string().check(z.minLength(1)))),
  /**
   * JSON Schema the final message of later turns should follow; `null` removes it (as Codex
   * exec, where each turn carries its own `--output-schema`).
   */
  outputSchema: z.optional(z.unknown()),
});
/** Name the conversation (shown in listings). */
const SetNameOp = z.strictObject({
  type: z.literal('set_name'),
  /** The new name. */
  name: z.string().check(z.minLength(1), z.maxLength(256)),
});
/** In `error`: run the failed turn again (after a store failure: write what is pending, then go on). */
const RetryOp = z.strictObject({ type: z.literal('retry') });
/** In `error`: return to `idle` without re-running anything. */
const ResetOp = z.strictObject({ type: z.literal('reset') });
/** Close the conversation: a running turn is aborted, everything is made durable, then `thread.closed`. */
const ShutdownOp = z.strictObject({ type: z.literal('shutdown') });

/**
 * Every op (discriminated on `type`). `retry` and `reset` leave the `error` state:
 * `retry` runs the failed turn again, `reset` returns to `idle`.
 */
export const OpSchema = z.discriminatedUnion('type', [
  UserInputOp,
  InterruptOp,
  ApprovalOp,
  CompactOp,
  RollbackOp,
  OverrideTurnContextOp,
  SetNameOp,
  RetryOp,
  ResetOp,
  ShutdownOp,
]);
/** Any op. */
export type Op = z.infer<typeof OpSchema>;
/** The `type` tag of an op. */
export type OpType = Op['type'];
/** The op with tag `T`. */
export type OpOf<T extends OpType> = Extract<Op, { type: T }>;

/** A submission: an op with the id it is acknowledged under. */
export const SubmissionSchema = z.strictObject({
  id: z.string().check(z.minLength(1), z.maxLength(128)),
  op: OpSchema,
});
/** A submission: an op with the id it is acknowledged under: the type `SubmissionSchema` parses to. */
export type Submission = z.infer<typeof SubmissionSchema>;
