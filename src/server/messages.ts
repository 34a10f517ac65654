/**
 * The WebSocket protocol of the control server (`ws://<host>:<port>/ws`). Every message is a
 * JSON object with a `type`.
 *
 * Client → server:
 * - `{ type: 'subscribe', conversationId, diagram? }`: resumes the conversation if it is not
 *   resident, then sends `event` `thread.started`, a `state`, and every later event in order
 *   (`state` again whenever the state changes). With `diagram: true` the `state` messages
 *   carry the highlighted Mermaid statechart whenever the active states change.
 * - `{ type: 'unsubscribe', conversationId }`: answered by `unsubscribed`.
 * - `{ type: 'submit', conversationId, op, ref? }`: an op (validated with the protocol's
 *   `OpSchema`), answered by `submitted` (with the submission id) or `error`; `ref` is echoed.
 *
 * Server → client: `hello`, `event`, `state`, `submitted`, `unsubscribed`, `error`, and to every
 * client `runtime` (what happens to conversations as a whole: activations, passivations, ends).
 * See below.
 */
import * as z from 'zod/mini';
import type { Issue } from '../errors.js';
import type { ThreadEvent } from '../protocol/events.js';
import type { RuntimeEvent } from '../runtime/runtime.js';
import type { ConversationState } from './state.js';

const Ref = z.optional(z.string().check(z.maxLength(128)));
const ConversationId = z.string().check(z.minLength(1), z.maxLength(64));

/** A message from a client (discriminated on `type`). */
export const ClientMessageSchema = z.discriminatedUnion('type', [
  z.strictObject({ type: z.literal('subscribe'), conversationId: ConversationId, diagram: z.optional(z.boolean()), ref: Ref }),
  z.strictObject({ type: z.literal('unsubscribe'), conversationId: ConversationId, ref: Ref }),
  z.strictObject({ type: z.literal('submit'), conversationId: ConversationId, op: z.unknown(), ref: Ref }),
]);
/** A message from a client. */
export type ClientMessage = z.infer<typeof ClientMessageSchema>;

/** Sent once on connect. */
export interface HelloMessage {
  readonly type: 'hello';
  readonly version: string;
}

/** A conversation's event, in the order the conversation emitted it. `n` counts the subscription's events from 0 (`thread.started`). */
export interface EventMessage {
  readonly type: 'event';
  readonly conversationId: string;
  readonly n: number;
  readonly event: ThreadEvent;
}

/**
 * The conversation's state, sent after `thread.started` and whenever it changes (after the
 * events that changed it). `diagram` — `toMermaid(conversationMachine, { active })`, the
 * statechart with the active states highlighted — comes for subscriptions made with
 * `diagram: true`, when `active` differs from the last `state` sent (about 4 KB each).
 */
export interface StateMessage extends ConversationState {
  readonly type: 'state';
  readonly diagram?: string;
}

/** An op was accepted: `submissionId` names it in the conversation's records. */
export interface SubmittedMessage {
  readonly type: 'submitted';
  readonly conversationId: string;
  readonly submissionId: string;
  readonly ref?: string;
}

/** A subscription ended. */
export interface UnsubscribedMessage {
  readonly type: 'unsubscribed';
  readonly conversationId: string;
  readonly ref?: string;
}

/**
 * A request failed: `code` as the HTTP API's error codes (`invalid_op` with `issues` for a
 * malformed op or message, `session_not_found`, `conversation_busy`, …).
 */
export interface ErrorMessage {
  readonly type: 'error';
  readonly code: string;
  readonly message: string;
  readonly issues?: readonly Issue[];
  readonly conversationId?: string;
  readonly ref?: string;
}

/**
 * What happened to a conversation as a whole, sent to every client: `conversation.activated`
 * (its actor spawned: first use, resume, fork, restart, wake after passivation, with `origin`),
 * `conversation.passivated` (idle: its actor stopped, it waits in its log), `conversation.closed`.
 */
export interface RuntimeMessage {
  readonly type: 'runtime';
  readonly event: RuntimeEvent;
}

/** A message from the server. */
export type ServerMessage = HelloMessage | EventMessage | StateMessage | SubmittedMessage | UnsubscribedMessage | ErrorMessage | RuntimeMessage;
