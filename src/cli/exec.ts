/**
 * `colloquy exec`: run one turn of a new or resumed conversation, as `codex exec` does, and
 * exit. With `--json` it prints exactly Codex exec's JSONL stream and accepts every argument
 * `@openai/codex-sdk` passes, so the unmodified SDK drives Colloquy via `codexPathOverride`.
 *
 * Exit codes: 0 the turn completed; 1 it failed or was interrupted, or the conversation could
 * not be found or written; 2 usage errors.
 */
import { readFile, stat, writeFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { Agent } from '../agents/agent.js';
import { localAgent } from '../agents/local.js';
import { InvalidScriptError, loadScript } from '../agents/scripted.js';
import { ColloquyError } from '../errors.js';
import type { UserInputItem } from '../protocol/items.js';
import { ApprovalPolicySchema, SandboxModeSchema, type ApprovalPolicy, type SandboxMode } from '../protocol/ops.js';
import type { Conversation } from '../runtime/conversation.js';
import type { InspectionObserver } from '../runtime/runtime.js';
import { createRuntime } from '../runtime/runtime.js';
import { MemoryStore } from '../store/memory-store.js';
import type { Durability } from '../store/store.js';
import type { ModelConfig } from '../agents/model/config.js';
import { parseOverrides, stringSetting, type ConfigTable, type ConfigValue } from './config.js';
import { HumanRenderer, JsonRenderer, type Renderer } from './render.js';
import type { CommandIO } from './shared/io.js';
import { homeOf, type HomeOption } from './shared/options.js';
import { UsageError } from './shared/usage.js';

/** Options of `colloquy exec` (as parsed from the command line). */
export interface ExecOptions extends HomeOption {
  readonly json?: boolean;
  readonly config?: readonly string[];
  readonly model?: string;
  readonly sandbox?: string;
  readonly cd?: string;
  readonly addDir?: readonly string[];
  readonly skipGitRepoCheck?: boolean;
  readonly outputSchema?: string;
  readonly image?: readonly string[];
  readonly threadSource?: string;
  readonly cyberAccessProgram?: string;
  readonly ephemeral?: boolean;
  readonly approvalPolicy?: string;
  readonly name?: string;
  readonly outputLastMessage?: string;
  readonly durability?: string;
  readonly agentScript?: string;
  /** `resume <id>` (or `resume --last`). */
  readonly resume?: { readonly id?: string; readonly last?: boolean };
  /** The prompt argument; `-` reads stdin. */
  readonly prompt?: string;
  /** An inspection observer for the runtime (set by `--inspect`, see `commands/inspect.ts`). */
  readonly inspector?: InspectionObserver;
}

async function readAll(stream: NodeJS.ReadableStream): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer));
  return Buffer.concat(chunks).toString('utf8');
}

async function promptOf(options: ExecOptions, io: CommandIO): Promise<string> {
  if (options.prompt !== undefined && options.prompt !== '-') return options.prompt;
  if (options.prompt === undefined && io.stdin.isTTY) {
    throw new UsageError('no prompt: give it as an argument, or pipe it on stdin (use "-" to read stdin explicitly)');
  }
  const text = (await readAll(io.stdin)).replace(/\r?\n$/, '');
  if (text.trim() === '') throw new UsageError('no prompt: stdin was empty');
  return text;
}

function policyOf(options: ExecOptions, config: ConfigTable): ApprovalPolicy | undefined {
  const raw = options.approvalPolicy ?? stringSetting(config, 'approval_policy');
  if (raw === undefined) return undefined;
  const parsed = ApprovalPolicySchema.safeParse(raw);
  if (!parsed.success) throw new UsageError(`invalid approval policy ${JSON.stringify(raw)}: expected never, on-request, on-failure or untrusted`);
  return parsed.data;
}

/** The sandbox settings of the command line, as Codex takes them (`--sandbox`, `--add-dir`, `sandbox_mode`, `sandbox_workspace_write.*`). */
interface SandboxOptions {
  readonly sandbox?: SandboxMode;
  readonly networkAccess?: boolean;
  readonly writableRoots?: string[];
}

/**
 * `-s/--sandbox` (or `--config sandbox_mode=…`), `--config sandbox_workspace_write.network_access=…`,
 * and the writable roots: `--add-dir` (already checked to be directories) and
 * `--config sandbox_workspace_write.writable_roots=[…]`. Only what is given is set.
 * @throws {UsageError} for an unknown mode or settings of the wrong type.
 */
