/**
 * An OpenAI Agents SDK agent run as a Colloquy agent. Each Colloquy turn is one streamed
 * `Runner.run` of the SDK agent, from the conversation's history and the turn's input:
 *
 * - streamed text becomes an `agent_message` (`item.started` / `item.updated`, then
 *   `item.completed` when the SDK reports the message), reasoning a `reasoning` item, tool
 *   calls (and handoffs) `tool_call` items with their outputs (shell calls `command_execution`,
 *   patches `file_change`), each model response's usage a `usage` event;
 * - a run interrupted for tool approvals (`needsApproval`) asks Colloquy for each
 *   (`turn.requestApproval`, so it is a pending approval of the conversation, recorded and
 *   answered with `convo.approve`), applies the decisions to the run state (`approved`,
 *   `approved_for_session` as `alwaysApprove`, `denied` as a rejection) and resumes the run;
 *   `abort` ends it. Input steered into the turn meanwhile joins the resumed run;
 * - interrupting the Colloquy turn aborts the run (its `signal`).
 *
 * The SDK agent's own items are not kept between turns: the next turn's input is the
 * conversation's history mapped back (`toAgentInputItems`). For a verbatim history use the
 * SDK's own runner with a `colloquySession`.
 */
import {
  GuardrailExecutionError,
  InputGuardrailTripwireTriggered,
  MaxTurnsExceededError,
  ModelBehaviorError,
  ModelRefusalError,
  ModelTimeoutError,
  OutputGuardrailTripwireTriggered,
  Runner,
  ToolCallError,
  ToolInputGuardrailTripwireTriggered,
  ToolOutputGuardrailTripwireTriggered,
  ToolTimeoutError,
  UserError,
  type Agent as SdkAgent,
  type AgentInputItem,
  type RunConfig,
  type RunItem,
  type RunToolApprovalItem,
  type StreamedRunResult,
  type StreamRunOptions,
} from '@openai/agents';
import { ColloquyError } from '../../errors.js';
import type { Agent, AgentEvent, AgentTurn } from '../agent.js';
import { ModelError, type ModelErrorCode } from '../model/client.js';
import { isContextWindowExceeded } from '../model/retry.js';
import { readImageDataUrl } from '../image.js';
import type { ThreadItem, ToolStatus, Usage, UserInputItem } from '../../protocol/items.js';
import type { ApprovalDecision } from '../../protocol/ops.js';
import { DECLINED_OUTPUT, outputText, toAgentInputItem, toAgentInputItems, toThreadItems } from './items.js';

/** Run options passed to every run of the SDK agent (Colloquy sets `stream`, `signal` and the input). */
export type AgentsSdkRunOptions<TContext> = Omit<
  StreamRunOptions<TContext>,
  'stream' | 'signal' | 'session' | 'context' | 'conversationId' | 'previousResponseId'
>;

/** Options of {@link agentsSdkAgent}. */
export interface AgentsSdkAgentOptions<TContext = unknown> {
  /** The runner to run with. Default: a new `Runner(runConfig)`. */
  readonly runner?: Runner;
  /** The configuration of the runner made when `runner` is not given (model provider, tracing, guardrails…). */
  readonly runConfig?: Partial<RunConfig>;
  /** Options of every run (`maxTurns`, `toolExecution`, `errorHandlers`, …). */
  readonly runOptions?: AgentsSdkRunOptions<TContext>;
  /** The run context of a turn (what the SDK agent's tools and instructions receive). */
  readonly context?: (turn: AgentTurn) => TContext;
  /**
   * The model input of a turn. Default: the conversation's history (`toAgentInputItems`), then
   * the turn's input (text, and local images as data URLs).
   */
  readonly input?: (turn: AgentTurn) => AgentInputItem[] | Promise<AgentInputItem[]>;
  /** What a denied tool call tells the model. Default: the SDK's rejection text. */
  readonly rejectionMessage?: string;
}

