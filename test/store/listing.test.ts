import fc from 'fast-check';
import { ulid } from 'ulid';
import { describe, expect, it } from 'vitest';
import { InvalidOpError } from '../../src/errors.js';
import { newConversationId } from '../../src/protocol/ids.js';
import {
  DEFAULT_PAGE,
  MAX_PAGE,
  compareListed,
  cursorAfter,
  isAfter,
  matches,
  pageSize,
  paginate,
  parseCursor,
  type Listed,
} from '../../src/store/listing.js';
import type { ConversationSummary, ListPage, ListQuery } from '../../src/store/store.js';
import { newIds } from './helpers.js';

function summary(id: string, extra: Partial<ConversationSummary> = {}): ConversationSummary {
  return {
    id,
    createdAt: '2024-05-01T12:00:00.000Z',
    updatedAt: '2024-05-01T12:00:00.000Z',
    archived: false,
    model: 'local',
    cwd: '/tmp',
    ...extra,
  };
}

function listed(id: string, updatedMs = 0, extra: Partial<ConversationSummary> = {}): Listed {
  return { summary: summary(id, extra), updatedMs };
}

function invalidField(run: () => unknown): string {
  try {
    run();
  } catch (err) {
    expect(err).toBeInstanceOf(InvalidOpError);
    expect((err as InvalidOpError).message).toContain('list query');
    return (err as InvalidOpError).field;
  }
  throw new Error('expected an InvalidOpError');
}

/** `n` (< 2^20) as 4 Crockford base-32 digits, as in the random part of a ULID. */
function crockford(n: number): string {
  const digits = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
  let out = '';
  for (let i = 0; i < 4; i++) out = (digits[(n >> (5 * i)) & 31] as string) + out;
  return out;
}

/** Every page of a listing, following cursors. */
function allPages(sorted: readonly Listed[], query: ListQuery): ListPage[] {
  const pages: ListPage[] = [];
  let cursor: string | null = null;
  do {
    const page = paginate(sorted, { ...query, cursor });
    pages.push(page);
    cursor = page.nextCursor;
    if (pages.length > sorted.length + 1) throw new Error('paging does not end');
  } while (cursor !== null);
  return pages;
}

describe('pageSize', () => {
  it('defaults to DEFAULT_PAGE and accepts 1 to MAX_PAGE', () => {
    expect(pageSize({})).toBe(DEFAULT_PAGE);
    expect(pageSize({ limit: 1 })).toBe(1);
    expect(pageSize({ limit: MAX_PAGE })).toBe(MAX_PAGE);
  });

  it('rejects other limits with InvalidOpError naming the limit field', () => {
    for (const limit of [0, -3, MAX_PAGE + 1, 1.5, Number.NaN, Number.POSITIVE_INFINITY]) {
      expect(invalidField(() => pageSize({ limit })), String(limit)).toBe('limit');
    }
  });
});

describe('parseCursor', () => {
  const id = newConversationId();

  it('reads no cursor as the start', () => {
    expect(parseCursor({})).toBeNull();
    expect(parseCursor({ cursor: null })).toBeNull();
    expect(parseCursor({ cursor: '' })).toBeNull();
  });

  it('parses cursors of both sorts', () => {
    expect(parseCursor({ cursor: `c:${id}` })).toEqual({ updatedMs: 0, id });
    expect(parseCursor({ cursor: `c:${id}`, sort: 'created' })).toEqual({ updatedMs: 0, id });
    expect(parseCursor({ cursor: `u:1714564800123:${id}`, sort: 'updated' })).toEqual({ updatedMs: 1714564800123, id });
  });

  it('round-trips what cursorAfter makes', () => {
    const entry = listed(id, 1714564800123);
    expect(parseCursor({ cursor: cursorAfter(entry, 'created') })).toEqual({ updatedMs: 0, id });
    expect(parseCursor({ cursor: cursorAfter(entry, 'updated'), sort: 'updated' })).toEqual({ updatedMs: 1714564800123, id });
  });

  it('rejects malformed cursors and cursors of the other sort, naming the cursor field', () => {
    const bad: [string, ListQuery['sort']][] = [
      ['garbage', 'created'],
      [id, 'created'],
      [`c:${id}x`, 'created'],
      [`c:${id.toLowerCase()}`, 'created'],
      [`c:${id.slice(0, 25)}I`, 'created'],
      [`u:5:${id}`, 'created'],
      [`c:${id}`, 'updated'],
      [`u::${id}`, 'updated'],
      [`u:-1:${id}`, 'updated'],
      [`u:1.5:${id}`, 'updated'],
      [`u:12345678901234567:${id}`, 'updated'],
      [`u:5:../../etc`, 'updated'],
    ];
    for (const [cursor, sort] of bad) {
      expect(invalidField(() => parseCursor({ cursor, sort })), cursor).toBe('cursor');
    }
  });
});

