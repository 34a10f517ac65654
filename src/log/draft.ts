/**
 * Record drafts: a log record before it is numbered. A draft has a type and a payload; the
 * conversation actor gives it its `seq` and `ts` when it records it (the only place that
 * numbers a log).
 */
import type { LogRecordType, RecordPayload } from '../protocol/records.js';

/**
 * A record before it gets its `seq` (and its `ts`, unless it brings its own: an imported
 * record keeps the time it was first written).
 */
export type RecordDraft = {
  [T in LogRecordType]: { readonly type: T; readonly payload: RecordPayload<T>; readonly ts?: string };
}[LogRecordType];

/** A draft of `type` with `payload`, typed by its record kind. */
export const draft = <T extends LogRecordType>(type: T, payload: RecordPayload<T>): RecordDraft => ({ type, payload }) as RecordDraft;