/** A user message of Colloquy input: its text, and its local images read as data URLs. */
export async function userInputItem(input: readonly UserInputItem[]): Promise<AgentInputItem> {
  const images = input.filter((part) => part.type === 'local_image');
  if (images.length === 0) {
    return { role: 'user', content: input.map((part) => (part.type === 'text' ? part.text : '')).join('\n\n') };
  }
  const content: Extract<AgentInputItem, { role: 'user' }>['content'] = [];
  for (const part of input) {
    if (part.type === 'text') {
      content.push({ type: 'input_text', text: part.text });
      continue;
    }
    try {
      content.push({ type: 'input_image', image: await readImageDataUrl(part.path) });
    } catch (err) {
      const reason = err instanceof Error ? err.message : String(err);
      content.push({ type: 'input_text', text: `[image ${part.path} could not be read: ${reason}]` });
    }
  }
  return { role: 'user', content };
}

/** One model response's usage (the SDK's) in Colloquy's terms (tokens). */
function usageOf(usage: unknown): Usage | null {
  if (!usage || typeof usage !== 'object') return null;
  const u = usage as Record<string, unknown>;
  const detail = (details: unknown, key: string): number => {
    const list = Array.isArray(details) ? details : [details];
    let sum = 0;
    for (const d of list) if (d && typeof d === 'object') sum += Number((d as Record<string, unknown>)[key]) || 0;
    return sum;
  };
  const count = (n: unknown): number => Math.max(0, Math.round(Number(n) || 0));
  return {
    input_tokens: count(u.inputTokens),
    cached_input_tokens: count(detail(u.inputTokensDetails, 'cached_tokens')),
    output_tokens: count(u.outputTokens),
    reasoning_output_tokens: count(detail(u.outputTokensDetails, 'reasoning_tokens')),
  };
}

/** The call id of a raw tool item (`callId`, else its id). */
function callIdOf(raw: unknown): string | undefined {
  if (!raw || typeof raw !== 'object') return undefined;
  const r = raw as { callId?: unknown; call_id?: unknown; id?: unknown };
  for (const v of [r.callId, r.call_id, r.id]) if (typeof v === 'string' && v !== '') return v;
  return undefined;
}

/**
 * An HTTP error of an `openai` client (`APIError` and its subclasses, of whichever copy of the
 * package the SDK's model uses): it has `status`, `headers`, `error` and `code` of its own.
 */
function isApiError(err: unknown): err is Error & { status?: number; code?: unknown; error?: unknown } {
  return err instanceof Error && ['status', 'headers', 'error', 'code'].every((key) => Object.hasOwn(err, key));
}

/** The code of an `@openai/agents` error, by its class. */
function agentsErrorCode(err: Error): string | null {
  if (err instanceof MaxTurnsExceededError) return 'max_turns_exceeded';
  if (err instanceof ModelRefusalError) return 'model_refusal';
  if (err instanceof ModelBehaviorError) return 'model_behavior';
  if (err instanceof ModelTimeoutError) return 'model_timeout';
  if (err instanceof ToolTimeoutError) return 'tool_timeout';
  if (err instanceof ToolCallError) return 'tool_error';
  if (
    err instanceof InputGuardrailTripwireTriggered ||
    err instanceof OutputGuardrailTripwireTriggered ||
    err instanceof ToolInputGuardrailTripwireTriggered ||
    err instanceof ToolOutputGuardrailTripwireTriggered
  ) {
    return 'guardrail_triggered';
  }
  if (err instanceof GuardrailExecutionError) return 'guardrail_error';
  if (err instanceof UserError) return 'agent_configuration';
  return null;
}

