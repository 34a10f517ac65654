/**
 * `colloquy exec [prompt]` and `colloquy exec resume [id] [prompt]`: one turn, as `codex exec`
 * runs it (see `src/cli/exec.ts`). The inspection options are added by `registerInspect`.
 */
import { Command, Option } from 'commander';
import { runExec, type ExecOptions } from '../exec.js';
import type { CommandIO, SetExit } from '../shared/io.js';
import { collect, HOME_HELP } from '../shared/options.js';

/** The options `codex exec` takes (and `@openai/codex-sdk` passes), plus Colloquy's own. */
function execOptions(command: Command): Command {
  return command
    .option('--json', 'print the event stream as JSON lines (exactly `codex exec --experimental-json`)')
    .addOption(new Option('--experimental-json', 'same as --json').hideHelp())
    .option('-c, --config <key=value>', 'override a setting; value is a TOML literal (repeatable)', collect)
    .option('-m, --model <model>', 'model the turns run with')
    .option('-s, --sandbox <mode>', 'where commands run: read-only, workspace-write or danger-full-access (enforced with bubblewrap on Linux)')
    .option('-C, --cd <dir>', 'working directory of the conversation')
    .option('--add-dir <dir>', 'another directory commands may write under workspace-write (repeatable)', collect)
    .option('--skip-git-repo-check', 'accepted for Codex compatibility (Colloquy needs no git repository)')
    .option('--output-schema <file>', 'JSON Schema the final message should follow (recorded with the conversation)')
    .option('-i, --image <file>', 'attach an image to the prompt (repeatable)', collect)
    .option('-a, --approval-policy <policy>', 'never | on-request | on-failure | untrusted (exec cannot ask: commands needing approval are declined)')
    .option('--home <dir>', HOME_HELP)
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

/** Register `colloquy exec` and `colloquy exec resume` on `program`. */
export function registerExec(program: Command, io: CommandIO, setExit: SetExit): Command {
  const exec = execOptions(
    program
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
  return exec;
}
