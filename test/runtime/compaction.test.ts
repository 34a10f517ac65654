import { describe, expect, it } from 'vitest';
import { FileStore, type LogRecord, type ReadOptions } from '../../src/index.js';
import { next, runtime, tempHome } from './helpers.js';

/** A file store that counts the records resumes read. */
class CountingStore extends FileStore {
  records = 0;
  override async *read(id: string, options?: ReadOptions): AsyncIterable<LogRecord> {
    for await (const record of super.read(id, options)) {
      this.records++;
      yield record;
    }
  }
}

describe('compaction and resume', () => {
  it('a resume starts at the last compaction and rebuilds the same live history', async () => {
    const home = await tempHome();
    const first = runtime({ home, context: { keepUserTokens: 0 } });
    const convo = await first.start();
    for (let i = 1; i <= 20; i++) await convo.run(`message ${i}`);
    await convo.compact();
    await convo.run('after the summary');
    await convo.run('and again');
    const live = convo.historyItems().map((i) => i.type === 'user_message' || i.type === 'agent_message' ? i.text : i.type);
    await first.shutdown();

    const store = new CountingStore({ home });
    const second = runtime({ store, context: { keepUserTokens: 0 } });
    const resumed = await second.resume(convo.id);
    expect(resumed.historyItems().map((i) => i.type === 'user_message' || i.type === 'agent_message' ? i.text : i.type)).toEqual(live);
    // Only the tail was folded: the compaction's turn and what came after, not the 20 turns before.
    expect(store.records).toBeLessThan(20);
    const answer = await resumed.run('where are we?');
    expect(answer.finalResponse).toContain('Turn 24');
    expect(answer.finalResponse).toContain('Before that you said: "and again"');
    // The full transcript is still there for read().
    expect((await second.read(convo.id)).turns).toHaveLength(24);
  });

  it('a compaction keeps the newest turns within its token budget, and a resume rebuilds them', async () => {
    const home = await tempHome();
    // About 25 tokens per turn of the local agent: a budget of 45 keeps the last two turns.
    const first = runtime({ home, context: { keepUserTokens: 45 } });
    const convo = await first.start();
    for (let i = 1; i <= 10; i++) await convo.run(`message ${i}`);
    const compacted = next(convo, 'context.compacted');
    await convo.compact();
    const event = await compacted;
    const users = (items: readonly { type: string; text?: string }[]) => items.filter((i) => i.type === 'user_message').map((i) => i.text);
    expect(users(convo.historyItems())).toEqual(['message 9', 'message 10']);
    const log = await first.read(convo.id);
    expect(log.turns[8]?.startSeq).toBe(event.kept_from_seq);
    await first.shutdown();

    const store = new CountingStore({ home });
    const second = runtime({ store });
    const resumed = await second.resume(convo.id);
    expect(users(resumed.historyItems())).toEqual(['message 9', 'message 10']);
    // The kept turns and the compaction were read, not the eight turns before them.
    expect(store.records).toBeLessThan(20);
    const answer = await resumed.run('and now?');
    expect(answer.finalResponse).toContain('Turn 12');
    expect(answer.finalResponse).toContain('Before that you said: "message 10"');
  });

  it('input queued during a compaction survives a restart (exactly once)', async () => {
    const home = await tempHome();
    const first = runtime({ home });
    const convo = await first.start();
    await convo.run('one');
    const compacted = next(convo, 'context.compacted');
    const compaction = convo.compact();
    const queued = convo.run('queued while compacting');
    await compacted;
    await compaction;
    await queued;
    await first.shutdown();
    const second = runtime({ home });
    const resumed = await second.resume(convo.id);
    const read = await second.read(convo.id);
    expect(read.pending.input).toEqual([]);
    expect(read.turns.filter((t) => t.items.some((i) => i.type === 'user_message' && i.text === 'queued while compacting'))).toHaveLength(1);
    expect((await resumed.run('next')).finalResponse).toContain('Before that you said: "queued while compacting"');
  });

  it('a fork keeps the summary of a compaction before its cut', async () => {
    const home = await tempHome();
    const rt = runtime({ home, context: { keepUserTokens: 0 } });
    const convo = await rt.start();
    await convo.run('alpha');
    await convo.compact();
    await convo.run('beta');
    await convo.run('gamma');
    const fork = await rt.fork(convo.id, { beforeUserTurn: 3 });
    const answer = await fork.run('branch');
    expect(answer.finalResponse).toContain('Before that you said: "beta"');
    expect(fork.historyItems().some((i) => i.type === 'user_message' && i.text === 'alpha')).toBe(false);
  });
});
