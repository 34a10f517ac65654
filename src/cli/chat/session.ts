/**
 * `colloquy chat`: an interactive conversation. Each input line is a turn; its items are printed
 * as they complete (agent messages as they arrive), a spinner runs while the model works (on a
 * terminal only), approvals are asked as they come (yes / always / no / stop), Ctrl-C
 * interrupts the running turn and a second Ctrl-C quits, Ctrl-C or Ctrl-D at the prompt quits.
 * Lines starting with `/` are commands (`/help`).
 *
 * Exit codes: 0 after quitting; 1 when the conversation could not be started or resumed;
 * 2 usage errors. A second Ctrl-C during a turn exits with 130 at once (everything acknowledged
 * is already durable).
 */
import { stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { Writable } from 'node:stream';
import type { Agent } from '../../agents/agent.js';
import { localAgent } from '../../agents/local.js';
import { InvalidScriptError, loadScript } from '../../agents/scripted.js';
import { ColloquyError, InvalidOpError, TurnAbortedError, TurnFailedError } from '../../errors.js';
import type { ThreadEvent } from '../../protocol/events.js';
import type { ThreadItem } from '../../protocol/items.js';
import { ApprovalPolicySchema, type ApprovalPolicy } from '../../protocol/ops.js';
import type { Conversation } from '../../runtime/conversation.js';
import { createRuntime, type Runtime, type StartOptions } from '../../runtime/runtime.js';
import type { CommandIO } from '../shared/io.js';
import { homeOf, type HomeOption } from '../shared/options.js';
import { oneLine, shortTime } from '../shared/text.js';
import { UsageError } from '../shared/usage.js';
import { approvalQuestion, itemLines } from '../format/items.js';
import { ChatPrinter } from './printer.js';
import { parseSlash, SLASH_HELP, unescapeSlash, type SlashCommand } from './slash.js';
import { createSpinner, type Spinner } from './spinner.js';
import { chatTerminal, type ChatTerminal } from './terminal.js';

/** Options of `colloquy chat` (as parsed from the command line). */
export interface ChatOptions extends HomeOption {
  readonly model?: string;
  readonly approvalPolicy?: string;
  readonly agentScript?: string;
  readonly name?: string;
  readonly cd?: string;
  /** `chat resume <id>` (or `chat resume --last`). */
  readonly resume?: { readonly id?: string; readonly last?: boolean };
}

const PROMPT = '› ';
const WORKING = 'Working… (Ctrl-C to interrupt)';
/** History items shown when a conversation is resumed or forked. */
const RECENT_ITEMS = 8;

function explain(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

function policyOf(raw: string | undefined): ApprovalPolicy | undefined {
  if (raw === undefined) return undefined;
  const parsed = ApprovalPolicySchema.safeParse(raw);
  if (!parsed.success) throw new UsageError(`invalid approval policy ${JSON.stringify(raw)}: expected never, on-request, on-failure or untrusted`);
  return parsed.data;
}

async function agentOf(scriptPath: string | undefined): Promise<Agent> {
  const path = scriptPath ?? process.env.COLLOQUY_AGENT_SCRIPT;
  if (path === undefined || path === '') return localAgent();
  try {
    return localAgent({ script: await loadScript(path) });
  } catch (err) {
    if (err instanceof InvalidScriptError) throw new UsageError(err.message);
    throw err;
  }
}

async function directory(path: string): Promise<string> {
  const full = resolve(path);
  const st = await stat(full).catch(() => null);
  if (!st?.isDirectory()) throw new UsageError(`--cd ${path}: not a directory`);
  return full;
}

function busy(convo: Conversation): boolean {
  return convo.state === 'active' || convo.state === 'processing';
}

const ENDS = new Set<ThreadEvent['type']>(['turn.completed', 'turn.aborted', 'turn.failed', 'thread.closed', 'error']);

/** Resolves once the conversation runs no turn (it may have several queued). */
async function settled(convo: Conversation): Promise<void> {
  while (busy(convo)) {
    await new Promise<void>((done) => {
      let off = (): void => {};
      const timer = setTimeout(finish, 100);
      function finish(): void {
        clearTimeout(timer);
        off();
        done();
      }
      off = convo.subscribe((event) => {
        if (ENDS.has(event.type)) finish();
      });
    });
  }
}

/** One chat: the conversation in use, and how its events, approvals and commands are handled. */
class Chat {
  #convo: Conversation | null = null;
  #unsubscribe = (): void => {};
  /** Approval questions, asked one at a time. */
  #approvals: Promise<void> = Promise.resolve();
  /** Call ids asked or about to be (a resumed turn may request the same approval again). */
  readonly #asking = new Set<string>();
  /** Open questions, withdrawn when their turn ends. */
  readonly #questions = new Set<AbortController>();
  #working = false;
  /** Aborted to quit (SIGINT or SIGTERM while no turn runs). */
  readonly #quit = new AbortController();

  constructor(
    private readonly runtime: Runtime,
    private readonly terminal: ChatTerminal,
    private readonly printer: ChatPrinter,
    private readonly spinner: Spinner,
    private readonly io: CommandIO,
    private readonly settings: StartOptions,
  ) {}

  /** The conversation in use. */
  get conversation(): Conversation {
    if (!this.#convo) throw new Error('no conversation');
    return this.#convo;
  }

  /** Use `convo`: show it, ask what waits for approval, and wait for a turn it is running. */
  async attach(convo: Conversation, how: 'new' | 'resumed' | 'forked'): Promise<void> {
    this.#unsubscribe();
    this.#convo = convo;
    this.#unsubscribe = convo.subscribe((event) => this.#event(convo, event));
    const info = convo.info();
    this.printer.line(
      `colloquy chat · ${how} conversation ${convo.id}${info.name ? ` "${info.name}"` : ''} · model ${info.config.model} · approvals ${info.config.approvalPolicy}`,
    );
    if (how !== 'new') {
      const items = convo.historyItems();
      if (items.length > RECENT_ITEMS) this.printer.line(`… ${items.length - RECENT_ITEMS} earlier items (colloquy sessions show ${convo.id})`);
      for (const item of items.slice(-RECENT_ITEMS)) this.printer.lines(itemLines(item));
    }
    this.printer.line('Type a message; /help lists the commands. Ctrl-C interrupts a turn; Ctrl-D quits.');
    if (info.state === 'error') {
      this.printer.line(`the last turn failed${info.error ? `: ${info.error.message}` : ''}; going on from before it`);
      await convo.reset().catch((err: unknown) => this.printer.line(`error: ${explain(err)}`));
    }
    for (const pending of convo.pendingApprovals) this.#ask(convo, pending.callId, pending.item);
    if (busy(convo)) await this.#busy(() => settled(convo)).catch((err: unknown) => this.printer.line(`error: ${explain(err)}`));
  }

  #event(convo: Conversation, event: ThreadEvent): void {
    if (convo !== this.#convo) return;
    if (event.type === 'approval.requested') {
      this.#ask(convo, event.callId, event.item);
      return;
    }
    if (ENDS.has(event.type)) for (const question of this.#questions) question.abort();
    this.printer.event(event);
  }

  /** Queue an approval question. */
  #ask(convo: Conversation, callId: string, item: ThreadItem): void {
    if (this.#asking.has(callId)) return;
    this.#asking.add(callId);
    const pending = (): boolean => convo.pendingApprovals.some((a) => a.callId === callId);
    this.#approvals = this.#approvals.then(async () => {
      if (!pending()) return;
      const question = new AbortController();
      this.#questions.add(question);
      this.spinner.stop();
      try {
        const answer = await this.terminal.askApproval(approvalQuestion(item), question.signal);
        if (!pending()) return;
        if (answer === 'abort') this.printer.line('stopping the turn…');
        await convo.approve(callId, answer);
      } catch (err) {
        this.printer.line(`error: ${explain(err)}`);
      } finally {
        this.#questions.delete(question);
        this.#asking.delete(callId);
        if (this.#working) this.spinner.start(WORKING);
      }
    });
  }

  /**
   * Do `work` while the model works: the spinner runs, and Ctrl-C interrupts the turn (the
   * runtime's signal handling makes a second Ctrl-C exit at once).
   */
  async #busy<T>(work: () => Promise<T>): Promise<T> {
    const convo = this.conversation;
    this.#working = true;
    this.spinner.start(WORKING);
    const off =
      this.io.onSignal?.(() => {
        this.printer.line('interrupting… (Ctrl-C again to quit)');
        for (const question of this.#questions) question.abort();
        void convo.interrupt().catch((err: unknown) => this.printer.line(`error: ${explain(err)}`));
      }) ?? ((): void => {});
    try {
      return await work();
    } finally {
      off();
      this.#working = false;
      this.spinner.stop();
      await this.#approvals;
    }
  }

  /** Run a turn with `text`. Its end is printed from its events. */
  async send(text: string): Promise<void> {
    const convo = this.conversation;
    try {
      await this.#busy(() => convo.run(text));
    } catch (err) {
      if (err instanceof TurnAbortedError) return;
      if (err instanceof TurnFailedError) {
        await convo.reset().catch(() => {});
        this.printer.line('(the conversation goes on from before that turn)');
        return;
      }
      this.printer.line(`error: ${explain(err)}`);
    }
  }

  /** Leave the conversation in use (closing it, so other processes may resume it) for `next`. */
  async #switch(next: Conversation, how: 'new' | 'resumed' | 'forked'): Promise<void> {
    const previous = this.#convo;
    this.#unsubscribe();
    this.#unsubscribe = () => {};
    if (previous && previous !== next) await previous.close().catch((err: unknown) => this.printer.line(`warning: ${explain(err)}`));
    this.printer.line();
    await this.attach(next, how);
  }

  async #sessions(limit: number): Promise<void> {
    const page = await this.runtime.list({ limit, sort: 'updated' });
    if (page.items.length === 0) this.printer.line('no conversations');
    for (const s of page.items) {
      const mark = s.id === this.conversation.id ? '*' : ' ';
      this.printer.line(`${mark} ${s.id}  ${shortTime(s.updatedAt)}  ${s.name !== undefined ? `"${oneLine(s.name, 50)}"` : '-'}`);
    }
    if (page.nextCursor) this.printer.line('  … more: colloquy sessions list');
  }

  /** Run a slash command; resolves with `exit` to quit. */
  async slash(command: SlashCommand): Promise<'exit' | undefined> {
    const convo = this.conversation;
    try {
      switch (command.kind) {
        case 'help':
          this.printer.lines(SLASH_HELP);
          return;
        case 'exit':
          return 'exit';
        case 'error':
          this.printer.line(command.message);
          return;
        case 'name':
          await convo.setName(command.name);
          this.printer.line(`named this conversation "${command.name}"`);
          return;
        case 'status': {
          const info = convo.info();
          this.printer.lines([
            `conversation ${info.id}${info.name ? ` "${info.name}"` : ''} · ${info.state}`,
            `model ${info.config.model} · approvals ${info.config.approvalPolicy} · cwd ${info.config.cwd}`,
            `tokens: ${info.usage.input_tokens} in (${info.usage.cached_input_tokens} cached), ${info.usage.output_tokens} out`,
          ]);
          return;
        }
        case 'sessions':
          await this.#sessions(command.limit);
          return;
        case 'compact':
          await this.#busy(() => convo.compact());
          return;
        case 'new':
          await this.#switch(await this.runtime.start(this.settings), 'new');
          return;
        case 'resume': {
          if (command.id.toUpperCase() === convo.id) {
            this.printer.line(`already in conversation ${convo.id}`);
            return;
          }
          await this.#switch(await this.runtime.resume(command.id), 'resumed');
          return;
        }
        case 'fork': {
          const from = convo.id;
          const fork = await this.runtime.fork(from, command.beforeTurn !== undefined ? { beforeUserTurn: command.beforeTurn } : {});
          await this.#switch(fork, 'forked');
          this.printer.line(`(forked from ${from}, which is unchanged: /resume ${from} goes back to it)`);
          return;
        }
      }
    } catch (err) {
      if (err instanceof TurnAbortedError) return;
      const message = err instanceof InvalidOpError ? (err.issues[0]?.message ?? err.message) : explain(err);
      this.printer.line(`error: ${message}`);
    }
    return;
  }

  /**
   * A signal that arrived while no turn ran (between two prompts, or SIGTERM at the prompt):
   * quit as soon as the chat is back at its prompt. (During a turn the runtime's signal handling
   * interrupts the turn; at a terminal prompt Ctrl-C is a key, not a signal.)
   */
  signalled(): void {
    if (!this.#working) this.#quit.abort();
  }

  /** Read lines until the user quits. */
  async loop(): Promise<void> {
    for (;;) {
      if (this.#quit.signal.aborted) return;
      const input = await this.terminal.readLine(PROMPT, this.#quit.signal);
      if (input.kind !== 'line') return;
      if (input.text.trim() === '') continue;
      const command = parseSlash(input.text);
      if (command) {
        if ((await this.slash(command)) === 'exit') return;
        continue;
      }
      await this.send(unescapeSlash(input.text));
    }
  }
}

/** The conversation to start with: a new one, or the one `resume` names (`--last`: the newest). */
async function opening(runtime: Runtime, options: ChatOptions, settings: StartOptions): Promise<{ convo: Conversation; resumed: boolean }> {
  if (!options.resume) return { convo: await runtime.start(settings), resumed: false };
  let id = options.resume.id;
  if (options.resume.last || id === undefined) {
    id = (await runtime.list({ limit: 1, sort: 'updated' })).items[0]?.id;
    if (!id) throw new ColloquyError('session_not_found', `no conversation to resume in ${runtime.store.description}`);
  }
  const convo = await runtime.resume(id);
  const { model, cwd, approvalPolicy } = settings;
  const overrides = { ...(model ? { model } : {}), ...(cwd ? { cwd } : {}), ...(approvalPolicy ? { approvalPolicy } : {}) };
  if (Object.keys(overrides).length > 0) await convo.overrideTurnContext(overrides);
  return { convo, resumed: true };
}

/** Run `colloquy chat`. Resolves with the exit code once the user quits. */
export async function runChat(options: ChatOptions, io: CommandIO): Promise<number> {
  const approvalPolicy = policyOf(options.approvalPolicy);
  const cwd = options.cd !== undefined ? await directory(options.cd) : undefined;
  const agent = await agentOf(options.agentScript);
  const settings: StartOptions = {
    ...(options.model !== undefined ? { model: options.model } : {}),
    ...(approvalPolicy !== undefined ? { approvalPolicy } : {}),
    ...(cwd !== undefined ? { cwd } : {}),
    ...(options.name !== undefined ? { name: options.name } : {}),
  };
  const output = io.stdout as NodeJS.WritableStream & { isTTY?: boolean };
  const runtime = createRuntime({ home: homeOf(options), agent });
  const terminal = chatTerminal(io.stdin, output);
  const printer = new ChatPrinter(io.stdout);
  let chat: Chat | null = null;
  // Signals between turns quit cleanly instead of killing the process (see `Chat.signalled`).
  const onIdleSignal = (): void => chat?.signalled();
  process.on('SIGINT', onIdleSignal);
  process.on('SIGTERM', onIdleSignal);
  try {
    const spinner = await createSpinner(io.stderr as Writable & { isTTY?: boolean });
    const { convo, resumed } = await opening(runtime, options, settings);
    // `/new` starts conversations with the same settings, but not the same name.
    const { name: _name, ...unnamed } = settings;
    chat = new Chat(runtime, terminal, printer, spinner, io, unnamed);
    await chat.attach(convo, resumed ? 'resumed' : 'new');
    await chat.loop();
    printer.line(`to continue: colloquy chat resume ${chat.conversation.id}`);
    return 0;
  } finally {
    process.off('SIGINT', onIdleSignal);
    process.off('SIGTERM', onIdleSignal);
    terminal.close();
    await runtime.shutdown();
  }
}
