/**
 * The recorded Codex rollouts (test/fixtures/codex, made by scripts/record-codex-fixtures.mjs
 * with the real Codex CLI) and variants derived from them: the envelope variant without
 * `ordinal`s, and the legacy variant of bare objects (`codex-rs/core/src/rollout.rs` at
 * openai/codex 89a151f5: a bare `SessionMeta` line, bare `ResponseItem` lines,
 * `{ record_type: "state" }` lines, no timestamps).
 */
import { readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach } from 'vitest';

export type Line = Record<string, unknown> & { type?: string; payload?: Record<string, unknown> };

/** The directory of the recorded fixtures. */
export const FIXTURES = resolve(dirname(fileURLToPath(import.meta.url)), '../fixtures/codex');

export const FIXTURE_NAMES = ['plain-turns', 'function-call', 'multi-turn-resume', 'interrupted-turn'] as const;
export type FixtureName = (typeof FIXTURE_NAMES)[number];

/** The path of a recorded fixture. */
export function fixturePath(name: FixtureName): string {
  return join(FIXTURES, `rollout-${name}.jsonl`);
}

/** What the recording script wrote about each fixture. */
export const MANIFEST = JSON.parse(readFileSync(join(FIXTURES, 'manifest.json'), 'utf8')) as {
  codex: string;
  fixtures: { scenario: FixtureName; thread_id: string; file: string; lines: number }[];
};

/** The lines of a recorded fixture, parsed. */
export function fixtureLines(name: FixtureName): Line[] {
  return readFileSync(fixturePath(name), 'utf8')
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as Line);
}

/** The fixture without `ordinal`s and `history_mode` (Codex before paginated history). */
export function envelopeVariant(lines: readonly Line[]): Line[] {
  return lines.map((line) => {
    const { ordinal: _ordinal, ...rest } = line;
    if (rest.type === 'session_meta' && rest.payload) {
      const { history_mode: _mode, ...payload } = rest.payload;
      return { ...rest, payload };
    }
    return rest;
  });
}

/** The fixture as a legacy rollout: bare meta, bare response items, state lines after each turn. */
export function legacyVariant(lines: readonly Line[]): Line[] {
  const meta = lines[0]?.payload ?? {};
  const out: Line[] = [{ id: meta.id, timestamp: meta.timestamp }];
  for (const line of lines.slice(1)) {
    if (line.type === 'response_item' && line.payload) out.push({ ...line.payload });
    if (line.type === 'event_msg' && line.payload?.type === 'task_complete') out.push({ record_type: 'state' });
  }
  return out;
}

const dirs: string[] = [];
afterEach(async () => {
  // Retried: a store may still be releasing a lease file as the test ends.
  await Promise.all(dirs.splice(0).map((d) => rm(d, { recursive: true, force: true, maxRetries: 10, retryDelay: 20 })));
});

/** A temporary directory, removed after the test. */
export async function tempDir(prefix = 'colloquy-import-'): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  dirs.push(dir);
  return dir;
}

/** Write lines (objects are JSON-encoded, strings written as they are) as a rollout file (creating `dir`). */
export async function writeRollout(dir: string, name: string, lines: readonly (Line | string)[], options: { trailingNewline?: boolean; bom?: boolean } = {}): Promise<string> {
  await mkdir(dir, { recursive: true });
  const path = join(dir, name);
  const body = lines.map((l) => (typeof l === 'string' ? l : JSON.stringify(l))).join('\n');
  await writeFile(path, `${options.bom ? '\uFEFF' : ''}${body}${options.trailingNewline === false ? '' : '\n'}`, 'utf8');
  return path;
}

/** The text of a user-role message line, if it is one. */
export function messageText(line: Line): string | undefined {
  const content = line.payload?.content;
  if (!Array.isArray(content)) return undefined;
  return content.map((c: { text?: string }) => c.text ?? '').join('');
}

/**
 * Whether the importer must keep a recorded line as an opaque record: what it does not map to a
 * record of its own (stated independently of the importer, from the fixtures' line kinds).
 */
export function isUnmapped(line: Line): boolean {
  const p = line.payload ?? {};
  switch (line.type) {
    case 'session_meta':
      return true;
    case 'turn_context':
    case 'compacted':
      return false;
    case 'event_msg':
      return !['task_started', 'task_complete', 'turn_aborted', 'token_count'].includes(String(p.type)) || (p.type === 'token_count' && p.info === null);
    case 'response_item':
      if (p.type === 'message') return p.role !== 'assistant' && (p.role !== 'user' || (messageText(line) ?? '').trimStart().startsWith('<'));
      return !['reasoning', 'function_call', 'function_call_output'].includes(String(p.type));
    default:
      return true;
  }
}
