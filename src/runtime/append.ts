/**
 * Checking record drafts a client of the runtime appends to a conversation (`appendRecords`):
 * each must be a valid record of a kind a client may write, and together they must be whole
 * turns, so the conversation actor can take them while idle and stay consistent.
 */
import { InvalidOpError, type Issue } from '../errors.js';
import type { RecordDraft } from '../log/draft.js';
import { LogRecordSchema } from '../protocol/records.js';
import { fast, toIssues } from '../protocol/validate.js';

/** Record kinds a client may append; `session_meta`, approvals and queued input belong to the conversation actor. */
const APPENDABLE = new Set<RecordDraft['type']>(['event', 'item', 'turn_context', 'compacted', 'rolled_back', 'opaque']);

/**
 * The drafts, validated (parsed copies).
 * @throws {InvalidOpError} naming the first bad draft (`drafts[2].payload.item.text`), a kind a
 *   client may not write, an item outside its turn, or a turn left open.
 */
export function checkDrafts(drafts: readonly RecordDraft[]): RecordDraft[] {
  if (!Array.isArray(drafts)) throw new InvalidOpError([{ path: ['drafts'], message: 'expected an array of record drafts' }], 'records');
  const out: RecordDraft[] = [];
  const issues: Issue[] = [];
  let open: string | null = null;
  drafts.forEach((draft, i) => {
    if (issues.length > 0) return;
    const at = (...path: (string | number)[]): (string | number)[] => ['drafts', i, ...path];
    const d = draft as Partial<RecordDraft> | null;
    if (typeof d !== 'object' || d === null) return void issues.push({ path: at(), message: 'expected a record draft { type, payload }' });
    const ts = d.ts ?? '1970-01-01T00:00:00.000Z';
    const parsed = fast(LogRecordSchema).safeParse({ ts, seq: 0, type: d.type, payload: d.payload });
    if (!parsed.success) {
      const found = toIssues(parsed.error.issues, { ts, seq: 0, type: d.type, payload: d.payload }, []);
      const first = found[0] ?? { path: [], message: 'not a valid record' };
      return void issues.push({ path: at(...first.path.filter((p) => p !== 'seq')), message: first.message });
    }
    const record = parsed.data;
    if (!APPENDABLE.has(record.type)) return void issues.push({ path: at('type'), message: `${record.type} records are written by the conversation itself` });
    if (record.type === 'event') {
      const e = record.payload;
      if (e.type === 'turn.started') {
        if (open !== null) return void issues.push({ path: at('payload', 'turn_id'), message: `turn ${open} has not ended` });
        open = e.turn_id;
      } else if (e.type === 'turn.completed' || e.type === 'turn.aborted' || e.type === 'turn.failed') {
        if (open !== e.turn_id) return void issues.push({ path: at('payload', 'turn_id'), message: `turn ${e.turn_id} was not started by these records` });
        open = null;
      }
    } else if (record.type === 'item' && record.payload.turn_id !== open) {
      return void issues.push({ path: at('payload', 'turn_id'), message: `an item must be inside the turn it names (turn ${record.payload.turn_id} is not open)` });
    }
    out.push({ type: record.type, payload: record.payload, ...(d.ts !== undefined ? { ts: record.ts } : {}) } as RecordDraft);
  });
  if (issues.length === 0 && open !== null) issues.push({ path: ['drafts', drafts.length - 1], message: `turn ${open} is left open: end it in the same records` });
  if (issues.length > 0) throw new InvalidOpError(issues, 'records');
  return out;
}
