/**
 * The mapping of a Codex rollout onto Colloquy log records, one line at a time (pure: no I/O).
 *
 * - `session_meta` → `session_meta` (a new Colloquy id, `source: 'codex-import'`; the Codex
 *   thread id, cwd, originator, CLI version… in `metadata`), followed by the original line as
 *   an `opaque` record (base instructions, git info and the rest are kept there). Later
 *   `session_meta` lines (a fork copies its parent's) are opaque.
 * - Turns: `event_msg` `task_started` / `turn_started` opens one, `task_complete` /
 *   `turn_complete` completes it (`turn.completed` with the cumulative and per-turn usage of
 *   the `token_count` events), `turn_aborted` aborts it (`turn.aborted`). Rollouts without these
 *   events (the legacy variant) get one turn per user message. A turn is recorded as `compact`
 *   when a `compacted` line comes before any item. A turn still open at the end of the file (its
 *   process died) is aborted with reason `restart`.
 * - `turn_context` → `turn_context` (model, cwd, approval policy, sandbox).
 * - `response_item` → items (see `codex-items.ts`); `compacted` → `compacted` with Codex's
 *   summary (`message`). Its `replacement_history` is not copied: Colloquy keeps the summary and
 *   drops the history before it (before the compaction's own turn when Codex compacted in the
 *   middle of a turn).
 * - `event_msg` `thread_name_updated` → `thread.name_updated`; `thread_rolled_back` →
 *   `rolled_back`; `error` → an `error` item; `token_count` → usage.
 * - Everything else (developer and context messages, the `event_msg`s that mirror response
 *   items, `world_state`, `token_usage_record`, unknown kinds) → `opaque`, verbatim.
 */
import { CorruptLogError } from '../errors.js';
import type { AbortReason, TurnKind } from '../protocol/events.js';
import { idTime, newConversationId } from '../protocol/ids.js';
import { ZERO_USAGE, type Usage } from '../protocol/items.js';
import { ApprovalPolicySchema, type ApprovalPolicy } from '../protocol/ops.js';
import {
  LOG_FORMAT_VERSION,
  type ConversationConfig,
  type LogRecord,
  type LogRecordType,
  type Metadata,
  type RecordPayload,
} from '../protocol/records.js';
import { isObject, str, type CodexLine, type JsonObject } from './codex-lines.js';
import {
  callOf,
  completedCall,
  contentText,
  imageCount,
  outputOf,
  reasoningText,
  userText,
  webSearchQuery,
  type ItemDraft,
  type PendingCall,
} from './codex-items.js';

/** Something an import found in a rollout that is not a cleanly mapped line. `line` is 1-based. */
export interface CodexImportIssue {
  readonly kind: 'bad_line' | 'torn_tail' | 'bom' | 'ordinal' | 'unfinished_turn' | 'history_base';
  readonly path: string;
  readonly line: number;
  readonly detail: string;
}

export interface CodexMapperOptions {
  /** The new conversation's id. */
  readonly id: string;
  /** The rollout's path (for metadata and messages). */
  readonly path: string;
  /** Name of the new conversation. */
  readonly name?: string;
  /** Metadata added to the new conversation's (after the `codex.*` keys). */
  readonly metadata?: Metadata;
  /** The cwd when the rollout names none (legacy variant). Default `process.cwd()`. */
  readonly cwd?: string;
  readonly onIssue: (issue: CodexImportIssue) => void;
}

/** Counts of what was imported. */
export interface CodexImportCounts {
  /** Turns recorded. */
  turns: number;
  /** Thread items recorded. */
  items: number;
  /** `opaque` records written (lines kept verbatim). */
  opaque: number;
  /** Records written in all. */
  records: number;
}

interface OpenTurn {
  id: string;
  explicit: boolean;
  started: boolean;
  kind: TurnKind;
  /** Where the turn starts in the log, as the fold reckons it (its `turn_context`, else its `turn.started`). */
  startSeq: number;
  hasUser: boolean;
  /** Items other than user messages. */
  outputs: number;
  readonly startUsage: Usage;
  readonly calls: Map<string, PendingCall>;
}

