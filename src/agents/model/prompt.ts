/**
 * Building a model's prompt from a conversation's history, as Codex builds its `Prompt`:
 * the compaction summary first, then every model-visible item in order; tool calls become a
 * function call and its output; an aborted turn's marker becomes a user message. Before every
 * request the prompt is normalised: a call without an output gets an `aborted` one, an output
 * without its call is dropped (as Codex's `normalize` of history).
 */
import type { ThreadItem, UserInputItem } from '../../protocol/items.js';
import { inputImages, inputText } from '../../protocol/items.js';
import { shellOutput } from '../tools/shell-tool.js';
import type { PromptItem } from './client.js';

/** How the compaction summary is introduced to the model. */
export const SUMMARY_PREFIX =
  'Earlier turns of this conversation were compacted. This summary of them was written by a model for its successor; continue from it:\n\n';

/** The output a call gets when it never produced one (it was interrupted). */
export const ABORTED_OUTPUT = 'aborted';

/** The call id an item answers under: its own, or one derived from its id. */
export function callIdOf(item: ThreadItem & { call_id?: string }): string {
  return item.call_id ?? `call_${item.id}`;
}

/** A user message of the given input parts. */
export function userMessage(input: readonly UserInputItem[]): PromptItem {
  const images = inputImages(input);
  return { type: 'message', role: 'user', text: inputText(input), ...(images.length > 0 ? { images } : {}) };
}

/** The prompt entries of one history item (none for items a model does not see). */
export function promptOf(item: ThreadItem): PromptItem[] {
  switch (item.type) {
    case 'user_message':
      return [{ type: 'message', role: 'user', text: item.text, ...(item.images && item.images.length > 0 ? { images: item.images } : {}) }];
    case 'agent_message':
      return [{ type: 'message', role: 'assistant', text: item.text }];
    case 'turn_aborted':
      return [{ type: 'message', role: 'user', text: item.text }];
    case 'command_execution': {
      const callId = callIdOf(item);
      const call: PromptItem = { type: 'function_call', callId, name: 'shell', arguments: JSON.stringify({ command: item.command }) };
      if (item.status === 'in_progress') return [call];
      const output =
        item.status === 'declined' ? 'The user declined this call; it did not run.' : shellOutput(item.exit_code, item.aggregated_output);
      return [call, { type: 'function_call_output', callId, output }];
    }
    case 'tool_call': {
      const callId = callIdOf(item);
      const call: PromptItem = {
        type: 'function_call',
        callId,
        name: item.name,
        arguments: typeof item.arguments === 'string' ? item.arguments : (JSON.stringify(item.arguments ?? {}) ?? '{}'),
      };
      return item.output === undefined ? [call] : [call, { type: 'function_call_output', callId, output: item.output }];
    }
    case 'mcp_tool_call': {
      const callId = callIdOf(item);
      const call: PromptItem = { type: 'function_call', callId, name: `${item.server}__${item.tool}`, arguments: JSON.stringify(item.arguments ?? {}) };
      if (item.status === 'in_progress') return [call];
      const output = item.error ? `error: ${item.error.message}` : JSON.stringify(item.result?.structured_content ?? item.result?.content ?? null);
      return [call, { type: 'function_call_output', callId, output }];
    }
    default:
      // Reasoning, plans, file-change notices, searches and error notices are not sent back.
      return [];
  }
}

/** The prompt of a history (after `summary`, when there is one). */
export function historyPrompt(history: readonly ThreadItem[], summary: string | null): PromptItem[] {
  const out: PromptItem[] = [];
  if (summary !== null) out.push({ type: 'message', role: 'user', text: `${SUMMARY_PREFIX}${summary}` });
  for (const item of history) for (const entry of promptOf(item)) out.push(entry);
  return out;
}

/**
 * Make a prompt valid for any model API: every function call is followed (after the other
 * calls made with it) by its output; calls without one get `aborted`; outputs whose call is
 * missing or comes later, repeated outputs and repeated calls are dropped.
 */
export function normalizePrompt(input: readonly PromptItem[]): PromptItem[] {
  const calls = new Set<string>();
  const answered = new Set<string>();
  const out: PromptItem[] = [];
  let open: string[] = [];
  const closeOpen = (): void => {
    for (const callId of open) {
      if (!answered.has(callId)) {
        answered.add(callId);
        out.push({ type: 'function_call_output', callId, output: ABORTED_OUTPUT });
      }
    }
    open = [];
  };
  for (const entry of input) {
    if (entry.type === 'function_call') {
      if (open.length > 0 && open.some((id) => answered.has(id))) closeOpen();
      if (calls.has(entry.callId)) continue;
      calls.add(entry.callId);
      open.push(entry.callId);
      out.push(entry);
    } else if (entry.type === 'function_call_output') {
      if (!calls.has(entry.callId) || answered.has(entry.callId)) continue;
      answered.add(entry.callId);
      out.push(entry);
    } else {
      closeOpen();
      out.push(entry);
    }
  }
  closeOpen();
  return out;
}
