import { describe, expect, it } from 'vitest';
import { InvalidOpError, localAgent } from '../../src/index.js';
import { next, runtime, tempHome } from './helpers.js';

const slow = (ms: number) => localAgent({ script: { turns: [{ steps: [{ type: 'message', text: 'quick' }] }, { steps: [{ type: 'delay', ms }, { type: 'message', text: 'slow' }] }], repeat: 'last' } });

describe('fork cut points', () => {
  it('forks a conversation whose turn is still running before that turn', async () => {
    const home = await tempHome();
    const rt = runtime({ home, agent: slow(5_000) });
    const source = await rt.start();
    await source.run('first');
    const started = next(source, 'turn.started');
    void source.run('second').catch(() => {});
    await started;
    const fork = await rt.fork(source.id);
    const forked = await rt.read(fork.id);
    expect(forked.turns.map((t) => t.status)).toEqual(['completed']);
    expect(forked.meta.forked_from?.up_to_seq).toBe(forked.turns.length > 0 ? (await rt.read(source.id)).turns[1]!.startSeq - 1 : -1);
    await source.interrupt();
  });

  it('counts user turns from the first, through a fork of a fork, and refuses one beyond the last + 1', async () => {
    const home = await tempHome();
    const rt = runtime({ home });
    const source = await rt.start();
    for (const text of ['a', 'b', 'c']) await source.run(text);
    const child = await rt.fork(source.id, { beforeUserTurn: 3 });
    await child.run('d');
    const texts = async (id: string) =>
      (await rt.read(id)).turns.map((t) => t.items.find((i) => i.type === 'user_message')).map((m) => (m as { text: string }).text);
    expect(await texts(child.id)).toEqual(['a', 'b', 'd']);
    expect(await texts((await rt.fork(child.id, { beforeUserTurn: 1 })).id)).toEqual([]);
    expect(await texts((await rt.fork(child.id, { beforeUserTurn: 2 })).id)).toEqual(['a']);
    expect(await texts((await rt.fork(child.id, { beforeUserTurn: 3 })).id)).toEqual(['a', 'b']);
    expect(await texts((await rt.fork(child.id, { beforeUserTurn: 4 })).id)).toEqual(['a', 'b', 'd']);
    await expect(rt.fork(child.id, { beforeUserTurn: 5 })).rejects.toThrow(InvalidOpError);
    // Every fork continues from its cut.
    const mid = await rt.fork(child.id, { beforeUserTurn: 3 });
    expect((await mid.run('e')).finalResponse).toContain('You said: "e"');
    expect(await texts(mid.id)).toEqual(['a', 'b', 'e']);
  });
});
