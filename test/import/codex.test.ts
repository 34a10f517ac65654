/**
 * Codex import over rollouts recorded from the real Codex CLI (test/fixtures/codex) and
 * variants derived from them: what each becomes, that it resumes with the same history, and
 * that nothing in a rollout is lost or crashes the import.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  CodexImportError,
  findCodexRollouts,
  importCodexRollout,
  importCodexRollouts,
  type CodexImportOptions,
  type CodexImportResult,
} from '../../src/import/codex.js';
import { CorruptLogError, createRuntime, FileStore, replay, StoreError, type LogRecord, type Store, type ThreadItem } from '../../src/index.js';
import {
  envelopeVariant,
  FIXTURE_NAMES,
  fixtureLines,
  fixturePath,
  isUnmapped,
  legacyVariant,
  MANIFEST,
  tempDir,
  writeRollout,
  type FixtureName,
  type Line,
} from './fixtures.js';

const ULID = /^[0-9A-HJKMNP-TV-Z]{26}$/;

/** Each item in a few words, for comparing whole turns. */
function describeItem(item: ThreadItem): string {
  switch (item.type) {
    case 'user_message':
      return `user: ${item.text}`;
    case 'agent_message':
      return `agent: ${item.text}`;
    case 'reasoning':
      return `reasoning: ${item.text}`;
    case 'command_execution':
      return `command: ${item.command} → ${JSON.stringify(item.aggregated_output)} exit ${item.exit_code ?? '-'} ${item.status}`;
    default:
      return item.type;
  }
}

/** What each recorded conversation must become: per turn, its status and items. */
const EXPECTED: Record<FixtureName, { status: string; reason?: string; items: string[] }[]> = {
  'plain-turns': [
    { status: 'completed', items: ['user: Hello, Codex.', 'agent: Hello! I am the mock model.'] },
    {
      status: 'completed',
      items: ['user: What did I just say?', 'reasoning: The user asks what they said before.', 'agent: You said: "Hello, Codex."'],
    },
  ],
  'function-call': [
    {
      status: 'completed',
      items: [
        'user: Run echo colloquy-fixture and tell me what it printed.',
        'command: echo colloquy-fixture → "colloquy-fixture\\n" exit 0 completed',
        'agent: The command printed colloquy-fixture.',
      ],
    },
  ],
  'multi-turn-resume': [
    { status: 'completed', items: ['user: Remember the codeword tangerine.', 'agent: Noted: the codeword is tangerine.'] },
    {
      status: 'completed',
      items: [
        'user: What is the codeword? Check it with a command.',
        'command: printf tangerine → "tangerine" exit 0 completed',
        'agent: The codeword is tangerine (checked with printf).',
      ],
    },
    { status: 'completed', items: ['user: Thanks, that is all.', 'agent: You are welcome.'] },
  ],
  'interrupted-turn': [
    { status: 'completed', items: ['user: Count to three.', 'agent: One, two, three.'] },
    { status: 'aborted', reason: 'interrupted', items: ['user: Now count to a million, slowly.'] },
  ],
};

const stores: FileStore[] = [];
afterEach(async () => {
  await Promise.all(stores.splice(0).map((s) => s.close()));
});

/** A file store in a fresh directory (closed after the test). */
async function newStore(): Promise<FileStore> {
  const store = new FileStore({ home: await tempDir('colloquy-home-') });
  stores.push(store);
  return store;
}

/** A runtime over its own file store at the same home (its shutdown closes that store only). */
function runtimeAt(store: Store) {
  return createRuntime({ store: new FileStore({ home: (store as FileStore).paths.home }) });
}

/** Run `work` with a runtime over `store`'s home (or over `store` itself), shut down afterwards. */
async function through<T>(store: Store, work: (rt: ReturnType<typeof createRuntime>) => Promise<T>, own = false): Promise<T> {
  const rt = own ? createRuntime({ store }) : runtimeAt(store);
  try {
    return await work(rt);
  } finally {
    await rt.shutdown();
  }
}

/** Import one rollout into `store` through a runtime. */
const importInto = (store: Store, path: string, options?: CodexImportOptions, own = false): Promise<CodexImportResult> =>
  through(store, (rt) => importCodexRollout(rt, path, options), own);

async function records(store: Store, id: string): Promise<LogRecord[]> {
  const out: LogRecord[] = [];
  for await (const r of store.read(id)) out.push(r);
  return out;
}

