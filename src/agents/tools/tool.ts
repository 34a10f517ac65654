/**
 * Tools: what a model agent can call. A tool has a zod schema for its arguments (sent to the
 * model as JSON Schema), says when a call needs the user's approval, shows each call as a
 * thread item, and runs it. A failing call becomes an output the model reads, never a crash.
 */
import type * as core from 'zod/v4/core';
import { safeParse, toJSONSchema } from 'zod/v4/core';
import { ColloquyError, formatPath } from '../../errors.js';
import type { ThreadItem } from '../../protocol/items.js';
import type { ApprovalPolicy } from '../../protocol/ops.js';
import type { ToolSpec } from '../model/client.js';
import type { SandboxSettings } from '../sandbox.js';

/** What a running call can use. */
export interface ToolContext {
  /** The model's id for this call. */
  readonly callId: string;
  /** The id of the item the call is shown as. */
  readonly itemId: string;
  /** The conversation's working directory. */
  readonly cwd: string;
  /**
   * The conversation's sandbox settings (its config: `sandbox`, `networkAccess`,
   * `writableRoots`), which the built-in shell tool runs its commands under. Absent: no sandbox.
   */
  readonly sandbox?: SandboxSettings;
  /** Aborted when the turn is interrupted: stop promptly. */
  readonly signal: AbortSignal;
  /** Show progress of the call's item (not recorded; e.g. streamed command output). */
  update(item: ThreadItem): void;
}

/** What a call produced: the output the model reads, and the item's final form. */
export interface ToolResult {
  readonly output: string;
  /** False when the call failed (the output says why). Under `on-failure`, a failed call may be re-run with approval. */
  readonly success: boolean;
  readonly item: ThreadItem;
}

/**
 * A tool. Build function tools with `defineTool`; `shellTool` is built in.
 *
 * - `parse` checks the model's arguments (already JSON-decoded) and throws `ToolArgumentsError` when they are bad.
 * - `approval` says whether a call needs the user's approval first under a policy (see `needsApproval`).
 * - `started` is the call's item while it runs; `declined` its final form when the user said no.
 */
export interface Tool<A = unknown> {
  readonly name: string;
  readonly description: string;
  /** JSON Schema of the arguments object, as sent to the model. */
  readonly parameters: Readonly<Record<string, unknown>>;
  parse(args: unknown): A;
  /** True when a call may change something (so it asks under `on-request`); false for read-only calls. */
  mutates(args: A): boolean;
  /** True when a call is known to be harmless (run without asking under `untrusted`). */
  trusted(args: A): boolean;
  /** May a failed call be offered for a re-run under `on-failure`. */
  readonly retryable: boolean;
  started(args: A, ids: { readonly itemId: string; readonly callId: string }): ThreadItem;
  declined(item: ThreadItem): ThreadItem;
  run(args: A, item: ThreadItem, context: ToolContext): Promise<ToolResult>;
}

/** Arguments a model gave that do not fit the tool's schema (the message goes back to the model). */
export class ToolArgumentsError extends ColloquyError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('invalid_tool_arguments', message, options);
    this.name = 'ToolArgumentsError';
  }
}

/**
 * What to do with a call before running it, under `policy` (as Codex's approval policies):
 * - `never`: run; failures go back to the model.
 * - `on-request`: ask when the call may change something.
 * - `untrusted`: ask unless the call is known to be harmless.
 * - `on-failure`: run without asking; a failed call is offered for a re-run (see `Tool.retryable`).
 */
export function needsApproval<A>(tool: Tool<A>, args: A, policy: ApprovalPolicy): boolean {
  switch (policy) {
    case 'never':
    case 'on-failure':
      return false;
    case 'on-request':
      return tool.mutates(args);
    case 'untrusted':
      return !tool.trusted(args);
  }
}

/** The spec a model sees for `tool`. */
export function toolSpec(tool: Tool<never>): ToolSpec {
  return { name: tool.name, description: tool.description, parameters: tool.parameters };
}

