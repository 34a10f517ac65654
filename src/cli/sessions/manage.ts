/**
 * The changing side of `colloquy sessions`: `fork` (a new conversation from an old one, the
 * source untouched), `archive` / `unarchive`, and `rm` (asks first on a terminal; elsewhere
 * only with `--yes`).
 */
import { createInterface } from 'node:readline';
import { ConversationHasForksError, InvalidOpError, SessionNotFoundError } from '../../errors.js';
import { assertConversationId } from '../../protocol/ids.js';
import type { Runtime } from '../../runtime/runtime.js';
import { writeJson, type CommandIO } from '../shared/io.js';
import { homeOf, type HomeOption } from '../shared/options.js';
import { withRuntime } from '../shared/runtime.js';
import { shellWord } from '../shared/text.js';
import { UsageError } from '../shared/usage.js';

/** Options of `sessions fork`. */
export interface ForkCommandOptions extends HomeOption {
  /** Keep the user turns before the n-th (1-based). Default: everything up to the last finished turn. */
  readonly beforeTurn?: number;
  readonly name?: string;
  readonly json?: boolean;
}

/**
 * `sessions fork <id>`: prints the new conversation's id on stdout (`--json`:
 * `{ id, forkedFrom: { id, upToSeq }, name }`).
 */
export async function runFork(id: string, options: ForkCommandOptions, io: CommandIO): Promise<number> {
  return withRuntime(homeOf(options), async (runtime) => {
    let forked;
    try {
      forked = await runtime.fork(id, {
        ...(options.beforeTurn !== undefined ? { beforeUserTurn: options.beforeTurn } : {}),
        ...(options.name !== undefined ? { name: options.name } : {}),
      });
    } catch (err) {
      // Only a --before-turn past the end (or a bad --name) gets here as an InvalidOpError.
      if (err instanceof InvalidOpError) throw new UsageError(`--before-turn: ${err.issues[0]?.message ?? err.message}`);
      throw err;
    }
    const head = await runtime.store.head(forked.id);
    const origin = head.type === 'session_meta' ? head.payload.forked_from : undefined;
    const name = forked.name;
    if (options.json) {
      writeJson(io.stdout, { id: forked.id, forkedFrom: origin ? { id: origin.id, upToSeq: origin.up_to_seq } : null, name });
    } else {
      io.stdout.write(`${forked.id}\n`);
      const where = options.beforeTurn !== undefined ? ` before its turn ${options.beforeTurn}` : '';
      const home = options.home !== undefined ? ` --home ${shellWord(homeOf(options))}` : '';
      io.stderr.write(`forked ${assertConversationId(id)}${where} into ${forked.id}\nto continue: colloquy chat resume${home} ${forked.id}\n`);
    }
    return 0;
  });
}

/** Options of `archive`, `unarchive` and `rm`. */
export interface ManageOptions extends HomeOption {
  /** `rm` only: delete without asking. */
  readonly yes?: boolean;
}

async function summaryOrThrow(runtime: Runtime, id: string) {
  const canonical = assertConversationId(id);
  if (!(await runtime.store.exists(canonical))) throw new SessionNotFoundError(canonical, runtime.store.description);
  return runtime.store.summary(canonical);
}

/**
 * Run `fn` holding the conversation's write lease, so that a conversation another process is
 * writing is neither moved nor deleted under it: taking the lease fails with
 * `SessionLockedError`, naming that process. The lease is let go afterwards (a deleted
 * conversation's lease goes with it).
 */
async function exclusively<T>(runtime: Runtime, id: string, fn: () => Promise<T>): Promise<T> {
  await runtime.store.acquire(id);
  try {
    return await fn();
  } finally {
    await runtime.store.release(id).catch(() => {});
  }
}

/**
 * `sessions archive <id>` / `sessions unarchive <id>`. Archiving an archived one (or the
 * reverse) changes nothing. A conversation another process is writing is refused (exit 1).
 */
export async function runArchive(id: string, archive: boolean, options: ManageOptions, io: CommandIO): Promise<number> {
  return withRuntime(homeOf(options), async (runtime) => {
    const summary = await summaryOrThrow(runtime, id);
    const verb = archive ? 'archived' : 'unarchived';
    if (summary.archived === archive) {
      io.stdout.write(`${summary.id} was already ${archive ? 'archived' : 'not archived'}\n`);
      return 0;
    }
    await exclusively(runtime, summary.id, () => (archive ? runtime.archive(summary.id) : runtime.unarchive(summary.id)));
    io.stdout.write(`${verb} ${summary.id}\n`);
    return 0;
  });
}

/** Ask a yes/no question on the terminal; Ctrl-C, Ctrl-D and anything but y/yes mean no. */
export function confirm(io: CommandIO, question: string): Promise<boolean> {
  return new Promise((resolveAnswer) => {
    const rl = createInterface({ input: io.stdin, output: io.stderr as NodeJS.WritableStream, terminal: true });
    let answered = false;
    const finish = (yes: boolean): void => {
      if (answered) return;
      answered = true;
      rl.close();
      resolveAnswer(yes);
    };
    rl.on('SIGINT', () => {
      io.stderr.write('\n');
      finish(false);
    });
    rl.on('close', () => finish(false));
    rl.question(question, (answer) => finish(/^y(es)?$/i.test(answer.trim())));
  });
}

/**
 * `sessions rm <id>`: delete a conversation for good. On a terminal it asks first (unless
 * `--yes`); when stdin is not a terminal, `--yes` is required (a usage error otherwise). A
 * conversation another process is writing, or one that others were forked from, is refused
 * (exit 1).
 */
export async function runRemove(id: string, options: ManageOptions, io: CommandIO): Promise<number> {
  if (!options.yes && !io.stdin.isTTY) {
    throw new UsageError(`not deleting ${id}: stdin is not a terminal to confirm on; add --yes to delete without asking`);
  }
  return withRuntime(homeOf(options), async (runtime) => {
    const summary = await summaryOrThrow(runtime, id);
    // Taken before asking: a conversation another process is writing is refused at once.
    return exclusively(runtime, summary.id, async () => {
      // A fork keeps only what it added: the turns it was forked with are read from this log.
      const forks = await runtime.forks(summary.id);
      if (forks.length > 0) throw new ConversationHasForksError(summary.id, forks);
      if (!options.yes) {
        const what = `${summary.id}${summary.name !== undefined ? ` "${summary.name}"` : ''}${summary.archived ? ' (archived)' : ''}`;
        if (!(await confirm(io, `Delete conversation ${what} for good? This cannot be undone. [y/N] `))) {
          io.stderr.write('not deleted\n');
          return 1;
        }
      }
      await runtime.delete(summary.id);
      io.stdout.write(`deleted ${summary.id}\n`);
      return 0;
    });
  });
}
