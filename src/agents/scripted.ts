/**
 * The scripted mode of the local agent: replays a JSON script of turns, for orchestrators'
 * own tests. Turn `n` of the conversation plays `turns[n - 1]` (turn numbers survive a
 * resume, so a script spans processes).
 *
 * ```json
 * { "turns": [
 *     { "steps": [ { "type": "message", "text": "Hello" } ] },
 *     { "steps": [ { "type": "delay", "ms": 500 }, { "type": "command", "command": "ls", "output": "a\nb\n" } ] },
 *     { "steps": [ { "type": "fail", "message": "model overloaded" } ] } ],
 *   "repeat": "last" }
 * ```
 */
import { readFile } from 'node:fs/promises';
import * as z from 'zod/mini';
import { ColloquyError, formatPath } from '../errors.js';
import { inputText, UsageSchema, type ThreadItem } from '../protocol/items.js';
import { toIssues } from '../protocol/validate.js';
import { sleep, type Agent, type AgentEvent, type AgentTurn } from './agent.js';
import { localSummary, quote } from './text.js';
import { finishedCommand, runCommand, type CommandLimits } from './shell.js';

const StepSchema = z.discriminatedUnion('type', [
  /** An agent message. */
  z.strictObject({ type: z.literal('message'), text: z.string() }),
  /** A reasoning item. */
  z.strictObject({ type: z.literal('reasoning'), text: z.string() }),
  /** A shell command: asks for approval; runs for real unless `output` is given. */
  z.strictObject({
    type: z.literal('command'),
    command: z.string().check(z.minLength(1)),
    output: z.optional(z.string()),
    exit_code: z.optional(z.int()),
  }),
  /** A function tool call with its output; asks for approval when `approval` is true. */
  z.strictObject({
    type: z.literal('tool_call'),
    name: z.string().check(z.minLength(1)),
    arguments: z.optional(z.unknown()),
    output: z.optional(z.string()),
    approval: z.optional(z.boolean()),
  }),
  /** A todo list. */
  z.strictObject({
    type: z.literal('todo'),
    items: z.array(z.strictObject({ text: z.string(), completed: z.boolean() })),
  }),
  /** A non-fatal error item. */
  z.strictObject({ type: z.literal('error'), message: z.string() }),
  /** Fail the turn with this message. */
  z.strictObject({ type: z.literal('fail'), message: z.string(), code: z.optional(z.string()) }),
  /** Wait (ms); an interrupt ends the wait unless `cooperative` is false. */
  z.strictObject({
    type: z.literal('delay'),
    ms: z.int().check(z.minimum(0)),
    cooperative: z.optional(z.boolean()),
  }),
  /** Report token usage. */
  z.strictObject({ type: z.literal('usage'), usage: UsageSchema }),
]);

/** A script for the local agent's scripted mode. */
export const AgentScriptSchema = z.strictObject({
  turns: z.array(z.strictObject({ steps: z.array(StepSchema) })).check(z.minLength(1)),
  /** When the conversation has more turns than the script: `fail` (default), replay the `last` turn, or `cycle`. */
  repeat: z.optional(z.enum(['fail', 'last', 'cycle'])),
});
/** A scripted-mode script (JSON): the turns to replay, each a list of steps, and what happens after the last (`repeat`). */
export type AgentScript = z.infer<typeof AgentScriptSchema>;
/** One step of a scripted turn: a message, reasoning, a command, a tool call, a todo list, a failure or a delay (ms). */
export type ScriptStep = z.infer<typeof StepSchema>;

/** A script that does not match `AgentScriptSchema`. `where` names the file, `field` the bad field. */
export class InvalidScriptError extends ColloquyError {
  readonly where: string;
  readonly field: string;
  constructor(where: string, field: string, message: string) {
    super('invalid_script', `invalid agent script ${where}: ${field}: ${message}`);
    this.where = where;
    this.field = field;
  }
}

/**
 * Validate a script.
 * @throws {InvalidScriptError} naming the bad field.
 */
export function parseScript(value: unknown, where = '(inline)'): AgentScript {
  const result = AgentScriptSchema.safeParse(value);
  if (result.success) return result.data;
  const issue = toIssues(result.error.issues, value)[0];
  throw new InvalidScriptError(where, issue ? formatPath(issue.path) : '(root)', issue?.message ?? 'invalid');
}

/**
 * Read and validate a script file.
 * @throws {InvalidScriptError} when it is missing, not JSON, or does not match the schema.
 */
export async function loadScript(path: string): Promise<AgentScript> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new InvalidScriptError(path, '(file)', err instanceof Error ? err.message : String(err));
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new InvalidScriptError(path, '(file)', `not valid JSON: ${err instanceof Error ? err.message : String(err)}`);
  }
  return parseScript(value, path);
}

/** A turn failure a script asked for. */
export class ScriptedFailure extends ColloquyError {
  constructor(message: string, code = 'scripted_failure') {
    super(code, message);
  }
}

