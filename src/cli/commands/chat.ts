/**
 * `colloquy chat [options] [resume <id>]`: an interactive conversation (see `src/cli/chat/`).
 * The chat itself, its prompt library and its spinner are loaded when the command runs, so
 * registering it costs `colloquy exec` nothing.
 */
import type { Command } from 'commander';
import type { ChatOptions } from '../chat/session.js';
import type { CommandIO, SetExit } from '../shared/io.js';
import { withHome } from '../shared/options.js';
import { UsageError } from '../shared/usage.js';

function chatOptions(command: Command): Command {
  return withHome(command)
    .option('-m, --model <model>', 'model the turns run with')
    .option('-a, --approval-policy <policy>', 'when commands need your approval: never | on-request (default) | on-failure | untrusted')
    .option('-C, --cd <dir>', 'working directory of the conversation')
    .option('--name <name>', 'name a new conversation')
    .option('--agent-script <file>', "replay this JSON script with the local agent's scripted mode");
}

async function run(options: ChatOptions, io: CommandIO): Promise<number> {
  const { runChat } = await import('../chat/session.js');
  return runChat(options, io);
}

/** Register `colloquy chat` and `colloquy chat resume <id>` on `program`. */
export function registerChat(program: Command, io: CommandIO, setExit: SetExit): Command {
  const chat = chatOptions(program.command('chat'))
    .description('talk with an agent: streamed replies, approvals, Ctrl-C interrupts, /help for commands (chat resume <id> continues one)')
    .action(async (opts: ChatOptions) => {
      setExit(await run(opts, io));
    });
  chatOptions(chat.command('resume'))
    .description('continue a conversation interactively')
    .argument('[id]', 'the conversation id (a ULID)')
    .option('--last', 'resume the most recently updated conversation')
    .action(async (id: string | undefined, opts: ChatOptions & { last?: boolean }, command: Command) => {
      const merged = { ...command.parent?.opts(), ...opts } as ChatOptions & { last?: boolean };
      if (id === undefined && !merged.last) throw new UsageError('chat resume: give a conversation id, or --last');
      setExit(await run({ ...merged, resume: { ...(id !== undefined ? { id } : {}), last: Boolean(merged.last) } }, io));
    });
  return chat;
}
