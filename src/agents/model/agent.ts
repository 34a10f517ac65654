/**
 * The model agent: a turn as Codex runs one. Sample the model; run the tool calls it made
 * (in parallel, each with its approval); give it their outputs and sample again, until it
 * answers without calling a tool. Input steered into the turn joins the prompt before the
 * next request. A `compact` turn asks the model for a summary of the history.
 */
import { ColloquyError } from '../../errors.js';
import type { ThreadItem } from '../../protocol/items.js';
import type { Agent, AgentEvent, AgentTurn } from '../agent.js';
import { argumentsOf, runToolCall, toolOfItem, toolRegistry, type ToolCallRequest, type ToolRegistry } from '../tools/call.js';
import { shellTool } from '../tools/shell-tool.js';
import { toolSpec, type Tool } from '../tools/tool.js';
import type { ModelClient, PromptItem, SampleRequest, ToolSpec } from './client.js';
import { historyPrompt, normalizePrompt, promptOf, userMessage } from './prompt.js';

/** Options of `modelAgent`. */
export interface ModelAgentOptions {
  /** The model endpoint (e.g. `openaiResponsesClient()`). */
  readonly client: ModelClient;
  /** The tools the model may call (`defineTool`, `shellTool`, …), each with its own argument type. Default: `[shellTool()]`. */
  readonly tools?: readonly Tool<any>[];
  /** Most model requests in one turn before it fails with `MaxSamplingsError`. Default 64. */
  readonly maxSamplings?: number;
  /** May the model call several tools at once (they run concurrently). Default true. */
  readonly parallelToolCalls?: boolean;
  /** What a `compact` turn asks the model for. Default: `COMPACT_PROMPT`. */
  readonly compactPrompt?: string;
}

/** The request a `compact` turn makes after the history. */
export const COMPACT_PROMPT =
  'Summarise this conversation so far for another model that will continue it without seeing it. ' +
  'Keep what the user asked for and decided, what was done (commands, files, results), what is still open, ' +
  'and any facts needed to go on. Be concise; write the summary only.';

/** A turn made more model requests than `maxSamplings` allows. */
export class MaxSamplingsError extends ColloquyError {
  readonly limit: number;
  constructor(limit: number) {
    super('max_samplings_exceeded', `the turn made ${limit} model requests without finishing (maxSamplings ${limit})`);
    this.limit = limit;
  }
}

interface Streamed {
  readonly text: string;
  readonly calls: readonly ToolCallRequest[];
}

/**
 * One sampling request: relays its events, shows streamed text and reasoning as items that
 * grow (`item.started`, `item.updated`), completes them, and returns the text and tool calls.
 */
async function* sample(turn: AgentTurn, client: ModelClient, request: SampleRequest, into: PromptItem[]): AsyncGenerator<AgentEvent, Streamed> {
  const calls: ToolCallRequest[] = [];
  let text = '';
  let message: ThreadItem | null = null;
  let reasoning: ThreadItem | null = null;
  for await (const event of client.sample(request)) {
    if (turn.signal.aborted) break;
    switch (event.type) {
      case 'text.delta':
        if (!message) {
          message = { id: turn.newItemId(), type: 'agent_message', text: '' };
          yield { type: 'item.started', item: message };
        }
        message = { ...message, text: `${(message as { text: string }).text}${event.delta}` };
        yield { type: 'item.updated', item: message };
        break;
      case 'text.done': {
        const done: ThreadItem = { id: message?.id ?? turn.newItemId(), type: 'agent_message', text: event.text };
        message = null;
        text = event.text;
        into.push({ type: 'message', role: 'assistant', text: event.text });
        yield { type: 'item.completed', item: done };
        break;
      }
      case 'reasoning.delta':
        if (!reasoning) {
          reasoning = { id: turn.newItemId(), type: 'reasoning', text: '' };
          yield { type: 'item.started', item: reasoning };
        }
        reasoning = { ...reasoning, text: `${(reasoning as { text: string }).text}${event.delta}` };
        yield { type: 'item.updated', item: reasoning };
        break;
      case 'reasoning.done':
        yield { type: 'item.completed', item: { id: reasoning?.id ?? turn.newItemId(), type: 'reasoning', text: event.text } };
        reasoning = null;
        break;
      case 'tool_call':
        calls.push({ callId: event.callId, name: event.name, arguments: event.arguments });
        break;
      case 'usage':
        yield { type: 'usage', usage: event.usage };
        break;
      case 'rate_limits':
        yield { type: 'rate_limits', snapshot: event.snapshot };
        break;
      case 'retrying':
        yield { type: 'retrying', attempt: event.attempt, delayMs: event.delayMs, message: event.message };
        break;
    }
  }
  return { text, calls };
}

