/**
 * Choosing which actors an inspector sees. A runtime with thousands of conversations produces
 * far more inspection events than an inspector UI can show (or a relay buffer can hold), so
 * an inspection can be narrowed to chosen conversations: a conversation actor
 * (`conversation:<id>`, a child of its shard) and its descendants (its turn, what the turn
 * invokes), known by their parent links as they are created.
 */
import type { InspectionEvent } from 'xstate';

/** A predicate over raw XState inspection events. */
export type InspectionFilter = (event: InspectionEvent) => boolean;

/** The inspection event types the Stately inspector shows (microsteps and actions are dropped by its converter). */
const FORWARDED: ReadonlySet<string> = new Set(['@xstate.actor', '@xstate.event', '@xstate.snapshot']);

/** Whether `event` is of a type the Stately inspector shows. */
export function isForwarded(event: InspectionEvent): boolean {
  return FORWARDED.has(event.type);
}

/** The conversation id of a conversation actor (`conversation:<id>`), or null. */
function conversationOf(event: InspectionEvent): string | null {
  const ref = event.actorRef as { id?: unknown };
  if (typeof ref.id !== 'string' || !ref.id.startsWith('conversation:')) return null;
  return ref.id.slice('conversation:'.length).toUpperCase();
}

/**
 * A filter that lets through only the actors of the given conversations (the conversation
 * actor, its turns and what they invoke), including conversations resumed, restarted or
 * brought back after passivation after the filter was made. Ids are compared
 * case-insensitively. The supervisor, its shards and the persistence actor are left out (they
 * carry every conversation's records).
 */
export function conversationFilter(conversationIds: Iterable<string>): InspectionFilter {
  const wanted = new Set([...conversationIds].map((id) => id.toUpperCase()));
  /** Session ids of the wanted conversations' actors and of their descendants (a restart gives new ones). */
  const members = new Set<string>();
  return (event) => {
    if (event.type === '@xstate.actor') {
      const id = conversationOf(event);
      const parent = (event.actorRef as { _parent?: { sessionId?: string } })._parent?.sessionId;
      if ((id !== null && wanted.has(id)) || (parent !== undefined && members.has(parent))) members.add(event.actorRef.sessionId);
    }
    return members.has(event.actorRef.sessionId);
  };
}
