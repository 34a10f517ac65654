import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  ConversationBusyError,
  ConversationClosedError,
  ConversationHasForksError,
  InvalidIdError,
  InvalidOpError,
  localAgent,
  SessionLockedError,
  SessionNotFoundError,
  TurnAbortedError,
  TurnFailedError,
  type ThreadEvent,
} from '../../src/index.js';
import { commandTurn, next, record, runtime, tempHome } from './helpers.js';
import { expectNoEscapedErrors } from '../support/no-escapes.js';

// No error may escape as an uncaught exception or an unhandled rejection.
expectNoEscapedErrors();

describe('runtime: conversations end to end', () => {
  it('runs turns, and a new runtime resumes the conversation from its log with its history', async () => {
    const home = await tempHome();
    const first = runtime({ home });
    const convo = await first.start({ name: 'three turns' });
    expect(convo.state).toBe('idle');
    const answers: string[] = [];
    for (const text of ['alpha', 'beta', 'gamma']) answers.push((await convo.run(text)).finalResponse);
    expect(answers[0]).toContain('Turn 1');
    expect(answers[2]).toContain('Before that you said: "beta"');
    await first.shutdown();
    expect(convo.state).toBe('closed');

    const second = runtime({ home });
    const resumed = await second.resume(convo.id);
    expect(resumed.id).toBe(convo.id);
    expect(resumed.name).toBe('three turns');
    const result = await resumed.run('delta');
    expect(result.finalResponse).toContain('Turn 4');
    expect(result.finalResponse).toContain('Before that you said: "gamma"');
    const read = await second.read(convo.id);
    expect(read.turns.map((t) => t.status)).toEqual(['completed', 'completed', 'completed', 'completed']);
  });

  it('forks before turn 2 into a new conversation with one turn, leaving the source untouched', async () => {
    const home = await tempHome();
    const rt = runtime({ home });
    const source = await rt.start();
    for (const text of ['one', 'two', 'three']) await source.run(text);
    const before = await rt.read(source.id);
    const fork = await rt.fork(source.id, { beforeUserTurn: 2 });
    expect(fork.id).not.toBe(source.id);
    const forked = await rt.read(fork.id);
    expect(forked.turns).toHaveLength(1);
    expect(forked.meta.forked_from?.id).toBe(source.id);
    // The fork continues from turn 1.
    expect((await fork.run('branch')).finalResponse).toContain('Turn 2. You said: "branch". Before that you said: "one"');
    expect(await rt.read(source.id)).toEqual(before);
    // Forks of forks work.
    const grandchild = await rt.fork(fork.id);
    expect((await rt.read(grandchild.id)).turns.map((t) => t.items.find((i) => i.type === 'user_message'))).toMatchObject([
      { text: 'one' },
      { text: 'branch' },
    ]);
    await expect(rt.fork(source.id, { beforeUserTurn: 9 })).rejects.toThrow(InvalidOpError);
  });

  it('streams a turn in the Codex SDK order', async () => {
    const rt = runtime();
    const convo = await rt.start();
    const { events } = await convo.runStreamed('hello');
    const types: string[] = [];
    for await (const e of events) types.push(e.type);
    expect(types).toEqual(['thread.started', 'turn.started', 'item.completed', 'item.completed', 'turn.completed']);
  });

  it('runs 200 conversations concurrently', async () => {
    const home = await tempHome();
    const rt = runtime({ home });
    const convos = await Promise.all(Array.from({ length: 200 }, () => rt.start()));
    const results = await Promise.all(convos.map(async (c, i) => [await c.run(`a${i}`), await c.run(`b${i}`)] as const));
    results.forEach(([a, b], i) => {
      expect(a.finalResponse).toContain(`You said: "a${i}"`);
      expect(b.finalResponse).toContain(`Before that you said: "a${i}"`);
    });
    const page = await rt.list({ limit: 1000 });
    expect(page.items).toHaveLength(200);
  });
});

