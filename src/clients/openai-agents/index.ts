/**
 * Colloquy and the OpenAI Agents SDK (`@openai/agents`, an optional peer dependency), imported
 * from `colloquy/openai-agents`:
 *
 * - {@link colloquySession}: an Agents SDK `Session` kept in a Colloquy conversation log, for
 *   `run(agent, input, { session })` (a client of the runtime: `session.ts`).
 * - {@link agentsSdkAgent}: an Agents SDK agent run as a Colloquy `Agent`, turn by turn, with
 *   tool approvals as Colloquy approvals (an agent: `src/agents/openai-agents/`).
 *
 * ```ts
 * import { Agent, run } from '@openai/agents';
 * import { createRuntime } from 'colloquy';
 * import { colloquySession } from 'colloquy/openai-agents';
 *
 * const runtime = createRuntime();
 * const session = colloquySession(runtime, { name: 'support' });
 * await run(new Agent({ name: 'Assistant' }), 'hello', { session });
 * ```
 */
export { colloquySession, ColloquySession, SESSION_SOURCE, CLEARED_SUMMARY } from './session.js';
export type { ColloquySessionOptions } from './session.js';
export * from '../../agents/openai-agents/index.js';
