/**
 * The fold: a conversation's state computed from its log records, one record at a time.
 *
 * The same fold rebuilds a conversation on resume (records read from the store) and keeps
 * a live conversation's history current (records as they are committed), so what an agent
 * sees after a restart is by construction what it saw before. As Codex's rollout
 * reconstruction, but forward-only and without copying history at compactions.
 */
import type { PendingApproval, QueuedInput, RestoredConversation, RestoredTurn } from './restored.js';
import { approvalKey } from '../protocol/approvals.js';
import type { TurnError, TurnKind } from '../protocol/events.js';
import { ZERO_USAGE, type ThreadItem, type Usage, type UserInputItem } from '../protocol/items.js';
import type { ConversationConfig, LogRecord, SessionMetaPayload } from '../protocol/records.js';

/** How a turn stands in the log. */
export type TurnStatus = 'running' | 'awaiting_approval' | 'completed' | 'aborted' | 'failed';

/** One turn as read back: its items in order. */
export interface TurnTranscript {
  readonly id: string;
  readonly number: number;
  /** `seq` of the turn's first record. */
  readonly startSeq: number;
  readonly kind: TurnKind;
  status: TurnStatus;
  readonly items: ThreadItem[];
  error?: TurnError;
  reason?: string;
}

/** An approval still waiting for a decision. */
export interface PendingApprovalView {
  readonly turnId: string;
  readonly callId: string;
  readonly item: ThreadItem;
}

/** Input still waiting to be run. */
export interface PendingInputView {
  readonly submissionId: string;
  readonly mode: 'steer' | 'queue' | 'interrupt';
  readonly items: readonly UserInputItem[];
}

interface OpenTurn {
  readonly id: string;
  readonly number: number;
  readonly kind: TurnKind;
  readonly submissionId: string | null;
  readonly startSeq: number;
  input: UserInputItem[];
  readonly items: ThreadItem[];
  readonly pending: Map<string, ThreadItem>;
  /** Steered input recorded during this turn and not yet taken. */
  readonly steered: string[];
}

interface QueueEntry {
  readonly submissionId: string;
  readonly mode: 'steer' | 'queue' | 'interrupt';
  readonly items: UserInputItem[];
  readonly itemId: string;
}

/** Where a turn's items start in the flat history. */
interface HistoryBound {
  readonly turnId: string;
  readonly startSeq: number;
  readonly index: number;
}

export interface FoldOptions {
  /** Keep every turn's items (for `read`), not only the model-visible history. */
  readonly transcript?: boolean;
}

const ITEM_ID = /^item_(\d+)$/;

/** How many recent submission ids a fold remembers (`hasSubmission`). */
export const RECENT_SUBMISSIONS = 1024;

/** Rebuild a turn's input from its recorded user message. */
export function inputOf(item: ThreadItem): UserInputItem[] {
  if (item.type !== 'user_message') return [];
  const input: UserInputItem[] = [];
  if (item.text !== '') input.push({ type: 'text', text: item.text });
  for (const path of item.images ?? []) input.push({ type: 'local_image', path });
  return input;
}

/** A conversation's state, folded from its records. */
export class ConversationFold {
  meta: SessionMetaPayload | null = null;
  config: ConversationConfig | null = null;
  name: string | null = null;
  /** `seq` of the next record. */
  nextSeq = 0;
  /** Number of the next `item_<n>` id. */
  nextItem = 0;
  /** Turns started so far. */
  turns = 0;
  usage: Usage = ZERO_USAGE;
  sessionApprovals: string[] = [];
  /** The summary that replaced history before the last compaction. */
  summary: string | null = null;
  /** Model-visible history since the last compaction, oldest first; a turn's items join it when the turn ends. */
  history: ThreadItem[] = [];
  #bounds: HistoryBound[] = [];
  #open: OpenTurn | null = null;
  #queue: QueueEntry[] = [];
  #failed: RestoredConversation['failed'] = null;
  /** The `turn_context` recorded just before a turn's start: the turn begins there. */
  #context: { turnId: string; seq: number } | null = null;
  readonly #transcript: TurnTranscript[] | null;
  /** The most recent submission ids seen in the records (oldest first, at most `RECENT_SUBMISSIONS`). */
  readonly #submissions = new Set<string>();

