/**
 * The built-in `shell` tool: runs a command line with `/bin/sh -c` in the conversation's
 * working directory, shown as a `command_execution` item whose output streams as it comes.
 * Output beyond a byte limit keeps its start and end with the middle elided; a timeout kills
 * the command (as Codex's exec tool).
 */
import { isAbsolute, resolve } from 'node:path';
import * as z from 'zod/mini';
import type { ThreadItem } from '../../protocol/items.js';
import { finishedCommand, runCommand } from '../shell.js';
import { isKnownSafeCommand } from './safe-commands.js';
import { jsonSchemaOf, parseArguments, type Tool, type ToolContext, type ToolResult } from './tool.js';

/** Options of the shell tool. */
export interface ShellToolOptions {
  /** Default time limit of a command (ms); the model may ask for less or more, up to `maxTimeoutMs`. Default 30,000. */
  readonly timeoutMs?: number;
  /** Longest time limit a model may ask for (ms). Default 600,000. */
  readonly maxTimeoutMs?: number;
  /** Output kept per command (bytes), the middle elided beyond it. Default 64 KiB. */
  readonly maxOutputBytes?: number;
  /** Least time between two progress updates of a running command (ms). Default 100. */
  readonly updateIntervalMs?: number;
  /** Extra command lines (exact) to treat as harmless under `untrusted`. */
  readonly trustedCommands?: readonly string[];
}

const ShellArguments = z.strictObject({
  command: z.string().check(z.minLength(1)),
  timeout_ms: z.optional(z.int().check(z.minimum(1))),
  workdir: z.optional(z.string().check(z.minLength(1))),
});
type ShellArguments = z.infer<typeof ShellArguments>;

/** The model's view of a finished command: exit code and output, as plain text. */
export function shellOutput(exitCode: number | undefined, output: string): string {
  return `Exit code: ${exitCode ?? 'none'}\nOutput:\n${output}`;
}

/** The `shell` tool. */
export function shellTool(options: ShellToolOptions = {}): Tool<ShellArguments> {
  const trusted = new Set(options.trustedCommands ?? []);
  const interval = options.updateIntervalMs ?? 100;
  return {
    name: 'shell',
    description:
      'Run a shell command line (/bin/sh -c) in the working directory and return its exit code and output (stdout and stderr interleaved). ' +
      'Long output is shortened in the middle.',
    parameters: jsonSchemaOf(ShellArguments),
    retryable: true,
    parse: (args) => parseArguments('shell', ShellArguments, args),
    mutates: () => true,
    trusted: (args) => trusted.has(args.command) || isKnownSafeCommand(args.command),
    started: (args, { itemId, callId }) => ({
      id: itemId,
      type: 'command_execution',
      command: args.command,
      aggregated_output: '',
      status: 'in_progress',
      call_id: callId,
    }),
    declined: (item) => (item.type === 'command_execution' ? { ...item, status: 'declined' } : item),
    async run(args: ShellArguments, item: ThreadItem, context: ToolContext): Promise<ToolResult> {
      if (item.type !== 'command_execution') throw new TypeError('the shell tool runs command_execution items');
      const timeoutMs = Math.min(args.timeout_ms ?? options.timeoutMs ?? 30_000, options.maxTimeoutMs ?? 600_000);
      const cwd = args.workdir === undefined ? context.cwd : isAbsolute(args.workdir) ? args.workdir : resolve(context.cwd, args.workdir);
      let shown = '';
      let last = 0;
      const result = await runCommand(args.command, {
        cwd,
        signal: context.signal,
        ...(context.sandbox ? { sandbox: context.sandbox } : {}),
        timeoutMs,
        ...(options.maxOutputBytes !== undefined ? { maxOutputBytes: options.maxOutputBytes } : {}),
        onOutput: (chunk) => {
          // Progress for watchers; bounded like the final output.
          shown = (shown + chunk).slice(-(options.maxOutputBytes ?? 64 * 1024));
          const now = Date.now();
          if (now - last >= interval) {
            last = now;
            context.update({ ...item, aggregated_output: shown });
          }
        },
      });
      const done = finishedCommand(item, result);
      return { output: shellOutput(done.exit_code, result.output), success: done.status === 'completed', item: done };
    },
  };
}