describe('runtime: approvals', () => {
  const scripted = () => localAgent({ script: { turns: [commandTurn()], repeat: 'last' } });

  it('waits for approval, then runs the command when approved', async () => {
    const rt = runtime({ agent: scripted() });
    const convo = await rt.start();
    const asked = next(convo, 'approval.requested');
    const result = convo.run('go');
    const request = await asked;
    expect(convo.state).toBe('processing');
    expect(convo.pendingApprovals).toEqual([{ turnId: request.turn_id, callId: request.callId, item: request.item }]);
    await convo.approve(request.callId, 'approved');
    const done = await result;
    expect(done.items.find((i) => i.type === 'command_execution')).toMatchObject({ status: 'completed', aggregated_output: 'hi\n' });
    expect(done.finalResponse).toBe('done');
  });

  it('declines the command when denied, and the turn goes on', async () => {
    const rt = runtime({ agent: scripted() });
    const convo = await rt.start();
    const asked = next(convo, 'approval.requested');
    const result = convo.run('go');
    await convo.approve((await asked).callId, 'denied');
    const done = await result;
    expect(done.items.find((i) => i.type === 'command_execution')).toMatchObject({ status: 'declined' });
    expect(done.finalResponse).toBe('done');
  });

  it('remembers approved_for_session for the rest of the conversation', async () => {
    const rt = runtime({ agent: scripted() });
    const convo = await rt.start();
    const asked = next(convo, 'approval.requested');
    const first = convo.run('go');
    await convo.approve((await asked).callId, 'approved_for_session');
    await first;
    const events = record(convo);
    await convo.run('again');
    expect(events.some((e) => e.type === 'approval.requested')).toBe(false);
  });

  it('interrupting while an approval is pending aborts the turn', async () => {
    const rt = runtime({ agent: scripted() });
    const convo = await rt.start();
    const asked = next(convo, 'approval.requested');
    const result = convo.run('go');
    await asked;
    const aborted = next(convo, 'turn.aborted');
    await convo.interrupt();
    expect((await aborted).reason).toBe('interrupted');
    await expect(result).rejects.toBeInstanceOf(TurnAbortedError);
    expect(convo.state).toBe('idle');
    expect(convo.pendingApprovals).toEqual([]);
  });

  it('an abort decision interrupts the turn', async () => {
    const rt = runtime({ agent: scripted() });
    const convo = await rt.start();
    const asked = next(convo, 'approval.requested');
    const result = convo.run('go');
    await convo.approve((await asked).callId, 'abort');
    await expect(result).rejects.toMatchObject({ reason: 'interrupted' });
  });

  it('approval policy never runs without asking', async () => {
    const rt = runtime({ agent: scripted() });
    const convo = await rt.start({ approvalPolicy: 'never' });
    const events = record(convo);
    const done = await convo.run('go');
    expect(events.some((e) => e.type === 'approval.requested')).toBe(false);
    expect(done.items.find((i) => i.type === 'command_execution')).toMatchObject({ status: 'completed' });
  });

  it('rejects an approval for an unknown call id, changing nothing', async () => {
    const rt = runtime({ agent: scripted() });
    const convo = await rt.start();
    const asked = next(convo, 'approval.requested');
    const result = convo.run('go');
    const request = await asked;
    const snapshot = convo.actor?.getSnapshot();
    await expect(convo.approve('call_nope', 'approved')).rejects.toMatchObject({ field: 'callId' });
    expect(convo.actor?.getSnapshot()).toBe(snapshot);
    await convo.approve(request.callId, 'approved');
    await result;
  });

  it('a pending approval survives a crash: the resumed conversation shows it and approving continues the turn', async () => {
    const home = await tempHome();
    const agent = scripted();
    const first = runtime({ home, agent });
    const convo = await first.start();
    const asked = next(convo, 'approval.requested');
    void convo.run('go').catch(() => {});
    const request = await asked;
    // Let the request be written, then "crash": a second runtime opens the same log.
    await new Promise((r) => setTimeout(r, 50));
    const second = runtime({ home, agent });
    const read = await second.read(convo.id);
    expect(read.pending.approvals).toMatchObject([{ callId: request.callId }]);
    // While the first runtime holds the write lease, the second cannot take the conversation over.
    await expect(second.resume(convo.id)).rejects.toBeInstanceOf(SessionLockedError);
    // The first process "dies": its lease goes (as a dead pid's would), and it never closes the conversation.
    await first.store.release(convo.id);
    (first as unknown as { shutdown(): Promise<void> }).shutdown = async () => {};
    const resumed = await second.resume(convo.id);
    expect(resumed.pendingApprovals.map((p) => p.callId)).toEqual([request.callId]);
    const completed = next(resumed, 'turn.completed');
    await resumed.approve(request.callId, 'approved');
    await completed;
    const after = await second.read(convo.id);
    const turn = after.turns[0]!;
    expect(turn.status).toBe('completed');
    // The command ran once and was recorded once.
    expect(turn.items.filter((i) => i.type === 'command_execution')).toHaveLength(1);
    expect(turn.items.filter((i) => i.type === 'agent_message').map((i) => (i as { text: string }).text)).toEqual(['done']);
  });
});

