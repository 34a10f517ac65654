/**
 * The inspection options of `exec`, `exec resume` and `serve` (`--inspect`, `--inspect-url`,
 * …): how they are declared, what they parse to, and whether any is given. What they do is in
 * `inspect-run.ts`, loaded only when one is given.
 */
import type { Command } from 'commander';
import { collect } from './options.js';

/** The inspection options as parsed from the command line. */
export interface InspectFlags {
  readonly inspect?: boolean;
  readonly inspectContent?: boolean;
  readonly inspectConversation?: readonly string[];
  readonly inspectPort?: string;
  readonly inspectUrl?: string;
}

/** Whether any inspection option is given. */
export function wantsInspection(flags: InspectFlags): boolean {
  return Boolean(flags.inspect || flags.inspectUrl || flags.inspectContent || (flags.inspectConversation && flags.inspectConversation.length > 0));
}

/** Add the inspection options to a command (`exec`, `exec resume`, `serve`). */
export function inspectOptions(command: Command): Command {
  return command
    .option('--inspect', 'show the actors in the Stately inspector: starts a relay on 127.0.0.1 and prints its address')
    .option('--inspect-port <port>', 'port of that relay (default: any free port)')
    .option('--inspect-url <ws-url>', 'stream to a running relay instead (`colloquy inspect`), e.g. ws://127.0.0.1:8080')
    .option('--inspect-content', 'show message text, commands and their output, instructions (hidden by default)')
    .option('--inspect-conversation <id>', 'inspect only this conversation (repeatable)', collect);
}
