/**
 * The `colloquy` executable.
 */
import { main } from './main.js';

// fsyncs run on libuv's pool; more threads let more of them overlap (must be set before any I/O).
process.env.UV_THREADPOOL_SIZE ??= '16';

void main(process.argv.slice(2), {
  stdout: process.stdout,
  stderr: process.stderr,
  stdin: process.stdin,
  onSignal: (handler) => {
    let count = 0;
    const on = (signal: NodeJS.Signals): void => {
      count++;
      // A second Ctrl-C (or SIGTERM) exits at once.
      if (count > 1) process.exit(130);
      handler(signal);
    };
    process.on('SIGINT', on);
    process.on('SIGTERM', on);
    return () => {
      process.off('SIGINT', on);
      process.off('SIGTERM', on);
    };
  },
}).then((code) => {
  process.exitCode = code;
});