describe('runtime: busy input, interrupts, failures', () => {
  const slow = (ms = 300) => localAgent({ script: { turns: [{ steps: [{ type: 'delay', ms }, { type: 'message', text: 'slow answer' }] }], repeat: 'last' } });

  it('queue runs input as the next turn; steer joins the running turn', async () => {
    const rt = runtime({ agent: slow() });
    const convo = await rt.start();
    const started = next(convo, 'turn.started');
    const first = convo.run('first');
    await started;
    const queued = convo.run('queued', { mode: 'queue' });
    const steered = convo.run('steered', { mode: 'steer' });
    const [a, b, c] = await Promise.all([first, queued, steered]);
    expect(c.turnId).toBe(a.turnId);
    expect(a.items.map((i) => i.type)).toEqual(['user_message', 'agent_message', 'user_message', 'agent_message']);
    expect(a.finalResponse).toBe('You added: "steered".');
    expect(b.turnId).not.toBe(a.turnId);
    expect(b.items[0]).toMatchObject({ type: 'user_message', text: 'queued' });
  });

  it('reject refuses input while a turn runs, changing nothing', async () => {
    const rt = runtime({ agent: slow() });
    const convo = await rt.start();
    const started = next(convo, 'turn.started');
    const first = convo.run('first');
    await started;
    const snapshot = convo.actor?.getSnapshot();
    expect(() => convo.submit({ type: 'user_input', items: [{ type: 'text', text: 'x' }], mode: 'reject' })).toThrow(ConversationBusyError);
    expect(convo.actor?.getSnapshot()).toBe(snapshot);
    await first;
  });

  it('interrupt mode aborts the running turn and starts the new one', async () => {
    const rt = runtime({ agent: slow(5_000) });
    const convo = await rt.start();
    const started = next(convo, 'turn.started');
    const first = convo.run('first');
    await started;
    const aborted = next(convo, 'turn.aborted');
    const replacing = convo.run('instead', { mode: 'interrupt' });
    expect((await aborted).reason).toBe('replaced');
    await expect(first).rejects.toBeInstanceOf(TurnAbortedError);
    await convo.interrupt();
    await expect(replacing).rejects.toBeInstanceOf(TurnAbortedError);
  });

  it('an AbortSignal interrupts the turn through its signal', async () => {
    const rt = runtime({ agent: slow(5_000) });
    const convo = await rt.start();
    const controller = new AbortController();
    const started = next(convo, 'turn.started');
    const result = convo.run('go', { signal: controller.signal });
    await started;
    const t0 = Date.now();
    controller.abort();
    await expect(result).rejects.toBeInstanceOf(TurnAbortedError);
    expect(Date.now() - t0).toBeLessThan(2_000);
    const read = await rt.read(convo.id);
    expect(read.turns[0]).toMatchObject({ status: 'aborted', reason: 'interrupted' });
  });

  it('a failed turn leaves the conversation in error; retry runs it again, reset returns to idle', async () => {
    let calls = 0;
    const flaky = async function* (turn: { newItemId(): string }) {
      calls++;
      if (calls === 1) throw new Error('model overloaded');
      yield { type: 'item.completed' as const, item: { id: turn.newItemId(), type: 'agent_message' as const, text: `ok ${calls}` } };
    };
    const rt = runtime({ agent: flaky as never });
    const convo = await rt.start();
    await expect(convo.run('go')).rejects.toBeInstanceOf(TurnFailedError);
    expect(convo.state).toBe('error');
    const completed = next(convo, 'turn.completed');
    await convo.retry();
    await completed;
    expect(convo.state).toBe('idle');
    const read = await rt.read(convo.id);
    expect(read.turns.map((t) => t.status)).toEqual(['failed', 'completed']);
    expect(read.turns[1]?.items.map((i) => i.type)).toEqual(['user_message', 'agent_message']);
    // Retry and reset are refused outside the error state.
    await expect(convo.retry()).rejects.toBeInstanceOf(InvalidOpError);
    await expect(convo.reset()).rejects.toBeInstanceOf(InvalidOpError);
  });

  it('an agent producing an invalid item fails the turn with a typed error naming the field', async () => {
    const bad = async function* () {
      yield { type: 'item.completed' as const, item: { id: 'x', type: 'agent_message', text: 42 } };
    };
    const rt = runtime({ agent: bad as never });
    const convo = await rt.start();
    await expect(convo.run('go')).rejects.toMatchObject({ message: expect.stringContaining('item.text') });
    await convo.reset();
    expect(convo.state).toBe('idle');
  });

  it('an invalid op changes nothing and names the bad field', async () => {
    const rt = runtime();
    const convo = await rt.start();
    const snapshot = convo.actor?.getSnapshot();
    expect(() => convo.submit({ type: 'user_input', items: [{ type: 'text' }] })).toThrow(/items\[0\]\.text/);
    expect(() => convo.submit({ type: 'rollback', turns: 3 })).toThrow(InvalidOpError);
    expect(() => convo.submit({ type: 'retry' })).toThrow(InvalidOpError);
    expect(() => convo.submit({ type: 'teleport' })).toThrow(InvalidOpError);
    expect(convo.actor?.getSnapshot()).toBe(snapshot);
  });

  it('closing interrupts the running turn, flushes, and refuses later ops', async () => {
    const rt = runtime({ agent: slow(5_000) });
    const convo = await rt.start();
    const events = record(convo);
    const started = next(convo, 'turn.started');
    const result = convo.run('go');
    await started;
    await convo.close();
    await expect(result).rejects.toMatchObject({ reason: 'shutdown' });
    expect(events.at(-1)).toEqual({ type: 'thread.closed' });
    expect(convo.state).toBe('closed');
    expect(() => convo.submit({ type: 'set_name', name: 'x' })).toThrow(ConversationClosedError);
    expect(rt.get(convo.id)).toBeUndefined();
  });
});

