/**
 * What the `chat`, `sessions` and `history` commands share: the `--home` option, argument
 * parsers, the way they write JSON, and a runtime that is always shut down.
 *
 * Exit codes of every command: 0 ok, 1 failure (an unknown conversation, a store error: the
 * message says which), 2 usage (bad flags or arguments).
 */
import { resolve } from 'node:path';
import { InvalidArgumentError, type Command } from 'commander';
import type { Runtime, RuntimeOptions } from '../../runtime/runtime.js';
import { createRuntime, defaultHome } from '../../runtime/runtime.js';
import type { ExecIO } from '../exec.js';
import type { Sink } from '../render.js';

/** Where commands read and write (the same as `colloquy exec`'s). */
export type CommandIO = ExecIO;

/** Receives a command's exit code. */
export type SetExit = (code: number) => void;

/** The `--home` option. */
export interface HomeOption {
  /** Where conversations are stored. Default `$COLLOQUY_HOME` or `~/.colloquy`. */
  readonly home?: string;
}

/** The home directory a command works in: `--home`, else `$COLLOQUY_HOME`, else `~/.colloquy`. */
export function homeOf(options: HomeOption): string {
  return options.home ? resolve(options.home) : defaultHome();
}

/** Add the `--home` option. */
export function withHome(command: Command): Command {
  return command.option('--home <dir>', 'where conversations are stored (default $COLLOQUY_HOME or ~/.colloquy)');
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

/** Write one JSON document and a newline. */
export function writeJson(out: Sink, value: unknown): void {
  out.write(`${JSON.stringify(value)}\n`);
}

/**
 * Run `fn` with a runtime on `home`, and shut the runtime down afterwards (also when `fn`
 * throws), so leases are released and every record is durable before the command exits.
 */
export async function withRuntime<T>(home: string, fn: (runtime: Runtime) => Promise<T>, options: Omit<RuntimeOptions, 'home' | 'store'> = {}): Promise<T> {
  const runtime = createRuntime({ ...options, home });
  let result: T;
  try {
    result = await fn(runtime);
  } catch (err) {
    await runtime.shutdown().catch(() => {});
    throw err;
  }
  await runtime.shutdown();
  return result;
}

/** One line of text for a table cell: newlines and tabs shown as `⏎` and spaces, cut to `max` characters. */
export function oneLine(text: string, max = 80): string {
  const flat = text.replace(/\r?\n/g, ' ⏎ ').replace(/\t/g, ' ');
  return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat;
}

/** An ISO time without milliseconds (`2026-05-05T18:28:34Z`). */
export function shortTime(iso: string): string {
  return iso.replace(/\.\d{3}Z$/, 'Z');
}

/** A word as a POSIX shell reads it back: as is when it is plain, else single-quoted. */
export function shellWord(text: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(text) ? text : `'${text.replace(/'/g, `'\\''`)}'`;
}