/** Lines read after `session_meta` while looking for the first `turn_context` (its model and policy). */
const HEAD_LINES = 64;

function count(value: unknown): number {
  const n = typeof value === 'number' ? value : Number(value);
  return Number.isFinite(n) && n > 0 ? Math.trunc(n) : 0;
}

/** Codex's `TokenUsage` (`total_token_usage`) as a Colloquy usage. */
function usageOf(u: JsonObject): Usage {
  return {
    input_tokens: count(u.input_tokens),
    cached_input_tokens: count(u.cached_input_tokens),
    output_tokens: count(u.output_tokens),
    reasoning_output_tokens: count(u.reasoning_output_tokens),
  };
}

function minus(a: Usage, b: Usage): Usage {
  return {
    input_tokens: Math.max(0, a.input_tokens - b.input_tokens),
    cached_input_tokens: Math.max(0, a.cached_input_tokens - b.cached_input_tokens),
    output_tokens: Math.max(0, a.output_tokens - b.output_tokens),
    reasoning_output_tokens: Math.max(0, a.reasoning_output_tokens - b.reasoning_output_tokens),
  };
}

function approvalOf(value: unknown): ApprovalPolicy | undefined {
  const parsed = ApprovalPolicySchema.safeParse(value);
  return parsed.success ? parsed.data : undefined;
}

/** The sandbox mode of a `turn_context` (`sandbox_policy.type`, or `.mode` in older versions). */
function sandboxOf(p: JsonObject): string | undefined {
  const policy = p.sandbox_policy;
  if (typeof policy === 'string') return policy;
  if (isObject(policy)) return str(policy.type) ?? str(policy.mode);
  return undefined;
}

/** Codex's `TurnAbortReason` as Colloquy's: `replaced` stays, everything else was an interrupt. */
function abortReasonOf(value: unknown): AbortReason {
  return value === 'replaced' ? 'replaced' : 'interrupted';
}

/** Maps one rollout's lines to records. Feed `push` every line in order, then call `end`. */
export class CodexRolloutMapper {
  readonly counts: CodexImportCounts = { turns: 0, items: 0, opaque: 0, records: 0 };
  /** The Codex thread id (`session_meta.id`), once the meta line was read. */
  codexThreadId: string | null = null;
  readonly #options: CodexMapperOptions;
  #out: LogRecord[] = [];
  #seq = 0;
  #ts: string;
  #state: 'before_meta' | 'head' | 'body' = 'before_meta';
  #meta: { line: CodexLine; number: number } | null = null;
  #pending: { line: CodexLine; number: number }[] = [];
  #config: ConversationConfig = { model: 'codex', cwd: '/', approvalPolicy: 'on-request' };
  #name: string | null = null;
  #nextItem = 0;
  #usage: Usage = ZERO_USAGE;
  #open: OpenTurn | null = null;
  /** The last `turn_context` recorded, until a turn starts. */
  #context: { turnId: string | null; seq: number } | null = null;
  #turnIds = new Set<string>();
  #paginated = false;
  #missingOrdinalReported = false;
  #lastOrdinal: number | undefined = undefined;
  #lineNo = 0;

  constructor(options: CodexMapperOptions) {
    this.#options = options;
    this.#ts = new Date(idTime(options.id)).toISOString();
  }

  /**
   * Whether a turn's `turn.started` has been mapped and its end not yet: the records so far end
   * inside a turn (an import writes at turn boundaries).
   */
  get inTurn(): boolean {
    return this.#open?.started === true;
  }