describe('matches', () => {
  const plain = summary(newConversationId());
  const named = summary(newConversationId(), { name: 'Fix the Parser', metadata: { team: 'core', prio: 2, done: false, owner: null } });

  it('selects active or archived conversations (active by default)', () => {
    const archived = summary(newConversationId(), { archived: true });
    expect(matches(plain, {})).toBe(true);
    expect(matches(archived, {})).toBe(false);
    expect(matches(archived, { archived: true })).toBe(true);
    expect(matches(plain, { archived: true })).toBe(false);
  });

  it('filters by a case-insensitive substring of the name', () => {
    expect(matches(named, { name: 'parser' })).toBe(true);
    expect(matches(named, { name: 'FIX THE' })).toBe(true);
    expect(matches(named, { name: 'parsers' })).toBe(false);
    expect(matches(plain, { name: 'parser' })).toBe(false);
  });

  it('filters by metadata: every given value must be equal (strictly)', () => {
    expect(matches(named, { metadata: {} })).toBe(true);
    expect(matches(named, { metadata: { team: 'core' } })).toBe(true);
    expect(matches(named, { metadata: { team: 'core', prio: 2, done: false, owner: null } })).toBe(true);
    expect(matches(named, { metadata: { team: 'core', prio: 3 } })).toBe(false);
    expect(matches(named, { metadata: { prio: '2' } })).toBe(false);
    expect(matches(named, { metadata: { done: null } })).toBe(false);
    expect(matches(named, { metadata: { missing: null } })).toBe(false);
    expect(matches(plain, { metadata: { team: 'core' } })).toBe(false);
  });

  it('combines filters', () => {
    expect(matches(named, { name: 'parser', metadata: { team: 'core' } })).toBe(true);
    expect(matches(named, { name: 'parser', metadata: { team: 'web' } })).toBe(false);
    expect(matches(named, { name: 'parser', archived: true })).toBe(false);
  });
});

describe('compareListed and isAfter', () => {
  const [a, b, c] = newIds(3) as [string, string, string];

  it('orders newest first: by id for created, by update time then id for updated', () => {
    const entries = [listed(a, 30), listed(c, 10), listed(b, 30)];
    expect([...entries].sort(compareListed('created')).map((e) => e.summary.id)).toEqual([c, b, a]);
    expect([...entries].sort(compareListed('updated')).map((e) => e.summary.id)).toEqual([b, a, c]);
    expect(compareListed('created')(listed(a), listed(a))).toBe(0);
  });

  it('says whether an entry comes strictly after a cursor position', () => {
    expect(isAfter(listed(a), { updatedMs: 0, id: b }, 'created')).toBe(true);
    expect(isAfter(listed(b), { updatedMs: 0, id: b }, 'created')).toBe(false);
    expect(isAfter(listed(c), { updatedMs: 0, id: b }, 'created')).toBe(false);
    expect(isAfter(listed(c, 5), { updatedMs: 10, id: a }, 'updated')).toBe(true);
    expect(isAfter(listed(a, 10), { updatedMs: 10, id: b }, 'updated')).toBe(true);
    expect(isAfter(listed(b, 10), { updatedMs: 10, id: b }, 'updated')).toBe(false);
    expect(isAfter(listed(c, 10), { updatedMs: 10, id: b }, 'updated')).toBe(false);
    expect(isAfter(listed(a, 11), { updatedMs: 10, id: b }, 'updated')).toBe(false);
  });
});

