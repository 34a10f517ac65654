/**
 * Context management: how full a model's context may get before a conversation compacts, and
 * what a compaction keeps. As Codex's auto-compaction: compact when the last request's tokens
 * reach min(configured limit, 90% of the model's window); keep the newest user turns up to a
 * token budget and replace the rest with the summary.
 */
import { estimateTokens } from '../agents/agent.js';
import type { ThreadItem } from '../protocol/items.js';

/**
 * Context windows (tokens) of well-known models, matched by exact name or by the longest
 * prefix (`gpt-4o-mini` → `gpt-4o`). Extend or override with `RuntimeOptions.context.windows`.
 */
export const DEFAULT_CONTEXT_WINDOWS: Readonly<Record<string, number>> = {
  'gpt-5': 272_000,
  'gpt-5-codex': 272_000,
  'gpt-4.1': 1_047_576,
  'gpt-4o': 128_000,
  'gpt-4-turbo': 128_000,
  o3: 200_000,
  'o4-mini': 200_000,
  'codex-mini': 200_000,
};

/** Tokens of the newest user turns a compaction keeps by default (as Codex's 20k). */
export const DEFAULT_KEEP_USER_TOKENS = 20_000;

/** Share of the context window at which a conversation compacts. */
export const AUTO_COMPACT_SHARE = 0.9;

/** How a runtime manages context windows (`RuntimeOptions.context`). */
export interface ContextOptions {
  /** Context window per model (tokens), merged over `DEFAULT_CONTEXT_WINDOWS`. */
  readonly windows?: Readonly<Record<string, number>>;
  /** Window of a model the table does not know (tokens). Default: none (no auto-compaction by window). */
  readonly defaultWindow?: number;
  /** Compact when the context reaches this many tokens, even below 90% of the window. */
  readonly autoCompactTokenLimit?: number;
  /** Tokens of the newest user turns a compaction keeps (default 20,000; 0 keeps none). */
  readonly keepUserTokens?: number;
}

/** The context window of `model` (tokens), or null when unknown. */
export function contextWindow(model: string, options: ContextOptions = {}): number | null {
  const table = { ...DEFAULT_CONTEXT_WINDOWS, ...options.windows };
  const exact = table[model];
  if (exact !== undefined) return exact;
  let best: string | null = null;
  for (const name of Object.keys(table)) {
    if (model.startsWith(name) && (best === null || name.length > best.length)) best = name;
  }
  return best !== null ? (table[best] ?? null) : (options.defaultWindow ?? null);
}

/** Tokens of context at which a conversation on `model` compacts, or null for never. */
export function autoCompactLimit(model: string, options: ContextOptions = {}): number | null {
  const window = contextWindow(model, options);
  const byWindow = window !== null ? Math.floor(window * AUTO_COMPACT_SHARE) : Infinity;
  const limit = Math.min(options.autoCompactTokenLimit ?? Infinity, byWindow);
  return limit === Infinity ? null : limit;
}

/** Rough tokens of an item as a model would see it. */
export function itemTokens(item: ThreadItem): number {
  switch (item.type) {
    case 'user_message':
    case 'agent_message':
    case 'reasoning':
      return estimateTokens(item.text);
    case 'command_execution':
      return estimateTokens(item.command) + estimateTokens(item.aggregated_output);
    default:
      return estimateTokens(JSON.stringify(item));
  }
}

/** A turn in the model-visible history: its first `seq` and where its items start. */
export interface HistoryBound {
  readonly startSeq: number;
  readonly index: number;
}

/** What a compaction keeps: history from `keptFromSeq` on, holding `keptTurns` turns. */
export interface KeptHistory {
  readonly keptFromSeq: number;
  readonly keptTurns: number;
}

/**
 * Choose the newest whole turns whose items fit in `budget` tokens. `nextSeq` is where the
 * history ends (the compaction's own position), the kept-from point when nothing is kept.
 */
export function planKeptHistory(history: readonly ThreadItem[], bounds: readonly HistoryBound[], nextSeq: number, budget: number): KeptHistory {
  let used = 0;
  let keptFromSeq = nextSeq;
  let keptTurns = 0;
  for (let i = bounds.length - 1; i >= 0; i--) {
    const bound = bounds[i] as HistoryBound;
    const end = i + 1 < bounds.length ? (bounds[i + 1] as HistoryBound).index : history.length;
    let tokens = 0;
    for (let j = bound.index; j < end; j++) tokens += itemTokens(history[j] as ThreadItem);
    if (used + tokens > budget) break;
    used += tokens;
    keptTurns++;
    keptFromSeq = bound.startSeq;
  }
  return { keptFromSeq, keptTurns };
}