describe('runtime: history operations', () => {
  it('compaction replaces the history with a summary the agent sees', async () => {
    const rt = runtime({ context: { keepUserTokens: 0 } });
    const convo = await rt.start();
    await convo.run('remember the moon');
    await convo.run('and the stars');
    const compacted = next(convo, 'context.compacted');
    await convo.compact();
    await compacted;
    expect(convo.historyItems()).toEqual([]);
    const after = await convo.run('what did I say?');
    expect(after.finalResponse).toContain('Turn 4');
    expect(after.finalResponse).toContain('Earlier turns were compacted');
    // The summary survives a resume.
    const read = await rt.read(convo.id);
    expect(read.turns.map((t) => t.kind)).toEqual(['regular', 'regular', 'compact', 'regular']);
  });

  it('rollback drops the last turns from the history but keeps them in the log', async () => {
    const rt = runtime();
    const convo = await rt.start();
    await convo.run('one');
    await convo.run('two');
    await convo.rollback(1);
    expect((await convo.run('three')).finalResponse).toContain('Before that you said: "one"');
    expect((await rt.read(convo.id)).turns).toHaveLength(3);
    await expect(convo.rollback(9)).rejects.toMatchObject({ field: 'turns' });
  });

  it('names a conversation and lists it', async () => {
    const rt = runtime();
    const convo = await rt.start({ metadata: { team: 'a' } });
    const named = next(convo, 'thread.name_updated');
    await convo.setName('research');
    expect((await named).name).toBe('research');
    expect(convo.name).toBe('research');
    const page = await rt.list({ name: 'search', metadata: { team: 'a' } });
    expect(page.items.map((s) => s.id)).toEqual([convo.id]);
  });

  it('refuses a metadata key "__proto__" (it could not be read back) and starts nothing', async () => {
    const rt = runtime();
    const metadata = JSON.parse('{"__proto__": "x", "team": "a"}') as Record<string, string>;
    await expect(rt.start({ metadata })).rejects.toBeInstanceOf(InvalidOpError);
    expect((await rt.list()).items).toEqual([]);
  });

  it('refuses options that are not an object (null, an array, a string) with an InvalidOpError, and starts nothing', async () => {
    const rt = runtime();
    for (const options of [null, [], 'fast', 7]) {
      const err = await rt.start(options as never).catch((e: unknown) => e);
      expect(err, JSON.stringify(options)).toBeInstanceOf(InvalidOpError);
      expect((err as InvalidOpError).field).toBe('(root)');
      expect((err as InvalidOpError).message).toMatch(/start options/);
    }
    const forkErr = await rt.fork((await rt.start()).id, null as never).catch((e: unknown) => e);
    expect(forkErr).toBeInstanceOf(InvalidOpError);
    expect((await rt.list()).items).toHaveLength(1);
  });

  it('refuses ids whose ULID time overflows (first character 8 to Z) with an InvalidIdError, never a raw ULID error', async () => {
    const rt = runtime();
    for (const id of ['ZZZZZZZZZZZZZZZZZZZZZZZZZZ', '80000000000000000000000000', 'zzzzzzzzzzzzzzzzzzzzzzzzzz']) {
      for (const call of [() => rt.read(id), () => rt.resume(id), () => rt.fork(id), () => rt.archive(id), () => rt.delete(id), () => rt.forks(id)]) {
        const err = await call().catch((e: unknown) => e);
        expect(err, id).toBeInstanceOf(InvalidIdError);
        expect((err as InvalidIdError).code).toBe('invalid_id');
      }
    }
  });

  it('refuses to delete a conversation others were forked from, until the forks are gone', async () => {
    const home = await tempHome();
    const rt = runtime({ home });
    const source = await rt.start();
    await source.run('the beginning');
    const fork = await rt.fork(source.id);
    const archivedFork = await rt.fork(source.id);
    await rt.archive(archivedFork.id);
    expect(await rt.forks(source.id)).toEqual([fork.id, archivedFork.id]);
    const refused = await rt.delete(source.id).catch((err: unknown) => err);
    expect(refused).toBeInstanceOf(ConversationHasForksError);
    expect(refused).toMatchObject({ code: 'has_forks', sessionId: source.id, forks: [fork.id, archivedFork.id] });
    // Nothing was deleted: the source and its forks still read.
    expect((await rt.read(source.id)).turns).toHaveLength(1);
    expect((await rt.read(fork.id)).turns).toHaveLength(1);
    await rt.delete(fork.id);
    await rt.delete(archivedFork.id);
    await rt.delete(source.id);
    await expect(rt.read(source.id)).rejects.toBeInstanceOf(SessionNotFoundError);
  });
});