describe('paginate', () => {
  const ids = newIds(5);
  const sorted = ids.map((id) => listed(id)).sort(compareListed('created'));

  it('returns the first page and a cursor to the next', () => {
    const page = paginate(sorted, { limit: 2 });
    expect(page.items.map((s) => s.id)).toEqual([ids[4], ids[3]]);
    expect(page.nextCursor).toBe(`c:${ids[3]}`);
  });

  it('pages through everything exactly once, with no cursor after the last page', () => {
    const pages = allPages(sorted, { limit: 2 });
    expect(pages.map((p) => p.items.length)).toEqual([2, 2, 1]);
    expect(pages.flatMap((p) => p.items.map((s) => s.id))).toEqual([...ids].reverse());
  });

  it('gives no cursor when the page holds exactly the rest', () => {
    expect(paginate(sorted, { limit: 5 }).nextCursor).toBeNull();
    expect(paginate(sorted, { limit: 3, cursor: `c:${ids[3]}` })).toEqual({ items: [sorted[2]?.summary, sorted[3]?.summary, sorted[4]?.summary], nextCursor: null });
    expect(paginate([], {})).toEqual({ items: [], nextCursor: null });
  });

  it('continues after a cursor whose conversation is gone', () => {
    const without = sorted.filter((e) => e.summary.id !== ids[3]);
    expect(paginate(without, { limit: 10, cursor: `c:${ids[3]}` }).items.map((s) => s.id)).toEqual([ids[2], ids[1], ids[0]]);
  });

  it('validates the query even with nothing to list', () => {
    expect(invalidField(() => paginate([], { limit: 0 }))).toBe('limit');
    expect(invalidField(() => paginate([], { cursor: 'nope' }))).toBe('cursor');
  });

  it('pages exactly by update time with ties (same millisecond)', () => {
    const [a, b, c, d, e] = newIds(5) as [string, string, string, string, string];
    const entries = [listed(a, 100), listed(b, 200), listed(c, 100), listed(d, 200), listed(e, 50)].sort(compareListed('updated'));
    const pages = allPages(entries, { sort: 'updated', limit: 2 });
    expect(pages.flatMap((p) => p.items.map((s) => s.id))).toEqual([d, b, c, a, e]);
    expect(pages[0]?.nextCursor).toBe(`u:200:${b}`);
  });

  it('property: following cursors yields every entry once, in order, for any page size and ties', () => {
    const base = Date.UTC(2024, 0, 1);
    fc.assert(
      fc.property(
        fc.uniqueArray(fc.tuple(fc.integer({ min: 0, max: 5 }), fc.integer({ min: 0, max: 0xffff })), {
          selector: ([ms, n]) => `${ms}:${n}`,
          maxLength: 40,
        }),
        fc.integer({ min: 1, max: 7 }),
        fc.constantFrom('created' as const, 'updated' as const),
        (raw, limit, sort) => {
          // Ids in few distinct milliseconds, updates in few distinct values: many ties.
          const entries = raw
            .map(([ms, n]) => `${ulid(base + ms).slice(0, 10)}${'0'.repeat(12)}${crockford(n)}`)
            .map((id, i) => listed(id, (i * 7) % 3));
          const sortedEntries = [...entries].sort(compareListed(sort));
          const pages = allPages(sortedEntries, { sort, limit });
          const seen = pages.flatMap((p) => p.items.map((s) => s.id));
          expect(seen).toEqual(sortedEntries.map((e) => e.summary.id));
          for (const page of pages.slice(0, -1)) expect(page.items).toHaveLength(limit);
        },
      ),
      { numRuns: 200 },
    );
  });
});
