/**
 * Runtimes as nodes of a cluster sharing a store: one owner per conversation, any node takes
 * any op (routed to the owner), events followed on every node, a dead owner's conversations
 * taken over with nothing acknowledged lost, its late commits refused. The cluster here is in
 * process (`MemoryCluster`); the PostgreSQL one is tested in `test/store/postgres-cluster.test.ts`.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { createRuntime, InvalidOpError, LeaseLostError, localAgent, type Runtime } from '../../src/index.js';
import type { ThreadEvent } from '../../src/protocol/events.js';
import { draft } from '../../src/log/draft.js';
import { MemoryCluster } from '../support/memory-cluster.js';
import { expectNoEscapedErrors } from '../support/no-escapes.js';

expectNoEscapedErrors();

const runtimes: Runtime[] = [];
afterEach(async () => {
  await Promise.allSettled(runtimes.splice(0).map((r) => r.shutdown()));
});

function node(cluster: MemoryCluster, id: string, options: Parameters<typeof createRuntime>[0] = {}): Runtime {
  const rt = createRuntime({ store: cluster.node(id), passivateAfterMs: 0, onError: () => {}, ...options });
  runtimes.push(rt);
  return rt;
}

async function until(check: () => boolean | Promise<boolean>, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > end) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('a cluster of runtime nodes', () => {
  it('routes a turn submitted on another node to the owner, and both nodes see it', async () => {
    const cluster = new MemoryCluster(200);
    const a = node(cluster, 'A');
    const b = node(cluster, 'B');
    const owned = await a.start();
    await owned.run('one');
    const there = await b.resume(owned.id);
    expect(there.residency).toBe('remote');
    expect(there.info().owner).toBe('A');
    const seenOnA: string[] = [];
    owned.subscribe((e) => seenOnA.push(e.type));
    const result = await there.run('two');
    expect(result.finalResponse).toContain('Turn 2');
    expect(result.finalResponse).toContain('two');
    expect(seenOnA).toContain('turn.completed');
    // One log, numbered by one owner.
    const read = await b.read(owned.id);
    expect(read.turns.map((t) => t.status)).toEqual(['completed', 'completed']);
    expect(there.historyItems().map((i) => i.type)).toEqual(owned.historyItems().map((i) => i.type));
    expect(owned.residency).toBe('active');
  });

  it('tells a subscriber on another node every recorded event of a turn run on the owner, in order', async () => {
    const cluster = new MemoryCluster(200);
    const a = node(cluster, 'A');
    const b = node(cluster, 'B');
    const owned = await a.start();
    await owned.run('warm');
    const there = await b.resume(owned.id);
    const events: ThreadEvent[] = [];
    there.subscribe((e) => events.push(e));
    const local: ThreadEvent[] = [];
    owned.subscribe((e) => local.push(e));
    await owned.run('hello');
    await until(() => events.some((e) => e.type === 'turn.completed'));
    const recorded = (list: ThreadEvent[]) => list.filter((e) => e.type !== 'item.started' && e.type !== 'item.updated' && e.type !== 'thread.started');
    expect(events[0]?.type).toBe('thread.started');
    expect(recorded(events)).toEqual(recorded(local));
  });

  it('gives the caller on another node the typed error the owner refused the op with, and changes nothing', async () => {
    const cluster = new MemoryCluster(200);
    const a = node(cluster, 'A');
    const b = node(cluster, 'B');
    const owned = await a.start();
    const there = await b.resume(owned.id);
    const refused = await there.approve('no-such-call').catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(InvalidOpError);
    expect((refused as InvalidOpError).field).toBe('callId');
    expect(owned.state).toBe('idle');
    const read = await a.read(owned.id);
    expect(read.turns).toHaveLength(0);
  });

  it('answers a request sent again (its reply lost) once: the op is taken once', async () => {
    const cluster = new MemoryCluster(200);
    const a = node(cluster, 'A');
    const b = node(cluster, 'B');
    const owned = await a.start();
    const there = await b.resume(owned.id);
    cluster.dropReplies = 1;
    // Settles only on its reply: the first is lost, the request is sent again and answered once.
    await there.setName('renamed');
    expect(owned.name).toBe('renamed');
    const requests = cluster.sent.filter((s) => s.message.type === 'request');
    expect(requests.length).toBeGreaterThan(1);
    expect(new Set(requests.map((s) => s.message.requestId)).size).toBe(1);
    const names: unknown[] = [];
    for await (const record of cluster.shared.read(owned.id)) if (record.type === 'event' && record.payload.type === 'thread.name_updated') names.push(record);
    expect(names).toHaveLength(1);
  });

  it('takes a dead owner’s conversation over on the next op, with every acknowledged turn, and fences the old owner', async () => {
    const cluster = new MemoryCluster(200);
    const a = node(cluster, 'A');
    const b = node(cluster, 'B');
    const owned = await a.start();
    await owned.run('one');
    await owned.run('two');
    const there = await b.resume(owned.id);
    expect(there.residency).toBe('remote');
    // A stops answering (dead, or paused) and its lease runs out.
    cluster.partition('A');
    cluster.expire();
    const result = await there.run('three');
    expect(there.residency).toBe('active');
    expect(result.finalResponse).toContain('Turn 3');
    const read = await b.read(owned.id);
    expect(read.turns.map((t) => t.status)).toEqual(['completed', 'completed', 'completed']);
    // A comes back: it may no longer write; nothing of it is written.
    cluster.partition('A', false);
    const late = await owned.run('late').catch((e: unknown) => e);
    expect(late).toBeInstanceOf(LeaseLostError);
    const after = await b.read(owned.id);
    expect(after.turns).toHaveLength(3);
    expect(after.turns.every((t) => !t.items.some((i) => i.type === 'user_message' && i.text === 'late'))).toBe(true);
  });

  it('brings a turn followed on another node back when its owner dies mid-turn: the waiting run ends, the queued input runs there', async () => {
    const cluster = new MemoryCluster(200);
    const slow = localAgent({ script: { turns: [{ steps: [{ type: 'delay', ms: 60_000 }, { type: 'message', text: 'never' }] }], repeat: 'last' } });
    const a = node(cluster, 'A', { agent: slow });
    const b = node(cluster, 'B');
    const owned = await a.start();
    const there = await b.resume(owned.id);
    const running = there.run('long');
    running.catch(() => {});
    await until(() => there.state === 'processing');
    const queued = there.run('next', { mode: 'queue' });
    await until(() => there.info().queued === 1);
    cluster.partition('A');
    cluster.expire();
    // The open turn ends (its owner died); the queued input runs on B, which took it over.
    await expect(running).rejects.toMatchObject({ code: 'turn_aborted' });
    const next = await queued;
    expect(next.finalResponse).toContain('next');
    expect(there.residency).toBe('active');
  });

  it('closes a conversation on its owner when closed through another node', async () => {
    const cluster = new MemoryCluster(200);
    const a = node(cluster, 'A');
    const b = node(cluster, 'B');
    const owned = await a.start();
    await owned.run('one');
    const there = await b.resume(owned.id);
    await there.close();
    expect(there.residency).toBe('closed');
    await until(() => owned.residency === 'closed');
    // It can be resumed anywhere afterwards; B takes it now that nobody owns it.
    const again = await b.resume(owned.id);
    expect(again.residency).toBe('active');
  });

  it('hands a conversation back: a node shutting down gives its leases up, another takes it at once', async () => {
    const cluster = new MemoryCluster(60_000);
    const a = node(cluster, 'A');
    const b = node(cluster, 'B');
    const owned = await a.start();
    await owned.run('one');
    const there = await b.resume(owned.id);
    await a.shutdown();
    const result = await there.run('two');
    expect(result.finalResponse).toContain('Turn 2');
    expect(there.residency).toBe('active');
  });

  it('a node shutting down stops following other nodes’ conversations without closing them', async () => {
    const cluster = new MemoryCluster(200);
    const a = node(cluster, 'A');
    const b = node(cluster, 'B');
    const owned = await a.start();
    const there = await b.resume(owned.id);
    await b.shutdown();
    expect(owned.residency).not.toBe('closed');
    await owned.run('still here');
    expect(there.residency).not.toBe('active');
  });

  it('appends a client’s records through the owner, numbered by it, and refuses a stale expected seq there', async () => {
    const cluster = new MemoryCluster(200);
    const a = node(cluster, 'A');
    const b = node(cluster, 'B');
    const owned = await a.start();
    await owned.run('one');
    const there = await b.resume(owned.id);
    const usage = { input_tokens: 1, cached_input_tokens: 0, output_tokens: 1, reasoning_output_tokens: 0 };
    const turn = [
      draft('event', { type: 'turn.started', turn_id: 'T-client', kind: 'regular' }),
      draft('item', { turn_id: 'T-client', item: { id: 'item_90', type: 'user_message', text: 'from a client' } }),
      draft('event', { type: 'turn.completed', turn_id: 'T-client', usage, turn_usage: usage }),
    ];
    const next = owned.fold?.nextSeq ?? -1;
    const written = await there.appendRecords(turn, { expectedSeq: next });
    expect(written.map((r) => r.seq)).toEqual([next, next + 1, next + 2]);
    expect(owned.fold?.nextSeq).toBe(next + 3);
    expect(there.fold?.nextSeq).toBe(next + 3);
    await expect(there.appendRecords(turn, { expectedSeq: next })).rejects.toBeInstanceOf(InvalidOpError);
    expect((await a.read(owned.id)).turns).toHaveLength(2);
  });

  it('deletes a conversation another node runs: it is stopped there first', async () => {
    const cluster = new MemoryCluster(200);
    const a = node(cluster, 'A');
    const b = node(cluster, 'B');
    const owned = await a.start();
    await owned.run('one');
    await b.delete(owned.id);
    await until(() => owned.residency === 'closed');
    expect(await a.store.exists(owned.id)).toBe(false);
  });

  it('lets go of a remote conversation nobody uses (passivation on the follower), and follows it again on the next use', async () => {
    const cluster = new MemoryCluster(200);
    const a = node(cluster, 'A');
    const b = node(cluster, 'B', { passivateAfterMs: 40 });
    const owned = await a.start();
    const there = await b.resume(owned.id);
    expect(there.residency).toBe('remote');
    await until(() => there.residency === 'passivated');
    expect(there.fold).toBeNull();
    const result = await there.run('back');
    expect(result.finalResponse).toContain('Turn 1');
    expect(there.residency).toBe('remote');
    expect(owned.residency).toBe('active');
  });
});

