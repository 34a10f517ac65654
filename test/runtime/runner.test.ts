import { describe, expect, it } from 'vitest';
import type { Agent } from '../../src/index.js';
import { record, runtime } from './helpers.js';

describe('agent runner', () => {
  it('shows rate limits and retries as events without recording them', async () => {
    const agent: Agent = async function* (turn) {
      yield { type: 'retrying', attempt: 1, delayMs: 250.4, message: '429 Too Many Requests' };
      yield { type: 'rate_limits', snapshot: { requests: { limit: 100, remaining: 99, reset_ms: 1000 } } };
      yield { type: 'item.completed', item: { id: turn.newItemId(), type: 'agent_message', text: 'ok' } };
    };
    const rt = runtime({ agent });
    const convo = await rt.start();
    const events = record(convo);
    await convo.run('hi');
    const turnId = events.find((e) => e.type === 'turn.started')?.turn_id;
    expect(events.filter((e) => e.type === 'model.retrying' || e.type === 'rate_limits.updated')).toEqual([
      { type: 'model.retrying', turn_id: turnId, attempt: 1, delay_ms: 250, message: '429 Too Many Requests' },
      { type: 'rate_limits.updated', turn_id: turnId, rate_limits: { requests: { limit: 100, remaining: 99, reset_ms: 1000 } } },
    ]);
    const log = await rt.read(convo.id);
    expect(log.turns[0]?.items.map((i) => i.type)).toEqual(['user_message', 'agent_message']);
  });

  it('fails the turn with a typed error when an agent yields something unknown', async () => {
    const agent = (async function* () {
      yield { type: 'telemetry' };
    }) as unknown as Agent;
    const rt = runtime({ agent });
    const convo = await rt.start();
    await expect(convo.run('hi')).rejects.toMatchObject({ code: 'invalid_agent_output' });
    expect(convo.state).toBe('error');
  });
});