/** JSON Schema of a zod schema, as models take it (no `$schema`, no 2^53 bounds on integers). */
export function jsonSchemaOf(schema: core.$ZodType): Record<string, unknown> {
  const json = toJSONSchema(schema, { unrepresentable: 'any' }) as Record<string, unknown>;
  delete json.$schema;
  return stripSafeBounds(json) as Record<string, unknown>;
}

function stripSafeBounds(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(stripSafeBounds);
  if (value === null || typeof value !== 'object') return value;
  const out: Record<string, unknown> = {};
  for (const [key, v] of Object.entries(value)) {
    if ((key === 'minimum' && v === Number.MIN_SAFE_INTEGER) || (key === 'maximum' && v === Number.MAX_SAFE_INTEGER)) continue;
    out[key] = stripSafeBounds(v);
  }
  return out;
}

/** Check `args` against `schema`, or throw `ToolArgumentsError` naming the bad field. */
export function parseArguments<S extends core.$ZodType>(tool: string, schema: S, args: unknown): core.output<S> {
  const result = safeParse(schema, args);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  const where = issue && issue.path.length > 0 ? `${formatPath(issue.path as (string | number)[])}: ` : '';
  throw new ToolArgumentsError(`invalid arguments for ${tool}: ${where}${issue?.message ?? 'invalid'}`);
}

/** A function tool's definition (see `defineTool`). */
export interface FunctionToolDefinition<S extends core.$ZodType> {
  /** The name the model calls it by: letters, digits, `_` and `-`. */
  readonly name: string;
  readonly description: string;
  /** The arguments' schema (a zod object schema, from `zod` or `zod/mini`). */
  readonly parameters: S;
  /**
   * Does a call change anything (default true): such calls ask for approval under
   * `on-request`. A function of the arguments decides per call.
   */
  readonly needsApproval?: boolean | ((args: core.output<S>) => boolean);
  /** Is the tool read-only (default false): such calls run without asking even under `untrusted`. */
  readonly readOnly?: boolean;
  /** Run the call; return its output (a string, or any JSON value, sent as JSON). Throwing makes the error message the output. */
  execute(args: core.output<S>, context: ToolContext): Promise<unknown> | unknown;
}

const TOOL_NAME = /^[a-zA-Z0-9_-]{1,64}$/;

/**
 * Define a function tool. Each call is shown as a `tool_call` item with its arguments and output.
 * @throws {TypeError} for a name models do not accept.
 * @example
 * const weather = defineTool({
 *   name: 'weather', description: 'Current weather of a city',
 *   parameters: z.object({ city: z.string() }), readOnly: true,
 *   execute: async ({ city }) => `Sunny in ${city}`,
 * });
 */
export function defineTool<S extends core.$ZodType>(definition: FunctionToolDefinition<S>): Tool<core.output<S>> {
  if (!TOOL_NAME.test(definition.name)) throw new TypeError(`invalid tool name ${JSON.stringify(definition.name)}: use letters, digits, _ and -`);
  const parameters = jsonSchemaOf(definition.parameters);
  const approval = definition.needsApproval ?? true;
  return {
    name: definition.name,
    description: definition.description,
    parameters,
    retryable: false,
    parse: (args) => parseArguments(definition.name, definition.parameters, args),
    mutates: (args) => !definition.readOnly && (typeof approval === 'function' ? approval(args) : approval),
    trusted: () => definition.readOnly === true,
    started: (args, { itemId, callId }) => ({ id: itemId, type: 'tool_call', name: definition.name, arguments: args, status: 'in_progress', call_id: callId }),
    declined: (item) => (item.type === 'tool_call' ? { ...item, status: 'declined', output: 'the user declined this call' } : item),
    async run(args, item, context) {
      const base = item.type === 'tool_call' ? item : null;
      try {
        const value = await definition.execute(args, context);
        const output = typeof value === 'string' ? value : (JSON.stringify(value) ?? '');
        return { output, success: true, item: base ? { ...base, status: 'completed', output } : item };
      } catch (err) {
        const output = `error: ${err instanceof Error ? err.message : String(err)}`;
        return { output, success: false, item: base ? { ...base, status: 'failed', output } : item };
      }
    },
  };
}
