/**
 * A scripted in-process model client: each request gets the next scripted response (a list of
 * model events, or a function of the request). Records every request. A response may wait for
 * the request's signal (`hang`) to model a slow model a user interrupts.
 */
import type { ModelClient, ModelEvent, SampleRequest } from '../../src/agents/model/client.js';

export type FakeResponse = readonly ModelEvent[] | 'hang' | Error | ((request: SampleRequest) => readonly ModelEvent[] | 'hang' | Error);

export interface FakeModel extends ModelClient {
  readonly requests: SampleRequest[];
  push(...responses: FakeResponse[]): void;
}

export const text = (t: string): ModelEvent[] => [
  { type: 'text.delta', delta: t.slice(0, Math.ceil(t.length / 2)) },
  { type: 'text.delta', delta: t.slice(Math.ceil(t.length / 2)) },
  { type: 'text.done', text: t },
];
export const call = (callId: string, name: string, args: unknown): ModelEvent => ({
  type: 'tool_call',
  callId,
  name,
  arguments: typeof args === 'string' ? args : JSON.stringify(args),
});
export const usage = (input: number, output = 5): ModelEvent => ({
  type: 'usage',
  usage: { input_tokens: input, cached_input_tokens: 0, output_tokens: output, reasoning_output_tokens: 0 },
});

export function fakeModel(...script: FakeResponse[]): FakeModel {
  const queue = [...script];
  const requests: SampleRequest[] = [];
  return {
    requests,
    push: (...responses) => queue.push(...responses),
    async *sample(request) {
      requests.push(request);
      let next = queue.shift();
      if (next === undefined) throw new Error(`the fake model has no response for request ${requests.length}`);
      if (typeof next === 'function') next = next(request);
      if (next instanceof Error) throw next;
      if (next === 'hang') {
        await new Promise<void>((resolve) => {
          if (request.signal.aborted) resolve();
          request.signal.addEventListener('abort', () => resolve(), { once: true });
        });
        return;
      }
      for (const event of next) {
        if (request.signal.aborted) return;
        yield event;
      }
    },
  };
}
