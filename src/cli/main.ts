/**
 * The `colloquy` command line.
 */
import { Command, CommanderError, Option } from 'commander';
import { VERSION } from '../version.js';
import { UsageError } from './config.js';
import { runExec, type ExecIO, type ExecOptions } from './exec.js';
import { runImportCodex, type ImportOptions } from './import.js';
import { registerChat } from './commands/chat.js';
import { registerHistory } from './commands/history.js';
import { registerSessions } from './commands/sessions.js';
import { registerServe } from './serve.js';

const collect = (value: string, previous: string[] = []): string[] => [...previous, value];

/** The options `codex exec` takes (and `@openai/codex-sdk` passes), plus Colloquy's own. */
function execOptions(command: Command): Command {
  return command
    .option('--json', 'print the event stream as JSON lines (exactly `codex exec --experimental-json`)')
    .addOption(new Option('--experimental-json', 'same as --json').hideHelp())
    .option('-c, --config <key=value>', 'override a setting; value is a TOML literal (repeatable)', collect)
    .option('-m, --model <model>', 'model the turns run with')
    .option('-s, --sandbox <mode>', 'sandbox mode, recorded with the turn (read-only, workspace-write, danger-full-access)')
    .option('-C, --cd <dir>', 'working directory of the conversation')
    .option('--add-dir <dir>', 'another writable directory (repeatable)', collect)
    .option('--skip-git-repo-check', 'accepted for Codex compatibility (Colloquy needs no git repository)')
    .option('--output-schema <file>', 'JSON Schema the final message should follow (recorded with the conversation)')
    .option('-i, --image <file>', 'attach an image to the prompt (repeatable)', collect)
    .option('-a, --approval-policy <policy>', 'never | on-request | on-failure | untrusted (exec cannot ask: commands needing approval are declined)')
    .option('--home <dir>', 'where conversations are stored (default $COLLOQUY_HOME or ~/.colloquy)')
    .option('--ephemeral', 'keep the conversation in memory only')
    .option('--name <name>', 'name a new conversation')
    .option('-o, --output-last-message <file>', 'write the final agent message to a file')
    .option('--durability <mode>', 'sync | batched | none (default sync)')
    .option('--agent-script <file>', "replay this JSON script with the local agent's scripted mode")
    .addOption(new Option('--thread-source <source>', 'accepted for Codex SDK compatibility').hideHelp())
    .addOption(new Option('--cyber-access-program <program>', 'accepted for Codex SDK compatibility').hideHelp());
}

function normalise(raw: Record<string, unknown>): ExecOptions {
  const o = raw as ExecOptions & { experimentalJson?: boolean };
  return { ...o, json: Boolean(o.json || o.experimentalJson) };
}

/** Build the program. `io` is where commands read and write; `setExit` receives the exit code. */
export function program(io: ExecIO, setExit: (code: number) => void): Command {
  const root = new Command('colloquy')
    .description('Run AI-agent conversations as durable, inspectable actors.')
    .version(VERSION, '-V, --version')
    .showHelpAfterError()
    .exitOverride()
    .configureOutput({ writeOut: (s) => io.stdout.write(s), writeErr: (s) => io.stderr.write(s) });

  const exec = execOptions(
    root
      .command('exec')
      .description('run one turn of a new conversation (or of a resumed one: exec resume <id>)')
      .argument('[prompt]', 'the prompt; "-" or nothing reads it from stdin'),
  )
    .exitOverride()
    .action(async (prompt: string | undefined, opts: Record<string, unknown>) => {
      setExit(await runExec({ ...normalise(opts), ...(prompt !== undefined ? { prompt } : {}) }, io));
    });

  execOptions(
    exec
      .command('resume')
      .description('continue a conversation with one more turn')
      .argument('[id]', 'the conversation id (a ULID)')
      .argument('[prompt]', 'the prompt; "-" or nothing reads it from stdin')
      .option('--last', 'resume the most recently updated conversation'),
  )
    .exitOverride()
    .action(async (id: string | undefined, prompt: string | undefined, opts: Record<string, unknown>, command: Command) => {
      const merged = normalise({ ...command.parent?.opts(), ...opts });
      const last = Boolean(opts.last);
      // With --last, a single operand is the prompt.
      const theId = last ? undefined : id;
      const thePrompt = last && prompt === undefined ? id : prompt;
      setExit(
        await runExec(
          { ...merged, resume: { ...(theId !== undefined ? { id: theId } : {}), last }, ...(thePrompt !== undefined ? { prompt: thePrompt } : {}) },
          io,
        ),
      );
    });

  const importCommand = root
    .command('import')
    .description('import conversations from another tool (import codex <file|dir>)')
    .exitOverride();
  importCommand
    .command('codex')
    .description('import Codex rollouts (a rollout-*.jsonl file, or every one under a directory such as ~/.codex) as new conversations')
    .argument('<path>', 'a Codex rollout file, or a directory to search for rollout-*.jsonl files')
    .option('--home <dir>', 'where conversations are stored (default $COLLOQUY_HOME or ~/.colloquy)')
    .option('--json', 'print the result as one JSON object')
    .option('--lenient', 'skip lines that are not JSON (and report them) instead of failing the file')
    .exitOverride()
    .action(async (path: string, opts: ImportOptions) => {
      setExit(await runImportCodex(path, opts, io));
    });
  registerChat(root, io, setExit);
  registerSessions(root, io, setExit);
  registerHistory(root, io, setExit);
  registerServe(root, io, setExit);
  return root;
}

/** Run the command line; resolves with the exit code. */
export async function main(argv: readonly string[], io: ExecIO): Promise<number> {
  let code = 0;
  const root = program(io, (c) => {
    code = c;
  });
  try {
    await root.parseAsync([...argv], { from: 'user' });
  } catch (err) {
    if (err instanceof CommanderError) {
      // --help and --version end here with code 0.
      return err.exitCode === 0 ? 0 : 2;
    }
    if (err instanceof UsageError) {
      io.stderr.write(`error: ${err.message}\n`);
      return 2;
    }
    io.stderr.write(`error: ${err instanceof Error ? err.message : String(err)}\n`);
    return 1;
  }
  return code;
}