  /**
   * Map one line; returns the records it completes, possibly none. Their `seq` is the one they
   * get in the new conversation, which numbers its records from 0 in this order (references
   * such as a compaction's `kept_from_seq` are in these terms); the import writes them as
   * drafts and has the conversation check that it numbers them so.
   */
  push(line: CodexLine, number: number): LogRecord[] {
    this.#lineNo = number;
    this.#checkOrdinal(line, number);
    switch (this.#state) {
      case 'before_meta':
        if (line.kind === 'session_meta') {
          this.#meta = { line, number };
          this.#paginated = line.payload.history_mode === 'paginated';
          this.#state = 'head';
        } else {
          this.#pending.push({ line, number });
          if (this.#pending.length > HEAD_LINES) throw this.#noMeta(number);
        }
        break;
      case 'head':
        this.#pending.push({ line, number });
        if (line.kind === 'turn_context' || this.#pending.length >= HEAD_LINES) this.#startBody();
        break;
      case 'body':
        this.#line(line, number);
        break;
    }
    return this.#drain();
  }

  /**
   * The end of the file: records for what is still open.
   * @throws {CorruptLogError} when the file had no `session_meta` line.
   */
  end(): LogRecord[] {
    if (this.#state === 'before_meta') throw this.#noMeta(this.#lineNo);
    if (this.#state === 'head') this.#startBody();
    const open = this.#open;
    if (open) this.#closeOpen(open, 'Codex stopped mid-turn');
    return this.#drain();
  }

  /**
   * Close the open turn: one Codex opened explicitly and never ended is imported as aborted (and
   * reported); an implicit one (legacy rollouts have no turn events) as completed.
   */
  #closeOpen(open: OpenTurn, why: string): void {
    if (!open.explicit) return this.#close('completed');
    this.#options.onIssue({
      kind: 'unfinished_turn',
      path: this.#options.path,
      line: this.#lineNo,
      detail: `turn ${open.id} has no task_complete or turn_aborted (${why}); imported as aborted`,
    });
    this.#close('aborted', 'restart');
  }

  #noMeta(line: number): CorruptLogError {
    return new CorruptLogError(this.#options.path, Math.max(line, 1), `no session_meta line: not a Codex rollout`);
  }

  #drain(): LogRecord[] {
    const out = this.#out;
    this.#out = [];
    return out;
  }

