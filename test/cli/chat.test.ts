/**
 * `colloquy chat` as a person uses it: the built executable in a real pseudo-terminal (tmux),
 * keys sent with send-keys, the screen read with capture-pane. And `chat` with stdin piped
 * (no terminal), which reads lines and answers approvals with a line.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { findLog, logRecords, removeTempDirs, runCli, tempDir, ULID_IN_TEXT, writeScript } from './helpers.js';
import { startInTmux, type TmuxCli } from './tmux.js';

const running: TmuxCli[] = [];

afterEach(async () => {
  await Promise.all(running.splice(0).map((t) => t.kill()));
  await removeTempDirs();
});

async function chat(args: readonly string[] = [], home?: string): Promise<{ tty: TmuxCli; home: string }> {
  const theHome = home ?? (await tempDir('colloquy-home-'));
  const tty = await startInTmux(['chat', ...args], { home: theHome });
  running.push(tty);
  await tty.waitForPrompt();
  return { tty, home: theHome };
}

/** The id of the conversation a chat screen shows in its header. */
function idOn(screen: string): string {
  const id = /conversation ([0-9A-HJKMNP-TV-Z]{26})/.exec(screen)?.[1];
  if (!id) throw new Error(`no conversation id on the screen:\n${screen}`);
  return id;
}

function count(text: string, needle: string): number {
  return text.split(needle).length - 1;
}

/** A script whose first turn waits 20 s (interruptible); later turns answer at once. */
const SLOW = {
  turns: [
    { steps: [{ type: 'delay', ms: 20_000 }, { type: 'message', text: 'too late' }] },
    { steps: [{ type: 'message', text: 'answered after the interrupt' }] },
  ],
  repeat: 'last',
};

describe('colloquy chat in a terminal', () => {
  it('runs a turn: the reply appears, then the prompt again', async () => {
    const { tty } = await chat();
    const header = await tty.screen();
    expect(header).toMatch(/colloquy chat · new conversation [0-9A-HJKMNP-TV-Z]{26} · model local · approvals on-request/);
    await tty.line('hello from tmux');
    const screen = await tty.waitFor('Turn 1. You said: "hello from tmux". This is the first turn of our conversation.');
    await tty.waitForPrompt();
    await tty.line('and again');
    await tty.waitFor('Turn 2. You said: "and again". Before that you said: "hello from tmux".');
    expect(screen).toContain('› hello from tmux');
  });

  it('asks before running a command: "yes" runs it', async () => {
    const { tty, home } = await chat();
    await tty.line('!echo approved-$((40+2))');
    await tty.waitFor('Run `echo approved-$((40+2))`?');
    await tty.waitFor('1. Yes, run it');
    await tty.keys('Enter'); // "Yes" is the first choice
    const screen = await tty.waitFor('$ echo approved-$((40+2))  (exit code 0)');
    expect(screen).toContain('    approved-42');
    await tty.waitFor('Ran `echo approved-$((40+2))` (exit code 0). It printed: "approved-42".');
    await tty.waitForPrompt();
    const id = idOn(screen);
    await tty.keys('C-d');
    expect(await tty.exited()).toBe(0);
    const resolved = (await logRecords(await findLog(home, id))).filter((r) => r.type === 'approval_resolved');
    expect(resolved.map((r) => r.payload.decision)).toEqual(['approved']);
  });

  it('"always" approves the same command for the rest of the conversation; "no" declines another', async () => {
    const { tty, home } = await chat();
    await tty.line('!echo again-and-again');
    await tty.waitFor('4. Stop: no, and interrupt the turn');
    await tty.type('2');
    await tty.waitFor('❯ 2. Always');
    await tty.keys('Enter');
    await tty.waitFor('It printed: "again-and-again".');
    await tty.waitForPrompt();

    await tty.line('!echo again-and-again');
    const second = await tty.waitFor(/It printed: "again-and-again"\.[\s\S]*It printed: "again-and-again"\./);
    expect(count(second, 'Run `echo again-and-again`?')).toBe(1);

    await tty.waitForPrompt();
    await tty.line('!echo not-this-one');
    await tty.waitFor('1. Yes, run it');
    await tty.type('3');
    await tty.waitFor('❯ 3. No');
    await tty.keys('Enter');
    const declined = await tty.waitFor('I did not run `echo not-this-one`: it was declined.');
    expect(declined).toContain('$ echo not-this-one  (declined)');
    expect(declined).not.toMatch(/^ {4}not-this-one$/m);

    const id = idOn(declined);
    await tty.waitForPrompt();
    await tty.line('/exit');
    expect(await tty.exited()).toBe(0);
    const decisions = (await logRecords(await findLog(home, id))).filter((r) => r.type === 'approval_resolved').map((r) => r.payload.decision);
    expect(decisions).toEqual(['approved_for_session', 'denied']);
  });

  it('Ctrl-C interrupts a slow turn, the conversation goes on, and Ctrl-C at the prompt quits', async () => {
    const work = await tempDir('colloquy-work-');
    const script = await writeScript(work, SLOW);
    const { tty, home } = await chat(['--agent-script', script]);
    await tty.line('take your time');
    await tty.waitFor('Working… (Ctrl-C to interrupt)'); // the spinner, on a terminal
    await tty.keys('C-c');
    await tty.waitFor('⏹ interrupted');
    await tty.waitForPrompt();

    await tty.line('are you there?');
    const screen = await tty.waitFor('answered after the interrupt');
    expect(screen).not.toContain('too late');
    await tty.waitForPrompt();
    await tty.keys('C-c');
    expect(await tty.exited()).toBe(0);

    const id = idOn(screen);
    const ends = (await logRecords(await findLog(home, id)))
      .filter((r) => r.type === 'event' && String(r.payload.type).startsWith('turn.') && r.payload.type !== 'turn.started')
      .map((r) => [r.payload.type, r.payload.reason]);
    expect(ends).toEqual([
      ['turn.aborted', 'interrupted'],
      ['turn.completed', undefined],
    ]);
    expect(await tty.screen()).toContain(`to continue: colloquy chat resume ${id}`);
  });

  it('a second Ctrl-C right after the first quits', async () => {
    const work = await tempDir('colloquy-work-');
    const script = await writeScript(work, SLOW);
    const { tty } = await chat(['--agent-script', script]);
    await tty.line('take your time');
    await tty.waitFor('Working…');
    await tty.keys('C-c');
    await tty.waitFor('interrupting… (Ctrl-C again to quit)');
    await tty.keys('C-c');
    // Quits either at once (the second Ctrl-C came while the turn was ending: 130) or from the
    // prompt (0). (Two Ctrl-C sent together can reach the process as one SIGINT.)
    expect([0, 130]).toContain(await tty.exited());
  });

  it('/name names the conversation and /sessions lists it', async () => {
    const home = await tempDir('colloquy-home-');
    const before = await runCli(['exec', '--name', 'an older one', 'hi'], { home });
    expect(before.code, before.stderr).toBe(0);
    const { tty } = await chat([], home);
    const id = idOn(await tty.screen());
    await tty.line('/name tmux named me');
    await tty.waitFor('named this conversation "tmux named me"');
    await tty.waitForPrompt();
    await tty.line('/sessions');
    const screen = await tty.waitFor('"an older one"');
    expect(screen).toMatch(new RegExp(`^\\* ${id}  \\S+  "tmux named me"$`, 'm'));
    expect(screen).toMatch(/^ {2}[0-9A-HJKMNP-TV-Z]{26} {2}\S+ {2}"an older one"$/m);
    await tty.waitForPrompt();
    await tty.line('/help');
    await tty.waitFor('/fork [n]');
    await tty.keys('C-d');
    expect(await tty.exited()).toBe(0);

    const listed = await runCli(['sessions', 'list', '--json', '--name', 'tmux named'], { home });
    expect(listed.code, listed.stderr).toBe(0);
    expect((JSON.parse(listed.stdout) as { items: { id: string }[] }).items.map((i) => i.id)).toEqual([id]);
  });

  it('chat resume <id> shows where it was; /fork continues in a fork; /resume goes back', async () => {
    const home = await tempDir('colloquy-home-');
    const first = await runCli(['exec', 'remember the lighthouse'], { home });
    expect(first.code, first.stderr).toBe(0);
    const id = ULID_IN_TEXT.exec(first.stderr)?.[0] as string;

    const { tty } = await chat(['resume', id], home);
    const resumed = await tty.screen();
    expect(resumed).toContain(`resumed conversation ${id}`);
    expect(resumed).toContain('› remember the lighthouse');
    await tty.line('/fork');
    const forked = await tty.waitFor(`(forked from ${id}, which is unchanged: /resume ${id} goes back to it)`);
    const forkId = /forked conversation ([0-9A-HJKMNP-TV-Z]{26})/.exec(forked)?.[1];
    expect(forkId).toBeDefined();
    expect(forkId).not.toBe(id);
    await tty.waitForPrompt();
    await tty.line('in the fork');
    await tty.waitFor('Turn 2. You said: "in the fork". Before that you said: "remember the lighthouse".');
    await tty.waitForPrompt();
    await tty.line(`/resume ${id}`);
    await tty.waitFor(`resumed conversation ${id}`);
    await tty.waitForPrompt();
    await tty.line('back in the source');
    await tty.waitFor('Turn 2. You said: "back in the source". Before that you said: "remember the lighthouse".');
    await tty.waitForPrompt();
    await tty.line('/exit');
    expect(await tty.exited()).toBe(0);
  });
});

