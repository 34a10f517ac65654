/**
 * What a listing shows of a conversation, derived from its records.
 */
import type { LogRecord, SessionMetaPayload } from '../protocol/records.js';
import type { ConversationSummary } from './store.js';

/** The summary of a conversation from its `session_meta`. */
export function summaryOf(meta: SessionMetaPayload, updatedMs: number, archived: boolean, name?: string): ConversationSummary {
  const shown = name ?? meta.name;
  return {
    id: meta.id,
    createdAt: meta.created_at,
    updatedAt: new Date(updatedMs).toISOString(),
    ...(shown !== undefined ? { name: shown } : {}),
    ...(meta.metadata !== undefined ? { metadata: meta.metadata } : {}),
    ...(meta.forked_from !== undefined ? { forkedFrom: meta.forked_from } : {}),
    archived,
    model: meta.config.model,
    cwd: meta.config.cwd,
  };
}

/** The latest name set by `records`, if any. */
export function latestName(records: readonly LogRecord[], previous?: string): string | undefined {
  let name = previous;
  for (const r of records) {
    if (r.type === 'event' && r.payload.type === 'thread.name_updated') name = r.payload.name;
    else if (r.type === 'compacted' && r.payload.name !== undefined) name = r.payload.name;
  }
  return name;
}
