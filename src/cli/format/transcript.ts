/**
 * A conversation read back from its log (`runtime.read`) as text: the readable view of
 * `colloquy sessions show`, and the Markdown transcript of `colloquy sessions export --format md`.
 * No I/O.
 */
import type { ThreadItem } from '../../protocol/items.js';
import type { TurnTranscript } from '../../log/fold.js';
import type { ConversationRecord } from '../../runtime/runtime.js';
import type { ConversationSummary } from '../../store/store.js';
import { shortTime } from '../shared/text.js';
import { approvalQuestion, itemLines } from './items.js';

/** How a turn ended (or stands), in words: `completed`, `interrupted (shutdown)`, `failed: …`. */
export function turnStatusText(turn: TurnTranscript): string {
  switch (turn.status) {
    case 'running':
      return 'running';
    case 'awaiting_approval':
      return 'waiting for approval';
    case 'completed':
      return 'completed';
    case 'aborted':
      // Codex's reason for a Ctrl-C is "interrupted": no need to say it twice.
      return `interrupted${turn.reason && turn.reason !== 'interrupted' ? ` (${turn.reason})` : ''}`;
    case 'failed':
      return `failed${turn.error ? `: ${turn.error.message}` : ''}`;
  }
}

function inputText(items: readonly { type: string; text?: string; path?: string }[]): string {
  return items.map((i) => (i.type === 'text' ? (i.text ?? '') : `[image ${i.path ?? ''}]`)).join(' ');
}

/** The header lines of a conversation: id and name, times, settings, origin. */
function headerLines(record: ConversationRecord, summary: ConversationSummary | null): string[] {
  const lines = [`conversation ${record.id}${record.name ? `  "${record.name}"` : ''}${summary?.archived ? '  (archived)' : ''}`];
  lines.push(`  created ${shortTime(record.meta.created_at)}${summary ? `  updated ${shortTime(summary.updatedAt)}` : ''}`);
  lines.push(`  model ${record.config.model} · approvals ${record.config.approvalPolicy} · cwd ${record.config.cwd}`);
  if (record.meta.forked_from) lines.push(`  forked from ${record.meta.forked_from.id} (up to seq ${record.meta.forked_from.up_to_seq})`);
  if (record.meta.source && record.meta.source !== 'colloquy') lines.push(`  imported from ${record.meta.source}`);
  return lines;
}

/**
 * The readable view of a conversation (`sessions show`): its header, every turn with its status
 * and items (turns in `rolledBack`, taken out of the model's history, are marked), then what is
 * pending (approvals waiting for a decision, input waiting to run).
 */
export function showText(record: ConversationRecord, summary: ConversationSummary | null, rolledBack: ReadonlySet<string> = new Set()): string {
  const lines = headerLines(record, summary);
  const waiting = new Set(record.pending.approvals.map((a) => a.callId));
  if (record.turns.length === 0) lines.push('', '(no turns yet)');
  for (const turn of record.turns) {
    const undone = rolledBack.has(turn.id) ? ' · rolled back' : '';
    lines.push('', `Turn ${turn.number}${turn.kind !== 'regular' ? ` (${turn.kind === 'compact' ? 'compaction' : turn.kind})` : ''} · ${turnStatusText(turn)}${undone}`);
    for (const item of turn.items) {
      const callId = 'call_id' in item ? item.call_id : undefined;
      const isWaiting = callId !== undefined && waiting.has(callId);
      for (const line of itemLines(item, { waiting: isWaiting })) lines.push(`  ${line}`);
    }
  }
  if (record.pending.approvals.length > 0) {
    lines.push('', 'Pending approvals:');
    for (const a of record.pending.approvals) lines.push(`  ${a.callId}: ${approvalQuestion(a.item)}`);
  }
  if (record.pending.input.length > 0) {
    lines.push('', 'Pending input:');
    for (const i of record.pending.input) lines.push(`  ${i.mode}: ${inputText(i.items)}`);
  }
  return `${lines.join('\n')}\n`;
}

