/**
 * Driving the built `colloquy` in a real pseudo-terminal: each session runs under its own tmux
 * server (a private socket in a temporary directory), keys go in with `send-keys`, the screen
 * comes back with `capture-pane`, and the exit status is printed on the screen when the process
 * ends. Needs tmux (`apt-get install -y tmux`).
 */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { CLI, cliEnv, tempDir } from './helpers.js';

const run = promisify(execFile);

/** A `colloquy` process in a tmux pane. */
export interface TmuxCli {
  /** The whole screen and its scroll-back, wrapped lines joined, trailing blank lines dropped. */
  screen(): Promise<string>;
  /** Resolves with the screen once `pattern` is on it (rejects with the screen after `timeoutMs`). */
  waitFor(pattern: string | RegExp, timeoutMs?: number): Promise<string>;
  /** Resolves once the last line on the screen is the empty input prompt `›`. */
  waitForPrompt(timeoutMs?: number): Promise<string>;
  /** Type text literally (no key names). */
  type(text: string): Promise<void>;
  /** Press keys by tmux name (`Enter`, `C-c`, `C-d`, `Down`). */
  keys(...keys: string[]): Promise<void>;
  /** Type a line and press Enter. */
  line(text: string): Promise<void>;
  /** Resolves with the exit status once the process has ended (128 + n when signal n killed it, as a shell reports). */
  exited(timeoutMs?: number): Promise<number>;
  /** Stop the tmux server (and the process, if it still runs). */
  kill(): Promise<void>;
}

const SCREEN_WIDTH = 160;

/** Start `node dist/colloquy.cjs ...args` in a new tmux pane with `COLLOQUY_HOME=home`. */
export async function startInTmux(args: readonly string[], options: { home: string; cwd?: string }): Promise<TmuxCli> {
  const dir = await tempDir('colloquy-tmux-');
  const socket = join(dir, 'tmux.sock');
  // The pane inherits the server's environment; `env -u CI` lets the spinner show as on a
  // person's terminal.
  const env = { ...cliEnv(options.home), TERM: 'xterm-256color' };
  const tmux = (...tmuxArgs: string[]): Promise<{ stdout: string }> => run('tmux', ['-S', socket, '-f', '/dev/null', ...tmuxArgs], { env, cwd: options.cwd ?? dir });
  // A shell runs the process and prints its exit status, then stays: the pane (and its
  // terminal) outlives the process, so the status is read off the screen. (tmux's own
  // pane_dead_status can stay empty: a pane whose process exits as its terminal closes races
  // tmux's utmp helper for SIGCHLD, and the status may never be collected.) The shell ignores
  // SIGINT, so Ctrl-C reaches only the process (Node resets the disposition at startup).
  const script = 'trap "" INT; "$@"; echo "[exited with $?]"; exec sleep 86400';
  await tmux(
    'new-session', '-d', '-s', 'cli', '-x', String(SCREEN_WIDTH), '-y', '50',
    'sh', '-c', script, 'sh', 'env', '-u', 'CI', process.execPath, CLI, ...args,
    ';', 'set-option', '-t', 'cli', 'history-limit', '10000',
  );

  const screen = async (): Promise<string> => {
    const { stdout } = await tmux('capture-pane', '-p', '-J', '-S', '-', '-t', 'cli');
    return stdout.replace(/\s+$/, '');
  };
  const until = async (test: (text: string) => boolean, what: string, timeoutMs: number): Promise<string> => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const text = await screen();
      if (test(text)) return text;
      if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}; the screen:\n${text}`);
      await new Promise((r) => setTimeout(r, 40));
    }
  };
  const lastLine = (text: string): string => text.split('\n').filter((l) => l.trim() !== '').at(-1)?.trim() ?? '';
  const status = async (): Promise<number | null> => {
    const match = /^\[exited with (\d+)\]$/m.exec(await screen());
    return match ? Number(match[1]) : null;
  };

  return {
    screen,
    waitFor: (pattern, timeoutMs = 15_000) =>
      until((t) => (typeof pattern === 'string' ? t.includes(pattern) : pattern.test(t)), JSON.stringify(String(pattern)), timeoutMs),
    waitForPrompt: (timeoutMs = 15_000) => until((t) => lastLine(t) === '›', 'the input prompt', timeoutMs),
    type: async (text) => {
      await tmux('send-keys', '-t', 'cli', '-l', text);
    },
    keys: async (...keys) => {
      await tmux('send-keys', '-t', 'cli', ...keys);
    },
    line: async (text) => {
      await tmux('send-keys', '-t', 'cli', '-l', text);
      await tmux('send-keys', '-t', 'cli', 'Enter');
    },
    exited: async (timeoutMs = 15_000) => {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const code = await status();
        if (code !== null) return code;
        if (Date.now() > deadline) throw new Error(`the process did not exit within ${timeoutMs} ms; the screen:\n${await screen()}`);
        await new Promise((r) => setTimeout(r, 40));
      }
    },
    kill: async () => {
      await tmux('kill-server').catch(() => {});
    },
  };
}