describe('runtime: subscriptions and errors', () => {
  it('gives every subscriber thread.started first, with the settings of the session (as Codex\'s SessionConfigured)', async () => {
    const rt = runtime();
    const convo = await rt.start({ name: 'configured', sandbox: 'workspace-write' });
    await convo.run('x');
    const events: ThreadEvent[] = [];
    convo.subscribe((e) => events.push(e));
    expect(events[0]).toEqual({
      type: 'thread.started',
      thread_id: convo.id,
      model: 'local',
      cwd: convo.config.cwd,
      approval_policy: 'on-request',
      sandbox: 'workspace-write',
      name: 'configured',
      turns: 1,
      history_turns: 1,
    });
    // Still a valid event of the Codex SDK's vocabulary: its own fields are there, the rest are extra.
    expect(events[0]).toMatchObject({ type: 'thread.started', thread_id: convo.id });
  });

  it('keeps the sandbox settings from start and override_turn_context, and refuses an unknown mode', async () => {
    const rt = runtime();
    const convo = await rt.start({ sandbox: 'workspace-write', networkAccess: true, writableRoots: ['/data'] });
    expect(convo.config).toMatchObject({ sandbox: 'workspace-write', networkAccess: true, writableRoots: ['/data'] });
    await convo.overrideTurnContext({ sandbox: 'read-only', networkAccess: false, writableRoots: [] });
    expect(convo.config).toMatchObject({ sandbox: 'read-only', networkAccess: false, writableRoots: [] });
    await expect(rt.start({ sandbox: 'readonly' as 'read-only' })).rejects.toBeInstanceOf(InvalidOpError);
    await expect(convo.overrideTurnContext({ sandbox: 'off' as 'read-only' })).rejects.toBeInstanceOf(InvalidOpError);
    expect(convo.config.sandbox).toBe('read-only');
  });

  it('reports a throwing listener to onError and keeps going', async () => {
    const reported: unknown[] = [];
    const rt = runtime({ onError: (err) => void reported.push(err) });
    const convo = await rt.start();
    convo.subscribe((e) => {
      if (e.type === 'turn.started') throw new Error('listener bug');
    });
    expect((await convo.run('x')).finalResponse).toContain('Turn 1');
    expect(reported).toHaveLength(1);
  });

  it('says which conversation is missing', async () => {
    const rt = runtime();
    await expect(rt.resume('01ARZ3NDEKTSV4RRFFQ69G5FAV')).rejects.toBeInstanceOf(SessionNotFoundError);
    await expect(rt.resume('../../etc/passwd')).rejects.toMatchObject({ code: 'invalid_id' });
  });

  it('restarts a conversation actor that dies, from its log', async () => {
    const reported: unknown[] = [];
    const home = await tempHome();
    const rt = runtime({ home, onError: (err) => void reported.push(err), restartPolicy: { maxRestarts: 2, windowMs: 60_000, backoffMs: 10, maxBackoffMs: 10 } });
    const convo = await rt.start();
    await convo.run('before the crash');
    const actor = convo.actor;
    // A child error no state handles kills the actor (XState escalates it): the supervisor restarts it.
    actor?.send({ type: 'xstate.error.actor.turn', error: new Error('boom') } as never);
    expect(actor?.getSnapshot().status).toBe('error');
    expect(() => convo.submit({ type: 'set_name', name: 'x' })).toThrow(/being restarted/);
    await new Promise((r) => setTimeout(r, 200));
    expect(convo.actor).not.toBe(actor);
    expect(convo.state).toBe('idle');
    expect((await convo.run('after the crash')).finalResponse).toContain('Before that you said: "before the crash"');
  });
});