  constructor(options: FoldOptions = {}) {
    this.#transcript = options.transcript ? [] : null;
  }

  /** Turns in the model-visible history. */
  get historyTurns(): number {
    return this.#bounds.length;
  }

  /** Every turn with its items (only with `transcript: true`). */
  get transcript(): readonly TurnTranscript[] {
    return this.#transcript ?? [];
  }

  /** The first `seq` of each turn in the history, its id, and where its items start in `history` (for compaction). */
  get historyBounds(): readonly { readonly turnId: string; readonly startSeq: number; readonly index: number }[] {
    return this.#bounds;
  }

  /**
   * Whether the records hold submission `id` (an input queued, a turn started, a user message
   * carrying it), among the last `RECENT_SUBMISSIONS`: an op sent again after a failover is
   * known to have been taken already.
   */
  hasSubmission(id: string): boolean {
    return this.#submissions.has(id);
  }

  #sawSubmission(id: string | undefined): void {
    if (id === undefined || this.#submissions.has(id)) return;
    this.#submissions.add(id);
    if (this.#submissions.size > RECENT_SUBMISSIONS) {
      const oldest = this.#submissions.values().next();
      if (!oldest.done) this.#submissions.delete(oldest.value);
    }
  }

  /**
   * Where the conversation stands by its records: `idle`, `turn` (a turn is open), `awaiting_approval`
   * (an open turn waits for a decision) or `failed` (its last turn failed: `retry` or `reset`).
   */
  phase(): 'idle' | 'turn' | 'awaiting_approval' | 'failed' {
    const open = this.#open;
    if (open) return open.pending.size > 0 ? 'awaiting_approval' : 'turn';
    return this.#failed ? 'failed' : 'idle';
  }

  /** The id of the open turn, if one is open. */
  get openTurnId(): string | null {
    return this.#open?.id ?? null;
  }

  /** Apply one record. Records must come in `seq` order. */
  apply(record: LogRecord): void {
    this.nextSeq = record.seq + 1;
    switch (record.type) {
      case 'session_meta':
        return this.#meta(record.payload);
      case 'turn_context':
        this.config = record.payload.config;
        this.#context = record.payload.turn_id !== null ? { turnId: record.payload.turn_id, seq: record.seq } : null;
        return;
      case 'event':
        return this.#event(record.seq, record.payload);
      case 'item':
        return this.#item(record.payload.turn_id, record.payload.item);
      case 'approval_requested':
        if (this.#open && this.#open.id === record.payload.turn_id) {
          this.#open.pending.set(record.payload.call_id, record.payload.item);
          this.#setStatus(this.#open.id, 'awaiting_approval');
        }
        return;
      case 'approval_resolved': {
        const open = this.#open;
        if (!open || open.id !== record.payload.turn_id) return;
        const item = open.pending.get(record.payload.call_id);
        open.pending.delete(record.payload.call_id);
        if (record.payload.decision === 'approved_for_session' && item) {
          const key = approvalKey(item);
          if (!this.sessionApprovals.includes(key)) this.sessionApprovals = [...this.sessionApprovals, key];
        }
        if (open.pending.size === 0) this.#setStatus(open.id, 'running');
        return;
      }
      case 'input_queued': {
        const p = record.payload;
        const entry: QueueEntry = { submissionId: p.submission_id, mode: p.mode, items: p.items, itemId: p.item_id };
        this.#sawSubmission(p.submission_id);
        if (p.mode === 'interrupt') this.#queue.unshift(entry);
        else this.#queue.push(entry);
        if (p.mode === 'steer' && this.#open) this.#open.steered.push(p.submission_id);
        return;
      }
      case 'compacted':
        return this.#compacted(record.payload);
      case 'rolled_back':
        return this.#rollback(record.payload.turns);
      case 'opaque':
        // A foreign line kept verbatim by an import: not part of the conversation's state.
        return;
    }
  }

  #meta(meta: SessionMetaPayload): void {
    if (this.meta || meta.forked_from) {
      // A fork's own header after its source's records: it starts idle, with nothing pending.
      this.#open = null;
      this.#queue = [];
      this.#failed = null;
    }
    this.meta = meta;
    this.config = meta.config;
    this.name = meta.name ?? null;
  }