/**
 * The typed error a failed run fails its turn with:
 * - an HTTP error of the model's API: a `ModelError` with the model agent's codes
 *   (`context_window_exceeded`, `unauthorized` for 401/403, `rate_limited` for 429,
 *   `server_error` for 5xx, `bad_request` for other 4xx, `network` without a response);
 * - an `@openai/agents` error: a `ColloquyError` with `max_turns_exceeded`, `model_refusal`,
 *   `model_behavior`, `model_timeout`, `tool_timeout`, `tool_error`, `guardrail_triggered`,
 *   `guardrail_error` or `agent_configuration`;
 * - anything else as it is (code `agent_error` unless it has a string `code`).
 * The original error is the `cause`.
 */
function runError(err: unknown): unknown {
  if (!(err instanceof Error) || err instanceof ColloquyError) return err;
  if (isApiError(err)) {
    const status = typeof err.status === 'number' ? err.status : undefined;
    const body = err.error as { message?: unknown } | undefined;
    const message = typeof body?.message === 'string' && body.message !== '' ? body.message : err.message.replace(/^\d{3}\s+/, '');
    const code = typeof err.code === 'string' ? err.code : undefined;
    const text = `${status !== undefined ? `${status} ` : ''}${message}`;
    let kind: ModelErrorCode;
    if (isContextWindowExceeded(code, message) && (status === undefined || (status >= 400 && status < 500))) kind = 'context_window_exceeded';
    else if (status === undefined) kind = code === 'rate_limit_exceeded' || code === 'insufficient_quota' ? 'rate_limited' : 'network';
    else if (status === 401 || status === 403) kind = 'unauthorized';
    else if (status === 429) kind = 'rate_limited';
    else if (status >= 500) kind = 'server_error';
    else kind = 'bad_request';
    return new ModelError(kind, kind === 'context_window_exceeded' ? `the prompt does not fit the model's context window: ${text}` : text, {
      ...(status !== undefined ? { status } : {}),
      cause: err,
    });
  }
  const code = agentsErrorCode(err);
  return code === null ? err : new ColloquyError(code, err.message, { cause: err });
}

/** What one turn's runs have shown so far. */
class TurnItems {
  readonly #turn: AgentTurn;
  /** Text being streamed, by the model's item id ('' when it gives none): the Colloquy item it becomes. */
  readonly #streams = new Map<string, { id: string; text: string }>();
  /** Tool calls shown as started: call id → the Colloquy item and the raw call. */
  readonly #calls = new Map<string, { item: ThreadItem; raw: AgentInputItem }>();
  /** Calls the user declined. */
  readonly declined = new Set<string>();

  constructor(turn: AgentTurn) {
    this.#turn = turn;
  }

  text(itemId: string | undefined, delta: string): AgentEvent[] {
    const key = itemId ?? '';
    let stream = this.#streams.get(key);
    const events: AgentEvent[] = [];
    if (!stream) {
      stream = { id: this.#turn.newItemId(), text: '' };
      this.#streams.set(key, stream);
      events.push({ type: 'item.started', item: { id: stream.id, type: 'agent_message', text: '' } });
    }
    stream.text += delta;
    events.push({ type: 'item.updated', item: { id: stream.id, type: 'agent_message', text: stream.text } });
    return events;
  }

  /** The Colloquy id of a finished message: the one its streamed text was shown under. */
  #messageId(rawId: string | undefined): string {
    const key = rawId !== undefined && this.#streams.has(rawId) ? rawId : this.#streams.keys().next().value;
    if (key === undefined) return this.#turn.newItemId();
    const stream = this.#streams.get(key);
    this.#streams.delete(key);
    return stream?.id ?? this.#turn.newItemId();
  }

