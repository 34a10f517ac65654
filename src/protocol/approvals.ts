/**
 * Approval keys: what an `approved_for_session` decision covers. Two requests with the
 * same key are the same request for the rest of the conversation (as Codex remembers
 * `ApprovedForSession` per command).
 */
import type { ThreadItem } from './items.js';

/** The key an approval of `item` is remembered under, e.g. `command:ls -la`. */
export function approvalKey(item: ThreadItem): string {
  switch (item.type) {
    case 'command_execution':
      return `command:${item.command}`;
    case 'tool_call':
      return `tool:${item.name}`;
    case 'mcp_tool_call':
      return `mcp:${item.server}/${item.tool}`;
    case 'file_change':
      return `file_change:${item.changes.map((c) => c.path).join(',')}`;
    default:
      return `${item.type}`;
  }
}
