/**
 * The events a log record stands for, as a conversation's subscribers get them: the recorded
 * half of the event stream (what streams without being recorded, `item.started` and
 * `item.updated`, has no record). The conversation actor tells these for records a client of the
 * runtime appends; a node following a conversation another node owns tells them for the records
 * it reads back, so its subscribers see the same turns, items and approvals in the same order.
 */
import type { ThreadEvent } from '../protocol/events.js';
import { inputText } from '../protocol/items.js';
import type { LogRecord } from '../protocol/records.js';
import type { RecordDraft } from './draft.js';

/**
 * The thread events of one record (none for `session_meta`, `turn_context` and `opaque`).
 * Records carry no `thread.closed` or errors: those are a node's own.
 */
export function eventsOfRecord(record: LogRecord | RecordDraft): ThreadEvent[] {
  const r = record as LogRecord;
  switch (r.type) {
    case 'event': {
      const p = r.payload;
      switch (p.type) {
        case 'turn.started':
          return [{ type: 'turn.started', turn_id: p.turn_id, kind: p.kind }];
        case 'turn.completed':
          return [{ type: 'turn.completed', turn_id: p.turn_id, usage: p.usage, turn_usage: p.turn_usage }];
        case 'turn.aborted':
          return [{ type: 'turn.aborted', turn_id: p.turn_id, reason: p.reason }];
        case 'turn.failed':
          return [{ type: 'turn.failed', turn_id: p.turn_id, error: p.error }];
        case 'thread.name_updated':
          return [{ type: 'thread.name_updated', name: p.name }];
      }
      return [];
    }
    case 'item':
      return [{ type: 'item.completed', turn_id: r.payload.turn_id, item: r.payload.item }];
    case 'approval_requested':
      return [{ type: 'approval.requested', turn_id: r.payload.turn_id, callId: r.payload.call_id, item: r.payload.item }];
    case 'approval_resolved':
      return [{ type: 'approval.resolved', turn_id: r.payload.turn_id, callId: r.payload.call_id, decision: r.payload.decision }];
    case 'input_queued':
      return [{ type: 'input.queued', submission_id: r.payload.submission_id, mode: r.payload.mode, text: inputText(r.payload.items) }];
    case 'rolled_back':
      return [{ type: 'thread.rolled_back', turns: r.payload.turns }];
    case 'compacted':
      return [{ type: 'context.compacted', turn_id: r.payload.turn_id, kept_from_seq: r.payload.kept_from_seq }];
    case 'session_meta':
    case 'turn_context':
    case 'opaque':
      return [];
  }
}