/** Run `calls` (concurrently when allowed); their calls and outputs join the prompt in the model's order. */
async function runCalls(turn: AgentTurn, tools: ToolRegistry, calls: readonly ToolCallRequest[], parallel: boolean, into: PromptItem[]): Promise<boolean> {
  const policy = turn.config.approvalPolicy;
  for (const call of calls) into.push({ type: 'function_call', callId: call.callId, name: call.name, arguments: call.arguments });
  const outcomes = parallel
    ? await Promise.all(calls.map((call) => runToolCall(turn, tools, policy, call)))
    : await (async () => {
        const done = [];
        for (const call of calls) {
          const outcome = await runToolCall(turn, tools, policy, call);
          done.push(outcome);
          if (outcome === null) break;
        }
        return done;
      })();
  if (turn.signal.aborted || outcomes.some((o) => o === null)) return false;
  calls.forEach((call, i) => into.push({ type: 'function_call_output', callId: call.callId, output: outcomes[i]?.output ?? '' }));
  return true;
}

/** A `compact` turn: the model summarises the history; the summary replaces it. */
async function* compact(turn: AgentTurn, client: ModelClient, prompt: string): AsyncGenerator<AgentEvent> {
  const input = [...historyPrompt(turn.history, turn.summary), { type: 'message' as const, role: 'user' as const, text: prompt }];
  const request: SampleRequest = {
    model: turn.config.model,
    instructions: turn.config.instructions ?? null,
    input: normalizePrompt(input),
    tools: [],
    parallelToolCalls: false,
    signal: turn.signal,
  };
  let summary = '';
  for await (const event of client.sample(request)) {
    if (turn.signal.aborted) return;
    if (event.type === 'text.done') summary = event.text;
    else if (event.type === 'usage') yield { type: 'usage', usage: event.usage };
    else if (event.type === 'rate_limits') yield { type: 'rate_limits', snapshot: event.snapshot };
    else if (event.type === 'retrying') yield { type: 'retrying', attempt: event.attempt, delayMs: event.delayMs, message: event.message };
  }
  if (turn.signal.aborted) return;
  yield { type: 'compaction', summary: summary.trim() === '' ? 'Nothing to summarise.' : summary };
}

/**
 * An agent backed by a model. Each regular turn loops model request → tool calls → outputs
 * until the model answers without calling a tool; a restarted turn first finishes the calls
 * that were waiting for approval.
 * @throws {MaxSamplingsError} (fails the turn) after `maxSamplings` requests.
 * @throws {ModelError} (fails the turn) when a request fails for good; `context_window_exceeded` compacts before a retry.
 */
export function modelAgent(options: ModelAgentOptions): Agent {
  const tools = toolRegistry((options.tools ?? [shellTool()]) as readonly Tool<never>[]);
  const specs: ToolSpec[] = [...tools.values()].map(toolSpec);
  const maxSamplings = options.maxSamplings ?? 64;
  const parallel = options.parallelToolCalls ?? true;
  const client = options.client;
  return async function* model(turn: AgentTurn): AsyncGenerator<AgentEvent> {
    if (turn.kind === 'compact') {
      yield* compact(turn, client, options.compactPrompt ?? COMPACT_PROMPT);
      return;
    }
    const base = historyPrompt(turn.history, turn.summary);
    const current: PromptItem[] = [];
    if (turn.resumed) {
      for (const item of turn.resumed.items) current.push(...promptOf(item));
      // Calls that were waiting for approval when the turn stopped: ask again, then run them.
      const waiting = turn.resumed.approvals.filter((a) => toolOfItem(tools, a.item));
      for (const a of waiting) {
        const call = { callId: a.callId, name: toolOfItem(tools, a.item)?.name ?? '', arguments: JSON.stringify(argumentsOf(a.item)) };
        current.push({ type: 'function_call', ...call });
        const outcome = await runToolCall(turn, tools, turn.config.approvalPolicy, call, a);
        if (outcome === null) return;
        current.push({ type: 'function_call_output', callId: a.callId, output: outcome.output });
      }
    } else {
      current.push(userMessage(turn.input));
    }
    for (let samplings = 0; ; samplings++) {
      if (turn.signal.aborted) return;
      for (const input of turn.takeSteeredInput()) current.push(userMessage(input));
      if (samplings >= maxSamplings) throw new MaxSamplingsError(maxSamplings);
      const request: SampleRequest = {
        model: turn.config.model,
        instructions: turn.config.instructions ?? null,
        input: normalizePrompt([...base, ...current]),
        tools: specs,
        parallelToolCalls: parallel,
        ...(turn.config.outputSchema !== undefined ? { outputSchema: turn.config.outputSchema } : {}),
        signal: turn.signal,
      };
      const streamed = yield* sample(turn, client, request, current);
      if (turn.signal.aborted) return;
      if (streamed.calls.length > 0) {
        if (!(await runCalls(turn, tools, streamed.calls, parallel, current))) return;
        continue;
      }
      // The model answered. Input steered in meanwhile gets another request; otherwise the turn is done.
      const steered = turn.takeSteeredInput();
      if (steered.length === 0) return;
      for (const input of steered) current.push(userMessage(input));
    }
  };
}