describe('runtime: global message history', () => {
  it('records every user message, newest first, addressable by id, across runtimes', async () => {
    const home = await tempHome();
    const first = runtime({ home });
    const a = await first.start();
    const b = await first.start();
    await a.run('apples and pears');
    await b.run('bananas');
    await a.run('cherries');
    await first.history.flush();
    const entries = await first.history.list();
    expect(entries.map((e) => e.text)).toEqual(['cherries', 'bananas', 'apples and pears']);
    expect(entries.map((e) => e.sessionId)).toEqual([a.id, b.id, a.id]);
    await first.shutdown();
    const second = runtime({ home });
    expect((await second.history.search('an')).map((e) => e.text)).toEqual(['bananas', 'apples and pears']);
    expect(await second.history.lookup(entries[1]!.id)).toMatchObject({ text: 'bananas', sessionId: b.id });
  });

  it('keeps a memory store\'s history in memory: nothing of the home is read or written', async () => {
    // A home with a history of its own, as `colloquy exec` leaves one.
    const home = await tempHome();
    const previous = process.env.COLLOQUY_HOME;
    process.env.COLLOQUY_HOME = home;
    try {
      const onDisk = runtime({ home });
      await (await onDisk.start()).run('on disk');
      await onDisk.shutdown();
      const before = await readFile(join(home, 'history.jsonl'), 'utf8');
      const rt = runtime();
      const convo = await rt.start();
      await convo.run('secret');
      expect((await rt.history.list()).map((e) => [e.sessionId, e.text])).toEqual([[convo.id, 'secret']]);
      expect(await readFile(join(home, 'history.jsonl'), 'utf8')).toBe(before);
    } finally {
      if (previous === undefined) delete process.env.COLLOQUY_HOME;
      else process.env.COLLOQUY_HOME = previous;
    }
  });
});

