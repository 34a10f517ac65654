/**
 * Conversation ids: ULIDs whose time fits in 48 bits. A look-alike led by 8–Z (a time past the
 * largest a ULID holds) is refused as any other malformed id, before a path or a time is made of it.
 */
import { describe, expect, it } from 'vitest';
import { InvalidIdError } from '../../src/errors.js';
import { assertConversationId, idTime, isConversationId, newConversationId } from '../../src/protocol/ids.js';
import { StorePaths } from '../../src/store/paths.js';

const OVERFLOWING = ['ZZZZZZZZZZZZZZZZZZZZZZZZZZ', '80000000000000000000000000', '8ZZZZZZZZZZZZZZZZZZZZZZZZZ', 'zzzzzzzzzzzzzzzzzzzzzzzzzz', 'Z1ARZ3NDEKTSV4RRFFQ69G5FAV'];

describe('conversation ids', () => {
  it('refuses ids whose time overflows as InvalidIdError, from every check and from idTime', () => {
    for (const id of OVERFLOWING) {
      expect(isConversationId(id), id).toBe(false);
      expect(() => assertConversationId(id), id).toThrow(InvalidIdError);
      expect(() => idTime(id), id).toThrow(InvalidIdError);
      expect(() => new StorePaths('/tmp/home').log(id, false), id).toThrow(InvalidIdError);
    }
  });

  it('accepts the largest time a ULID holds and ids made now, in any case', () => {
    expect(idTime('7ZZZZZZZZZZZZZZZZZZZZZZZZZ')).toBe(2 ** 48 - 1);
    const id = newConversationId();
    expect(isConversationId(id)).toBe(true);
    expect(assertConversationId(id.toLowerCase())).toBe(id);
    expect(Math.abs(idTime(id) - Date.now())).toBeLessThan(60_000);
    expect(() => idTime('not-an-id')).toThrow(InvalidIdError);
  });
});
