/**
 * Runtime nodes on one PostgreSQL database: ops for a conversation another node owns are routed
 * to it through the database (`NOTIFY` on the owner's channel, the inbox for long ones), its
 * records followed on every node (told by the commit, only for followed conversations), and a
 * node shutting down hands its conversations over at once.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { createRuntime, InvalidOpError, type Runtime } from '../../src/index.js';
import type { ThreadEvent } from '../../src/protocol/events.js';
import pg from 'pg';
import type { PostgresStore } from '../../src/store/postgres/index.js';
import { adminQuery, freshSchema, postgresTestStore, postgresUrl } from '../support/postgres.js';

const runtimes: Runtime[] = [];
afterEach(async () => {
  await Promise.allSettled(runtimes.splice(0).map((r) => r.shutdown()));
});

function node(schema: string, nodeId: string): Runtime {
  const rt = createRuntime({ store: postgresTestStore({ schema, nodeId, leaseTtlMs: 2000 }), passivateAfterMs: 0, onError: () => {} });
  runtimes.push(rt);
  return rt;
}

async function until(check: () => boolean, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('a cluster of nodes on PostgreSQL', () => {
  it('routes a turn submitted on node B to owner A and tells B’s subscriber every recorded event', async () => {
    const schema = freshSchema();
    const a = node(schema, 'node-a');
    const b = node(schema, 'node-b');
    const owned = await a.start({ name: 'shared' });
    await owned.run('one');
    const there = await b.resume(owned.id);
    expect(there.residency).toBe('remote');
    expect(there.owner).toBe('node-a');
    expect(there.name).toBe('shared');
    const events: ThreadEvent[] = [];
    there.subscribe((e) => events.push(e));
    const result = await there.run('two');
    expect(result.finalResponse).toContain('Turn 2');
    expect(result.finalResponse).toContain('Before that you said: "one"');
    expect(events.map((e) => e.type)).toEqual(['thread.started', 'turn.started', 'item.completed', 'item.completed', 'turn.completed']);
    // A turn run on the owner reaches B's subscriber too, through the commit's NOTIFY.
    await owned.run('three');
    await until(() => events.filter((e) => e.type === 'turn.completed').length === 2);
    const read = await b.read(owned.id);
    expect(read.turns.map((t) => t.status)).toEqual(['completed', 'completed', 'completed']);
  });

  it('routes a message too long for NOTIFY through the inbox', async () => {
    const schema = freshSchema();
    const a = node(schema, 'node-a');
    const b = node(schema, 'node-b');
    const owned = await a.start();
    const there = await b.resume(owned.id);
    const long = 'x'.repeat(20_000);
    const result = await there.run(long);
    expect(result.items.find((i) => i.type === 'user_message')).toMatchObject({ text: long });
    const left = await adminQuery(`SELECT count(*)::int AS n FROM "${schema}".inbox`);
    expect(left[0]?.n).toBe(0);
  });

  it('gives node B the typed error owner A refused an op with', async () => {
    const schema = freshSchema();
    const a = node(schema, 'node-a');
    const b = node(schema, 'node-b');
    const owned = await a.start();
    const there = await b.resume(owned.id);
    const refused = await there.approve('nothing-pending').catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(InvalidOpError);
    expect((refused as InvalidOpError).field).toBe('callId');
  });

  it('tells only followed conversations: a commit nobody follows sends no notification', async () => {
    const schema = freshSchema();
    const a = node(schema, 'node-a');
    const owned = await a.start();
    await owned.run('warm');
    const listener = new pg.Client({ connectionString: postgresUrl() });
    await listener.connect();
    const heard: string[] = [];
    listener.on('notification', (n) => heard.push(n.payload ?? ''));
    await listener.query(`LISTEN ${pg.escapeIdentifier((a.store as PostgresStore).cluster.logChannel)}`);
    try {
      await owned.run('alone');
      await new Promise((r) => setTimeout(r, 200));
      expect(heard).toEqual([]);
      const b = node(schema, 'node-b');
      const there = await b.resume(owned.id);
      expect(there.residency).toBe('remote');
      const followedBy = async () => (await adminQuery<{ node: string }>(`SELECT node FROM "${schema}".follows WHERE conversation_id = $1`, [owned.id])).map((r) => r.node);
      const end = Date.now() + 5000;
      while ((await followedBy()).length === 0 && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
      expect(await followedBy()).toEqual(['node-b']);
      await owned.run('followed');
      await until(() => heard.length > 0);
      expect(heard.join(',')).toMatch(new RegExp(`${owned.id}:\\d+`));
      // B lets go (shut down): nobody follows any more.
      await b.shutdown();
      expect(await followedBy()).toEqual([]);
    } finally {
      await listener.end();
    }
  });

  it('a node shutting down gives its leases up: another node takes its conversation at once', async () => {
    const schema = freshSchema();
    const a = node(schema, 'node-a');
    const b = node(schema, 'node-b');
    const owned = await a.start();
    await owned.run('one');
    const there = await b.resume(owned.id);
    await a.shutdown();
    const started = Date.now();
    const result = await there.run('two');
    expect(Date.now() - started).toBeLessThan(2000);
    expect(result.finalResponse).toContain('Turn 2');
    expect(there.residency).toBe('active');
    const lease = await adminQuery<{ owner_node: string }>(`SELECT owner_node FROM "${schema}".leases WHERE conversation_id = $1`, [owned.id]);
    expect(lease[0]?.owner_node).toBe('node-b');
  });
});

describe('naming a node', () => {
  it('takes the node id from createRuntime({ node }) before the store is used, and refuses it after', async () => {
    const schema = freshSchema();
    const store = postgresTestStore({ schema });
    const rt = createRuntime({ store, node: { id: 'named-node' }, passivateAfterMs: 0 });
    runtimes.push(rt);
    expect(rt.nodeId).toBe('named-node');
    const convo = await rt.start();
    const lease = await adminQuery<{ owner_node: string }>(`SELECT owner_node FROM "${schema}".leases WHERE conversation_id = $1`, [convo.id]);
    expect(lease[0]?.owner_node).toBe('named-node');
    expect(() => store.assignNodeId('another')).toThrow(/cannot change once it is used/);
    expect(() => postgresTestStore({ schema, nodeId: '' })).toThrow(/invalid node id/);
    expect(() => createRuntime({ node: { id: 'x' }, home: '/nonexistent-colloquy-home' })).toThrow(/not shared by a cluster/);
  });
});