/** The imported conversation as `runtime.read` shows it, as status + described items per turn. */
async function readBack(store: Store, id: string) {
  const rt = runtimeAt(store);
  try {
    const convo = await rt.read(id);
    return {
      convo,
      turns: convo.turns.map((t) => ({ status: t.status, ...(t.reason !== undefined ? { reason: t.reason } : {}), items: t.items.map(describeItem) })),
    };
  } finally {
    await rt.shutdown();
  }
}

/** Resume the conversation with the local agent and run one turn. */
async function resumeAndRun(store: Store, id: string, text: string): Promise<string> {
  const rt = runtimeAt(store);
  try {
    const convo = await rt.resume(id);
    const result = await convo.run(text);
    return result.finalResponse;
  } finally {
    await rt.shutdown();
  }
}

async function importFile(lines: readonly (Line | string)[], options: CodexImportOptions = {}, write: { trailingNewline?: boolean; bom?: boolean } = {}) {
  const dir = await tempDir();
  const path = await writeRollout(dir, 'rollout-test.jsonl', lines, write);
  const store = await newStore();
  return { store, path, result: await importInto(store, path, options) };
}

function lastUserText(name: FixtureName): string {
  const turns = EXPECTED[name];
  const users = turns.flatMap((t) => t.items).filter((i) => i.startsWith('user: '));
  return (users.at(-1) ?? '').slice('user: '.length);
}

describe('importCodexRollout over the recorded Codex rollouts', () => {
  it(`the fixtures were recorded with the real Codex CLI (${MANIFEST.codex})`, () => {
    expect(MANIFEST.codex).toMatch(/^codex-cli \d+\.\d+\.\d+/);
    expect(MANIFEST.fixtures.map((f) => f.scenario).sort()).toEqual([...FIXTURE_NAMES].sort());
  });

  for (const name of FIXTURE_NAMES) {
    describe(name, () => {
      it('imports every turn and item, in order, with its status', async () => {
        const store = await newStore();
        const result = await importInto(store, fixturePath(name));
        expect(result.id).toMatch(ULID);
        expect(result.issues).toEqual([]);
        expect(result.codexThreadId).toBe(MANIFEST.fixtures.find((f) => f.scenario === name)?.thread_id);
        expect(result.turns).toBe(EXPECTED[name].length);
        expect(result.items).toBe(EXPECTED[name].flatMap((t) => t.items).length);
        const { turns, convo } = await readBack(store, result.id);
        expect(turns).toEqual(EXPECTED[name]);
        expect(convo.meta.source).toBe('codex-import');
        expect(convo.meta.metadata).toMatchObject({
          'codex.thread_id': result.codexThreadId,
          'codex.cli_version': MANIFEST.codex.replace('codex-cli ', ''),
          'codex.originator': 'codex_exec',
          'codex.variant': 'paginated',
          'codex.rollout_path': fixturePath(name),
        });
        // The turn settings of the last turn_context.
        expect(convo.config).toMatchObject({ model: 'mock-model', cwd: '/workspace', approvalPolicy: 'never', sandbox: 'danger-full-access' });
      });

      it('keeps every line it does not map as an opaque record, verbatim', async () => {
        const store = await newStore();
        const result = await importInto(store, fixturePath(name));
        const lines = fixtureLines(name);
        const unmapped = lines.filter(isUnmapped).map((l) => JSON.stringify(l));
        const opaque = (await records(store, result.id)).filter((r) => r.type === 'opaque').map((r) => JSON.stringify(r.payload.line));
        expect(opaque).toEqual(unmapped);
        expect(result.opaque).toBe(unmapped.length);
        await store.close();
      });

      it('resumes with the same history: the next turn knows the last imported user message', async () => {
        const store = await newStore();
        const result = await importInto(store, fixturePath(name));
        const reply = await resumeAndRun(store, result.id, 'What came before?');
        expect(reply).toBe(`Turn ${result.turns + 1}. You said: "What came before?". Before that you said: "${lastUserText(name)}".`);
      });
    });
  }

  it('a function call becomes a command_execution item with its output, exit code and call id', async () => {
    const store = await newStore();
    const result = await importInto(store, fixturePath('function-call'));
    const items = (await records(store, result.id)).flatMap((r) => (r.type === 'item' ? [r.payload.item] : []));
    expect(items.find((i) => i.type === 'command_execution')).toEqual({
      id: 'item_1',
      type: 'command_execution',
      command: 'echo colloquy-fixture',
      aggregated_output: 'colloquy-fixture\n',
      exit_code: 0,
      status: 'completed',
      call_id: 'call_fixture_1',
    });
  });

  it("records each turn's usage from Codex's token_count events (cumulative and per turn)", async () => {
    const store = await newStore();
    const result = await importInto(store, fixturePath('plain-turns'));
    const completed = (await records(store, result.id)).flatMap((r) => (r.type === 'event' && r.payload.type === 'turn.completed' ? [r.payload] : []));
    // The mock answered 1200 in / 9 out, then 1300 in (1100 cached) / 20 out (8 reasoning).
    expect(completed.map((c) => c.turn_usage)).toEqual([
      { input_tokens: 1200, cached_input_tokens: 0, output_tokens: 9, reasoning_output_tokens: 0 },
      { input_tokens: 1300, cached_input_tokens: 1100, output_tokens: 20, reasoning_output_tokens: 8 },
    ]);
    expect(completed.at(-1)?.usage).toEqual({ input_tokens: 2500, cached_input_tokens: 1100, output_tokens: 29, reasoning_output_tokens: 8 });
  });

  it('uses Codex turn ids and keeps line timestamps', async () => {
    const store = await newStore();
    const result = await importInto(store, fixturePath('interrupted-turn'));
    const lines = fixtureLines('interrupted-turn');
    const codexTurnIds = lines.filter((l) => l.type === 'event_msg' && l.payload?.type === 'task_started').map((l) => l.payload?.turn_id);
    const recs = await records(store, result.id);
    const started = recs.flatMap((r) => (r.type === 'event' && r.payload.type === 'turn.started' ? [r] : []));
    expect(started.map((r) => r.payload.type === 'turn.started' && r.payload.turn_id)).toEqual(codexTurnIds);
    const aborted = recs.find((r) => r.type === 'event' && r.payload.type === 'turn.aborted');
    expect(aborted?.ts).toBe(lines.find((l) => l.type === 'event_msg' && l.payload?.type === 'turn_aborted')?.timestamp);
  });
});

