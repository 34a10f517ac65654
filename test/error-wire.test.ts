import { describe, expect, it } from 'vitest';
import { reviveError, serializeError } from '../src/error-wire.js';
import { ColloquyError, ConversationBusyError, InvalidOpError, SessionLockedError, ShutdownError, StoreError } from '../src/errors.js';

describe('errors between nodes', () => {
  it('revives the same class, code, message and fields', () => {
    const invalid = new InvalidOpError([{ path: ['callId'], message: 'no approval is pending with this id' }]);
    const back = reviveError(JSON.parse(JSON.stringify(serializeError(invalid))));
    expect(back).toBeInstanceOf(InvalidOpError);
    expect(back).toBeInstanceOf(ColloquyError);
    expect(back.code).toBe('invalid_op');
    expect(back.message).toBe(invalid.message);
    expect((back as InvalidOpError).field).toBe('callId');
    expect((back as InvalidOpError).issues).toEqual(invalid.issues);
    expect(back.name).toBe('InvalidOpError');
    expect(back.stack).toContain('InvalidOpError');

    const busy = reviveError(serializeError(new ConversationBusyError('C', 'T')));
    expect(busy).toBeInstanceOf(ConversationBusyError);
    expect((busy as ConversationBusyError).turnId).toBe('T');
    const locked = reviveError(serializeError(new SessionLockedError('C', { pid: 1, host: 'h', since: 's', node: 'n1' })));
    expect((locked as SessionLockedError).holder.node).toBe('n1');
    const store = reviveError(serializeError(new StoreError('disk full', { code: 'store_unavailable', path: '/x' })));
    expect(store).toBeInstanceOf(StoreError);
    expect(store.code).toBe('store_unavailable');
    expect((store as StoreError).path).toBe('/x');
  });

  it('keeps what nested errors say, and makes anything else an internal ColloquyError', () => {
    const shutdown = reviveError(serializeError(new ShutdownError([{ conversationId: 'C', error: new StoreError('disk full') }])));
    expect(shutdown).toBeInstanceOf(ShutdownError);
    expect((shutdown as unknown as { failures: { error: { message: string } }[] }).failures[0]?.error.message).toBe('disk full');
    const plain = reviveError(serializeError(new TypeError('boom')));
    expect(plain).toBeInstanceOf(ColloquyError);
    expect(plain.code).toBe('internal');
    expect(plain.message).toBe('boom');
    const forged = reviveError({ name: '__proto__', code: 'x', message: 'm', fields: { code: 'y', message: 'z' } });
    expect(forged.constructor).toBe(ColloquyError);
    expect(forged.code).toBe('x');
    expect(forged.message).toBe('m');
  });
});
