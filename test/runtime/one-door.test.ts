/**
 * One door to the log: only the persistence actor commits to the store, and only conversation
 * actors number records (a shard writes nothing but a new conversation's header, at seq 0).
 * Everything that writes is exercised — turns with approvals and queued input, names, forks,
 * compaction, the Agents SDK session, the Codex import, the global message history — through a
 * store that checks who calls it.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import type { AgentInputItem } from '@openai/agents';
import { describe, expect, it } from 'vitest';
import type { InspectionEvent } from 'xstate';
import { colloquySession } from '../../src/clients/openai-agents/index.js';
import { importCodexRollout } from '../../src/import/codex.js';
import { localAgent, MemoryStore, type CommitEntry, type CommitOptions, type CommitOutcome, type LogRecord } from '../../src/index.js';
import { fixturePath } from '../import/fixtures.js';
import { commandTurn, runtime } from './helpers.js';

/** A memory store that records every commit with the stack that made it, and every history write. */
class WatchedStore extends MemoryStore {
  readonly commits: { stack: string; entries: readonly CommitEntry[] }[] = [];
  readonly historyWrites: { inCommit: boolean }[] = [];
  #inCommit = false;

  constructor() {
    super();
    const record = this.history.record.bind(this.history);
    this.history.record = (inputs) => {
      this.historyWrites.push({ inCommit: this.#inCommit });
      record(inputs);
    };
  }

  override async commit(entries: readonly CommitEntry[], options: CommitOptions): Promise<CommitOutcome[]> {
    this.commits.push({ stack: new Error('commit').stack ?? '', entries });
    this.#inCommit = true;
    try {
      return await super.commit(entries, options);
    } finally {
      this.#inCommit = false;
    }
  }
}

/** Every append sent to the persistence actor: who sent it and what. */
function appends(): { inspect: (e: InspectionEvent) => void; seen: { from: string; records: readonly LogRecord[] }[] } {
  const seen: { from: string; records: readonly LogRecord[] }[] = [];
  return {
    seen,
    inspect: (e) => {
      if (e.type !== '@xstate.event' || (e.actorRef as { id?: string }).id !== 'persistence') return;
      const event = e.event as { type: string; request?: { records: readonly LogRecord[] } };
      if (event.type !== 'append' || !event.request) return;
      seen.push({ from: (e.sourceRef as { id?: string } | undefined)?.id ?? '(outside the actor system)', records: event.request.records });
    },
  };
}

const user = (text: string): AgentInputItem => ({ role: 'user', content: text });

describe('one door to the log', () => {
  it('every commit comes from the persistence actor, and every record is numbered by its conversation actor', async () => {
    const store = new WatchedStore();
    const watch = appends();
    const agent = localAgent({ script: { turns: [commandTurn('make deploy'), { steps: [{ type: 'message', text: 'ok' }] }], repeat: 'last' } });
    const rt = runtime({ store, agent, inspect: watch.inspect });

    // Turns, an approval, queued input, a name, a compaction, a fork.
    const convo = await rt.start({ approvalPolicy: 'on-request' });
    const stop = convo.subscribe((e) => {
      if (e.type === 'approval.requested') void convo.approve(e.callId, 'approved');
    });
    const first = convo.run('deploy');
    const second = convo.run('then report', { mode: 'queue' });
    await Promise.all([first, second]);
    stop();
    await convo.setName('audited');
    await convo.compact();
    const fork = await rt.fork(convo.id);
    await fork.run('on the fork');
    // The Agents SDK session and the Codex import, clients of the runtime.
    const session = colloquySession(rt, { name: 'sdk' });
    await session.addItems([user('from the session')]);
    await session.popItem();
    await session.clearSession();
    const imported = await importCodexRollout(rt, fixturePath('multi-turn-resume'));
    await (await rt.resume(imported.id)).run('after the import');
    await rt.shutdown();

    expect(store.commits.length).toBeGreaterThan(5);
    for (const commit of store.commits) expect(commit.stack).toContain('commitThroughPersistence');
    // The message history is written in those commits, and only there.
    expect(store.historyWrites.length).toBeGreaterThan(0);
    expect(store.historyWrites.every((w) => w.inCommit)).toBe(true);
    const texts = (await store.history.list({ limit: 100 })).map((e) => e.text);
    expect(texts).toEqual(expect.arrayContaining(['deploy', 'then report', 'on the fork', 'from the session', 'after the import']));

    // Who numbered what: conversation actors, and shards only for a new conversation's header.
    expect(watch.seen.length).toBeGreaterThan(5);
    for (const { from, records } of watch.seen) {
      if (from.startsWith('conversation:')) continue;
      expect(from).toMatch(/^shard:\d+$/);
      expect(records.map((r) => [r.type, r.seq])).toEqual([['session_meta', 0]]);
    }
    // Every log is numbered without gaps or repeats.
    for (const id of [convo.id, fork.id, session.conversationId, imported.id]) {
      const seqs: number[] = [];
      for await (const r of store.read(id)) seqs.push(r.seq);
      expect(seqs).toEqual(seqs.map((_, i) => (seqs[0] ?? 0) + i));
    }
  });

  it('no module but the persistence actor calls Store.commit (in src/ and machines/)', () => {
    const root = join(__dirname, '..', '..');
    const offenders: string[] = [];
    const walk = (dir: string): void => {
      for (const name of readdirSync(dir)) {
        const path = join(dir, name);
        if (statSync(path).isDirectory()) walk(path);
        else if (name.endsWith('.ts')) {
          const rel = relative(root, path);
          // The store's own modules implement `commit`; `system.ts` is the persistence actor's binding.
          if (rel.startsWith(join('src', 'store')) || rel === join('src', 'runtime', 'system.ts')) continue;
          if (/\.commit\(/.test(readFileSync(path, 'utf8'))) offenders.push(rel);
        }
      }
    };
    walk(join(root, 'src'));
    walk(join(root, 'machines'));
    expect(offenders).toEqual([]);
  });
});