function stepsFor(script: AgentScript, number: number): ScriptStep[] {
  const turns = script.turns;
  const index = number - 1;
  const turn = turns[index] ?? (script.repeat === 'last' ? turns[turns.length - 1] : script.repeat === 'cycle' ? turns[index % turns.length] : undefined);
  if (!turn) throw new ScriptedFailure(`the agent script has no turn ${number} (it has ${turns.length})`, 'script_exhausted');
  return turn.steps;
}

async function* toolStep(turn: AgentTurn, step: ScriptStep & { type: 'command' | 'tool_call' }, options: CommandLimits): AsyncGenerator<AgentEvent> {
  const waiting = turn.resumed?.approvals.find((a) =>
    step.type === 'command' ? a.item.type === 'command_execution' && a.item.command === step.command : a.item.type === 'tool_call' && a.item.name === step.name,
  );
  const id = waiting?.item.id ?? turn.newItemId();
  const callId = waiting?.callId ?? `call_${id}`;
  const item: ThreadItem =
    step.type === 'command'
      ? { id, type: 'command_execution', command: step.command, aggregated_output: '', status: 'in_progress', call_id: callId }
      : { id, type: 'tool_call', name: step.name, arguments: step.arguments ?? {}, status: 'in_progress', call_id: callId };
  if (!waiting) yield { type: 'item.started', item };
  const ask = step.type === 'command' || step.approval === true;
  const decision = ask ? await turn.requestApproval({ callId, item }) : 'approved';
  if (turn.signal.aborted || decision === 'abort') return;
  if (decision === 'denied') {
    yield { type: 'item.completed', item: { ...item, status: 'declined' } as ThreadItem };
    return;
  }
  if (step.type === 'tool_call') {
    yield { type: 'item.completed', item: { ...item, output: step.output ?? '', status: 'completed' } as ThreadItem };
    return;
  }
  const result =
    step.output !== undefined
      ? { output: step.output, exitCode: step.exit_code ?? 0 }
      : await runCommand(step.command, {
          cwd: turn.config.cwd,
          signal: turn.signal,
          sandbox: turn.config,
          ...(options.commandTimeoutMs !== undefined ? { timeoutMs: options.commandTimeoutMs } : {}),
          ...(options.maxOutputBytes !== undefined ? { maxOutputBytes: options.maxOutputBytes } : {}),
        });
  if (turn.signal.aborted) return;
  if (item.type === 'command_execution') yield { type: 'item.completed', item: finishedCommand(item, result) };
}

/** An agent that replays `script`. */
export function scriptedAgent(script: AgentScript, options: CommandLimits = {}): Agent {
  const checked = parseScript(script);
  return async function* scripted(turn: AgentTurn): AsyncGenerator<AgentEvent> {
    if (turn.kind === 'compact') {
      yield { type: 'compaction', summary: localSummary(turn) };
      return;
    }
    let steps = stepsFor(checked, turn.number);
    const waiting = turn.resumed?.approvals ?? [];
    if (waiting.length > 0) {
      // Resumed after a restart: what came before the step waiting for approval is already recorded.
      const at = steps.findIndex((step) =>
        waiting.some((a) =>
          step.type === 'command'
            ? a.item.type === 'command_execution' && a.item.command === step.command
            : step.type === 'tool_call' && a.item.type === 'tool_call' && a.item.name === step.name,
        ),
      );
      if (at > 0) steps = steps.slice(at);
    }
    for (const step of steps) {
      if (turn.signal.aborted) return;
      switch (step.type) {
        case 'message':
          yield { type: 'item.completed', item: { id: turn.newItemId(), type: 'agent_message', text: step.text } };
          break;
        case 'reasoning':
          yield { type: 'item.completed', item: { id: turn.newItemId(), type: 'reasoning', text: step.text } };
          break;
        case 'todo':
          yield { type: 'item.completed', item: { id: turn.newItemId(), type: 'todo_list', items: step.items } };
          break;
        case 'error':
          yield { type: 'item.completed', item: { id: turn.newItemId(), type: 'error', message: step.message } };
          break;
        case 'fail':
          throw new ScriptedFailure(step.message, step.code);
        case 'delay':
          if (step.cooperative === false) await sleep(step.ms);
          else await sleep(step.ms, turn.signal);
          break;
        case 'usage':
          yield { type: 'usage', usage: step.usage };
          break;
        case 'command':
        case 'tool_call':
          yield* toolStep(turn, step, options);
          break;
      }
    }
    for (let steered = turn.takeSteeredInput(); steered.length > 0; steered = turn.takeSteeredInput()) {
      for (const input of steered) {
        yield { type: 'item.completed', item: { id: turn.newItemId(), type: 'agent_message', text: `You added: ${quote(inputText(input))}.` } };
      }
    }
  };
}
