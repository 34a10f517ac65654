/**
 * The OpenAI Agents SDK as a Colloquy agent: {@link agentsSdkAgent} runs an Agents SDK agent
 * turn by turn, with tool approvals as Colloquy approvals; the item mapping and the lossless
 * value codec it shares with the Agents SDK session (`src/clients/openai-agents/`). Imported
 * from `colloquy/openai-agents`, with the session.
 */
export { agentsSdkAgent, userInputItem } from './agent.js';
export type { AgentsSdkAgentOptions, AgentsSdkRunOptions } from './agent.js';
export { toAgentInputItems, toAgentInputItem, toThreadItems, outputText, SUMMARY_PREFIX, ABORTED_OUTPUT, DECLINED_OUTPUT } from './items.js';
export { encode as encodeItemValue, decode as decodeItemValue, UnsupportedValueError } from './codec.js';
