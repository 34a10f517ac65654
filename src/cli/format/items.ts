/**
 * Thread items as text for people: what `colloquy chat` prints as items complete, and what
 * `colloquy sessions show` prints for every turn. One function per concern, no I/O.
 */
import type { ThreadItem } from '../../protocol/items.js';

/** How many lines of a command's output or a tool's output are shown. */
export const OUTPUT_LINES = 20;

/** `text` indented by `prefix`, at most `max` lines (the rest counted). */
export function indentLines(text: string, prefix = '    ', max = OUTPUT_LINES): string[] {
  const lines = text.replace(/\r?\n$/, '').split(/\r?\n/);
  const shown = lines.slice(0, max).map((l) => `${prefix}${l}`);
  if (lines.length > max) shown.push(`${prefix}… ${lines.length - max} more lines`);
  return shown;
}

/** A tool-like item's status in words. */
function statusWords(status: 'in_progress' | 'completed' | 'failed' | 'declined'): string {
  switch (status) {
    case 'in_progress':
      return 'running';
    case 'declined':
      return 'declined';
    case 'failed':
      return 'failed';
    case 'completed':
      return 'done';
  }
}

/**
 * The lines an item is shown as. User messages start with `› `, commands with `$ `; agent
 * messages are their text. `waiting` marks a tool item that waits for an approval.
 */
export function itemLines(item: ThreadItem, options: { readonly waiting?: boolean } = {}): string[] {
  switch (item.type) {
    case 'user_message': {
      const [first = '', ...rest] = item.text.split(/\r?\n/);
      const lines = [`› ${first}`, ...rest.map((l) => `  ${l}`)];
      if (item.images && item.images.length > 0) lines.push(`  (images: ${item.images.join(', ')})`);
      return lines;
    }
    case 'agent_message':
      return item.text.split(/\r?\n/);
    case 'reasoning':
      return [`thinking: ${item.text}`];
    case 'command_execution': {
      let status: string;
      if (options.waiting) status = 'waiting for approval';
      else if (item.status === 'declined') status = 'declined';
      else if (item.status === 'in_progress') status = 'running';
      else status = `exit code ${item.exit_code ?? '?'}`;
      const lines = [`$ ${item.command}  (${status})`];
      if (item.aggregated_output.trim() !== '') lines.push(...indentLines(item.aggregated_output));
      return lines;
    }
    case 'tool_call': {
      const lines = [`tool ${item.name}  (${options.waiting ? 'waiting for approval' : statusWords(item.status)})`];
      if (item.output) lines.push(...indentLines(item.output));
      return lines;
    }
    case 'mcp_tool_call': {
      const lines = [`tool ${item.server}/${item.tool}  (${options.waiting ? 'waiting for approval' : statusWords(item.status)})`];
      if (item.error) lines.push(`    error: ${item.error.message}`);
      return lines;
    }
    case 'file_change':
      return [
        `file changes  (${options.waiting ? 'waiting for approval' : statusWords(item.status)})`,
        ...item.changes.map((c) => `    ${c.kind} ${c.path}`),
      ];
    case 'web_search':
      return [`searched: ${item.query}`];
    case 'todo_list':
      return item.items.map((t) => `[${t.completed ? 'x' : ' '}] ${t.text}`);
    case 'error':
      return [`warning: ${item.message}`];
    default: {
      const other = item as { type: string };
      // The marker an interrupted turn leaves for the model: the turn's status already says so.
      if (other.type === 'turn_aborted') return [];
      return [`(${other.type})`];
    }
  }
}

/** What an approval asks, in a few words: "run `ls -la`", "call tool search". */
export function approvalQuestion(item: ThreadItem): string {
  switch (item.type) {
    case 'command_execution':
      return `Run \`${item.command}\`?`;
    case 'tool_call':
      return `Call the tool ${item.name}?`;
    case 'mcp_tool_call':
      return `Call the tool ${item.server}/${item.tool}?`;
    case 'file_change':
      return `Apply changes to ${item.changes.map((c) => c.path).join(', ')}?`;
    default:
      return `Allow ${item.type}?`;
  }
}
