/**
 * The `codex exec --experimental-json` wire format: Colloquy events projected to exactly what
 * Codex's exec prints (and what `@openai/codex-sdk` parses): `thread.started`, `turn.started {}`,
 * `item.started|updated|completed {item}` (agent messages and reasoning only completed),
 * `turn.completed {usage}` (cumulative, as Codex),
 * `turn.failed {error}`, `error {message}`. User messages, approvals and Colloquy's other
 * events are not part of it; an interrupted turn prints no end event, as in Codex.
 */
import type { ThreadEvent } from '../protocol/events.js';
import type { ThreadItem, ToolStatus } from '../protocol/items.js';

type CodexItem = Record<string, unknown> & { id: string; type: string };

/**
 * The status of a file change or MCP call as Codex prints it: its `PatchApplyStatus` and
 * `McpToolCallStatus` have no `declined` (only commands do), so a declined one shows as failed.
 */
function codexStatus(status: ToolStatus): 'in_progress' | 'completed' | 'failed' {
  return status === 'declined' ? 'failed' : status;
}

/** An item as Codex exec prints it, or null for items Codex does not print. */
export function codexItem(item: ThreadItem): CodexItem | null {
  switch (item.type) {
    case 'user_message':
    case 'turn_aborted':
      return null;
    case 'command_execution': {
      const { call_id: _, ...rest } = item;
      return rest;
    }
    case 'file_change':
    case 'mcp_tool_call': {
      const { call_id: _, ...rest } = item;
      return { ...rest, status: codexStatus(item.status) };
    }
    case 'tool_call':
      // Codex has no generic tool item: a tool of the agent's own shows as an MCP call on server "local".
      return {
        id: item.id,
        type: 'mcp_tool_call',
        server: 'local',
        tool: item.name,
        arguments: item.arguments,
        ...(item.output !== undefined ? { result: { content: [{ type: 'text', text: item.output }], structured_content: null } } : {}),
        status: codexStatus(item.status),
      };
    default:
      return item as CodexItem;
  }
}

/** A thread event as Codex exec prints it, or null for events it does not print. */
export function codexEvent(event: ThreadEvent): Record<string, unknown> | null {
  switch (event.type) {
    case 'thread.started':
      return { type: 'thread.started', thread_id: event.thread_id };
    case 'turn.started':
      return { type: 'turn.started' };
    case 'item.started':
    case 'item.updated':
    case 'item.completed': {
      // Codex exec prints agent messages and reasoning only when they are complete.
      if (event.type !== 'item.completed' && (event.item.type === 'agent_message' || event.item.type === 'reasoning')) return null;
      const item = codexItem(event.item);
      return item ? { type: event.type, item } : null;
    }
    case 'turn.completed':
      return { type: 'turn.completed', usage: event.usage };
    case 'turn.failed':
      return { type: 'turn.failed', error: { message: event.error.message } };
    case 'error':
      return { type: 'error', message: event.message };
    default:
      return null;
  }
}
