/**
 * Mapping between the Agents SDK's items (`AgentInputItem`) and Colloquy's thread items, both
 * ways. Neither direction is lossless (that is what the session's verbatim copy is for): it is
 * what a person reads in `colloquy sessions show`, and what a model needs to go on from a
 * history Colloquy recorded.
 *
 * - Agents SDK → Colloquy: user and assistant messages become `user_message` / `agent_message`;
 *   a function call and its result become one `tool_call` (merged when both are given
 *   together); shell calls become `command_execution`, patches `file_change`, reasoning
 *   `reasoning`. System messages, tool searches, compaction markers and unknown items have no
 *   Colloquy counterpart and are left out.
 * - Colloquy → Agents SDK: the compaction summary first, then messages, and every tool-like
 *   item as a `function_call` with its `function_call_result` (a call that never got an output
 *   gets `aborted`, so the history is valid input for any model API). Reasoning, plans,
 *   searches, file-change notices and error notices are not sent back.
 */
import type { AgentInputItem } from '@openai/agents';
import type { ThreadItem, ToolStatus } from '../../protocol/items.js';

/** How a compaction summary is introduced to the model. */
export const SUMMARY_PREFIX =
  'Earlier turns of this conversation were compacted. This summary of them was written by a model for its successor; continue from it:\n\n';

/** The output a call gets in a model's input when it never produced one (it was cut off). */
export const ABORTED_OUTPUT = 'aborted';

/** The output a declined call gets in a model's input. */
export const DECLINED_OUTPUT = 'The user declined this call; it did not run.';

type Item<T extends string> = Extract<AgentInputItem, { type?: T }> & { type: T };
type Message = Extract<AgentInputItem, { role: string }>;

/** Arguments as Colloquy keeps them: parsed JSON when they are JSON, else the text. */
function parseArguments(text: string | undefined): unknown {
  if (text === undefined || text === '') return {};
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}

/** Arguments as a model API takes them: a JSON text. */
function argumentsText(value: unknown): string {
  if (typeof value === 'string') return value;
  return JSON.stringify(value ?? {}) ?? '{}';
}

/** A tool output (text, image, file or a list of parts) as text. */
export function outputText(output: unknown): string {
  if (typeof output === 'string') return output;
  if (Array.isArray(output)) return output.map(outputText).join('');
  if (output === null || typeof output !== 'object') return output === undefined ? '' : String(output);
  const part = output as { type?: unknown; text?: unknown; filename?: unknown; file?: unknown };
  switch (part.type) {
    case 'text':
    case 'input_text':
    case 'output_text':
      return typeof part.text === 'string' ? part.text : '';
    case 'image':
    case 'input_image':
      return '[image]';
    case 'file':
    case 'input_file': {
      const file = part.file as { filename?: unknown } | undefined;
      const name = typeof part.filename === 'string' ? part.filename : typeof file?.filename === 'string' ? file.filename : '';
      return name ? `[file ${name}]` : '[file]';
    }
  }
  return JSON.stringify(output) ?? '';
}

/** The text of a message's content. */
function messageText(message: Message): string {
  if (typeof message.content === 'string') return message.content;
  const parts: string[] = [];
  for (const part of message.content) {
    switch (part.type) {
      case 'input_text':
      case 'output_text':
        parts.push(part.text);
        break;
      case 'refusal':
        parts.push(part.refusal);
        break;
      case 'audio':
        parts.push(part.transcript ?? '[audio]');
        break;
      default:
        parts.push(outputText(part));
    }
  }
  return message.role === 'user' ? parts.join('\n\n') : parts.join('');
}

function callStatus(status: string | undefined): ToolStatus {
  return status === 'incomplete' || status === 'failed' ? 'failed' : 'completed';
}

/**
 * Colloquy items for Agents SDK items, for display and for Colloquy agents. A call and its
 * result given together become one item; `newId` names each item.
 */