function sandboxOptionsOf(options: ExecOptions, config: ConfigTable, addDirs: readonly string[]): SandboxOptions {
  const raw = options.sandbox ?? stringSetting(config, 'sandbox_mode');
  const mode = raw === undefined ? undefined : SandboxModeSchema.safeParse(raw);
  if (mode && !mode.success) throw new UsageError(`invalid sandbox mode ${JSON.stringify(raw)}: expected read-only, workspace-write or danger-full-access`);
  const workspace = table(config.sandbox_workspace_write, 'sandbox_workspace_write') ?? {};
  const network = workspace.network_access;
  if (network !== undefined && typeof network !== 'boolean') throw new UsageError('--config sandbox_workspace_write.network_access must be true or false');
  const roots = workspace.writable_roots;
  if (roots !== undefined && !(Array.isArray(roots) && roots.every((r) => typeof r === 'string' && r !== ''))) {
    throw new UsageError('--config sandbox_workspace_write.writable_roots must be an array of paths');
  }
  const writable = [...addDirs, ...((roots as string[] | undefined) ?? []).map((r) => resolve(r))];
  return {
    ...(mode?.success ? { sandbox: mode.data } : {}),
    ...(network !== undefined ? { networkAccess: network } : {}),
    ...(writable.length > 0 ? { writableRoots: writable } : {}),
  };
}

function durabilityOf(options: ExecOptions, config: ConfigTable): Durability | undefined {
  const raw = options.durability ?? stringSetting(config, 'durability');
  if (raw === undefined) return undefined;
  if (raw !== 'sync' && raw !== 'batched' && raw !== 'none') throw new UsageError(`invalid durability ${JSON.stringify(raw)}: expected sync, batched or none`);
  return raw;
}

async function directory(path: string, flag: string): Promise<string> {
  const full = resolve(path);
  const st = await stat(full).catch(() => null);
  if (!st?.isDirectory()) throw new UsageError(`${flag} ${path}: not a directory`);
  return full;
}

/** The agent a command runs its turns with, as `agentFromCliConfig` chose it. */
export interface CliAgent {
  readonly agent: Agent;
  /** `local`: the built-in local agent (or its scripted mode); `model`: a model behind an OpenAI-compatible API. */
  readonly kind: 'local' | 'model';
  /**
   * The model new conversations should be started with when the user named none: the model
   * agent's default (`gpt-5` on OpenAI's API), or undefined (the runtime's default).
   */
  readonly model?: string;
}

/** What `agentFromCliConfig` chooses from. */
export interface CliAgentOptions {
  /** The `--config` overrides, parsed (`parseOverrides`). */
  readonly config: ConfigTable;
  /** `-m/--model`. */
  readonly model?: string;
  /** `--agent-script`. */
  readonly agentScript?: string;
  /** The environment. Default `process.env`. */
  readonly env?: Readonly<Record<string, string | undefined>>;
}

const WIRE_APIS = ['responses', 'chat'] as const;

function wireApiOf(value: ConfigValue | undefined, key: string): 'responses' | 'chat' | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || !(WIRE_APIS as readonly string[]).includes(value)) {
    throw new UsageError(`--config ${key} must be "responses" or "chat"`);
  }
  return value as 'responses' | 'chat';
}

function table(value: ConfigValue | undefined, key: string): ConfigTable | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new UsageError(`--config ${key} must be a table`);
  return value;
}

function numberOf(value: ConfigValue | undefined, key: string): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) throw new UsageError(`--config ${key} must be a non-negative number`);
  return value;
}

/** Does the configuration (or the environment) ask for a model rather than the local agent? */
function wantsModel(config: ConfigTable, env: Readonly<Record<string, string | undefined>>): boolean {
  const provider = stringSetting(config, 'model_provider');
  if (provider !== undefined) return provider !== 'local';
  if (stringSetting(config, 'openai_base_url') !== undefined) return true;
  return ['OPENAI_BASE_URL', 'OPENAI_API_KEY', 'CODEX_API_KEY'].some((name) => (env[name] ?? '').trim() !== '');
}

/**
 * The model client settings of the command line (Codex's keys): `model_provider` (`openai`,
 * `ollama`, `lmstudio`, or a table of `model_providers` with `base_url`, `wire_api`,
 * `env_key`, `http_headers`, `request_max_retries`, `stream_idle_timeout_ms`),
 * `openai_base_url`, `wire_api`, `model_reasoning_effort`, `model_reasoning_summary`.
 */
