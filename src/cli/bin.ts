/**
 * The `colloquy` executable.
 */
import { main } from './main.js';

// fsyncs run on libuv's pool; more threads let more of them overlap (must be set before any I/O).
process.env.UV_THREADPOOL_SIZE ??= '16';

/** What a broken stdout does now: nothing outside a turn, interrupt the turn during one. */
let onBrokenPipe = (): void => {};

// The reader of stdout went away (`colloquy exec --json … | head -1`): not a crash. Like
// SIGPIPE it ends the turn, but as an interrupt, so the log records how the turn ended.
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code !== 'EPIPE') throw err;
  onBrokenPipe();
});

void main(process.argv.slice(2), {
  stdout: process.stdout,
  stderr: process.stderr,
  stdin: process.stdin,
  onSignal: (handler) => {
    let count = 0;
    const on = (signal: NodeJS.Signals | 'SIGPIPE'): void => {
      count++;
      // A second Ctrl-C (or SIGTERM) exits at once.
      if (count > 1) process.exit(130);
      handler(signal);
    };
    process.on('SIGINT', on);
    process.on('SIGTERM', on);
    onBrokenPipe = () => on('SIGPIPE');
    return () => {
      process.off('SIGINT', on);
      process.off('SIGTERM', on);
      onBrokenPipe = () => {};
    };
  },
}).then((code) => {
  // Everything is durable and every actor stopped: exit once stdout and stderr are flushed,
  // even if an agent that ignored its interrupt still holds a timer.
  let pending = 2;
  const done = (): void => {
    if (--pending === 0) process.exit(code);
  };
  process.stdout.write('', done);
  process.stderr.write('', done);
});