export function toThreadItems(items: readonly AgentInputItem[], newId: () => string): ThreadItem[] {
  const out: ThreadItem[] = [];
  /** Calls without their result yet: call id → index in `out`. */
  const open = new Map<string, number>();
  const opened = (callId: string, item: ThreadItem): void => {
    open.set(callId, out.length);
    out.push(item);
  };
  /** Complete the call `callId` with `patch`, or add `fallback` when its call is not among `items`. */
  const complete = (callId: string, patch: (item: ThreadItem) => ThreadItem, fallback: () => ThreadItem): void => {
    const index = open.get(callId);
    const item = index === undefined ? undefined : out[index];
    if (index !== undefined && item) {
      out[index] = patch(item);
      open.delete(callId);
    } else out.push(fallback());
  };

  for (const item of items) {
    if ('role' in item) {
      const message = item as Message;
      if (message.role === 'user') out.push({ id: newId(), type: 'user_message', text: messageText(message) });
      else if (message.role === 'assistant') out.push({ id: newId(), type: 'agent_message', text: messageText(message) });
      continue;
    }
    switch (item.type) {
      case 'function_call': {
        const call = item as Item<'function_call'>;
        opened(call.callId, {
          id: newId(),
          type: 'tool_call',
          name: call.name,
          arguments: parseArguments(call.arguments),
          status: 'in_progress',
          call_id: call.callId,
        });
        break;
      }
      case 'function_call_result': {
        const result = item as Item<'function_call_result'>;
        const output = outputText(result.output);
        const status = callStatus(result.status);
        complete(
          result.callId,
          (call) => (call.type === 'tool_call' ? { ...call, output, status } : call),
          () => ({ id: newId(), type: 'tool_call', name: result.name, arguments: {}, output, status, call_id: result.callId }),
        );
        break;
      }
      case 'hosted_tool_call': {
        const call = item as Item<'hosted_tool_call'>;
        out.push({
          id: newId(),
          type: 'tool_call',
          name: call.name,
          arguments: parseArguments(call.arguments),
          ...(call.output !== undefined ? { output: call.output } : {}),
          status: call.output !== undefined || call.status === 'completed' ? 'completed' : call.status === 'failed' ? 'failed' : 'in_progress',
          ...(call.id !== undefined ? { call_id: call.id } : {}),
        });
        break;
      }
      case 'shell_call': {
        const call = item as Item<'shell_call'>;
        opened(call.callId, {
          id: newId(),
          type: 'command_execution',
          command: call.action.commands.join('\n'),
          aggregated_output: '',
          status: 'in_progress',
          call_id: call.callId,
        });
        break;
      }
      case 'shell_call_output': {
        const result = item as Item<'shell_call_output'>;
        const aggregated = result.output.map((o) => `${o.stdout}${o.stderr}`).join('');
        const last = result.output[result.output.length - 1]?.outcome;
        const exit = last?.type === 'exit' && last.exitCode !== null ? { exit_code: last.exitCode } : {};
        const status: ToolStatus = last?.type === 'exit' && last.exitCode === 0 ? 'completed' : 'failed';
        complete(
          result.callId,
          (call) => (call.type === 'command_execution' ? { ...call, aggregated_output: aggregated, ...exit, status } : call),
          () => ({ id: newId(), type: 'command_execution', command: '', aggregated_output: aggregated, ...exit, status, call_id: result.callId }),
        );
        break;
      }
      case 'apply_patch_call': {
        const call = item as Item<'apply_patch_call'>;
        const op = call.operation;
        const kind = op.type === 'create_file' ? 'add' : op.type === 'delete_file' ? 'delete' : 'update';
        opened(call.callId, { id: newId(), type: 'file_change', changes: [{ path: op.path, kind }], status: 'in_progress', call_id: call.callId });
        break;
      }
      case 'apply_patch_call_output': {
        const result = item as Item<'apply_patch_call_output'>;
        const status: ToolStatus = result.status === 'completed' ? 'completed' : 'failed';
        complete(
          result.callId,
          (call) => (call.type === 'file_change' ? { ...call, status } : call),
          () => ({ id: newId(), type: 'file_change', changes: [], status, call_id: result.callId }),
        );
        break;
      }
      case 'computer_call': {
        const call = item as Item<'computer_call'>;
        opened(call.callId, {
          id: newId(),
          type: 'tool_call',
          name: 'computer',
          arguments: call.actions ?? call.action ?? {},
          status: 'in_progress',
          call_id: call.callId,
        });
        break;
      }
      case 'computer_call_result': {
        const result = item as Item<'computer_call_result'>;
        complete(
          result.callId,
          (call) => (call.type === 'tool_call' ? { ...call, output: '[screenshot]', status: 'completed' } : call),
          () => ({ id: newId(), type: 'tool_call', name: 'computer', arguments: {}, output: '[screenshot]', status: 'completed', call_id: result.callId }),
        );
        break;
      }
      case 'program': {
        const call = item as Item<'program'>;
        opened(call.callId, { id: newId(), type: 'tool_call', name: 'program', arguments: { code: call.code }, status: 'in_progress', call_id: call.callId });
        break;
      }
      case 'program_output': {
        const result = item as Item<'program_output'>;
        const status = callStatus(result.status);
        complete(
          result.callId,
          (call) => (call.type === 'tool_call' ? { ...call, output: result.output, status } : call),
          () => ({ id: newId(), type: 'tool_call', name: 'program', arguments: {}, output: result.output, status, call_id: result.callId }),
        );
        break;
      }
      case 'reasoning': {
        const reasoning = item as Item<'reasoning'>;
        const text = reasoning.content.map((c) => c.text).join('\n\n') || (reasoning.rawContent ?? []).map((c) => c.text).join('\n\n');
        if (text !== '') out.push({ id: newId(), type: 'reasoning', text });
        break;
      }
      default:
        // System messages, tool searches, compaction markers, unknown items: nothing to show.
        break;
    }
  }
  return out;
}