describe('older rollout variants', () => {
  for (const name of FIXTURE_NAMES) {
    it(`${name} without ordinals (the envelope variant) imports the same turns`, async () => {
      const { store, result } = await importFile(envelopeVariant(fixtureLines(name)));
      expect(result.issues).toEqual([]);
      const { turns, convo } = await readBack(store, result.id);
      expect(turns).toEqual(EXPECTED[name]);
      expect(convo.meta.metadata?.['codex.variant']).toBe('envelope');
    });
  }

  it('the legacy variant (bare objects, no timestamps, state lines) imports one turn per user message', async () => {
    const { store, result } = await importFile(legacyVariant(fixtureLines('multi-turn-resume')));
    expect(result.issues).toEqual([]);
    const { turns, convo } = await readBack(store, result.id);
    expect(turns).toEqual(EXPECTED['multi-turn-resume']);
    expect(convo.meta.metadata?.['codex.variant']).toBe('legacy');
    expect(convo.meta.metadata?.['codex.thread_id']).toBe(result.codexThreadId);
    const reply = await resumeAndRun(store, result.id, 'and?');
    expect(reply).toContain('Before that you said: "Thanks, that is all."');
  });

  it("the legacy shell tool's JSON output (output + metadata.exit_code) gives the command's output and exit code", async () => {
    const { store, result } = await importFile([
      { id: '5973b6c0-94b8-487b-a530-2aeb6098ae0e', timestamp: '2025-05-07T17:24:21.123Z', instructions: 'Be brief.' },
      { type: 'message', role: 'user', content: [{ type: 'input_text', text: 'list files' }] },
      { type: 'function_call', name: 'shell', arguments: JSON.stringify({ command: ['bash', '-lc', 'ls missing'] }), call_id: 'call_1' },
      { record_type: 'state', previous_response_id: 'resp_1' },
      { type: 'function_call_output', call_id: 'call_1', output: JSON.stringify({ output: 'ls: missing: No such file\n', metadata: { exit_code: 2, duration_seconds: 0.1 } }) },
      { type: 'message', role: 'assistant', content: [{ type: 'output_text', text: 'It is missing.' }] },
      { type: 'message', role: 'user', content: [{ type: 'input_text', text: 'thanks' }] },
      { type: 'message', role: 'assistant', content: [{ type: 'output_text', text: 'Welcome.' }] },
    ]);
    const { turns, convo } = await readBack(store, result.id);
    expect(turns).toEqual([
      { status: 'completed', items: ['user: list files', 'command: ls missing → "ls: missing: No such file\\n" exit 2 failed', 'agent: It is missing.'] },
      { status: 'completed', items: ['user: thanks', 'agent: Welcome.'] },
    ]);
    expect(convo.config.instructions).toBe('Be brief.');
    expect(result.opaque).toBe(2); // the meta line and the state line
  });

  it('reports repeated or missing ordinals of a paginated rollout and still imports it', async () => {
    const lines = fixtureLines('plain-turns');
    const repeated = lines.map((l, i) => (i === 6 ? { ...l, ordinal: 5 } : l));
    const { result } = await importFile(repeated);
    expect(result.turns).toBe(2);
    // 5 follows 5 (repeated), then 7 follows it (6 is missing).
    expect(result.issues.map((i) => [i.kind, i.line, i.detail])).toEqual([
      ['ordinal', 7, 'ordinal 5 follows 5 (repeated)'],
      ['ordinal', 8, 'ordinal 7 follows 5 (gap)'],
    ]);
  });
});

