/**
 * Where the commands read and write, and how they report their exit code.
 *
 * Exit codes of every command: 0 ok, 1 failure (an unknown conversation, a store error: the
 * message says which), 2 usage (bad flags or arguments).
 */

/** Somewhere to write text. */
export interface Sink {
  write(text: string): unknown;
}

/** Where a command reads and writes. */
export interface CommandIO {
  readonly stdout: Sink;
  readonly stderr: Sink;
  readonly stdin: NodeJS.ReadableStream & { isTTY?: boolean };
  /** Registers the interrupt handler (Ctrl-C, SIGTERM); returns its removal. */
  readonly onSignal?: (handler: (signal: string) => void) => () => void;
}

/** Receives a command's exit code. */
export type SetExit = (code: number) => void;

/** Write one JSON document and a newline. */
export function writeJson(out: Sink, value: unknown): void {
  out.write(`${JSON.stringify(value)}\n`);
}
