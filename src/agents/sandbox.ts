/**
 * The sandbox of an agent's shell commands, from the conversation's `sandbox` setting, enforced
 * on Linux with bubblewrap (`bwrap`) as Codex enforces the same modes with Landlock and seccomp:
 *
 * - `read-only`: the whole filesystem is read-only; `/dev`, `/proc` and `/tmp` are fresh and
 *   private (writes to `/tmp` are discarded with the command); no network unless allowed.
 * - `workspace-write`: as `read-only`, but the conversation's `cwd` and its `writableRoots`
 *   are writable.
 * - `danger-full-access`, or no mode at all: no sandbox.
 *
 * Where a mode cannot be enforced (no `bwrap`, no namespaces, another OS), a command under it
 * fails with a `SandboxError` and never runs unsandboxed.
 */
import { isAbsolute, relative, resolve } from 'node:path';
import { ColloquyError } from '../errors.js';
import type { ConversationConfig } from '../protocol/records.js';

/** The settings of a conversation a command's sandbox comes from (a `ConversationConfig` has them all). */
export type SandboxSettings = Pick<ConversationConfig, 'cwd' | 'sandbox' | 'networkAccess' | 'writableRoots'>;

/** A sandbox to apply: what a command may write, and whether it may use the network. */
export interface SandboxPolicy {
  readonly mode: 'read-only' | 'workspace-write';
  /** May the command use the network. */
  readonly networkAccess: boolean;
  /** Absolute directories the command may write: under `workspace-write`, the conversation's cwd first; none under `read-only`. */
  readonly writableRoots: readonly string[];
  /** The conversation's working directory (kept visible even when it is under `/tmp`). */
  readonly cwd: string;
}

/** What kept a command from running: its sandbox could not be applied, or its mode is unknown. */
export type SandboxErrorCode = 'sandbox_unavailable' | 'invalid_sandbox';

/**
 * A command did not run because its sandbox could not be applied (`sandbox_unavailable`: no
 * bubblewrap, no namespaces, not Linux) or its sandbox mode is unknown (`invalid_sandbox`).
 * Reported as the failed `command_execution` item's output.
 */
export class SandboxError extends ColloquyError {
  /** The sandbox mode that was asked for. */
  readonly mode: string;
  constructor(code: SandboxErrorCode, mode: string, message: string) {
    super(code, message);
    this.mode = mode;
  }
}

/**
 * The sandbox `settings` ask for, or null for none (`danger-full-access`, or no mode set).
 * Relative writable roots are taken from the conversation's cwd.
 * @throws {SandboxError} `invalid_sandbox` for a mode other than the three known ones.
 */
export function sandboxPolicy(settings: SandboxSettings): SandboxPolicy | null {
  const mode = settings.sandbox;
  if (mode === undefined || mode === 'danger-full-access') return null;
  if (mode !== 'read-only' && mode !== 'workspace-write') {
    const message = `unknown sandbox mode ${JSON.stringify(mode)} (expected read-only, workspace-write or danger-full-access): the command did not run`;
    throw new SandboxError('invalid_sandbox', mode, message);
  }
  const cwd = resolve(settings.cwd);
  const roots = mode === 'workspace-write' ? unique([cwd, ...(settings.writableRoots ?? []).map((root) => resolve(cwd, root))]) : [];
  return { mode, networkAccess: settings.networkAccess === true, writableRoots: roots, cwd };
}

function unique(paths: readonly string[]): string[] {
  return [...new Set(paths)];
}

/** Is `path` `dir` or below it (both absolute)? */
function within(dir: string, path: string): boolean {
  const rel = relative(dir, path);
  return rel === '' || (!rel.startsWith('..') && !isAbsolute(rel));
}

/**
 * The arguments of `bwrap` that run a command under `policy` in `cwd`: everything before the
 * command itself (it ends with `--`). Pure: it looks at no file.
 *
 * The whole filesystem is bound read-only, `/dev`, `/proc` and `/tmp` are fresh, the command
 * gets its own PID namespace (so stopping bwrap stops everything inside) and, without network
 * access, its own network namespace (only a loopback of its own). Directories under `/tmp`
 * that the command works in are bound again (read-only), the writable roots read-write.
 */
