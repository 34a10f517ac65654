/**
 * The "working…" spinner of `colloquy chat`, shown only on an interactive terminal (a TTY,
 * `TERM` not `dumb`, not under CI). It is `yocto-spinner` (small, one dependency, maintained
 * with ora by the same author), loaded only when chat starts. While it spins it clears itself
 * around everything written to stdout and stderr, so output never mixes with a frame. It does
 * not touch signals or stdin: Ctrl-C stays chat's own.
 */
import type { Writable } from 'node:stream';

/** A spinner that can be started and stopped any number of times. */
export interface Spinner {
  start(text: string): void;
  stop(): void;
}

const NO_SPINNER: Spinner = { start() {}, stop() {} };

/** Whether a spinner may draw on `stream` (the same test yocto-spinner makes). */
export function interactive(stream: { isTTY?: boolean }): boolean {
  return Boolean(stream.isTTY) && process.env.TERM !== 'dumb' && !('CI' in process.env);
}

/** A spinner on `stream`, or one that does nothing when `stream` is not interactive. */
export async function createSpinner(stream: Writable & { isTTY?: boolean }): Promise<Spinner> {
  if (!interactive(stream)) return NO_SPINNER;
  const { default: yoctoSpinner } = await import('yocto-spinner');
  const spinner = yoctoSpinner({ stream, handleSignals: false, color: 'cyan' });
  // A second Ctrl-C exits at once: give the terminal its cursor back (hidden while spinning).
  process.once('exit', () => {
    if (spinner.isSpinning) stream.write('\u001B[?25h');
  });
  return {
    start: (text) => {
      spinner.start(text);
    },
    stop: () => {
      spinner.stop();
    },
  };
}
