/**
 * Colloquy: an actor-model runtime for AI-agent conversations.
 *
 * ```ts
 * import { createRuntime } from 'colloquy';
 * const runtime = createRuntime();
 * const convo = await runtime.start();
 * const { finalResponse } = await convo.run('hello');
 * await runtime.shutdown();
 * ```
 */
export { createRuntime, defaultHome, Runtime } from './runtime/runtime.js';
export type { ConversationRecord, ForkOptions, InspectionObserver, RuntimeEvent, RuntimeOptions, StartOptions } from './runtime/runtime.js';
export { Conversation, toInputItems } from './runtime/conversation.js';
export type {
  ConversationInfo,
  Input,
  Listener,
  PendingApprovalInfo,
  RunOptions,
  StreamedTurn,
  TurnResult,
} from './runtime/conversation.js';
export { ConversationFold } from './log/fold.js';
export type { PendingApprovalView, PendingInputView, TurnStatus, TurnTranscript } from './log/fold.js';
export { replay } from './log/replay.js';
export type { ReplayOptions } from './log/replay.js';

export { MemoryStore } from './store/memory-store.js';
export { FileStore } from './store/file-store.js';
export type { FileStoreOptions } from './store/file-store.js';
export { nodeFileSystem } from './store/fs.js';
export type { FileSystem } from './store/fs.js';
export type {
  CommitEntry,
  CommitOptions,
  CommitOutcome,
  ConversationSummary,
  Durability,
  ListPage,
  ListQuery,
  LogIssue,
  ReadMode,
  ReadOptions,
  Store,
} from './store/store.js';

export { localAgent } from './agents/local.js';
export type { LocalAgentOptions } from './agents/local.js';
export type { CommandLimits } from './agents/shell.js';
export { SandboxError, sandboxPolicy, bwrapArguments, sandboxUnavailable } from './agents/sandbox.js';
export type { SandboxErrorCode, SandboxHost, SandboxPolicy, SandboxSettings } from './agents/sandbox.js';
export { scriptedAgent, loadScript, parseScript, AgentScriptSchema, InvalidScriptError } from './agents/scripted.js';
export type { AgentScript, ScriptStep } from './agents/scripted.js';
export { estimateTokens, sleep } from './agents/agent.js';
export type { Agent, AgentEvent, AgentTurn, ApprovalRequest, ResumedTurn } from './agents/agent.js';

export * from './errors.js';
export * from './protocol/index.js';

export { conversationMachine, statusOf, abortMarkerText } from '../machines/conversation.machine.js';
export type { ConversationStatus, ConversationContext, ConversationEvent } from '../machines/conversation.machine.js';
export { turnMachine } from '../machines/turn.machine.js';
export { supervisorMachine, DEFAULT_RESTART_POLICY, DEFAULT_SHARDS, shardOf } from '../machines/supervisor.machine.js';
export type { RestartPolicy, SupervisorEvent } from '../machines/supervisor.machine.js';
export { shardMachine } from '../machines/shard.machine.js';
export type { ActivationOrigin, ConversationSeed, ShardEvent } from '../machines/shard.machine.js';
export type { Clock } from '../machines/clock.js';
export { systemClock } from './runtime/clock.js';
export { DEFAULT_PASSIVATE_AFTER_MS } from './runtime/options.js';
export { draft } from './log/draft.js';
export type { RecordDraft } from './log/draft.js';
export type { LogSource, PersistFailure } from './log/types.js';
export type { QueuedInput, RestoredConversation, RestoredTurn, FailedTurn, PendingApproval } from './log/restored.js';
export { persistenceMachine } from '../machines/persistence.machine.js';

export { toMermaid, describeGuard } from './diagram.js';
export type { DiagramOptions } from './diagram.js';

// The control server and inspection are clients of the runtime, loaded on demand (`colloquy/server`,
// `colloquy/inspect`): only their types are exported here, so importing Colloquy loads neither `ws`
// nor `@statelyai/inspect`.
export type { ControlServer, ServeOptions, ServerMessage, ClientMessage, ConversationState } from './server/index.js';
export type { Inspection, InspectionOptions, InspectionFilter } from './inspect/index.js';

export { MessageHistory, HistoryLockedError } from './store/history.js';
export type { HistoryEntry, HistoryIssue, HistoryPersistence, MessageHistoryOptions } from './store/history.js';
export { LeaseLostError } from './store/lease.js';
export type { LeaseOptions } from './store/lease.js';

export { importCodexRollout, importCodexRollouts, findCodexRollouts, CodexImportError, CODEX_ROLLOUT_FILE, MAX_KEPT_ISSUES } from './import/codex.js';
export type { CodexImportOptions, CodexImportResult, CodexImportFailure, CodexImportIssue } from './import/codex.js';

export { DEFAULT_CONTEXT_WINDOWS, DEFAULT_KEEP_USER_TOKENS, AUTO_COMPACT_SHARE, contextWindow, autoCompactLimit } from './runtime/context-window.js';
export type { ContextOptions } from './runtime/context-window.js';
export { CONTEXT_WINDOW_EXCEEDED } from './runtime/runner.js';

export { modelAgent, MaxSamplingsError, COMPACT_PROMPT } from './agents/model/agent.js';
export type { ModelAgentOptions } from './agents/model/agent.js';
export { ModelError } from './agents/model/client.js';
export type { ModelClient, ModelErrorCode, ModelEvent, PromptItem, SampleRequest, ToolSpec } from './agents/model/client.js';
export { historyPrompt, normalizePrompt, SUMMARY_PREFIX } from './agents/model/prompt.js';
export { openaiResponsesClient, DEFAULT_OPENAI_BASE_URL, DEFAULT_IDLE_TIMEOUT_MS } from './agents/model/openai-responses.js';
export type { OpenAIClientOptions, OpenAIModelClient } from './agents/model/openai-responses.js';
export { openaiChatClient } from './agents/model/openai-chat.js';
export { modelClientFromConfig, resolveModelConfig, MODEL_PROVIDERS, DEFAULT_OPENAI_MODEL } from './agents/model/config.js';
export type { ModelConfig, ModelProvider, WireApi } from './agents/model/config.js';
export { DEFAULT_RETRY, backoffDelay, retryAfterMs } from './agents/model/retry.js';
export type { RetryOptions } from './agents/model/retry.js';
export { parseRateLimitHeaders, RateLimitTracker } from './agents/model/rate-limits.js';
export { defineTool, needsApproval, ToolArgumentsError } from './agents/tools/tool.js';
export type { FunctionToolDefinition, Tool, ToolContext, ToolResult } from './agents/tools/tool.js';
export { shellTool } from './agents/tools/shell-tool.js';
export type { ShellToolOptions } from './agents/tools/shell-tool.js';
export { isKnownSafeCommand } from './agents/tools/safe-commands.js';
