/**
 * Where `colloquy chat` reads from: the input line and the answer to an approval.
 *
 * On a terminal, the input line is Node's own `readline` (line editing, history with ↑/↓,
 * Ctrl-C and Ctrl-D as events), created for each line and closed before the turn runs, so
 * while the model works the terminal is in its normal mode and Ctrl-C arrives as SIGINT (which
 * interrupts the turn). A prompt library would add nothing there, and most re-create their
 * prompt without line history. The approval is a choice among four answers, which is what a
 * prompt library is for: `@inquirer/select` (maintained, small, arrow keys, number keys and
 * type-to-select, an AbortSignal to withdraw the question when the turn ends meanwhile), loaded
 * the first time a question is asked.
 *
 * When stdin is not a terminal (a pipe, a file), lines are read in order from one reader, an
 * approval is answered by the next line (`y`, `a`, `n` or `s`), and nothing is drawn.
 */
import { createInterface, type Interface } from 'node:readline';

/** What reading the input line gave: a line, the end of input (Ctrl-D), or Ctrl-C. */
export type LineResult = { readonly kind: 'line'; readonly text: string } | { readonly kind: 'eof' } | { readonly kind: 'interrupt' };

/**
 * The answer to an approval: run it (`approved`), run it and do not ask again for the same
 * request in this conversation (`approved_for_session`), skip it and go on (`denied`), or
 * skip it and stop the turn (`abort`, also what Ctrl-C answers).
 */
export type ApprovalAnswer = 'approved' | 'approved_for_session' | 'denied' | 'abort';

/** The input side of a chat. */
export interface ChatTerminal {
  /** Whether this is a terminal (spinner, arrow-key choices) rather than a pipe. */
  readonly interactive: boolean;
  /** Read the next input line after showing `prompt`; when `signal` aborts first, the result is `eof`. */
  readLine(prompt: string, signal?: AbortSignal): Promise<LineResult>;
  /** Ask for an approval; when `signal` aborts first, the question is withdrawn and the answer is `abort`. */
  askApproval(question: string, signal: AbortSignal): Promise<ApprovalAnswer>;
  /** Stop reading. */
  close(): void;
}

type Input = NodeJS.ReadableStream & { isTTY?: boolean };

const CHOICES = [
  { value: 'approved', name: 'Yes, run it', short: 'yes' },
  { value: 'approved_for_session', name: "Always: yes, and don't ask again for this in this conversation", short: 'always' },
  { value: 'denied', name: 'No, skip it (the turn goes on)', short: 'no' },
  { value: 'abort', name: 'Stop: no, and interrupt the turn', short: 'stop' },
] as const satisfies readonly { value: ApprovalAnswer; name: string; short: string }[];

/** The answer a typed word means (`y`, `yes`, `1`, `a`, `always`, …), or null. */
export function parseApprovalAnswer(text: string): ApprovalAnswer | null {
  const word = text.trim().toLowerCase();
  if (/^(y|yes|1)$/.test(word)) return 'approved';
  if (/^(a|always|2)$/.test(word)) return 'approved_for_session';
  if (/^(n|no|3)$/.test(word)) return 'denied';
  if (/^(s|stop|abort|4)$/.test(word)) return 'abort';
  return null;
}

/** The terminal: a readline per input line, `@inquirer/select` for approvals. */
class TtyTerminal implements ChatTerminal {
  readonly interactive = true;
  #history: string[] = [];

  constructor(
    private readonly input: Input,
    private readonly output: NodeJS.WritableStream,
  ) {}

  readLine(prompt: string, signal?: AbortSignal): Promise<LineResult> {
    if (signal?.aborted) return Promise.resolve({ kind: 'eof' });
    return new Promise((resolve) => {
      const rl = createInterface({
        input: this.input,
        output: this.output,
        terminal: true,
        prompt,
        history: this.#history,
        historySize: 1000,
        removeHistoryDuplicates: true,
      });
      let done = false;
      const onAbort = (): void => {
        this.output.write('\n');
        finish({ kind: 'eof' });
      };
      const finish = (result: LineResult): void => {
        if (done) return;
        done = true;
        signal?.removeEventListener('abort', onAbort);
        rl.close();
        resolve(result);
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      rl.on('history', (history) => {
        this.#history = history;
      });
      rl.on('line', (text) => finish({ kind: 'line', text }));
      rl.on('SIGINT', () => {
        this.output.write('\n');
        finish({ kind: 'interrupt' });
      });
      rl.on('close', () => finish({ kind: 'eof' }));
      rl.prompt();
    });
  }

  async askApproval(question: string, signal: AbortSignal): Promise<ApprovalAnswer> {
    const { default: select } = await import('@inquirer/select');
    try {
      return await select(
        { message: question, choices: CHOICES, theme: { indexMode: 'number' } },
        { input: this.input, output: this.output, signal },
      );
    } catch (err) {
      // Ctrl-C in the question (ExitPromptError), or the turn ended meanwhile (AbortPromptError).
      if (err instanceof Error && (err.name === 'ExitPromptError' || err.name === 'AbortPromptError')) return 'abort';
      throw err;
    }
  }

  close(): void {}
}

/** A pipe or a file: lines in order from one reader; approvals answered by a line. */
class LineTerminal implements ChatTerminal {
  readonly interactive = false;
  readonly #rl: Interface;
  readonly #lines: string[] = [];
  #waiter: ((line: string | null) => void) | null = null;
  #ended = false;

  constructor(
    input: Input,
    private readonly output: NodeJS.WritableStream,
  ) {
    this.#rl = createInterface({ input, terminal: false });
    this.#rl.on('line', (line) => {
      const waiter = this.#waiter;
      this.#waiter = null;
      if (waiter) waiter(line);
      else this.#lines.push(line);
    });
    this.#rl.on('close', () => {
      this.#ended = true;
      const waiter = this.#waiter;
      this.#waiter = null;
      waiter?.(null);
    });
  }

  /** The next line, or null at the end of input or when `signal` aborts (the line then stays for the next read). */
  #next(signal?: AbortSignal): Promise<string | null> {
    const queued = this.#lines.shift();
    if (queued !== undefined) return Promise.resolve(queued);
    if (this.#ended || signal?.aborted) return Promise.resolve(null);
    return new Promise((resolve) => {
      const onAbort = (): void => {
        if (this.#waiter === waiter) this.#waiter = null;
        resolve(null);
      };
      const waiter = (line: string | null): void => {
        signal?.removeEventListener('abort', onAbort);
        resolve(line);
      };
      this.#waiter = waiter;
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  async readLine(prompt: string, signal?: AbortSignal): Promise<LineResult> {
    this.output.write(prompt);
    const line = await this.#next(signal);
    if (line === null) {
      this.output.write('\n');
      return { kind: 'eof' };
    }
    this.output.write(`${line}\n`);
    return { kind: 'line', text: line };
  }

  async askApproval(question: string, signal: AbortSignal): Promise<ApprovalAnswer> {
    for (;;) {
      this.output.write(`${question} [y]es / [a]lways / [n]o / [s]top the turn: `);
      const line = await this.#next(signal);
      if (line === null) {
        this.output.write('\n');
        return 'abort';
      }
      this.output.write(`${line}\n`);
      const answer = parseApprovalAnswer(line);
      if (answer) return answer;
    }
  }

  close(): void {
    this.#rl.close();
  }
}

/** The chat's input: a terminal when stdin is one, else lines. */
export function chatTerminal(input: Input, output: NodeJS.WritableStream): ChatTerminal {
  return input.isTTY ? new TtyTerminal(input, output) : new LineTerminal(input, output);
}