export function bwrapArguments(policy: SandboxPolicy, cwd: string): string[] {
  const args = ['--die-with-parent', '--unshare-pid'];
  if (!policy.networkAccess) args.push('--unshare-net');
  args.push('--ro-bind', '/', '/', '--dev', '/dev', '--proc', '/proc', '--tmpfs', '/tmp');
  const writable = policy.writableRoots;
  for (const dir of unique([policy.cwd, cwd])) {
    if (dir !== '/tmp' && within('/tmp', dir) && !writable.some((root) => within(root, dir))) args.push('--ro-bind-try', dir, dir);
  }
  for (const root of writable) args.push('--bind-try', root, root);
  args.push('--setenv', 'TMPDIR', '/tmp', '--chdir', cwd, '--');
  return args;
}

/** Where to find bubblewrap and on which OS (for tests; the defaults are the real ones). */
export interface SandboxHost {
  /** The `bwrap` executable: a path or a name looked up on PATH. Default `$COLLOQUY_BWRAP`, else `bwrap`. */
  readonly bwrap?: string;
  /** The OS (`process.platform`). */
  readonly platform?: string;
}

/** The `bwrap` executable `host` names. */
export function bwrapPath(host: SandboxHost = {}): string {
  return host.bwrap ?? (process.env.COLLOQUY_BWRAP || 'bwrap');
}

/** Why bubblewrap cannot be used (or null when it can): not found, or found and failing. */
type ProbeOutcome = { readonly missing: boolean; readonly detail: string } | null;

/** One probe per executable and network setting: a process starts it once. */
const probes = new Map<string, Promise<ProbeOutcome>>();

function probe(bwrap: string, networkAccess: boolean): Promise<ProbeOutcome> {
  const key = `${bwrap}\n${networkAccess}`;
  let outcome = probes.get(key);
  if (!outcome) {
    const args = bwrapArguments({ mode: 'read-only', networkAccess, writableRoots: [], cwd: '/' }, '/');
    // Loaded on first use, as runCommand loads it: most turns run no command.
    const { execFile } = process.getBuiltinModule('node:child_process');
    outcome = new Promise((done) => {
      execFile(bwrap, [...args, '/bin/sh', '-c', ':'], { timeout: 10_000 }, (err, _stdout, stderr) => {
        if (!err) return done(null);
        const missing = (err as NodeJS.ErrnoException).code === 'ENOENT';
        const said = String(stderr).trim().split('\n')[0] ?? '';
        done({ missing, detail: said !== '' ? said : err.message });
      });
    });
    probes.set(key, outcome);
  }
  return outcome;
}

/**
 * Why commands cannot run under `policy` here, or null when they can: a quick probe of
 * bubblewrap (run once per executable and network setting, then cached).
 */
export async function sandboxUnavailable(policy: SandboxPolicy, host: SandboxHost = {}): Promise<SandboxError | null> {
  const platform = host.platform ?? process.platform;
  const mode = policy.mode;
  if (platform !== 'linux') {
    return new SandboxError('sandbox_unavailable', mode, `sandbox ${mode} is enforced only on Linux (with bubblewrap), not on ${platform}: the command did not run`);
  }
  const bwrap = bwrapPath(host);
  const outcome = await probe(bwrap, policy.networkAccess);
  if (outcome === null) return null;
  const message = outcome.missing
    ? `sandbox ${mode} needs bubblewrap (bwrap): apt-get install bubblewrap${bwrap === 'bwrap' ? '' : ` (no ${bwrap})`}`
    : `sandbox ${mode} could not be set up with bubblewrap (${bwrap}): ${outcome.detail}`;
  return new SandboxError('sandbox_unavailable', mode, `${message}; the command did not run`);
}
