/**
 * A scripted model for the OpenAI Agents SDK (its `Model` interface), in process: each request
 * gets the next scripted response. Records every request. A `hang` response streams some text
 * and then waits for the request's signal, as a slow model a user interrupts.
 */
import type { AgentOutputItem, Model, ModelRequest, ModelResponse, StreamEvent } from '@openai/agents';
import { Usage } from '@openai/agents';

export type SdkResponse = readonly AgentOutputItem[] | 'hang' | ((request: ModelRequest) => readonly AgentOutputItem[] | 'hang');

export interface SdkModel extends Model {
  readonly requests: ModelRequest[];
  /** Requests whose signal was aborted while the model was answering. */
  readonly aborted: ModelRequest[];
  push(...responses: SdkResponse[]): void;
}

let ids = 0;

/** An assistant message. */
export const say = (text: string): AgentOutputItem => ({
  id: `msg_${++ids}`,
  type: 'message',
  role: 'assistant',
  status: 'completed',
  content: [{ type: 'output_text', text }],
});

/** A function call. */
export const callTool = (callId: string, name: string, args: unknown): AgentOutputItem => ({
  id: `fc_${++ids}`,
  type: 'function_call',
  callId,
  name,
  arguments: JSON.stringify(args),
  status: 'completed',
});

const USAGE = { inputTokens: 12, outputTokens: 4, totalTokens: 16, inputTokensDetails: { cached_tokens: 2 }, outputTokensDetails: { reasoning_tokens: 1 } };

export function sdkModel(...script: SdkResponse[]): SdkModel {
  const queue = [...script];
  const requests: ModelRequest[] = [];
  const aborted: ModelRequest[] = [];
  const next = (request: ModelRequest): readonly AgentOutputItem[] | 'hang' => {
    requests.push(request);
    const step = queue.shift();
    if (step === undefined) throw new Error(`the scripted model has no response for request ${requests.length}`);
    return typeof step === 'function' ? step(request) : step;
  };
  return {
    requests,
    aborted,
    push: (...responses) => void queue.push(...responses),
    async getResponse(request): Promise<ModelResponse> {
      const output = next(request);
      if (output === 'hang') throw new Error('hang is for streamed requests');
      return { usage: new Usage(USAGE), output: [...output], responseId: `resp_${requests.length}` };
    },
    async *getStreamedResponse(request): AsyncIterable<StreamEvent> {
      const output = next(request);
      yield { type: 'response_started' };
      if (output === 'hang') {
        yield { type: 'output_text_delta', delta: 'Let me think' };
        await new Promise<void>((resolve) => {
          if (request.signal?.aborted) return resolve();
          request.signal?.addEventListener('abort', () => resolve(), { once: true });
        });
        aborted.push(request);
        throw Object.assign(new Error('the request was aborted'), { name: 'AbortError' });
      }
      for (const item of output) {
        if (item.type === 'message' && item.role === 'assistant') {
          for (const part of item.content) if (part.type === 'output_text') yield { type: 'output_text_delta', delta: part.text, ...(item.id ? { itemId: item.id } : {}) };
        }
      }
      // The stream's final event carries the protocol shape of the output items, as `AgentOutputItem`s.
      const done = { type: 'response_done', response: { id: `resp_${requests.length}`, usage: USAGE, output: [...output] } };
      yield done as StreamEvent;
    },
  };
}