  /** The Colloquy events of a run item. */
  item(runItem: RunItem): AgentEvent[] {
    const raw = runItem.rawItem as AgentInputItem | undefined;
    if (!raw) return [];
    switch (runItem.type) {
      case 'message_output_item': {
        const [message] = toThreadItems([raw], () => '');
        if (message?.type !== 'agent_message') return [];
        return [{ type: 'item.completed', item: { ...message, id: this.#messageId(raw.id) } }];
      }
      case 'reasoning_item': {
        const [reasoning] = toThreadItems([raw], () => this.#turn.newItemId());
        return reasoning ? [{ type: 'item.completed', item: reasoning }] : [];
      }
      case 'tool_call_item':
      case 'handoff_call_item': {
        const callId = callIdOf(raw);
        const [item] = toThreadItems([raw], () => this.#turn.newItemId());
        if (!item) return [];
        const done = 'status' in item && item.status !== 'in_progress';
        if (callId !== undefined && !done) this.#calls.set(callId, { item, raw });
        return [{ type: done ? 'item.completed' : 'item.started', item }];
      }
      case 'tool_call_output_item':
      case 'handoff_output_item': {
        const callId = callIdOf(raw);
        const call = callId === undefined ? undefined : this.#calls.get(callId);
        let item: ThreadItem | undefined;
        if (call) {
          this.#calls.delete(callId as string);
          item = toThreadItems([call.raw, raw], () => call.item.id)[0];
        } else item = toThreadItems([raw], () => this.#turn.newItemId())[0];
        if (!item) return [];
        if (callId !== undefined && this.declined.has(callId) && 'status' in item) item = { ...item, status: 'declined' as ToolStatus };
        if (item.type === 'tool_call' && item.output === undefined && 'output' in runItem) item = { ...item, output: outputText(runItem.output) };
        return [{ type: 'item.completed', item }];
      }
      default:
        // Approval items are answered from the run's interruptions; tool searches and
        // compaction markers have no Colloquy counterpart.
        return [];
    }
  }

  /** The Colloquy item an approval asks about (the started call, when it was shown). */
  approvalItem(interruption: RunToolApprovalItem): { callId: string; item: ThreadItem } {
    const raw = interruption.rawItem as AgentInputItem;
    const callId = callIdOf(raw) ?? this.#turn.newItemId();
    const shown = this.#calls.get(callId);
    if (shown) return { callId, item: shown.item };
    const item = toThreadItems([raw], () => this.#turn.newItemId())[0] ?? {
      id: this.#turn.newItemId(),
      type: 'tool_call',
      name: interruption.name ?? 'tool',
      arguments: {},
      status: 'in_progress',
      call_id: callId,
    };
    this.#calls.set(callId, { item, raw });
    return { callId, item };
  }
}

/**
 * The input of a turn resumed after a restart: what it did before, and for each approval it
 * waited for, the decision (asked again; the same request gets the same answer) as the output
 * of a call that did not run.
 */
async function resumedInput(turn: AgentTurn): Promise<AgentInputItem[] | null> {
  const resumed = turn.resumed;
  if (!resumed) return [];
  const out: AgentInputItem[] = [];
  for (const item of resumed.items) if (item.type !== 'user_message') out.push(...toAgentInputItem(item));
  for (const approval of resumed.approvals) {
    const decision = await turn.requestApproval(approval);
    if (decision === 'abort' || turn.signal.aborted) return null;
    const output =
      decision === 'denied'
        ? DECLINED_OUTPUT
        : 'The user approved this call, but it did not run: the process restarted while it waited for approval. Call it again if it is still needed.';
    const [call] = toAgentInputItem(approval.item);
    if (call) out.push(call, { type: 'function_call_result', callId: callIdOf(call) ?? approval.callId, name: 'name' in call ? String(call.name) : 'tool', status: 'completed', output });
  }
  return out;
}

/**
 * A Colloquy agent that runs the OpenAI Agents SDK agent `agent` for every turn.
 * @example
 * import { Agent } from '@openai/agents';
 * import { createRuntime } from 'colloquy';
 * import { agentsSdkAgent } from 'colloquy/openai-agents';
 *
 * const assistant = new Agent({ name: 'Assistant', instructions: 'Be brief.', model: 'gpt-5-mini' });
 * const runtime = createRuntime({ agent: agentsSdkAgent(assistant) });
 * @throws {ModelError} (fails the turn) when the model's API refuses a request: code
 * `context_window_exceeded`, `unauthorized` (401/403), `rate_limited` (429), `server_error`
 * (5xx), `bad_request` (other 4xx) or `network` (no response).
 * @throws {ColloquyError} (fails the turn) for errors of the SDK run: code `max_turns_exceeded`,
 * `model_refusal`, `model_behavior`, `model_timeout`, `tool_timeout`, `tool_error`,
 * `guardrail_triggered`, `guardrail_error` or `agent_configuration`. Other errors fail the turn
 * as they are (code `agent_error`).
 */
export function agentsSdkAgent<TContext = unknown>(agent: SdkAgent<TContext, any>, options: AgentsSdkAgentOptions<TContext> = {}): Agent {
  let runner = options.runner;
  const runnerOf = (): Runner => (runner ??= new Runner(options.runConfig));

  return async function* (turn: AgentTurn): AsyncGenerator<AgentEvent> {
    // A compaction is summarised by the runtime's default summary (the user's messages).
    if (turn.kind === 'compact') return;
    const signal = turn.signal;
    const before = await resumedInput(turn);
    if (before === null) return;
    const input = options.input
      ? await options.input(turn)
      : [...toAgentInputItems(turn.history, turn.summary), ...(turn.input.length > 0 ? [await userInputItem(turn.input)] : []), ...before];
    const shown = new TurnItems(turn);
    const runOptions = { ...options.runOptions, stream: true as const, signal };
    let result: StreamedRunResult<TContext, SdkAgent<TContext, any>>;
    try {
      result = await runnerOf().run(agent, input, { ...runOptions, ...(options.context ? { context: options.context(turn) } : {}) });
    } catch (err) {
      if (signal.aborted) return;
      throw runError(err);
    }
    while (true) {
      try {
        for await (const event of result) {
          if (signal.aborted) break;
          if (event.type === 'raw_model_stream_event') {
            const data = event.data as { type: string; delta?: unknown; itemId?: unknown; response?: { usage?: unknown } };
            if (data.type === 'output_text_delta' && typeof data.delta === 'string') {
              yield* shown.text(typeof data.itemId === 'string' ? data.itemId : undefined, data.delta);
            } else if (data.type === 'response_done') {
              const usage = usageOf(data.response?.usage);
              if (usage) yield { type: 'usage', usage };
            }
          } else if (event.type === 'run_item_stream_event') {
            yield* shown.item(event.item);
          }
        }
        await result.completed;
      } catch (err) {
        if (signal.aborted) return;
        throw runError(err);
      }
      if (signal.aborted) return;
      if (result.error) throw runError(result.error);
      const interruptions = result.interruptions;
      if (interruptions.length === 0) return;

      const asked = interruptions.map((interruption) => shown.approvalItem(interruption));
      const decisions: ApprovalDecision[] = await Promise.all(asked.map((request) => turn.requestApproval(request)));
      if (signal.aborted || decisions.includes('abort')) return;
      const state = result.state;
      interruptions.forEach((interruption, i) => {
        const decision = decisions[i];
        if (decision === 'approved') state.approve(interruption);
        else if (decision === 'approved_for_session') state.approve(interruption, { alwaysApprove: true });
        else {
          shown.declined.add((asked[i] as { callId: string }).callId);
          state.reject(interruption, options.rejectionMessage !== undefined ? { message: options.rejectionMessage } : undefined);
        }
      });
      // Input steered into the turn while it waited joins the run here, before its next model call.
      const steered = turn.takeSteeredInput();
      if (steered.length > 0) {
        try {
          state.addInput(await Promise.all(steered.map((parts) => userInputItem(parts))));
        } catch {
          // No further model call in this run: the steered input is in the history for the next turn.
        }
      }
      try {
        result = await runnerOf().run(agent, state, runOptions);
      } catch (err) {
        if (signal.aborted) return;
        throw runError(err);
      }
    }
  };
}
