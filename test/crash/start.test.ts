/**
 * Crash trials of `runtime.start()`: a child process running the BUILT package starts
 * conversations in a loop, many at once (durability `sync`), and is SIGKILLed at a random
 * moment, so some are killed in the middle of their creation. Then:
 *
 * - no log without its header is among the logs (a log killed before its header was durable
 *   is left in `sessions/.creating` only);
 * - a store opened on the home removes what the crash left there and reports it
 *   (`bad_header`), and every conversation it lists can be read and resumed;
 * - every conversation the child was told exists (`start()` resolved) is listed.
 *
 * CRASH_START_TRIALS (default 3) sets the number of trials. Requires `npm run build`.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createRuntime, FileStore, type LogIssue } from '../../src/index.js';
import { prng } from '../support/prng.mjs';

const DIST = new URL('../../dist/src/index.js', import.meta.url).href;
const TRIALS = Number(process.env.CRASH_START_TRIALS ?? 3);
const homes: string[] = [];
afterAll(() => {
  for (const h of homes) rmSync(h, { recursive: true, force: true });
});

/** Start conversations in batches of 64 until killed; print each id once `start()` resolved. */
const WORKER = `
  import { createRuntime } from ${JSON.stringify(DIST)};
  const runtime = createRuntime({ home: process.argv[1], durability: 'sync' });
  process.stdout.write('ready\\n');
  for (;;) {
    const started = await Promise.all(Array.from({ length: 64 }, () => runtime.start({ name: 'crash' })));
    process.stdout.write(started.map((c) => c.id).join('\\n') + '\\n');
  }
`;

/** Run the worker on `home`, SIGKILL it `killAfterMs` after its first acknowledged start; resolves with the ids it was told exist. */
function runAndKill(home: string, killAfterMs: number): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--input-type=module', '-e', WORKER, home], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    let timer: NodeJS.Timeout | null = null;
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      if (timer === null && out.split('\n').length > 2) timer = setTimeout(() => child.kill('SIGKILL'), killAfterMs);
    });
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.once('error', reject);
    child.once('exit', (code, signal) => {
      if (signal !== 'SIGKILL') return reject(new Error(`the worker exited by itself (${code}): ${err}`));
      // Only complete lines: a line cut by the kill names no acknowledged conversation.
      const lines = out.slice(0, out.lastIndexOf('\n') + 1).split('\n');
      resolve(lines.filter((l) => /^[0-9A-Z]{26}$/.test(l)));
    });
  });
}

/** The logs in `sessions/.creating` (none when it does not exist). */
function creating(home: string): string[] {
  try {
    return readdirSync(join(home, 'sessions', '.creating')).filter((n) => n.endsWith('.jsonl'));
  } catch {
    return [];
  }
}

/** Every `.jsonl` file below `dir`. */
function logsUnder(dir: string): string[] {
  let found: string[] = [];
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  for (const name of names) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) found = found.concat(logsUnder(path));
    else if (name.endsWith('.jsonl')) found.push(path);
  }
  return found;
}

describe('crash during start', () => {
  for (let trial = 0; trial < TRIALS; trial++) {
    it(`trial ${trial}: a conversation killed while it was created is absent, never a log without its header`, async () => {
      const random = prng(1000 + trial);
      const home = mkdtempSync(join(tmpdir(), 'colloquy-crash-start-'));
      homes.push(home);
      const acknowledged = await runAndKill(home, 20 + Math.floor(random() * 300));
      // Among the logs, every one has its header (a complete first line).
      const placed = logsUnder(join(home, 'sessions')).filter((p) => !p.includes('.creating'));
      const headerless = placed.filter((p) => !readFileSync(p).includes(0x0a));
      expect(headerless, 'logs without their header').toEqual([]);
      const left = creating(home);
      console.error(`[crash-start] trial ${trial}: ${acknowledged.length} started, ${placed.length} logs, ${left.length} cut short`);

      const issues: LogIssue[] = [];
      const store = new FileStore({ home, onIssue: (i) => issues.push(i) });
      const runtime = createRuntime({ store });
      const listed: string[] = [];
      let cursor: string | null = null;
      do {
        const page: Awaited<ReturnType<typeof runtime.list>> = await runtime.list({ limit: 1000, cursor });
        listed.push(...page.items.map((s) => s.id));
        cursor = page.nextCursor;
      } while (cursor !== null);
      // What the crash left is gone, and was reported.
      expect(creating(home)).toEqual([]);
      expect(issues.filter((i) => i.kind === 'bad_header').map((i) => i.conversationId).sort()).toEqual(left.map((n) => n.slice(0, 26)).sort());
      // Every acknowledged conversation is listed, and every listed one reads and resumes.
      expect(new Set(listed)).toEqual(new Set([...listed, ...acknowledged]));
      for (const id of listed) expect((await runtime.read(id)).id).toBe(id);
      for (const id of listed.slice(0, 20)) await (await runtime.resume(id)).close();
      await runtime.shutdown();
    }, 120_000);
  }
});
