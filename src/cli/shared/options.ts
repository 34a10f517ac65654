/**
 * Options and argument parsers the commands share: `--home`, repeatable options and positive
 * integers.
 */
import { resolve } from 'node:path';
import { InvalidArgumentError, type Command } from 'commander';
import { defaultHome } from '../../runtime/runtime.js';

/** The `--home` option. */
export interface HomeOption {
  /** Where conversations are stored. Default `$COLLOQUY_HOME` or `~/.colloquy`. */
  readonly home?: string;
}

/** The help text of `--home`. */
export const HOME_HELP = 'where conversations are stored (default $COLLOQUY_HOME or ~/.colloquy)';

/** The home directory a command works in: `--home`, else `$COLLOQUY_HOME`, else `~/.colloquy`. */
export function homeOf(options: HomeOption): string {
  return options.home ? resolve(options.home) : defaultHome();
}

/** Add the `--home` option. */
export function withHome(command: Command): Command {
  return command.option('--home <dir>', HOME_HELP);
}

/** A commander parser for a repeatable option: each value is added to the list. */
export function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

/**
 * A commander parser for a positive integer option or argument (`--limit`, `--before-turn`).
 * A bad value is a usage error (exit code 2).
 */
export function positiveInt(what: string, max = Number.MAX_SAFE_INTEGER): (value: string) => number {
  return (value: string) => {
    const n = /^\d+$/.test(value.trim()) ? Number(value.trim()) : NaN;
    if (!Number.isSafeInteger(n) || n < 1 || n > max) {
      throw new InvalidArgumentError(max === Number.MAX_SAFE_INTEGER ? `${what} must be a positive integer.` : `${what} must be an integer from 1 to ${max}.`);
    }
    return n;
  };
}