describe('runtime: queued input across a crash', () => {
  it('input queued behind a running turn is run exactly once after the process dies', async () => {
    const home = await tempHome();
    const agent = localAgent({ script: { turns: [{ steps: [{ type: 'delay', ms: 10_000 }, { type: 'message', text: 'slow' }] }, { steps: [{ type: 'message', text: 'quick' }] }], repeat: 'last' } });
    const first = runtime({ home, agent });
    const convo = await first.start();
    const started = next(convo, 'turn.started');
    void convo.run('the slow one').catch(() => {});
    await started;
    const queued = [next(convo, 'input.queued'), next(convo, 'input.queued', (e) => e.text === 'second')];
    void convo.run('first').catch(() => {});
    void convo.run('second').catch(() => {});
    await Promise.all(queued);
    await new Promise((r) => setTimeout(r, 50));
    // The process dies with the slow turn running and two inputs queued.
    await first.store.release(convo.id);
    (first as unknown as { shutdown(): Promise<void> }).shutdown = async () => {};
    const second = runtime({ home, agent });
    expect((await second.read(convo.id)).pending.input.map((p) => p.items)).toEqual([[{ type: 'text', text: 'first' }], [{ type: 'text', text: 'second' }]]);
    const resumed = await second.resume(convo.id);
    const done = next(resumed, 'turn.completed', (e) => e.turn_id !== '' && resumed.info().queued === 0);
    await done;
    await new Promise((r) => setTimeout(r, 50));
    const read = await second.read(convo.id);
    const texts = read.turns.map((t) => [t.status, t.items.find((i) => i.type === 'user_message')]);
    expect(texts).toMatchObject([
      ['aborted', { text: 'the slow one' }],
      ['completed', { text: 'first' }],
      ['completed', { text: 'second' }],
    ]);
    expect(read.turns[0]?.reason).toBe('restart');
    // Like any aborted turn, it leaves the model a marker, in the log and in the history.
    expect(read.turns[0]?.items.find((i) => i.type === 'turn_aborted')).toMatchObject({ reason: 'restart' });
    expect(resumed.historyItems().filter((i) => i.type === 'turn_aborted')).toHaveLength(1);
    expect(read.pending.input).toEqual([]);
    // Resuming again runs nothing more.
    await second.shutdown();
    const third = runtime({ home, agent });
    await third.resume(convo.id);
    await new Promise((r) => setTimeout(r, 100));
    expect((await third.read(convo.id)).turns).toHaveLength(3);
  });
});
