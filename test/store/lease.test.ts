import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createRuntime, FileStore, newConversationId, SessionLockedError } from '../../src/index.js';
import { LeaseLostError } from '../../src/store/lease.js';
import { logRecords } from './helpers.js';

const SYNC = { durability: 'sync' as const };
const homes: string[] = [];
afterEach(() => {
  for (const h of homes.splice(0)) rmSync(h, { recursive: true, force: true });
});
function home(): string {
  const dir = mkdtempSync(join(tmpdir(), 'colloquy-lease-'));
  homes.push(dir);
  return dir;
}
const leaseOf = (h: string, id: string) => JSON.parse(readFileSync(join(h, 'leases', `${id}.lease`), 'utf8'));

/** A child process that takes a conversation's lease (through a runtime) and holds it until killed. */
function holder(h: string, id: string): Promise<{ pid: number; kill: () => Promise<void> }> {
  const script = `
    import { FileStore } from ${JSON.stringify(new URL('../../dist/src/index.js', import.meta.url).href)};
    const store = new FileStore({ home: ${JSON.stringify(h)} });
    await store.acquire(${JSON.stringify(id)});
    process.stdout.write('held\\n');
    setInterval(() => {}, 1000);
  `;
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.stdout.once('data', () =>
      resolve({
        pid: child.pid as number,
        kill: () =>
          new Promise((done) => {
            child.once('exit', () => done());
            child.kill('SIGKILL');
          }),
      }),
    );
  });
}

describe('write leases', () => {
  it('a second writer gets SessionLockedError naming the holder; reading still works', async () => {
    const h = home();
    const id = newConversationId();
    const a = new FileStore({ home: h });
    await a.commit([{ conversationId: id, records: logRecords(id, 3) }], SYNC);
    const b = new FileStore({ home: h });
    const err = await b.acquire(id).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SessionLockedError);
    expect((err as SessionLockedError).holder.pid).toBe(process.pid);
    const [outcome] = await b.commit([{ conversationId: id, records: logRecords(id, 5).slice(3) }], SYNC);
    expect(outcome).toMatchObject({ ok: false, error: { code: 'session_locked' } });
    let n = 0;
    for await (const _ of b.read(id)) n++;
    expect(n).toBe(3);
    await a.close();
    await b.acquire(id);
    expect(leaseOf(h, id).token).toBe(2);
    await b.close();
  });

  it('excludes another process, and takes over once it is dead', async () => {
    const h = home();
    const id = newConversationId();
    const other = await holder(h, id);
    const store = new FileStore({ home: h });
    const err = await store.acquire(id).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SessionLockedError);
    expect((err as SessionLockedError).holder.pid).toBe(other.pid);
    expect((err as SessionLockedError).message).toContain(`process ${other.pid}`);
    await other.kill();
    await store.acquire(id);
    expect(leaseOf(h, id)).toMatchObject({ pid: process.pid, token: 2 });
    await store.close();
    expect(leaseOf(h, id)).toMatchObject({ released: true, token: 2 });
  }, 30_000);

  it('a writer that lost its lease cannot append', async () => {
    const h = home();
    const id = newConversationId();
    const store = new FileStore({ home: h });
    await store.commit([{ conversationId: id, records: logRecords(id, 2) }], SYNC);
    const path = join(h, 'leases', `${id}.lease`);
    // Another writer took the lease over (as after this one stalled past its expiry).
    writeFileSync(`${path}.new`, JSON.stringify({ pid: 999_999, host: 'elsewhere', since: new Date().toISOString(), token: 7 }));
    const { renameSync } = await import('node:fs');
    renameSync(`${path}.new`, path);
    const before = readFileSync(join(store.paths.dayDir(id, false), `${id}.jsonl`));
    const [outcome] = await store.commit([{ conversationId: id, records: logRecords(id, 3).slice(2) }], SYNC);
    expect(outcome).toMatchObject({ ok: false, error: { code: 'lease_lost' } });
    expect(readFileSync(join(store.paths.dayDir(id, false), `${id}.jsonl`))).toEqual(before);
    expect(new LeaseLostError(id, null).message).toContain('resume the conversation');
    await store.close();
  });

  it('two runtimes: exactly one writes a conversation', async () => {
    const h = home();
    const a = createRuntime({ home: h });
    const convo = await a.start();
    await convo.run('one');
    const b = createRuntime({ home: h });
    await expect(b.resume(convo.id)).rejects.toBeInstanceOf(SessionLockedError);
    expect((await b.read(convo.id)).turns).toHaveLength(1);
    await a.shutdown();
    const resumed = await b.resume(convo.id);
    expect((await resumed.run('two')).finalResponse).toContain('Turn 2');
    await b.shutdown();
  });
});
