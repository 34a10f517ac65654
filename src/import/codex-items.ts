/**
 * Codex `ResponseItem`s (the model-visible history of a rollout, `codex-rs/protocol/src/models.rs`)
 * as Colloquy thread items. Pure functions: no I/O, no ids (the importer numbers items).
 *
 * What maps to what:
 * - `message` from the user → `user_message`, unless it is context Codex injects as a user
 *   message (environment, AGENTS.md and skills instructions, `<turn_aborted>` markers…, see
 *   `isContextualUserText`); from the assistant → `agent_message`.
 * - `reasoning` → `reasoning` (its summary, else its raw content).
 * - `function_call` to a shell tool (`shell`, `container.exec`, `shell_command`, `exec_command`)
 *   and `local_shell_call` → `command_execution`; `custom_tool_call` `apply_patch` →
 *   `file_change`; any other `function_call` / `custom_tool_call` → `tool_call`. A call becomes
 *   an item once its `*_output` arrives, with the output (and exit code, when Codex reported one).
 * - `web_search_call` with a query → `web_search`.
 */
import type { ThreadItem, ToolStatus } from '../protocol/items.js';
import { isObject, str, type JsonObject } from './codex-lines.js';

/** A thread item before the importer gives it an id. */
export type ItemDraft = ThreadItem extends infer T ? (T extends unknown ? Omit<T, 'id'> : never) : never;

/**
 * Prefixes of the user-role messages Codex writes itself (context, not user intent), as Codex's
 * `is_contextual_user_message` (`codex-rs/core/src/event_mapping.rs` and its successors).
 */
const CONTEXTUAL_USER_PREFIXES = [
  '<environment_context>',
  '<user_instructions>',
  '# agents.md instructions',
  '<skills_instructions>',
  '<skill>',
  '<user_shell_command>',
  '<turn_aborted>',
  '<context_update>',
  '<subagent_notification>',
  '<hook_prompt',
];

/** The prefix older Codex put before the first user request (stripped, as Codex's listing does). */
const USER_REQUEST_PREFIX = '## My request for Codex:';

/** Whether a user-role text is context Codex injected rather than something the user typed. */
export function isContextualUserText(text: string): boolean {
  const start = text.trimStart().slice(0, 32).toLowerCase();
  return CONTEXTUAL_USER_PREFIXES.some((p) => start.startsWith(p));
}

/** The text parts of a message's `content` (`input_text`, `output_text`, `text`), joined by a blank line. */
export function contentText(content: unknown): string {
  if (typeof content === 'string') return content;
  if (!Array.isArray(content)) return '';
  const texts: string[] = [];
  for (const part of content) {
    if (!isObject(part)) continue;
    const t = str(part.text);
    if (t !== undefined && (part.type === 'input_text' || part.type === 'output_text' || part.type === 'text' || part.type === undefined)) texts.push(t);
  }
  return texts.join('\n\n');
}

/** How many image parts a message's `content` has. */
export function imageCount(content: unknown): number {
  return Array.isArray(content) ? content.filter((p) => isObject(p) && (p.type === 'input_image' || p.type === 'image')).length : 0;
}

/** A user message's text, or `null` when the message is Codex's own context (or empty). */
export function userText(payload: JsonObject): string | null {
  const content = payload.content;
  if (Array.isArray(content) && content.some((p) => isObject(p) && typeof p.text === 'string' && isContextualUserText(p.text))) return null;
  let text = contentText(content);
  if (isContextualUserText(text)) return null;
  const at = text.indexOf(USER_REQUEST_PREFIX);
  if (at !== -1 && text.slice(0, at).trim() === '') text = text.slice(at + USER_REQUEST_PREFIX.length).trim();
  return text === '' && imageCount(content) === 0 ? null : text;
}

/** A reasoning item's readable text (its summary, else its raw content), or `null` when it has none (encrypted only). */
export function reasoningText(payload: JsonObject): string | null {
  const summary = contentText(
    Array.isArray(payload.summary) ? payload.summary.map((s) => (isObject(s) ? { type: 'text', text: s.text } : s)) : payload.summary,
  );
  if (summary !== '') return summary;
  const content = Array.isArray(payload.content) ? payload.content.map((c) => (isObject(c) ? { type: 'text', text: c.text } : c)) : payload.content;
  const raw = contentText(content);
  return raw === '' ? null : raw;
}

/** A tool call waiting for its output. */
export interface PendingCall {
  readonly callId: string;
  readonly kind: 'command' | 'patch' | 'tool';
  readonly name: string;
  /** The shell command (for `command`). */
  readonly command: string;
  /** The call's arguments, parsed when they are JSON (for `tool`). */
  readonly arguments: unknown;
  /** Paths the patch touches (for `patch`). */
  readonly changes: { path: string; kind: 'add' | 'delete' | 'update' }[];
  /** Exit code and output, when an event reported them before the output line. */
  exitCode?: number;
  output?: string;
}

const SHELL_TOOLS = new Set(['shell', 'container.exec', 'shell_command', 'exec_command', 'local_shell']);

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}

