/**
 * Thread items: the units of a conversation's history, in the vocabulary of the
 * Codex SDK (`ThreadItem` in `@openai/codex-sdk`), extended with `user_message`
 * and a generic `tool_call`.
 *
 * Every item is `{ id, type, … }`. Item ids are `item_<n>` with `n` increasing
 * for the whole conversation (unlike Codex exec, whose ids restart every process).
 */
import * as z from 'zod/mini';

/** One part of user input: text, or an image file on the local disk (as the Codex SDK's `Input`). */
export const UserInputItemSchema = z.discriminatedUnion('type', [
  /** Text. */
  z.strictObject({
    type: z.literal('text'),
    /** The text. */
    text: z.string(),
  }),
  /** An image file. */
  z.strictObject({
    type: z.literal('local_image'),
    /** The image file's path. */
    path: z.string().check(z.minLength(1)),
  }),
]);
/** One part of user input: text, or an image file on the local disk (as the Codex SDK's `Input`): the type `UserInputItemSchema` parses to. */
export type UserInputItem = z.infer<typeof UserInputItemSchema>;

/** Lifecycle of a tool-like item, as the Codex SDK's `CommandExecutionStatus` plus `declined`. */
export const ToolStatusSchema = z.enum(['in_progress', 'completed', 'failed', 'declined']);
/** Lifecycle of a tool-like item, as the Codex SDK's `CommandExecutionStatus` plus `declined`: the type `ToolStatusSchema` parses to. */
export type ToolStatus = z.infer<typeof ToolStatusSchema>;

/** The item's id, unique in the conversation: `item_<n>` (`aborted_<turn id>` for a `turn_aborted` marker). */
const itemId = z.string().check(z.minLength(1));

/** The user's input to a turn, as recorded in history. `submission_id` ties it to the op that carried it. */
export const UserMessageItemSchema = z.object({
  id: itemId,
  type: z.literal('user_message'),
  /** The text parts of the input, joined with blank lines. */
  text: z.string(),
  /** Paths of the input's `local_image` parts. */
  images: z.optional(z.array(z.string())),
  /** Id of the submission whose `user_input` op carried the input. */
  submission_id: z.optional(z.string()),
});

/** Text the agent addressed to the user. The last one of a turn is its `finalResponse`. */
export const AgentMessageItemSchema = z.object({
  id: itemId,
  type: z.literal('agent_message'),
  /** The message text. */
  text: z.string(),
});

/** The agent's reasoning summary. */
export const ReasoningItemSchema = z.object({
  id: itemId,
  type: z.literal('reasoning'),
  /** The summary text. */
  text: z.string(),
});

/**
 * A shell command the agent ran or asked to run. `call_id` links it to its approval.
 * `aggregated_output` is stdout and stderr interleaved; `exit_code` is set once it ran.
 */
export const CommandExecutionItemSchema = z.object({
  id: itemId,
  type: z.literal('command_execution'),
  /** The command line, as run by the shell. */
  command: z.string(),
  /** Stdout and stderr, interleaved as they arrived (so far, while in progress). */
  aggregated_output: z.string(),
  /** The command's exit code, once it ran. */
  exit_code: z.optional(z.int()),
  status: ToolStatusSchema,
  /** Links the item to its approval and to the model's tool call (e.g. `call_item_3`). */
  call_id: z.optional(z.string()),
});

/** A set of file edits. */
export const FileChangeItemSchema = z.object({
  id: itemId,
  type: z.literal('file_change'),
  /** The files changed. */
  changes: z.array(
    z.object({
      /** The file's path. */
      path: z.string(),
      /** Whether the file is added, deleted or updated. */
      kind: z.enum(['add', 'delete', 'update']),
    }),
  ),
  status: ToolStatusSchema,
  /** Links the item to its approval and to the model's tool call (e.g. `call_item_3`). */
  call_id: z.optional(z.string()),
});

/** A call to a tool on an MCP server. */
export const McpToolCallItemSchema = z.object({
  id: itemId,
  type: z.literal('mcp_tool_call'),
  /** The MCP server's name. */
  server: z.string(),
  /** The tool's name on that server. */
  tool: z.string(),
  /** The arguments the tool was called with. */
  arguments: z.unknown(),
  /** What the tool returned, once it succeeded. */
  result: z.optional(
    z.object({
      /** The MCP content blocks. */
      content: z.array(z.unknown()),
      /** The MCP structured content, if the tool returned any. */
      structured_content: z.optional(z.unknown()),
    }),
  ),
  /** Why the call failed. */
  error: z.optional(
    z.object({
      /** What went wrong. */
      message: z.string(),
    }),
  ),
  status: ToolStatusSchema,
  /** Links the item to its approval and to the model's tool call (e.g. `call_item_3`). */
  call_id: z.optional(z.string()),
});

/** A call to a function tool of the agent's own registry (Colloquy extension). */
export const ToolCallItemSchema = z.object({
  id: itemId,
  type: z.literal('tool_call'),
  /** The tool's name. */
  name: z.string(),
  /** The arguments the model passed. */
  arguments: z.unknown(),
  /** What the tool returned to the model, once it ran. */
  output: z.optional(z.string()),
  status: ToolStatusSchema,
  /** Links the item to its approval and to the model's tool call (e.g. `call_item_3`). */
  call_id: z.optional(z.string()),
});

/** A web search the agent ran. */
export const WebSearchItemSchema = z.object({
  id: itemId,
  type: z.literal('web_search'),
  /** The search query. */
  query: z.string(),
});