describe('every line kind, and lines that are not clean', () => {
  const base = (): Line[] => envelopeVariant(fixtureLines('plain-turns'));
  const ts = '2026-01-01T00:00:00.000Z';

  it('keeps unknown line kinds, event types and item types as opaque records, counted, and maps the rest as before', async () => {
    const original = await importFile(base());
    const unknown: Line[] = [
      { timestamp: ts, type: 'future_line_kind', payload: { x: 1 } },
      { timestamp: ts, type: 'event_msg', payload: { type: 'future_event', y: 2 } },
      { timestamp: ts, type: 'response_item', payload: { type: 'future_item', z: 3 } },
      { something: 'else' },
      { timestamp: ts, type: 'response_item', payload: { type: 'function_call_output', call_id: 'nobody', output: 'orphan' } },
      { timestamp: ts, type: 'compacted', payload: 'not an object' } as unknown as Line,
    ];
    const lines = base();
    const at = lines.findIndex((l) => l.type === 'event_msg' && l.payload?.type === 'task_complete') + 1;
    lines.splice(at, 0, ...unknown);
    const { store, result } = await importFile(lines);
    expect(result.opaque).toBe(original.result.opaque + unknown.length);
    expect(result.turns).toBe(original.result.turns);
    expect(result.items).toBe(original.result.items);
    expect(result.issues).toEqual([]);
    const opaque = (await records(store, result.id)).filter((r) => r.type === 'opaque').map((r) => r.payload.line);
    for (const line of unknown) expect(opaque).toContainEqual(line);
    expect((await readBack(store, result.id)).turns).toEqual(EXPECTED['plain-turns']);
  });

  it('maps every kind of response item: patches, other tools, local shell calls, web searches, images, encrypted reasoning, errors', async () => {
    const item = (payload: Record<string, unknown>): Line => ({ timestamp: ts, type: 'response_item', payload });
    const event = (payload: Record<string, unknown>): Line => ({ timestamp: ts, type: 'event_msg', payload });
    const patch = '*** Begin Patch\n*** Add File: a.txt\n+hi\n*** Update File: b.txt\n@@\n-x\n+y\n*** Delete File: c.txt\n*** End Patch';
    const imageLine = item({ type: 'message', role: 'user', content: [{ type: 'input_text', text: 'see this' }, { type: 'input_image', image_url: 'data:image/png;base64,AAAA' }] });
    const encrypted = item({ type: 'reasoning', summary: [], content: null, encrypted_content: 'gAAAA' });
    const lines: Line[] = [
      base()[0] as Line,
      event({ type: 'task_started', turn_id: 't1' }),
      item({ type: 'message', role: 'user', content: [{ type: 'input_text', text: 'do things' }] }),
      item({ type: 'custom_tool_call', name: 'apply_patch', input: patch, call_id: 'p1' }),
      item({ type: 'custom_tool_call_output', call_id: 'p1', output: JSON.stringify({ output: 'Success. Updated the following files:\nA a.txt\nM b.txt\nD c.txt\n', metadata: { exit_code: 0 } }) }),
      item({ type: 'function_call', name: 'update_plan', arguments: JSON.stringify({ plan: [{ step: 'x', status: 'completed' }] }), call_id: 'u1' }),
      item({ type: 'function_call_output', call_id: 'u1', output: 'Plan updated' }),
      item({ type: 'local_shell_call', call_id: 'l1', status: 'completed', action: { type: 'exec', command: ['ls', '-la'] } }),
      item({ type: 'function_call_output', call_id: 'l1', output: { content: 'total 0\n', success: true } }),
      item({ type: 'function_call', name: 'shell_command', arguments: JSON.stringify({ command: 'false' }), call_id: 's1' }),
      item({ type: 'function_call_output', call_id: 's1', output: 'Exit code: 1\nWall time: 0 seconds\nOutput:\n' }),
      item({ type: 'web_search_call', status: 'completed', action: { type: 'search', query: 'colloquy actors' } }),
      imageLine,
      encrypted,
      item({ type: 'message', role: 'assistant', content: [{ type: 'output_text', text: 'Done.' }] }),
      event({ type: 'error', message: 'stream disconnected' }),
      event({ type: 'task_complete', turn_id: 't1' }),
    ];
    const { store, result } = await importFile(lines);
    const items = (await records(store, result.id)).flatMap((r) => (r.type === 'item' ? [r.payload.item] : []));
    expect(items.map(({ id: _id, ...rest }) => rest)).toEqual([
      { type: 'user_message', text: 'do things', submission_id: 't1' },
      { type: 'file_change', changes: [{ path: 'a.txt', kind: 'add' }, { path: 'b.txt', kind: 'update' }, { path: 'c.txt', kind: 'delete' }], status: 'completed', call_id: 'p1' },
      { type: 'tool_call', name: 'update_plan', arguments: { plan: [{ step: 'x', status: 'completed' }] }, output: 'Plan updated', status: 'completed', call_id: 'u1' },
      { type: 'command_execution', command: 'ls -la', aggregated_output: 'total 0\n', status: 'completed', call_id: 'l1' },
      { type: 'command_execution', command: 'false', aggregated_output: '', exit_code: 1, status: 'failed', call_id: 's1' },
      { type: 'web_search', query: 'colloquy actors' },
      { type: 'user_message', text: 'see this' },
      { type: 'agent_message', text: 'Done.' },
      { type: 'error', message: 'stream disconnected' },
    ]);
    const opaque = (await records(store, result.id)).filter((r) => r.type === 'opaque').map((r) => r.payload.line);
    expect(opaque).toEqual([lines[0], imageLine, encrypted]);
  });

  it('a corrupted line fails a strict import with a CorruptLogError naming file and line, and leaves nothing behind', async () => {
    const lines: (Line | string)[] = base();
    lines.splice(9, 0, '{"timestamp":"2026-01-01T00:00:00.000Z","type":"event_msg","payl');
    const dir = await tempDir();
    const path = await writeRollout(dir, 'rollout-corrupt.jsonl', lines);
    const store = await newStore();
    const error = await importInto(store, path).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CorruptLogError);
    expect(error).toMatchObject({ path, line: 10, code: 'corrupt_log' });
    expect((error as Error).message).toContain(`${path}:10`);
    expect((await store.list()).items).toEqual([]);
  });

  it('a lenient import skips and reports the corrupted line and imports the rest', async () => {
    const lines: (Line | string)[] = base();
    lines.splice(9, 0, '{"timestamp":"2026-01-01T00:00:00.000Z","type":"event_msg","payl', '[1, 2, 3]');
    const { store, result, path } = await importFile(lines, { mode: 'lenient' });
    expect(result.issues).toEqual([
      { kind: 'bad_line', path, line: 10, detail: 'not valid JSON; skipped' },
      { kind: 'bad_line', path, line: 11, detail: 'not a JSON object; skipped' },
    ]);
    expect((await readBack(store, result.id)).turns).toEqual(EXPECTED['plain-turns']);
  });

  it('a torn last line (no newline, cut mid-write) is reported and skipped, even in strict mode', async () => {
    const lines: (Line | string)[] = [...base(), '{"timestamp":"2026-01-01T00:00:00.000Z","type":"event_'];
    const { result } = await importFile(lines, {}, { trailingNewline: false });
    expect(result.turns).toBe(2);
    expect(result.issues.map((i) => [i.kind, i.line])).toEqual([['torn_tail', lines.length]]);
  });

  it('a complete last line without a newline is imported', async () => {
    const { result } = await importFile(base(), {}, { trailingNewline: false });
    expect(result.issues).toEqual([]);
    expect(result.turns).toBe(2);
  });

  it('tolerates a byte-order mark and blank lines', async () => {
    const lines: (Line | string)[] = base();
    lines.splice(3, 0, '', '   ');
    const { store, result } = await importFile(lines, {}, { bom: true });
    expect(result.issues.map((i) => i.kind)).toEqual(['bom']);
    expect((await readBack(store, result.id)).turns).toEqual(EXPECTED['plain-turns']);
  });

  it('a file without session_meta is not a rollout: CorruptLogError, in any mode', async () => {
    const lines = base().slice(1);
    for (const mode of ['strict', 'lenient'] as const) {
      const error = await importFile(lines, { mode }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(CorruptLogError);
      expect((error as Error).message).toContain('no session_meta');
    }
  });

  it('a missing file is a CodexImportError naming it', async () => {
    const store = await newStore();
    const path = join(await tempDir(), 'rollout-nope.jsonl');
    const error = await importInto(store, path).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CodexImportError);
    expect((error as Error).message).toBe(`${path}: no such file`);
  });

  it('a compaction keeps the summary and drops replacement_history; the resumed agent sees the summary, not the history', async () => {
    const lines = base();
    lines.push(
      { timestamp: ts, type: 'event_msg', payload: { type: 'task_started', turn_id: 'compact-turn' } },
      {
        timestamp: ts,
        type: 'compacted',
        payload: { message: 'SUMMARY: the user greeted Codex.', replacement_history: [{ type: 'message', role: 'user', content: [{ type: 'input_text', text: 'REPLACEMENT-MARKER' }] }] },
      },
      { timestamp: ts, type: 'event_msg', payload: { type: 'context_compacted' } },
      { timestamp: ts, type: 'event_msg', payload: { type: 'task_complete', turn_id: 'compact-turn' } },
    );
    const { store, result } = await importFile(lines);
    const recs = await records(store, result.id);
    const compacted = recs.find((r) => r.type === 'compacted');
    expect(compacted?.payload).toMatchObject({ turn_id: 'compact-turn', summary: 'SUMMARY: the user greeted Codex.', kept_from_seq: compacted?.seq, turns: 3 });
    expect(JSON.stringify(recs)).not.toContain('REPLACEMENT-MARKER');
    const { convo } = await readBack(store, result.id);
    expect(convo.turns.at(-1)).toMatchObject({ id: 'compact-turn', kind: 'compact', status: 'completed', items: [] });
    const reply = await resumeAndRun(store, result.id, 'hi');
    expect(reply).toBe('Turn 4. You said: "hi". Earlier turns were compacted into a summary.');
  });

  it('a compaction in the middle of a turn (Codex auto-compaction) keeps that turn: resume folds the summary, that turn and the rest', async () => {
    const lines = envelopeVariant(fixtureLines('multi-turn-resume'));
    const at = lines.findIndex((l) => l.type === 'response_item' && l.payload?.type === 'function_call_output') + 1;
    lines.splice(at, 0, { timestamp: ts, type: 'compacted', payload: { message: 'SUMMARY: a codeword was agreed.', replacement_history: [] } });
    const { store, result } = await importFile(lines);
    // A resume's fold (it starts at the compaction's kept history, not at the top of the log).
    const fold = await replay(store, result.id);
    expect(fold.summary).toBe('SUMMARY: a codeword was agreed.');
    expect(fold.history.filter((i) => i.type === 'user_message').map((i) => i.type === 'user_message' && i.text)).toEqual([
      'What is the codeword? Check it with a command.',
      'Thanks, that is all.',
    ]);
    expect(fold.history.map(describeItem)).toContain('command: printf tangerine → "tangerine" exit 0 completed');
    // `read` still shows every turn.
    expect((await readBack(store, result.id)).turns).toEqual(EXPECTED['multi-turn-resume']);
  });

  it('maps thread_name_updated to the name and thread_rolled_back to a rollback', async () => {
    const lines = base();
    lines.push(
      { timestamp: ts, type: 'event_msg', payload: { type: 'thread_name_updated', thread_id: 'x', thread_name: 'Greetings' } },
      { timestamp: ts, type: 'event_msg', payload: { type: 'thread_rolled_back', num_turns: 1 } },
    );
    const { store, result } = await importFile(lines);
    const { convo } = await readBack(store, result.id);
    expect(convo.name).toBe('Greetings');
    // Turn 2 was rolled back: the agent's history ends with turn 1's message.
    const reply = await resumeAndRun(store, result.id, 'again');
    expect(reply).toContain('Before that you said: "Hello, Codex."');
  });

  it('a rollout that ends mid-turn (Codex died) imports that turn as aborted, its pending call as failed', async () => {
    const lines = fixtureLines('function-call');
    const cut = lines.findIndex((l) => l.type === 'response_item' && l.payload?.type === 'function_call') + 1;
    const { store, result } = await importFile(lines.slice(0, cut));
    expect(result.issues.map((i) => i.kind)).toEqual(['unfinished_turn']);
    const { turns } = await readBack(store, result.id);
    expect(turns).toEqual([
      {
        status: 'aborted',
        reason: 'restart',
        items: ['user: Run echo colloquy-fixture and tell me what it printed.', 'command: echo colloquy-fixture → "" exit - failed'],
      },
    ]);
  });

  it('streams in batches: a small batch size gives the same conversation', async () => {
    const store = await newStore();
    const one = await importInto(store, fixturePath('multi-turn-resume'), { batchSize: 2 });
    expect(one.records).toBeGreaterThan(10);
    const recs = await records(store, one.id);
    expect(recs.map((r) => r.seq)).toEqual(recs.map((_, i) => i));
    expect((await readBack(store, one.id)).turns).toEqual(EXPECTED['multi-turn-resume']);
  });

  it('a store failure half-way deletes what was written and rejects with a StoreError', async () => {
    const store = await newStore();
    let commits = 0;
    /** A file store whose second commit fails. */
    class FailingStore extends FileStore {
      override async commit(...args: Parameters<FileStore['commit']>): ReturnType<FileStore['commit']> {
        commits++;
        if (commits === 2) return [{ conversationId: args[0][0]?.conversationId ?? '', ok: false, firstSeq: 0, error: { message: 'disk full', code: 'store_error' } }];
        return super.commit(...args);
      }
    }
    const failing = new FailingStore({ home: store.paths.home });
    stores.push(failing);
    const error = await importInto(failing, fixturePath('plain-turns'), { batchSize: 4 }, true).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(StoreError);
    expect((error as Error).message).toContain('disk full');
    expect(commits).toBe(2);
    expect((await store.list()).items).toEqual([]);
  });
});