/** A command given as an argv array, as one shell line (`bash -lc <script>` → `<script>`). */
export function commandLine(argv: readonly unknown[]): string {
  const parts = argv.map((a) => String(a));
  if (parts.length === 3 && /(^|\/)(ba|z|da)?sh$/.test(parts[0] ?? '') && /^-l?c$/.test(parts[1] ?? '')) return parts[2] ?? '';
  return parts.map((p) => (/^[\w@%+=:,./-]+$/.test(p) ? p : `'${p.replace(/'/g, `'\\''`)}'`)).join(' ');
}

function commandOf(args: unknown): string | null {
  if (!isObject(args)) return null;
  const value = args.command ?? args.cmd;
  if (typeof value === 'string') return value;
  if (Array.isArray(value)) return commandLine(value);
  return null;
}

/** The files an `apply_patch` patch adds, updates or deletes (`*** Add File: <path>` …). */
export function patchChanges(patch: string): { path: string; kind: 'add' | 'delete' | 'update' }[] {
  const changes: { path: string; kind: 'add' | 'delete' | 'update' }[] = [];
  for (const m of patch.matchAll(/^\*\*\* (Add|Update|Delete) File: (.+)$/gm)) {
    const kind = m[1] === 'Add' ? 'add' : m[1] === 'Delete' ? 'delete' : 'update';
    changes.push({ path: (m[2] ?? '').trim(), kind });
  }
  return changes;
}

/**
 * The call a `function_call`, `custom_tool_call` or `local_shell_call` item makes, or `null`
 * when the item has no call id (it cannot be matched to an output).
 */
export function callOf(payload: JsonObject): PendingCall | null {
  const callId = str(payload.call_id) ?? (payload.type === 'local_shell_call' ? str(payload.id) : undefined);
  if (callId === undefined) return null;
  const base = { callId, command: '', arguments: undefined as unknown, changes: [] };
  if (payload.type === 'local_shell_call') {
    const action = isObject(payload.action) ? payload.action : {};
    const command = Array.isArray(action.command) ? commandLine(action.command) : '';
    return { ...base, kind: 'command', name: 'local_shell', command };
  }
  const name = str(payload.name) ?? 'unknown';
  if (payload.type === 'custom_tool_call') {
    const input = str(payload.input) ?? '';
    if (name === 'apply_patch') return { ...base, kind: 'patch', name, changes: patchChanges(input), arguments: input };
    return { ...base, kind: 'tool', name, arguments: input };
  }
  const args = typeof payload.arguments === 'string' ? parseJson(payload.arguments) : payload.arguments;
  if (SHELL_TOOLS.has(name)) {
    const command = commandOf(args);
    if (command !== null) return { ...base, kind: 'command', name, command };
  }
  if (name === 'apply_patch' && isObject(args) && typeof args.input === 'string') {
    return { ...base, kind: 'patch', name, changes: patchChanges(args.input), arguments: args };
  }
  return { ...base, kind: 'tool', name, arguments: args };
}

/** What a call's output says: its text, and the exit code or success flag when it gives one. */
export interface CallOutput {
  readonly text: string;
  readonly exitCode?: number;
  readonly success?: boolean;
}

/**
 * Read a `function_call_output.output` / `custom_tool_call_output.output`. Its shape changed
 * over Codex versions: a JSON string `{ output, metadata: { exit_code } }` (older shell tool),
 * plain text with `Exit code: N` / `Process exited with code N` and an `Output:` section
 * (`shell_command`, `exec_command`), an object `{ content, success }`, or content items.
 */
export function outputOf(output: unknown): CallOutput {
  if (typeof output === 'string') {
    const parsed = parseJson(output);
    if (isObject(parsed) && typeof parsed.output === 'string') {
      const meta = isObject(parsed.metadata) ? parsed.metadata : {};
      return { text: parsed.output, ...(typeof meta.exit_code === 'number' ? { exitCode: meta.exit_code } : {}) };
    }
    const code = /^(?:Exit code:|Process exited with code) (-?\d+)$/m.exec(output);
    const body = /^Output:\n([\s\S]*)$/m.exec(output);
    return { text: code && body ? (body[1] ?? '') : output, ...(code ? { exitCode: Number(code[1]) } : {}) };
  }
  if (isObject(output)) {
    const inner = outputOf(output.content ?? output.output ?? '');
    return { ...inner, ...(typeof output.success === 'boolean' ? { success: output.success } : {}) };
  }
  if (Array.isArray(output)) return { text: contentText(output) };
  return { text: '' };
}

function statusOf(exitCode: number | undefined, success: boolean | undefined, text: string, kind: PendingCall['kind']): ToolStatus {
  if (exitCode !== undefined) return exitCode === 0 ? 'completed' : 'failed';
  if (success !== undefined) return success ? 'completed' : 'failed';
  // apply_patch answers "Success. Updated the following files: …" or the error.
  if (kind === 'patch') return /^\s*Success\b/.test(text) ? 'completed' : 'failed';
  return 'completed';
}

/** The item a call becomes with its output; without an output (`null`) it never reported a result: `failed`. */
export function completedCall(call: PendingCall, output: CallOutput | null): ItemDraft {
  const text = call.output ?? output?.text ?? '';
  const exitCode = call.exitCode ?? output?.exitCode;
  const status: ToolStatus = output === null && call.exitCode === undefined ? 'failed' : statusOf(exitCode, output?.success, text, call.kind);
  switch (call.kind) {
    case 'command':
      return {
        type: 'command_execution',
        command: call.command,
        aggregated_output: text,
        ...(exitCode !== undefined ? { exit_code: Math.trunc(exitCode) } : {}),
        status,
        call_id: call.callId,
      };
    case 'patch':
      return { type: 'file_change', changes: call.changes, status, call_id: call.callId };
    case 'tool':
      return { type: 'tool_call', name: call.name, arguments: call.arguments, ...(output !== null ? { output: text } : {}), status, call_id: call.callId };
  }
}

/** The query of a `web_search_call`, or `null` when it names none. */
export function webSearchQuery(payload: JsonObject): string | null {
  const action = isObject(payload.action) ? payload.action : {};
  const query = str(action.query) ?? (Array.isArray(action.queries) ? str(action.queries[0]) : undefined) ?? str(payload.query);
  return query === undefined || query === '' ? null : query;
}