  #checkOrdinal(line: CodexLine, number: number): void {
    const issue = (detail: string): void => this.#options.onIssue({ kind: 'ordinal', path: this.#options.path, line: number, detail });
    if (line.ordinal === undefined) {
      if (this.#paginated && !this.#missingOrdinalReported) {
        this.#missingOrdinalReported = true;
        issue('lines of this paginated rollout have no ordinal (reported once, at the first)');
      }
      return;
    }
    if (this.#lastOrdinal !== undefined && line.ordinal !== this.#lastOrdinal + 1) {
      const how = line.ordinal === this.#lastOrdinal ? 'repeated' : line.ordinal < this.#lastOrdinal ? 'out of order' : 'gap';
      issue(`ordinal ${line.ordinal} follows ${this.#lastOrdinal} (${how})`);
    }
    this.#lastOrdinal = line.ordinal;
  }

  // ——— records ———

  #emit<T extends LogRecordType>(type: T, payload: RecordPayload<T>): number {
    const seq = this.#seq++;
    this.#out.push({ ts: this.#ts, seq, type, payload } as LogRecord);
    this.counts.records++;
    return seq;
  }

  #opaque(line: CodexLine): void {
    this.#emit('opaque', { source: 'codex', line: line.raw });
    this.counts.opaque++;
  }

  #item(draft: ItemDraft): void {
    const turn = this.#ensureStarted('regular');
    if (draft.type !== 'user_message') turn.outputs++;
    this.#emit('item', { turn_id: turn.id, item: { id: `item_${this.#nextItem++}`, ...draft } as RecordPayload<'item'>['item'] });
    this.counts.items++;
  }

  // ——— session_meta ———

  #startBody(): void {
    const meta = this.#meta;
    if (!meta) return;
    this.#state = 'body';
    const firstContext = this.#pending.find((p) => p.line.kind === 'turn_context')?.line.payload;
    this.#emitMeta(meta.line, firstContext);
    this.#opaque(meta.line);
    const pending = this.#pending;
    this.#pending = [];
    for (const p of pending) {
      this.#lineNo = p.number;
      this.#line(p.line, p.number);
    }
  }

  #emitMeta(line: CodexLine, context: JsonObject | undefined): void {
    const m = line.payload;
    const { id, path } = this.#options;
    if (line.timestamp) this.#ts = line.timestamp;
    this.codexThreadId = str(m.id) ?? str(m.session_id) ?? null;
    const ctx = context ?? {};
    const sandbox = sandboxOf(ctx);
    const instructions = str(ctx.user_instructions) ?? (line.legacy ? str(m.instructions) : undefined);
    this.#config = {
      model: str(ctx.model) ?? str(m.model) ?? 'codex',
      cwd: str(ctx.cwd) ?? str(m.cwd) ?? this.#options.cwd ?? process.cwd(),
      approvalPolicy: approvalOf(ctx.approval_policy) ?? 'on-request',
      ...(sandbox !== undefined ? { sandbox } : {}),
      ...(instructions !== undefined ? { instructions } : {}),
    };
    const git = isObject(m.git) ? m.git : {};
    const base = isObject(m.history_base) ? m.history_base : null;
    const entries: [string, unknown][] = [
      ['codex.thread_id', this.codexThreadId],
      ['codex.rollout_path', path],
      ['codex.variant', line.legacy ? 'legacy' : this.#paginated ? 'paginated' : 'envelope'],
      ['codex.created_at', str(m.timestamp)],
      ['codex.cli_version', str(m.cli_version)],
      ['codex.originator', str(m.originator)],
      ['codex.source', typeof m.source === 'string' ? m.source : m.source !== undefined ? JSON.stringify(m.source) : undefined],
      ['codex.model_provider', str(m.model_provider)],
      ['codex.forked_from_id', str(m.forked_from_id)],
      ['codex.git.branch', str(git.branch)],
      ['codex.git.commit_hash', str(git.commit_hash)],
      ['codex.git.repository_url', str(git.repository_url)],
    ];
    const metadata: Metadata = {};
    for (const [key, value] of entries) if (typeof value === 'string') metadata[key] = value;
    if (base) {
      const parent = str(base.thread_id) ?? 'unknown';
      metadata['codex.history_base'] = parent;
      this.#options.onIssue({
        kind: 'history_base',
        path,
        line: this.#meta?.number ?? 1,
        detail: `this rollout continues thread ${parent} by reference (history_base): the parent's history is not in this file and was not imported`,
      });
    }
    Object.assign(metadata, this.#options.metadata ?? {});
    this.#emit('session_meta', {
      format: LOG_FORMAT_VERSION,
      id,
      created_at: new Date(idTime(id)).toISOString(),
      config: this.#config,
      ...(this.#options.name !== undefined ? { name: this.#options.name } : {}),
      metadata,
      source: 'codex-import',
    });
    if (this.#options.name !== undefined) this.#name = this.#options.name;
  }

  // ——— lines ———

  #line(line: CodexLine, number: number): void {
    this.#lineNo = number;
    if (line.timestamp) this.#ts = line.timestamp;
    switch (line.kind) {
      case 'session_meta':
        return this.#opaque(line);
      case 'turn_context':
        return this.#turnContext(line.payload);
      case 'compacted':
        return this.#compacted(line);
      case 'response_item':
        return this.#responseItem(line);
      case 'event_msg':
        return this.#event(line);
      case 'other':
        return this.#opaque(line);
    }
  }

  #turnContext(p: JsonObject): void {
    const sandbox = sandboxOf(p) ?? this.#config.sandbox;
    const instructions = str(p.user_instructions) ?? this.#config.instructions;
    this.#config = {
      model: str(p.model) ?? this.#config.model,
      cwd: str(p.cwd) ?? this.#config.cwd,
      approvalPolicy: approvalOf(p.approval_policy) ?? this.#config.approvalPolicy,
      ...(sandbox !== undefined ? { sandbox } : {}),
      ...(instructions !== undefined ? { instructions } : {}),
    };
    const turnId = this.#open?.id ?? null;
    const seq = this.#emit('turn_context', { turn_id: turnId, config: this.#config });
    this.#context = { turnId, seq };
  }

  /**
   * Codex's `compacted`: its summary replaces the history before it. Compacted in the middle of
   * a regular turn (Codex's auto-compaction), the turn itself is kept (Codex's replacement
   * history keeps its input); a compaction before any item of its turn makes a `compact` turn.
   */
  #compacted(line: CodexLine): void {
    const summary = str(line.payload.message);
    if (summary === undefined) return this.#opaque(line);
    const midTurn = this.#open?.started === true && this.#open.kind === 'regular';
    const open = this.#open && !this.#open.started ? this.#ensureStarted('compact') : this.#open;
    const seq = this.#seq;
    this.#emit('compacted', {
      turn_id: open?.id ?? newConversationId(),
      summary,
      kept_from_seq: midTurn && open ? open.startSeq : seq,
      kept_turns: midTurn ? 1 : 0,
      next_item: this.#nextItem,
      turns: this.counts.turns,
      usage: this.#usage,
      config: this.#config,
      ...(this.#name !== null ? { name: this.#name } : {}),
      session_approvals: [],
    });
  }

  #responseItem(line: CodexLine): void {
    const p = line.payload;
    switch (p.type) {
      case 'message': {
        if (p.role === 'user') {
          const text = userText(p);
          if (text === null) return this.#opaque(line);
          this.#userMessage(text);
          // Images are data URLs, not files a Colloquy item can name: keep the line too.
          if (imageCount(p.content) > 0) this.#opaque(line);
          return;
        }
        if (p.role === 'assistant') {
          const text = contentText(p.content);
          if (text === '') return this.#opaque(line);
          return this.#item({ type: 'agent_message', text });
        }
        return this.#opaque(line);
      }
      case 'reasoning': {
        const text = reasoningText(p);
        return text === null ? this.#opaque(line) : this.#item({ type: 'reasoning', text });
      }
      case 'function_call':
      case 'custom_tool_call':
      case 'local_shell_call': {
        const call = callOf(p);
        const turn = call ? this.#ensureStarted('regular') : null;
        if (!call || !turn || turn.calls.has(call.callId)) return this.#opaque(line);
        turn.calls.set(call.callId, call);
        return;
      }
      case 'function_call_output':
      case 'custom_tool_call_output': {
        const callId = str(p.call_id);
        const call = callId !== undefined ? this.#open?.calls.get(callId) : undefined;
        if (!call || callId === undefined) return this.#opaque(line);
        this.#open?.calls.delete(callId);
        return this.#item(completedCall(call, outputOf(p.output)));
      }
      case 'web_search_call': {
        const query = webSearchQuery(p);
        return query === null ? this.#opaque(line) : this.#item({ type: 'web_search', query });
      }
      default:
        return this.#opaque(line);
    }
  }

  #event(line: CodexLine): void {
    const p = line.payload;
    switch (p.type) {
      case 'task_started':
      case 'turn_started':
        return this.#turnStarted(str(p.turn_id));
      case 'task_complete':
      case 'turn_complete':
        if (!this.#open) return this.#opaque(line);
        return this.#close('completed');
      case 'turn_aborted':
        if (!this.#open) return this.#opaque(line);
        return this.#close('aborted', abortReasonOf(p.reason));
      case 'token_count': {
        const info = isObject(p.info) ? p.info : null;
        if (!info || !isObject(info.total_token_usage)) return this.#opaque(line);
        this.#usage = usageOf(info.total_token_usage);
        return;
      }
      case 'thread_name_updated': {
        const name = str(p.thread_name) ?? str(p.name);
        if (name === undefined || name === '') return this.#opaque(line);
        this.#name = name;
        this.#emit('event', { type: 'thread.name_updated', name });
        return;
      }
      case 'thread_rolled_back': {
        const turns = count(p.num_turns);
        if (turns < 1) return this.#opaque(line);
        this.#emit('rolled_back', { turns });
        return;
      }
      case 'error': {
        const message = str(p.message);
        if (!this.#open || message === undefined) return this.#opaque(line);
        return this.#item({ type: 'error', message });
      }
      case 'exec_command_end':
        this.#enrich(str(p.call_id), p.exit_code, p.aggregated_output);
        return this.#opaque(line);
      case 'item_completed': {
        // Newer Codex reports a finished command with its exit code before the output line.
        const item = isObject(p.item) ? p.item : {};
        if (item.type === 'CommandExecution') this.#enrich(str(item.id), item.exit_code, item.aggregated_output);
        return this.#opaque(line);
      }
      default:
        return this.#opaque(line);
    }
  }

  /** Remember a command's exit code and output reported by an event, for when its output line comes. */
  #enrich(callId: string | undefined, exitCode: unknown, output: unknown): void {
    const call = callId !== undefined ? this.#open?.calls.get(callId) : undefined;
    if (!call || call.kind !== 'command') return;
    if (typeof exitCode === 'number' && Number.isInteger(exitCode)) call.exitCode = exitCode;
    if (typeof output === 'string') call.output = output;
  }

  // ——— turns ———

  #userMessage(text: string): void {
    const open = this.#open;
    // Without turn events (legacy variant), each user message starts a turn.
    if (open && !open.explicit && open.hasUser) this.#close('completed');
    const turn = this.#ensureStarted('regular');
    const first = !turn.hasUser;
    turn.hasUser = true;
    this.#item({ type: 'user_message', text, ...(first ? { submission_id: turn.id } : {}) });
  }

  #turnStarted(codexTurnId: string | undefined): void {
    const open = this.#open;
    if (open && !open.explicit && open.outputs === 0) {
      // The user message came before the turn's start event: it is this turn's input.
      open.explicit = true;
      return;
    }
    if (open) this.#closeOpen(open, 'before the next turn');
    this.#openTurn(true, codexTurnId);
  }

  #openTurn(explicit: boolean, codexTurnId?: string): OpenTurn {
    // Codex's own turn id when it has one (and it is not repeated, as in duplicated rollouts).
    const id = codexTurnId !== undefined && codexTurnId !== '' && !this.#turnIds.has(codexTurnId) ? codexTurnId : newConversationId();
    this.#turnIds.add(id);
    const turn: OpenTurn = { id, explicit, started: false, kind: 'regular', startSeq: -1, hasUser: false, outputs: 0, startUsage: this.#usage, calls: new Map() };
    this.#open = turn;
    return turn;
  }

  /** The open turn, opened (implicitly) and its `turn.started` recorded if need be. */
  #ensureStarted(kind: TurnKind): OpenTurn {
    const turn = this.#open ?? this.#openTurn(false);
    if (!turn.started) {
      turn.started = true;
      turn.kind = kind;
      this.counts.turns++;
      const seq = this.#emit('event', { type: 'turn.started', turn_id: turn.id, kind, submission_id: turn.id });
      turn.startSeq = this.#context !== null && this.#context.turnId === turn.id ? this.#context.seq : seq;
      this.#context = null;
    }
    return turn;
  }

  #close(status: 'completed' | 'aborted', reason: AbortReason = 'interrupted'): void {
    const turn = this.#ensureStarted('regular');
    // A call without an output never reported a result.
    for (const call of turn.calls.values()) this.#item(completedCall(call, null));
    turn.calls.clear();
    if (status === 'completed') {
      this.#emit('event', { type: 'turn.completed', turn_id: turn.id, usage: this.#usage, turn_usage: minus(this.#usage, turn.startUsage) });
    } else {
      this.#emit('event', { type: 'turn.aborted', turn_id: turn.id, reason, usage: this.#usage });
    }
    this.#open = null;
  }
}