/** A Markdown code fence long enough for `text`. */
function fence(text: string, info = ''): string {
  let ticks = '```';
  while (text.includes(ticks)) ticks += '`';
  return `${ticks}${info}\n${text.replace(/\n$/, '')}\n${ticks}`;
}

function quoted(text: string): string {
  return text
    .split(/\r?\n/)
    .map((l) => (l === '' ? '>' : `> ${l}`))
    .join('\n');
}

/** One item as Markdown. */
function itemMarkdown(item: ThreadItem): string {
  switch (item.type) {
    case 'user_message':
      return `**User**\n\n${quoted(item.text)}${item.images?.length ? `\n\n_Images: ${item.images.join(', ')}_` : ''}`;
    case 'agent_message':
      return `**Agent**\n\n${item.text}`;
    case 'reasoning':
      return `_Thinking:_ ${item.text}`;
    case 'command_execution': {
      const status = item.status === 'declined' ? 'declined' : item.status === 'in_progress' ? 'running' : `exit code ${item.exit_code ?? '?'}`;
      const head = `**Command** \`${item.command.replace(/`/g, 'ˋ')}\` (${status})`;
      return item.aggregated_output.trim() === '' ? head : `${head}\n\n${fence(item.aggregated_output, 'text')}`;
    }
    case 'tool_call': {
      const head = `**Tool** \`${item.name}\` (${item.status})`;
      return item.output ? `${head}\n\n${fence(item.output, 'text')}` : head;
    }
    case 'mcp_tool_call':
      return `**Tool** \`${item.server}/${item.tool}\` (${item.status})${item.error ? `: ${item.error.message}` : ''}`;
    case 'file_change':
      return `**File changes** (${item.status})\n\n${item.changes.map((c) => `- ${c.kind} \`${c.path}\``).join('\n')}`;
    case 'web_search':
      return `_Searched:_ ${item.query}`;
    case 'todo_list':
      return item.items.map((t) => `- [${t.completed ? 'x' : ' '}] ${t.text}`).join('\n');
    case 'error':
      return `_Warning:_ ${item.message}`;
    default: {
      const other = item as { type: string };
      // The marker an interrupted turn leaves for the model: the turn's heading already says so.
      return other.type === 'turn_aborted' ? '' : `_(${other.type})_`;
    }
  }
}

/** The conversation as a Markdown transcript (`sessions export --format md`). */
export function toMarkdown(record: ConversationRecord, summary: ConversationSummary | null, rolledBack: ReadonlySet<string> = new Set()): string {
  const parts: string[] = [`# ${record.name ?? `Conversation ${record.id}`}`];
  const facts = [
    `- id: \`${record.id}\``,
    `- created: ${record.meta.created_at}`,
    ...(summary ? [`- updated: ${summary.updatedAt}`] : []),
    `- model: ${record.config.model}`,
    `- approval policy: ${record.config.approvalPolicy}`,
    `- cwd: \`${record.config.cwd}\``,
    ...(record.meta.forked_from ? [`- forked from: \`${record.meta.forked_from.id}\` (up to seq ${record.meta.forked_from.up_to_seq})`] : []),
    ...(summary?.archived ? ['- archived'] : []),
  ];
  parts.push(facts.join('\n'));
  for (const turn of record.turns) {
    parts.push(`## Turn ${turn.number}${turn.kind === 'compact' ? ' (compaction)' : ''} — ${turnStatusText(turn)}${rolledBack.has(turn.id) ? ' (rolled back)' : ''}`);
    for (const item of turn.items) {
      const text = itemMarkdown(item);
      if (text !== '') parts.push(text);
    }
  }
  if (record.pending.approvals.length > 0) {
    parts.push(`## Pending approvals\n\n${record.pending.approvals.map((a) => `- \`${a.callId}\`: ${approvalQuestion(a.item)}`).join('\n')}`);
  }
  if (record.pending.input.length > 0) {
    parts.push(`## Pending input\n\n${record.pending.input.map((i) => `- ${i.mode}: ${inputText(i.items)}`).join('\n')}`);
  }
  return `${parts.join('\n\n')}\n`;
}
