/**
 * Running one tool call inside a turn: parse the model's arguments, show the call as an item,
 * ask for approval when the policy says so, run it, and give the model its output. Every
 * failure (unknown tool, bad arguments, a throwing tool, a declined call) becomes an output
 * the model reads; only an interrupt stops the turn.
 */
import type { ThreadItem } from '../../protocol/items.js';
import type { ApprovalPolicy } from '../../protocol/ops.js';
import type { AgentTurn } from '../agent.js';
import { needsApproval, ToolArgumentsError, type Tool, type ToolResult } from './tool.js';

/** A call as the model made it. */
export interface ToolCallRequest {
  readonly callId: string;
  readonly name: string;
  /** The arguments as the model wrote them (JSON text). */
  readonly arguments: string;
}

/** A call waiting for its approval when the turn was restarted: ask again under the same call id. */
export interface ResumedCall {
  readonly callId: string;
  readonly item: ThreadItem;
}

/** The output of a call, or null when the turn was interrupted while it ran. */
export type CallOutcome = { readonly output: string; readonly item: ThreadItem } | null;

/** The tools of an agent, by name. */
export type ToolRegistry = ReadonlyMap<string, Tool<never>>;

/** A registry of `tools`. @throws {TypeError} when two tools share a name. */
export function toolRegistry(tools: readonly Tool<never>[]): ToolRegistry {
  const map = new Map<string, Tool<never>>();
  for (const tool of tools) {
    if (map.has(tool.name)) throw new TypeError(`two tools are named ${JSON.stringify(tool.name)}`);
    map.set(tool.name, tool);
  }
  return map;
}

/** The call id under which a failed call's re-run is approved (`on-failure`). */
export const rerunCallId = (callId: string): string => `${callId}:rerun`;

function failedCall(turn: AgentTurn, call: ToolCallRequest, output: string): CallOutcome {
  let args: unknown = call.arguments;
  try {
    args = JSON.parse(call.arguments);
  } catch {
    // Kept as the text the model wrote.
  }
  const item: ThreadItem = { id: turn.newItemId(), type: 'tool_call', name: call.name, arguments: args, output, status: 'failed', call_id: call.callId };
  turn.emit({ type: 'item.completed', item });
  return { output, item };
}

/** The arguments a (resumed) item was called with. */
export function argumentsOf(item: ThreadItem): unknown {
  switch (item.type) {
    case 'command_execution':
      return { command: item.command };
    case 'tool_call':
      return item.arguments;
    default:
      return {};
  }
}

/** The tool a resumed item belongs to. */
export function toolOfItem(tools: ToolRegistry, item: ThreadItem): Tool<never> | undefined {
  if (item.type === 'command_execution') return tools.get('shell');
  if (item.type === 'tool_call') return tools.get(item.name);
  return undefined;
}

/**
 * Run one call of `turn` under `policy`. With `resumed`, the call was already shown and is
 * waiting for its approval (after a restart): it is not shown again. `itemId` is the id its
 * item gets (default: a new one).
 */
export async function runToolCall(
  turn: AgentTurn,
  tools: ToolRegistry,
  policy: ApprovalPolicy,
  call: ToolCallRequest,
  resumed?: ResumedCall,
  itemId?: string,
): Promise<CallOutcome> {
  const tool = tools.get(call.name) as Tool<unknown> | undefined;
  if (!tool) return failedCall(turn, call, `unknown tool ${JSON.stringify(call.name)}; the tools are: ${[...tools.keys()].join(', ') || 'none'}`);
  let args: unknown;
  try {
    args = tool.parse(resumed ? argumentsOf(resumed.item) : call.arguments === '' ? {} : JSON.parse(call.arguments));
  } catch (err) {
    const message = err instanceof ToolArgumentsError ? err.message : `the arguments are not valid JSON: ${(err as Error).message}`;
    return failedCall(turn, call, message);
  }
  const item = resumed?.item ?? tool.started(args, { itemId: itemId ?? turn.newItemId(), callId: call.callId });
  if (!resumed) turn.emit({ type: 'item.started', item });
  if (resumed || needsApproval(tool, args, policy)) {
    const decision = await turn.requestApproval({ callId: call.callId, item });
    if (decision === 'abort' || turn.signal.aborted) return null;
    if (decision === 'denied') {
      const declined = tool.declined(item);
      turn.emit({ type: 'item.completed', item: declined });
      return { output: 'The user declined this call; it did not run.', item: declined };
    }
  }
  let result = await execute(turn, tool, args, item, call.callId);
  if (turn.signal.aborted) return null;
  if (!result.success && policy === 'on-failure' && tool.retryable) {
    // As Codex's on-failure: the user decides whether a failed call runs again.
    const decision = await turn.requestApproval({ callId: rerunCallId(call.callId), item: result.item });
    if (decision === 'abort' || turn.signal.aborted) return null;
    if (decision !== 'denied') {
      result = await execute(turn, tool, args, item, call.callId);
      if (turn.signal.aborted) return null;
    }
  }
  turn.emit({ type: 'item.completed', item: result.item });
  return { output: result.output, item: result.item };
}

async function execute(turn: AgentTurn, tool: Tool<unknown>, args: unknown, item: ThreadItem, callId: string): Promise<ToolResult> {
  try {
    return await tool.run(args, item, {
      callId,
      itemId: item.id,
      cwd: turn.config.cwd,
      sandbox: turn.config,
      signal: turn.signal,
      update: (updated) => turn.emit({ type: 'item.updated', item: updated }),
    });
  } catch (err) {
    // A tool that throws (instead of returning a failure) fails the call, not the turn.
    const output = `error: ${err instanceof Error ? err.message : String(err)}`;
    const failed: ThreadItem =
      item.type === 'tool_call'
        ? { ...item, status: 'failed', output }
        : item.type === 'command_execution'
          ? { ...item, status: 'failed', aggregated_output: output }
          : item;
    return { output, success: false, item: failed };
  }
}