function modelSettings(config: ConfigTable, model: string | undefined, env: Readonly<Record<string, string | undefined>>): ModelConfig {
  const name = stringSetting(config, 'model_provider') ?? 'openai';
  const custom = table(table(config.model_providers, 'model_providers')?.[name], `model_providers.${name}`);
  const effort = stringSetting(config, 'model_reasoning_effort');
  const summary = stringSetting(config, 'model_reasoning_summary');
  const reasoning =
    effort !== undefined || summary !== undefined
      ? { reasoning: { ...(effort !== undefined ? { effort } : {}), ...(summary !== undefined ? { summary } : {}) } as NonNullable<ModelConfig['reasoning']> }
      : {};
  const wireApi = wireApiOf(config.wire_api, 'wire_api');
  if (custom) {
    const baseUrl = stringSetting(custom, 'base_url');
    if (baseUrl === undefined) throw new UsageError(`--config model_providers.${name}.base_url is missing`);
    const envKey = stringSetting(custom, 'env_key');
    const headers = table(custom.http_headers, `model_providers.${name}.http_headers`);
    const maxRetries = numberOf(custom.request_max_retries, `model_providers.${name}.request_max_retries`);
    const idle = numberOf(custom.stream_idle_timeout_ms, `model_providers.${name}.stream_idle_timeout_ms`);
    const customWire = wireApi ?? wireApiOf(custom.wire_api, `model_providers.${name}.wire_api`);
    return {
      provider: 'openai',
      baseUrl,
      // A custom provider's key comes from its `env_key` only (never another server's key).
      apiKey: envKey !== undefined ? (env[envKey] ?? null) : null,
      ...(customWire ? { wireApi: customWire } : {}),
      ...(headers ? { headers: Object.fromEntries(Object.entries(headers).map(([k, v]) => [k, String(v)])) } : {}),
      ...(maxRetries !== undefined ? { maxRetries } : {}),
      ...(idle !== undefined ? { idleTimeoutMs: idle } : {}),
      ...(model !== undefined ? { model } : {}),
      ...reasoning,
    };
  }
  const baseUrl = stringSetting(config, 'openai_base_url');
  return {
    provider: name,
    ...(wireApi ? { wireApi } : {}),
    ...(baseUrl !== undefined ? { baseUrl } : {}),
    ...(model !== undefined ? { model } : {}),
    ...reasoning,
  };
}

/**
 * Choose the agent of `colloquy exec` (and `colloquy chat`) from the command line:
 *
 * - the local agent, in its scripted mode, with `--agent-script` / `agent_script` /
 *   `COLLOQUY_AGENT_SCRIPT`, or with `--config agent="local"`;
 * - the model agent (`modelAgent`) with `--config agent="model"`, or when a model is asked
 *   for: `--config model_provider=...` (other than `local`), `--config openai_base_url=...`,
 *   or `OPENAI_BASE_URL`, `OPENAI_API_KEY` or `CODEX_API_KEY` in the environment (as
 *   `@openai/codex-sdk` sets them). `--config wire_api="chat"|"responses"` picks the API
 *   (default `responses`), `-m/--model` the model;
 * - otherwise the local agent (no network, no key).
 * @throws {UsageError} for settings of the wrong type or unknown values.
 */
export async function agentFromCliConfig(options: CliAgentOptions): Promise<CliAgent> {
  const { config } = options;
  const env = options.env ?? process.env;
  const kind = stringSetting(config, 'agent');
  if (kind !== undefined && kind !== 'local' && kind !== 'model') throw new UsageError(`unknown agent ${JSON.stringify(kind)}: expected "local" or "model"`);
  const explicitScript = options.agentScript ?? stringSetting(config, 'agent_script');
  if (kind === 'model' && explicitScript !== undefined) throw new UsageError('--agent-script needs the local agent, not agent="model"');
  const scriptPath = explicitScript ?? env.COLLOQUY_AGENT_SCRIPT;
  const script = scriptPath !== undefined && scriptPath !== '';
  if (kind === 'model' || (kind === undefined && !script && wantsModel(config, env))) {
    const model = options.model ?? stringSetting(config, 'model');
    const settings = modelSettings(config, model, env);
    const { modelClientFromConfig, resolveModelConfig } = await import('../agents/model/config.js');
    const { modelAgent } = await import('../agents/model/agent.js');
    let resolved: ReturnType<typeof resolveModelConfig>;
    try {
      resolved = resolveModelConfig(settings, env);
    } catch (err) {
      throw new UsageError(err instanceof Error ? err.message : String(err));
    }
    const client = modelClientFromConfig(settings, env);
    return { agent: modelAgent({ client }), kind: 'model', ...(model === undefined && resolved.model !== undefined ? { model: resolved.model } : {}) };
  }
  if (!script) return { agent: localAgent(), kind: 'local' };
  return { agent: localAgent({ script: await loadScript(scriptPath) }), kind: 'local' };
}

async function outputSchemaOf(path: string | undefined): Promise<unknown> {
  if (path === undefined) return undefined;
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new UsageError(`--output-schema ${path}: ${err instanceof Error ? err.message : String(err)}`);
  }
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new UsageError(`--output-schema ${path}: not valid JSON`);
  }
}

/** A message for an error that ends the command. */
function explain(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}