describe('colloquy chat with stdin piped', () => {
  it('reads messages and approval answers line by line', async () => {
    const home = await tempDir('colloquy-home-');
    const r = await runCli(['chat'], { home, input: 'hello\n!echo piped-ok\ny\n/name piped\n/status\n' });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('Turn 1. You said: "hello".');
    expect(r.stdout).toContain('Run `echo piped-ok`? [y]es / [a]lways / [n]o / [s]top the turn: y\n');
    expect(r.stdout).toContain('$ echo piped-ok  (exit code 0)\n    piped-ok\n');
    expect(r.stdout).toContain('named this conversation "piped"');
    expect(r.stdout).toMatch(/conversation [0-9A-HJKMNP-TV-Z]{26} "piped" · idle/);
    expect(r.stdout).not.toContain('Working…'); // no spinner without a terminal
    const id = idOn(r.stdout);
    expect(r.stdout).toContain(`to continue: colloquy chat resume ${id}`);
    const shown = await runCli(['sessions', 'show', id, '--json'], { home });
    expect((JSON.parse(shown.stdout) as { name: string; turns: unknown[] }).name).toBe('piped');
  });

  it('an approval left unanswered at the end of input stops the turn', async () => {
    const home = await tempDir('colloquy-home-');
    const r = await runCli(['chat'], { home, input: '!echo never-answered\n' });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('⏹ interrupted');
    expect(r.stdout).not.toContain('    never-answered');
  });

  it('chat resume of an unknown conversation fails with exit code 1', async () => {
    const home = await tempDir('colloquy-home-');
    const r = await runCli(['chat', 'resume', '01KAAAAAAAAAAAAAAAAAAAAAAA'], { home });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/no conversation with id "01KAAAAAAAAAAAAAAAAAAAAAAA"/);
    const bad = await runCli(['chat', '--approval-policy', 'sometimes'], { home });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/invalid approval policy "sometimes"/);
  });
});