/** The agent's running plan. */
export const TodoListItemSchema = z.object({
  id: itemId,
  type: z.literal('todo_list'),
  /** The plan's steps, in order. */
  items: z.array(
    z.object({
      /** What the step does. */
      text: z.string(),
      /** Whether the step is done. */
      completed: z.boolean(),
    }),
  ),
});

/** A non-fatal error surfaced as an item (as Codex exec reports warnings). */
export const ErrorItemSchema = z.object({
  id: itemId,
  type: z.literal('error'),
  /** What went wrong. */
  message: z.string(),
});

/**
 * The marker a turn that did not complete leaves in the history, so a model sees on its next
 * turn that it was cut off (as Codex's `<turn_aborted>` message). Colloquy extension.
 */
export const TurnAbortedItemSchema = z.object({
  id: itemId,
  type: z.literal('turn_aborted'),
  /** Why the turn ended (an `AbortReason`). */
  reason: z.string(),
  /** The marker as the model sees it: `<turn_aborted>…</turn_aborted>`. */
  text: z.string(),
});

/** Any thread item. Unknown extra fields are dropped when parsed. */
export const ThreadItemSchema = z.discriminatedUnion('type', [
  UserMessageItemSchema,
  AgentMessageItemSchema,
  ReasoningItemSchema,
  CommandExecutionItemSchema,
  FileChangeItemSchema,
  McpToolCallItemSchema,
  ToolCallItemSchema,
  WebSearchItemSchema,
  TodoListItemSchema,
  ErrorItemSchema,
  TurnAbortedItemSchema,
]);

/** The user's input to a turn, as recorded in history: the type `UserMessageItemSchema` parses to. */
export type UserMessageItem = z.infer<typeof UserMessageItemSchema>;
/** Text the agent addressed to the user: the type `AgentMessageItemSchema` parses to. */
export type AgentMessageItem = z.infer<typeof AgentMessageItemSchema>;
/** The agent's reasoning summary: the type `ReasoningItemSchema` parses to. */
export type ReasoningItem = z.infer<typeof ReasoningItemSchema>;
/** A shell command the agent ran or asked to run: the type `CommandExecutionItemSchema` parses to. */
export type CommandExecutionItem = z.infer<typeof CommandExecutionItemSchema>;
/** A set of file edits: the type `FileChangeItemSchema` parses to. */
export type FileChangeItem = z.infer<typeof FileChangeItemSchema>;
/** A call to a tool on an MCP server: the type `McpToolCallItemSchema` parses to. */
export type McpToolCallItem = z.infer<typeof McpToolCallItemSchema>;
/** A call to a function tool of the agent's own registry (Colloquy extension): the type `ToolCallItemSchema` parses to. */
export type ToolCallItem = z.infer<typeof ToolCallItemSchema>;
/** A web search the agent ran: the type `WebSearchItemSchema` parses to. */
export type WebSearchItem = z.infer<typeof WebSearchItemSchema>;
/** The agent's running plan: the type `TodoListItemSchema` parses to. */
export type TodoListItem = z.infer<typeof TodoListItemSchema>;
/** A non-fatal error surfaced as an item (as Codex exec reports warnings): the type `ErrorItemSchema` parses to. */
export type ErrorItem = z.infer<typeof ErrorItemSchema>;
/** The marker a turn that did not complete leaves in the history, so a model sees on its next turn that it was cut off (as Codex's `<turn_aborted>` message): the type `TurnAbortedItemSchema` parses to. */
export type TurnAbortedItem = z.infer<typeof TurnAbortedItemSchema>;
/** Any thread item (discriminated on `type`). */
export type ThreadItem = z.infer<typeof ThreadItemSchema>;
/** The `type` tag of a thread item. */
export type ThreadItemType = ThreadItem['type'];

/** Item types that run a tool and may need an approval. */
export type ApprovableItem = CommandExecutionItem | FileChangeItem | McpToolCallItem | ToolCallItem;

/** Token usage, as the Codex SDK's `Usage`. All counts are tokens. */
export const UsageSchema = z.object({
  /** Tokens of input (prompt), cached ones included. */
  input_tokens: z.int().check(z.nonnegative()),
  /** Tokens of input read from the provider's prompt cache. */
  cached_input_tokens: z.int().check(z.nonnegative()),
  /** Tokens of output, reasoning included. */
  output_tokens: z.int().check(z.nonnegative()),
  /** Tokens of output spent on reasoning. */
  reasoning_output_tokens: z.int().check(z.nonnegative()),
});
/** Token usage (tokens). */
export type Usage = z.infer<typeof UsageSchema>;

/** A usage of zero tokens. */
export const ZERO_USAGE: Usage = Object.freeze({
  input_tokens: 0,
  cached_input_tokens: 0,
  output_tokens: 0,
  reasoning_output_tokens: 0,
});

/** Sum of two usages. */
export function addUsage(a: Usage, b: Usage): Usage {
  return {
    input_tokens: a.input_tokens + b.input_tokens,
    cached_input_tokens: a.cached_input_tokens + b.cached_input_tokens,
    output_tokens: a.output_tokens + b.output_tokens,
    reasoning_output_tokens: a.reasoning_output_tokens + b.reasoning_output_tokens,
  };
}

/** Join the text parts of an input the way the Codex SDK does (`\n\n`). */
export function inputText(input: readonly UserInputItem[]): string {
  let text = '';
  for (const part of input) {
    if (part.type !== 'text') continue;
    text = text === '' ? part.text : `${text}\n\n${part.text}`;
  }
  return text;
}

/** The image paths of an input. */
export function inputImages(input: readonly UserInputItem[]): string[] {
  const images: string[] = [];
  for (const part of input) if (part.type === 'local_image') images.push(part.path);
  return images;
}
