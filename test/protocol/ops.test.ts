import { describe, expect, it } from 'vitest';
import { InvalidOpError, parseOp, parseSubmission } from '../../src/index.js';

function invalid(value: unknown): InvalidOpError {
  try {
    parseOp(value);
  } catch (err) {
    expect(err).toBeInstanceOf(InvalidOpError);
    return err as InvalidOpError;
  }
  throw new Error(`expected ${JSON.stringify(value)} to be rejected`);
}

describe('ops', () => {
  it('accepts every op kind of SPEC §4', () => {
    const ops = [
      { type: 'user_input', items: [{ type: 'text', text: 'hi' }], mode: 'steer' },
      { type: 'user_input', items: [{ type: 'local_image', path: '/tmp/a.png' }] },
      { type: 'interrupt' },
      { type: 'approval', callId: 'call_1', decision: 'approved_for_session' },
      { type: 'compact' },
      { type: 'rollback', turns: 2 },
      { type: 'override_turn_context', model: 'm', approvalPolicy: 'never' },
      { type: 'set_name', name: 'n' },
      { type: 'retry' },
      { type: 'reset' },
      { type: 'shutdown' },
    ];
    for (const op of ops) expect(parseOp(op)).toEqual(op);
  });

  it('names the bad field of a malformed op', () => {
    expect(invalid({ type: 'user_input', items: [{ type: 'text', text: 3 }] }).field).toBe('items[0].text');
    expect(invalid({ type: 'user_input', items: [{ type: 'text', text: 3 }] }).message).toContain('expected string, got number');
    expect(invalid({ type: 'approval', decision: 'approved' }).field).toBe('callId');
    expect(invalid({ type: 'approval', callId: 'c', decision: 'maybe' }).field).toBe('decision');
    expect(invalid({ type: 'rollback', turns: 0 }).field).toBe('turns');
    expect(invalid({ type: 'user_input', items: [] }).message).toContain('at least 1 item');
    expect(invalid({ type: 'launch' }).message).toContain('unknown "launch"');
    expect(invalid({ type: 'interrupt', force: true }).message).toContain('unknown field "force"');
    expect(invalid({ type: 'user_input', items: [{ type: 'text', text: 'x' }], mode: 'later' }).field).toBe('mode');
  });

  it('validates submissions with the op path', () => {
    expect(parseSubmission({ id: 's1', op: { type: 'interrupt' } })).toEqual({ id: 's1', op: { type: 'interrupt' } });
    let caught: unknown;
    try {
      parseSubmission({ id: 's1', op: { type: 'approval', decision: 'denied' } });
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(InvalidOpError);
    expect((caught as InvalidOpError).field).toBe('op.callId');
  });
});