/** Run `colloquy exec`. Resolves with the process exit code. */
export async function runExec(options: ExecOptions, io: CommandIO): Promise<number> {
  let runtime: ReturnType<typeof createRuntime> | null = null;
  let code = 1;
  try {
    const config = parseOverrides(options.config ?? []);
    const approvalPolicy = policyOf(options, config);
    const durability = durabilityOf(options, config);
    const model = options.model ?? stringSetting(config, 'model');
    const cwd = options.cd !== undefined ? await directory(options.cd, '--cd') : undefined;
    const addDirs: string[] = [];
    for (const dir of options.addDir ?? []) addDirs.push(await directory(dir, '--add-dir'));
    const sandbox = sandboxOptionsOf(options, config, addDirs);
    const outputSchema = await outputSchemaOf(options.outputSchema);
    const chosen = await agentFromCliConfig({ config, ...(model !== undefined ? { model } : {}), ...(options.agentScript !== undefined ? { agentScript: options.agentScript } : {}) });
    const agent = chosen.agent;
    const images = await Promise.all((options.image ?? []).map(async (p) => {
      const full = resolve(p);
      const st = await stat(full).catch(() => null);
      if (!st?.isFile()) throw new UsageError(`--image ${p}: no such file`);
      return full;
    }));
    const prompt = await promptOf(options, io);
    const input: UserInputItem[] = [{ type: 'text', text: prompt }, ...images.map((path) => ({ type: 'local_image' as const, path }))];
    const home = homeOf(options);
    runtime = createRuntime({
      ...(options.ephemeral ? { store: new MemoryStore() } : { home }),
      agent,
      ...(durability ? { durability } : {}),
      ...(options.inspector ? { inspect: options.inspector } : {}),
    });

    let conversation: Conversation;
    let resumed = false;
    if (options.resume) {
      let id = options.resume.id;
      if (options.resume.last || id === undefined) {
        const newest = await runtime.list({ limit: 1, sort: 'updated' });
        id = newest.items[0]?.id;
        if (!id) throw new ColloquyError('session_not_found', `no conversation to resume in ${runtime.store.description}`);
      }
      conversation = await runtime.resume(id);
      resumed = true;
      const overrides = {
        ...(model !== undefined ? { model } : {}),
        ...(cwd !== undefined ? { cwd } : {}),
        ...(approvalPolicy !== undefined ? { approvalPolicy } : {}),
        ...sandbox,
        // As Codex exec, the output schema belongs to this turn: given, it applies; not given,
        // an earlier turn's schema no longer does.
        ...(outputSchema !== undefined ? { outputSchema } : conversation.config.outputSchema !== undefined ? { outputSchema: null } : {}),
      };
      if (Object.keys(overrides).length > 0) await conversation.overrideTurnContext(overrides);
    } else {
      const startModel = model ?? chosen.model;
      conversation = await runtime.start({
        ...(startModel !== undefined ? { model: startModel } : {}),
        ...(cwd !== undefined ? { cwd } : {}),
        ...(approvalPolicy !== undefined ? { approvalPolicy } : {}),
        ...sandbox,
        ...(outputSchema !== undefined ? { outputSchema } : {}),
        ...(options.name !== undefined ? { name: options.name } : {}),
      });
    }

    const renderer: Renderer = options.json ? new JsonRenderer(io.stdout) : new HumanRenderer(io.stdout, io.stderr);
    const config0 = conversation.config;
    renderer.header({ id: conversation.id, resumed, model: config0.model, approvalPolicy: config0.approvalPolicy, home });

    // exec has no one to ask: a command that needs approval is declined (reported as such).
    const unsubscribe = conversation.subscribe((event) => {
      if (event.type === 'approval.requested') void conversation.approve(event.callId, 'denied').catch(() => {});
    });
    let interrupts = 0;
    const removeSignal = io.onSignal?.((signal) => {
      interrupts++;
      if (interrupts === 1) {
        io.stderr.write(`${signal}: interrupting the turn…\n`);
        void conversation.interrupt().catch(() => {});
      }
    });
    let ok = false;
    let finalResponse = '';
    try {
      const { events } = await conversation.runStreamed(input);
      for await (const event of events) {
        renderer.event(event);
        if (event.type === 'item.completed' && event.item.type === 'agent_message') finalResponse = event.item.text;
        if (event.type === 'turn.completed') ok = true;
      }
    } finally {
      removeSignal?.();
      unsubscribe();
    }
    if (options.outputLastMessage) {
      await writeFile(options.outputLastMessage, finalResponse, 'utf8');
    }
    renderer.footer({ id: conversation.id, ok });
    code = ok ? 0 : 1;
  } catch (err) {
    io.stderr.write(`error: ${explain(err)}\n`);
    code = err instanceof UsageError || err instanceof InvalidScriptError ? 2 : 1;
  } finally {
    if (runtime) {
      try {
        await runtime.shutdown();
      } catch (err) {
        io.stderr.write(`error: ${explain(err)}\n`);
        code = 1;
      }
    }
  }
  return code;
}