describe('importCodexRollouts (a directory)', () => {
  it('imports every rollout-*.jsonl under it, reports the ones that fail, and ignores other files', async () => {
    const codexHome = await tempDir('codex-home-');
    const day = join(codexHome, 'sessions', '2026', '11', '22');
    for (const name of FIXTURE_NAMES) await writeRollout(day, `rollout-${name}.jsonl`, fixtureLines(name));
    const bad = await writeRollout(join(codexHome, 'archived_sessions'), 'rollout-broken.jsonl', ['not json at all', '{}']);
    await writeRollout(codexHome, 'history.jsonl', [{ session_id: 'x', ts: 1, text: 'hi' }]);

    expect(await findCodexRollouts(codexHome)).toEqual([bad, ...FIXTURE_NAMES.map((n) => join(day, `rollout-${n}.jsonl`)).sort()]);
    const store = await newStore();
    const { imported, failed } = await through(store, (rt) => importCodexRollouts(rt, codexHome));
    expect(failed.map((f) => f.path)).toEqual([bad]);
    expect(failed[0]?.error).toBeInstanceOf(CorruptLogError);
    const byThread = new Map(imported.map((r: CodexImportResult) => [r.codexThreadId, r]));
    for (const f of MANIFEST.fixtures) expect(byThread.get(f.thread_id)?.turns).toBe(EXPECTED[f.scenario].length);
    expect((await store.list({ limit: 10 })).items.map((s) => s.id).sort()).toEqual(imported.map((r) => r.id).sort());
  });

  it('the same rollout imported twice gives two conversations', async () => {
    const store = await newStore();
    const a = await importInto(store, fixturePath('plain-turns'));
    const b = await importInto(store, fixturePath('plain-turns'));
    expect(a.id).not.toBe(b.id);
    expect(await readFile(fixturePath('plain-turns'), 'utf8')).toContain(a.codexThreadId ?? '?');
  });
});
