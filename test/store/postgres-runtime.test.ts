/**
 * A runtime on the Postgres store, end to end: turns run, another node resumes the
 * conversation from the database once the first gave it up, forks read their source's
 * turns, and the listing, history and export read what was committed.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { createRuntime, type Runtime } from '../../src/index.js';
import { freshSchema, postgresTestStore } from '../support/postgres.js';
import { collect } from './helpers.js';

const runtimes: Runtime[] = [];
afterEach(async () => {
  await Promise.all(runtimes.splice(0).map((r) => r.shutdown()));
});

function node(schema: string, nodeId: string): Runtime {
  const rt = createRuntime({ store: postgresTestStore({ schema, nodeId }) });
  runtimes.push(rt);
  return rt;
}

describe('a runtime on PostgresStore', () => {
  it('runs turns on one node and resumes them on another once the first lets go', async () => {
    const schema = freshSchema();
    const a = node(schema, 'node-a');
    const b = node(schema, 'node-b');
    const convo = await a.start({ name: 'shared' });
    for (const text of ['alpha', 'beta']) await convo.run(text);
    // While node a owns it, node b's handle routes to a; once a lets go, b takes it.
    const meanwhile = await b.resume(convo.id);
    expect(meanwhile.residency).toBe('remote');
    expect(meanwhile.owner).toBe('node-a');
    await convo.close();
    await meanwhile.close();
    const resumed = await b.resume(convo.id);
    expect(resumed.name).toBe('shared');
    const result = await resumed.run('gamma');
    expect(result.finalResponse).toContain('Turn 3');
    expect(result.finalResponse).toContain('Before that you said: "beta"');
    const read = await a.read(convo.id);
    expect(read.turns.map((t) => t.status)).toEqual(['completed', 'completed', 'completed']);
    expect((await b.store.history.list()).map((e) => e.text)).toEqual(['gamma', 'beta', 'alpha']);
    expect((await a.list()).items.map((s) => s.id)).toEqual([convo.id]);
    // The records read back are the lines the file store would export.
    const records = await collect(b.store.read(convo.id));
    expect(records.map((r) => r.seq)).toEqual(records.map((_, i) => i));
  });

  it('forks a conversation: the fork reads its first turns from its source', async () => {
    const schema = freshSchema();
    const rt = node(schema, 'node-a');
    const source = await rt.start();
    for (const text of ['one', 'two', 'three']) await source.run(text);
    const fork = await rt.fork(source.id, { beforeUserTurn: 2 });
    expect((await rt.read(fork.id)).turns).toHaveLength(1);
    expect((await fork.run('branch')).finalResponse).toContain('Turn 2. You said: "branch". Before that you said: "one"');
  });
});
