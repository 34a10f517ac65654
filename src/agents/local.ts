/**
 * The built-in local agent (SPEC §6): deterministic, no network. It answers from the input
 * and the history, so a resumed conversation visibly remembers (its reply names the turn
 * number and the user's previous message); `!command` runs a shell command through a
 * `command_execution` item that asks for approval under the approval policy; `compact`
 * turns summarise the user's messages. With `script`, it replays a JSON script instead.
 */
import { inputImages, inputText, type ThreadItem, type Usage } from '../protocol/items.js';
import { estimateTokens, type Agent, type AgentEvent, type AgentTurn } from './agent.js';
import { scriptedAgent, type AgentScript } from './scripted.js';
import type { CommandLimits } from './shell.js';
import { localSummary, quote } from './text.js';
import { runToolCall, toolRegistry } from './tools/call.js';
import { shellTool } from './tools/shell-tool.js';
import type { Tool } from './tools/tool.js';

/** Options of `localAgent`: a script to replay instead of the built-in replies, and the limits of `!command`s (timeout in ms, output in bytes). */
export interface LocalAgentOptions extends CommandLimits {
  /** Replay this script instead of answering (see `AgentScript`). */
  readonly script?: AgentScript;
}

/** The user's last message in the history (scans back from the end only). */
function previousUserMessage(history: readonly ThreadItem[]): string | null {
  for (let i = history.length - 1; i >= 0; i--) {
    const item = history[i];
    if (item?.type === 'user_message') return item.text;
  }
  return null;
}

/** Rough usage of a turn: O(1) in the history length (history items count 8 tokens each). */
function usageOf(turn: AgentTurn, reply: string): Usage {
  const history = turn.history.length * 8 + (turn.summary ? estimateTokens(turn.summary) : 0);
  return {
    input_tokens: history + estimateTokens(inputText(turn.input)) + estimateTokens(turn.config.instructions ?? ''),
    cached_input_tokens: history,
    output_tokens: estimateTokens(reply),
    reasoning_output_tokens: 0,
  };
}

/** The local agent's answer to a message. */
export function localReply(turn: AgentTurn, text: string): string {
  const previous = previousUserMessage(turn.history);
  const images = inputImages(turn.input);
  const parts = [`Turn ${turn.number}. You said: ${quote(text)}.`];
  if (previous !== null) parts.push(`Before that you said: ${quote(previous)}.`);
  else if (turn.summary !== null) parts.push('Earlier turns were compacted into a summary.');
  else parts.push('This is the first turn of our conversation.');
  if (images.length > 0) parts.push(`You attached ${images.length} image${images.length > 1 ? 's' : ''}.`);
  return parts.join(' ');
}

async function* runShell(turn: AgentTurn, command: string, options: LocalAgentOptions): AsyncGenerator<AgentEvent> {
  const tools = toolRegistry([
    shellTool({
      ...(options.commandTimeoutMs !== undefined ? { timeoutMs: options.commandTimeoutMs } : {}),
      ...(options.maxOutputBytes !== undefined ? { maxOutputBytes: options.maxOutputBytes } : {}),
    }) as Tool<never>,
  ]);
  // After a restart, the command may already be waiting for its approval: ask again under the same call id.
  const waiting = turn.resumed?.approvals.find((a) => a.item.type === 'command_execution' && a.item.command === command);
  const itemId = waiting?.item.id ?? turn.newItemId();
  const call = { callId: waiting?.callId ?? `call_${itemId}`, name: 'shell', arguments: JSON.stringify({ command }) };
  const outcome = await runToolCall(turn, tools, turn.config.approvalPolicy, call, waiting, itemId);
  if (outcome === null || turn.signal.aborted) return;
  const item = outcome.item;
  let reply: string;
  if (item.type === 'command_execution' && item.status === 'declined') reply = `I did not run \`${command}\`: it was declined.`;
  else if (item.type === 'command_execution' && item.status === 'failed' && item.exit_code === undefined) {
    // It never ran (its sandbox could not be applied): the output says why.
    reply = `I could not run \`${command}\`: ${item.aggregated_output.trim()}`;
  } else {
    const exitCode = item.type === 'command_execution' ? item.exit_code : undefined;
    const printed = item.type === 'command_execution' ? item.aggregated_output : '';
    const firstLine = printed.split('\n').find((l) => l.trim() !== '') ?? '';
    reply = `Ran \`${command}\` (exit code ${exitCode ?? 'none'}).${firstLine ? ` It printed: ${quote(firstLine)}.` : ''}`;
  }
  yield { type: 'item.completed', item: { id: turn.newItemId(), type: 'agent_message', text: reply } };
  yield { type: 'usage', usage: usageOf(turn, reply) };
}

/**
 * The local agent. Deterministic: the same history and input give the same reply.
 * @example
 * const runtime = createRuntime({ agent: localAgent() });
 */
export function localAgent(options: LocalAgentOptions = {}): Agent {
  if (options.script) return scriptedAgent(options.script, options);
  return async function* local(turn: AgentTurn): AsyncGenerator<AgentEvent> {
    if (turn.kind === 'compact') {
      yield { type: 'compaction', summary: localSummary(turn) };
      return;
    }
    const text = inputText(turn.input);
    if (text.startsWith('!') && text.slice(1).trim() !== '') {
      yield* runShell(turn, text.slice(1).trim(), options);
    } else {
      const reply = localReply(turn, text);
      yield { type: 'item.completed', item: { id: turn.newItemId(), type: 'agent_message', text: reply } };
      yield { type: 'usage', usage: usageOf(turn, reply) };
    }
    // Input steered in while answering: answer it in the same turn, as a model's follow-up request would.
    for (let steered = turn.takeSteeredInput(); steered.length > 0; steered = turn.takeSteeredInput()) {
      for (const input of steered) {
        if (turn.signal.aborted) return;
        const reply = `You added: ${quote(inputText(input))}.`;
        yield { type: 'item.completed', item: { id: turn.newItemId(), type: 'agent_message', text: reply } };
      }
    }
  };
}
