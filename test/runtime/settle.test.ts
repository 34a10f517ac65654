/**
 * Shutdown and close always settle, and never take the host process down: with the disk full
 * or the write lease lost they reject with a typed error naming what could not be written, and
 * what could not be written stays in memory for a retry.
 */
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { FileStore, localAgent, LeaseLostError, ShutdownError, StoreError } from '../../src/index.js';
import { expectNoEscapedErrors } from '../support/no-escapes.js';
import { errnoError, FaultyFileSystem } from '../store/helpers.js';
import { next, runtime, tempHome } from './helpers.js';

expectNoEscapedErrors();

const slow = () => localAgent({ script: { turns: [{ steps: [{ type: 'delay', ms: 100 }, { type: 'message', text: 'answer' }] }], repeat: 'last' } });

describe('close and shutdown settle', () => {
  for (const code of ['ENOSPC', 'EIO']) {
    it(`close with the disk failing (${code}) rejects with a StoreError, and succeeds once the disk is back`, async () => {
      const home = await tempHome();
      const fs = new FaultyFileSystem();
      const store = new FileStore({ home, fs });
      const rt = runtime({ store, agent: slow() });
      const convo = await rt.start();
      await convo.run('before');
      fs.inject('writeAll', `${convo.id}.jsonl`, errnoError(code));
      const failed = next(convo, 'error');
      const running = convo.run('during');
      running.catch(() => {});
      await failed;
      await expect(convo.close()).rejects.toBeInstanceOf(StoreError);
      expect(convo.state).toBe('error');
      fs.clear();
      await convo.close();
      expect(convo.state).toBe('closed');
      const read = await rt.read(convo.id);
      expect(read.turns.map((t) => t.status)).toEqual(['completed', 'aborted']);
    });
  }

  it('shutdown with the disk full rejects with a ShutdownError naming the conversation; a retry once the disk is back writes everything', async () => {
    const home = await tempHome();
    const fs = new FaultyFileSystem();
    const store = new FileStore({ home, fs });
    const rt = runtime({ store, agent: slow() });
    const full = await rt.start();
    const fine = await rt.start();
    await full.run('before');
    await fine.run('fine');
    fs.inject('writeAll', `${full.id}.jsonl`, errnoError('ENOSPC'));
    const failed = next(full, 'error');
    full.run('during').catch(() => {});
    await failed;
    const error = await rt.shutdown().then(
      () => null,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(ShutdownError);
    expect((error as ShutdownError).failures.map((f) => f.conversationId)).toEqual([full.id]);
    expect((error as Error).message).toContain(full.id);
    expect((error as Error).message).toContain('ENOSPC');
    // The other conversation closed; the full one kept what it could not write.
    expect(fine.state).toBe('closed');
    expect(full.state).toBe('error');
    fs.clear();
    await rt.shutdown();
    expect(full.state).toBe('closed');
    const again = runtime({ home });
    expect((await again.read(full.id)).turns.map((t) => t.status)).toEqual(['completed', 'aborted']);
  });

  it('a lost lease: the conversation goes to error with LeaseLostError and stops; close and shutdown settle', async () => {
    const home = await tempHome();
    const store = new FileStore({ home });
    const rt = runtime({ store });
    const convo = await rt.start();
    await convo.run('mine');
    const log = readFileSync(store.paths.log(convo.id, false));
    // Another process takes the conversation over (as after this one stalled past its lease).
    const lease = join(home, 'leases', `${convo.id}.lease`);
    writeFileSync(`${lease}.new`, JSON.stringify({ pid: 999_999, host: 'elsewhere', since: new Date().toISOString(), token: 7 }));
    renameSync(`${lease}.new`, lease);
    await expect(convo.run('after the takeover')).rejects.toBeInstanceOf(LeaseLostError);
    expect(convo.state).toBe('closed');
    expect(() => convo.submit({ type: 'set_name', name: 'x' })).toThrow(LeaseLostError);
    // Nothing more was written, and closing and shutting down settle.
    expect(readFileSync(store.paths.log(convo.id, false))).toEqual(log);
    await convo.close();
    await rt.shutdown();
  });
});
