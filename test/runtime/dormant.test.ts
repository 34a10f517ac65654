import { describe, expect, it } from 'vitest';
import type { InspectionEvent } from 'xstate';
import type { ThreadEvent } from '../../src/index.js';
import { runtime, tempHome } from './helpers.js';

/** Ids of conversation actors created so far, as an inspection observer sees them. */
function actorWatch(): { inspect: (e: InspectionEvent) => void; created: (id: string) => number } {
  const seen: string[] = [];
  return {
    inspect: (e) => {
      const id = (e.actorRef as { id?: string }).id ?? '';
      if (e.type === '@xstate.actor' && id.startsWith('conversation:')) seen.push(id);
    },
    created: (id) => seen.filter((s) => s === `conversation:${id}`).length,
  };
}

describe('started conversations are dormant until used', () => {
  it('has its log written and no actor until its first turn, then behaves as ever', async () => {
    const home = await tempHome();
    const watch = actorWatch();
    const rt = runtime({ home, inspect: watch.inspect });
    const convo = await rt.start({ name: 'lazy' });
    expect(watch.created(convo.id)).toBe(0);
    expect(convo.state).toBe('idle');
    expect(convo.name).toBe('lazy');
    expect(convo.config.model).toBe('local');
    // The log exists and holds its header.
    const read = await rt.read(convo.id);
    expect(read.meta.id).toBe(convo.id);
    expect(read.turns).toEqual([]);
    const events: ThreadEvent[] = [];
    convo.subscribe((e) => events.push(e));
    expect(watch.created(convo.id)).toBe(1);
    const result = await convo.run('hello');
    expect(result.finalResponse).not.toBe('');
    // Exactly one `thread.started`, first.
    expect(events.filter((e) => e.type === 'thread.started')).toHaveLength(1);
    expect(events[0]?.type).toBe('thread.started');
    expect(events.at(-1)?.type).toBe('turn.completed');
    expect(watch.created(convo.id)).toBe(1);
    const again = await rt.read(convo.id);
    expect(again.turns).toHaveLength(1);
  });

  it('is supervised once used: the supervisor counts it as spawned and resident', async () => {
    let supervisor: { resident: number; spawned: number } | undefined;
    const rt = runtime({
      inspect: (e) => {
        if (e.type === '@xstate.snapshot' && (e.actorRef as { id?: string }).id === 'supervisor') {
          supervisor = (e.snapshot as unknown as { context: { resident: number; spawned: number } }).context;
        }
      },
    });
    const used = await rt.start();
    await rt.start();
    await used.run('hello');
    expect(supervisor).toMatchObject({ resident: 1, spawned: 1 });
    await used.close();
    expect(supervisor?.resident).toBe(0);
  });

  it('takes an op submitted while dormant', async () => {
    const rt = runtime();
    const convo = await rt.start();
    await convo.setName('named later');
    expect(convo.name).toBe('named later');
    expect((await rt.read(convo.id)).name).toBe('named later');
  });

  it('closes without an actor and releases the log for another process', async () => {
    const home = await tempHome();
    const watch = actorWatch();
    const first = runtime({ home, inspect: watch.inspect });
    const convo = await first.start();
    await convo.close();
    expect(convo.state).toBe('closed');
    expect(watch.created(convo.id)).toBe(0);
    expect(() => convo.submit({ type: 'set_name', name: 'x' })).toThrow(/closed/);
    // The lease is free: a second runtime on the same home resumes it and runs a turn.
    const second = runtime({ home });
    const resumed = await second.resume(convo.id);
    expect((await resumed.run('after')).finalResponse).not.toBe('');
  });

  it('closes dormant conversations on shutdown, leaving their logs resumable', async () => {
    const home = await tempHome();
    const first = runtime({ home });
    const ids = await Promise.all(Array.from({ length: 5 }, () => first.start())).then((cs) => cs.map((c) => c.id));
    await first.shutdown();
    const second = runtime({ home });
    for (const id of ids) expect((await second.resume(id)).state).toBe('idle');
  });
});