/** The function call (and its result) a model sees for a tool-like item. */
function callItems(callId: string, name: string, args: unknown, output: string | null): AgentInputItem[] {
  const call: AgentInputItem = { type: 'function_call', callId, name, arguments: argumentsText(args), status: 'completed' };
  return [call, { type: 'function_call_result', callId, name, status: 'completed', output: output ?? ABORTED_OUTPUT }];
}

function user(text: string): AgentInputItem {
  return { role: 'user', content: text };
}

/** The output text of a finished command, as Colloquy's model agents report it. */
function commandOutput(item: Extract<ThreadItem, { type: 'command_execution' }>): string | null {
  if (item.status === 'declined') return DECLINED_OUTPUT;
  if (item.status === 'in_progress') return null;
  const code = item.exit_code === undefined ? '' : `Exit code: ${item.exit_code}\n`;
  return `${code}Output:\n${item.aggregated_output}`;
}

/** The Agents SDK items a model sees for one Colloquy item (none for items a model does not see). */
export function toAgentInputItem(item: ThreadItem): AgentInputItem[] {
  switch (item.type) {
    case 'user_message': {
      const images = (item.images ?? []).map((path) => `[image: ${path}]`);
      return [user([item.text, ...images].filter((t) => t !== '').join('\n\n'))];
    }
    case 'agent_message':
      return [{ type: 'message', role: 'assistant', status: 'completed', content: [{ type: 'output_text', text: item.text }] }];
    case 'turn_aborted':
      return [user(item.text)];
    case 'tool_call':
      return callItems(
        item.call_id ?? `call_${item.id}`,
        item.name,
        item.arguments,
        item.output ?? (item.status === 'declined' ? DECLINED_OUTPUT : null),
      );
    case 'command_execution':
      return callItems(item.call_id ?? `call_${item.id}`, 'shell', { command: item.command }, commandOutput(item));
    case 'mcp_tool_call': {
      const output =
        item.status === 'declined'
          ? DECLINED_OUTPUT
          : item.error
            ? `error: ${item.error.message}`
            : item.result
              ? (JSON.stringify(item.result.structured_content ?? item.result.content) ?? '')
              : null;
      return callItems(item.call_id ?? `call_${item.id}`, `${item.server}__${item.tool}`, item.arguments, output);
    }
    default:
      return [];
  }
}

/**
 * The Agents SDK input for a Colloquy history: the compaction summary (when there is one) as a
 * user message, then every model-visible item in order.
 */
export function toAgentInputItems(history: readonly ThreadItem[], summary: string | null = null): AgentInputItem[] {
  const out: AgentInputItem[] = [];
  if (summary !== null && summary !== '') out.push(user(`${SUMMARY_PREFIX}${summary}`));
  for (const item of history) for (const entry of toAgentInputItem(item)) out.push(entry);
  return out;
}