  #event(seq: number, e: Extract<LogRecord, { type: 'event' }>['payload']): void {
    switch (e.type) {
      case 'turn.started': {
        const startSeq = this.#context?.turnId === e.turn_id ? this.#context.seq : seq;
        this.#context = null;
        this.turns++;
        this.#sawSubmission(e.submission_id);
        this.#sawSubmission(e.turn_id);
        if (e.retry_of !== undefined) this.#dropHistoryTurn(e.retry_of);
        this.#open = {
          id: e.turn_id,
          number: this.turns,
          kind: e.kind,
          submissionId: e.submission_id ?? null,
          startSeq,
          input: [],
          items: [],
          pending: new Map(),
          steered: [],
        };
        if (e.submission_id !== undefined) this.#dequeue(e.submission_id);
        if (e.kind === 'regular') this.#bounds.push({ turnId: e.turn_id, startSeq, index: this.history.length });
        this.#transcript?.push({ id: e.turn_id, number: this.turns, startSeq, kind: e.kind, status: 'running', items: [] });
        return;
      }
      case 'turn.completed':
        this.usage = e.usage;
        this.#close(e.turn_id, 'completed');
        this.#failed = null;
        return;
      case 'turn.aborted':
        if (e.usage) this.usage = e.usage;
        this.#close(e.turn_id, 'aborted', { reason: e.reason });
        return;
      case 'turn.failed': {
        if (e.usage) this.usage = e.usage;
        const open = this.#open;
        if (open && open.id === e.turn_id) {
          this.#failed = { turnId: open.id, kind: open.kind, input: open.input, error: e.error };
        }
        this.#close(e.turn_id, 'failed', { error: e.error });
        return;
      }
      case 'thread.name_updated':
        this.name = e.name;
        return;
    }
  }

  #item(turnId: string, item: ThreadItem): void {
    const n = ITEM_ID.exec(item.id);
    if (n) this.nextItem = Math.max(this.nextItem, Number(n[1]) + 1);
    if (item.type === 'user_message') this.#sawSubmission(item.submission_id);
    const open = this.#open;
    if (open && open.id === turnId) {
      open.items.push(item);
      if (item.type === 'user_message') {
        if (open.input.length === 0 && item.submission_id === open.submissionId) open.input = inputOf(item);
        if (item.submission_id !== undefined && item.submission_id !== open.submissionId) {
          // Steered input taken by the turn.
          this.#dequeue(item.submission_id);
          const i = open.steered.indexOf(item.submission_id);
          if (i !== -1) open.steered.splice(i, 1);
        }
      }
    }

    if (this.#transcript) {
      const turn = this.#transcript.findLast((t) => t.id === turnId);
      turn?.items.push(item);
    }
  }

  #close(turnId: string, status: TurnStatus, detail: { reason?: string; error?: TurnError } = {}): void {
    const open = this.#open;
    if (open && open.id === turnId) {
      // A turn's items join the history when it ends, so an agent's history never holds its own turn.
      if (open.kind === 'regular') for (const item of open.items) this.history.push(item);
      // Steered input the turn never took runs next, ahead of what was queued.
      if (open.steered.length > 0) {
        const taken = new Set(open.steered);
        const steered = this.#queue.filter((q) => taken.has(q.submissionId));
        this.#queue = [...steered, ...this.#queue.filter((q) => !taken.has(q.submissionId))];
      }
      this.#open = null;
    }
    this.#setStatus(turnId, status, detail);
  }

  #setStatus(turnId: string, status: TurnStatus, detail: { reason?: string; error?: TurnError } = {}): void {
    if (!this.#transcript) return;
    const turn = this.#transcript.findLast((t) => t.id === turnId);
    if (!turn) return;
    turn.status = status;
    if (detail.reason !== undefined) turn.reason = detail.reason;
    if (detail.error !== undefined) turn.error = detail.error;
  }

  #dequeue(submissionId: string): void {
    const i = this.#queue.findIndex((q) => q.submissionId === submissionId);
    if (i !== -1) this.#queue.splice(i, 1);
  }

  #dropHistoryTurn(turnId: string): void {
    const last = this.#bounds[this.#bounds.length - 1];
    if (!last || last.turnId !== turnId) return;
    this.#bounds.pop();
    this.history.length = last.index;
  }

  #rollback(turns: number): void {
    const keep = Math.max(0, this.#bounds.length - turns);
    const cut = this.#bounds[keep];
    if (cut) this.history.length = cut.index;
    this.#bounds.length = keep;
  }

  #compacted(p: Extract<LogRecord, { type: 'compacted' }>['payload']): void {
    this.summary = p.summary;
    const firstKept = this.#bounds.findIndex((b) => b.startSeq >= p.kept_from_seq);
    if (firstKept === -1) {
      this.history = [];
      this.#bounds = [];
    } else {
      const offset = this.#bounds[firstKept]?.index ?? 0;
      this.history = this.history.slice(offset);
      this.#bounds = this.#bounds.slice(firstKept).map((b) => ({ ...b, index: b.index - offset }));
    }
    this.nextItem = Math.max(this.nextItem, p.next_item);
    this.turns = Math.max(this.turns, p.turns);
    this.usage = p.usage;
    this.config = p.config;
    if (p.name !== undefined) this.name = p.name;
    this.sessionApprovals = [...p.session_approvals];
  }

  /** Approvals still waiting for a decision. */
  pendingApprovals(): PendingApprovalView[] {
    const open = this.#open;
    if (!open) return [];
    return [...open.pending].map(([callId, item]) => ({ turnId: open.id, callId, item }));
  }

  /** Input still waiting to be run, in the order it will run. */
  pendingInput(): PendingInputView[] {
    return this.#queue.map((q) => ({ submissionId: q.submissionId, mode: q.mode, items: q.items }));
  }

  /** The state a conversation actor resumes from. */
  restored(): RestoredConversation {
    if (!this.meta || !this.config) throw new Error('no session_meta was folded');
    const open = this.#open;
    let openTurn: RestoredTurn | null = null;
    if (open) {
      const pending: PendingApproval[] = [...open.pending].map(([callId, item]) => ({ callId, item }));
      openTurn = {
        id: open.id,
        number: open.number,
        startSeq: open.startSeq,
        kind: open.kind,
        input: open.input,
        submissionId: open.submissionId,
        pending,
        items: open.items,
      };
    }
    let queue: QueuedInput[] = this.#queue.map((q) => ({ submissionId: q.submissionId, items: q.items, itemId: q.itemId }));
    if (open && open.pending.size === 0 && open.steered.length > 0) {
      // The open turn is ended on resume; its untaken steered input runs first.
      const steered = new Set(open.steered);
      queue = [...queue.filter((q) => steered.has(q.submissionId)), ...queue.filter((q) => !steered.has(q.submissionId))];
    }
    return {
      nextSeq: this.nextSeq,
      config: this.config,
      name: this.name,
      turns: this.turns,
      historyTurns: this.historyTurns,
      usage: this.usage,
      sessionApprovals: this.sessionApprovals,
      queue,
      openTurn,
      failed: open ? null : this.#failed,
    };
  }
}
