// Generates the protocol reference from the zod schemas in src/protocol/ and their TSDoc
// comments: docs/schema/{ops,events,items,records}.schema.json (from `protocolJsonSchemas()`)
// and docs/protocol.md (one section per op, event, item and record type: its description,
// a table of its fields and an example). Run `npm run docs:protocol`.
//
//   node scripts/generate-protocol-docs.mjs [--out <dir>]
//
// `--out <dir>` writes the files under <dir> (as `<dir>/docs/…`) instead of the repository;
// test/docs/protocol.test.ts uses it to check that the committed files are up to date.
//
// The schemas come from the TypeScript sources themselves (bundled with esbuild), so no
// build is needed. Descriptions are the TSDoc comments of the sources, read with the
// TypeScript compiler API: a variant's description is the comment of the const declaring it
// (for a log record, of its payload's const); a field's is the comment of its property, else
// that of the const the property's schema refers to. Every variant needs a TSDoc comment and
// an example in EXAMPLES below, or the generator stops and names what is missing.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { build } from 'esbuild';
import { SyntaxKind } from 'typescript/unstable/ast';
import { API } from 'typescript/unstable/sync';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const protocolDir = join(root, 'src', 'protocol');

/** The four parts of the protocol: their heading, source file and root union const. */
const PARTS = [
  { key: 'ops', title: 'Ops', file: 'ops.ts', union: 'OpSchema' },
  { key: 'events', title: 'Events', file: 'events.ts', union: 'ThreadEventSchema' },
  { key: 'items', title: 'Items', file: 'items.ts', union: 'ThreadItemSchema' },
  { key: 'records', title: 'Log records', file: 'records.ts', union: 'LogRecordSchema' },
];

/** The function that wraps a record's payload in its `{ ts, seq, type, payload }` envelope. */
const ENVELOPE = 'envelope';

/** Shared definitions (`$defs`) and where the page describes them. */
const SHARED_ANCHORS = { ThreadItem: '#items' };

// A conversation id, a turn id and a time, used by the examples.
const CONV = '01KAZ3V7R2M9X4QH6TB8N5CJ1D';
const TURN = '01KAZ3V9E4G7PW2K8S3YDN6QFA';
const TS = '2026-05-05T18:28:34.512Z';
const USAGE = { input_tokens: 1200, cached_input_tokens: 800, output_tokens: 85, reasoning_output_tokens: 40 };
const TURN_USAGE = { input_tokens: 600, cached_input_tokens: 400, output_tokens: 40, reasoning_output_tokens: 20 };
const CONFIG = { model: 'gpt-5.1', cwd: '/home/me/project', approvalPolicy: 'on-request' };
const COMMAND_RUNNING = { id: 'item_3', type: 'command_execution', command: 'npm test', aggregated_output: '', status: 'in_progress', call_id: 'call_item_3' };
const ABORT_TEXT = '<turn_aborted>The previous turn was interrupted (interrupted) before it completed; tool calls that had not finished were cancelled.</turn_aborted>';

/** One example per type; test/docs/protocol.test.ts validates each against the zod schemas. */
const EXAMPLES = {
  ops: {
    user_input: { type: 'user_input', items: [{ type: 'text', text: 'Also update the changelog.' }], mode: 'steer' },
    interrupt: { type: 'interrupt' },
    approval: { type: 'approval', callId: 'call_item_3', decision: 'approved_for_session' },
    compact: { type: 'compact' },
    rollback: { type: 'rollback', turns: 1 },
    override_turn_context: { type: 'override_turn_context', model: 'gpt-5.1', approvalPolicy: 'never' },
    set_name: { type: 'set_name', name: 'release notes' },
    retry: { type: 'retry' },
    reset: { type: 'reset' },
    shutdown: { type: 'shutdown' },
  },
  events: {
    'thread.started': { type: 'thread.started', thread_id: CONV },
    'turn.started': { type: 'turn.started', turn_id: TURN },
    'item.started': { type: 'item.started', turn_id: TURN, item: COMMAND_RUNNING },
    'item.updated': { type: 'item.updated', turn_id: TURN, item: { ...COMMAND_RUNNING, aggregated_output: '> colloquy@0.1.0 test\n' } },
    'item.completed': { type: 'item.completed', turn_id: TURN, item: { id: 'item_4', type: 'agent_message', text: 'All 212 tests pass.' } },
    'approval.requested': { type: 'approval.requested', turn_id: TURN, callId: 'call_item_3', item: COMMAND_RUNNING },
    'approval.resolved': { type: 'approval.resolved', turn_id: TURN, callId: 'call_item_3', decision: 'approved' },
    'input.queued': { type: 'input.queued', submission_id: '01KAZ3VB1Q5T8M2H4RWX9C6E3N', mode: 'steer', text: 'Also update the changelog.' },
    'turn.completed': { type: 'turn.completed', turn_id: TURN, usage: USAGE, turn_usage: TURN_USAGE },
    'turn.aborted': { type: 'turn.aborted', turn_id: TURN, reason: 'interrupted' },
    'turn.failed': { type: 'turn.failed', turn_id: TURN, error: { message: 'the model endpoint answered 401: invalid API key', code: 'unauthorized' } },
    'context.compacted': { type: 'context.compacted', turn_id: TURN, kept_from_seq: 42 },
    error: { type: 'error', message: 'the model ignored the output schema' },
    'thread.name_updated': { type: 'thread.name_updated', name: 'release notes' },
    'thread.rolled_back': { type: 'thread.rolled_back', turns: 1 },
    'thread.closed': { type: 'thread.closed' },
    'log.issue': { type: 'log.issue', kind: 'torn_tail', line: 18, detail: '57 bytes after the last newline' },
    'rate_limits.updated': {
      type: 'rate_limits.updated',
      turn_id: TURN,
      rate_limits: { requests: { limit: 500, remaining: 499, reset_ms: 120 }, tokens: { limit: 30000, remaining: 28715, reset_ms: 2570 } },
    },
    'model.retrying': { type: 'model.retrying', turn_id: TURN, attempt: 1, delay_ms: 2000, message: '429 Rate limit reached' },
  },
  items: {
    user_message: { id: 'item_0', type: 'user_message', text: 'Run the tests.', submission_id: '01KAZ3V9E4G7PW2K8S3YDN6QFA' },
    agent_message: { id: 'item_4', type: 'agent_message', text: 'All 212 tests pass.' },
    reasoning: { id: 'item_1', type: 'reasoning', text: 'The user wants the test suite run; `npm test` does that.' },
    command_execution: { id: 'item_3', type: 'command_execution', command: 'npm test', aggregated_output: '212 passed\n', exit_code: 0, status: 'completed', call_id: 'call_item_3' },
    file_change: { id: 'item_5', type: 'file_change', changes: [{ path: 'CHANGELOG.md', kind: 'update' }], status: 'completed' },
    mcp_tool_call: {
      id: 'item_6',
      type: 'mcp_tool_call',
      server: 'docs',
      tool: 'search',
      arguments: { query: 'durability' },
      result: { content: [{ type: 'text', text: '3 matches' }] },
      status: 'completed',
    },
    tool_call: { id: 'item_7', type: 'tool_call', name: 'get_weather', arguments: { city: 'Lisbon' }, output: '{"celsius":21}', status: 'completed', call_id: 'call_7' },
    web_search: { id: 'item_8', type: 'web_search', query: 'zod 4 toJSONSchema' },
    todo_list: { id: 'item_2', type: 'todo_list', items: [{ text: 'Run the tests', completed: true }, { text: 'Update the changelog', completed: false }] },
    error: { id: 'item_9', type: 'error', message: 'command output truncated to 1 MiB' },
    turn_aborted: { id: `aborted_${TURN}`, type: 'turn_aborted', reason: 'interrupted', text: ABORT_TEXT },
  },
  records: {
    session_meta: { ts: TS, seq: 0, type: 'session_meta', payload: { format: 1, id: CONV, created_at: TS, config: CONFIG, name: 'release notes', source: 'colloquy' } },
    item: { ts: TS, seq: 2, type: 'item', payload: { turn_id: TURN, item: { id: 'item_0', type: 'user_message', text: 'Run the tests.' } } },
    event: { ts: TS, seq: 9, type: 'event', payload: { type: 'turn.completed', turn_id: TURN, usage: USAGE, turn_usage: TURN_USAGE } },
    turn_context: { ts: TS, seq: 10, type: 'turn_context', payload: { turn_id: null, config: { ...CONFIG, approvalPolicy: 'never' } } },
    compacted: {
      ts: TS,
      seq: 57,
      type: 'compacted',
      payload: {
        turn_id: TURN,
        summary: 'The user asked for the tests to be run; they pass.',
        kept_from_seq: 42,
        kept_turns: 1,
        next_item: 12,
        turns: 5,
        usage: USAGE,
        config: CONFIG,
        session_approvals: ['command:npm test'],
      },
    },
    approval_requested: { ts: TS, seq: 5, type: 'approval_requested', payload: { turn_id: TURN, call_id: 'call_item_3', item: COMMAND_RUNNING } },
    approval_resolved: { ts: TS, seq: 6, type: 'approval_resolved', payload: { turn_id: TURN, call_id: 'call_item_3', decision: 'approved' } },
    input_queued: {
      ts: TS,
      seq: 7,
      type: 'input_queued',
      payload: { submission_id: '01KAZ3VB1Q5T8M2H4RWX9C6E3N', mode: 'queue', items: [{ type: 'text', text: 'Then commit.' }], item_id: 'item_8' },
    },
    rolled_back: { ts: TS, seq: 60, type: 'rolled_back', payload: { turns: 1 } },
    opaque: { ts: TS, seq: 3, type: 'opaque', payload: { source: 'codex', line: { timestamp: TS, type: 'ghost_snapshot', payload: {} } } },
  },
};

// ---------------------------------------------------------------------------------------
// The schemas, bundled from the sources

/** `protocolJsonSchemas()` of src/protocol/json-schema.ts, bundled with its dependencies. */
async function loadJsonSchemas() {
  const out = await build({
    entryPoints: [join(protocolDir, 'json-schema.ts')],
    bundle: true,
    write: false,
    platform: 'node',
    format: 'esm',
    logLevel: 'silent',
  });
  const code = out.outputFiles[0].text;
  const module = await import(`data:text/javascript;base64,${Buffer.from(code).toString('base64')}`);
  return module.protocolJsonSchemas();
}

// ---------------------------------------------------------------------------------------
// TSDoc comments, read with the TypeScript compiler API

/** The text of the last `/** … *\/` comment in the leading trivia of `node`, or ''. */
function leadingDoc(text, node) {
  const slice = text.slice(node.pos, node.end);
  const trivia = /^(?:\s+|\/\*[\s\S]*?\*\/|\/\/[^\n]*)*/.exec(slice)[0];
  const comments = [...trivia.matchAll(/\/\*\*([\s\S]*?)\*\//g)];
  const last = comments.at(-1);
  if (!last) return '';
  return last[1]
    .split('\n')
    .map((line) => line.replace(/^\s*\* ?/, '').trimEnd())
    .join('\n')
    .trim()
    .replace(/,? SPEC §\d+(?=\))| \(SPEC §\d+\)/g, '');
}

/** The name of a property-access callee `z.object` → `object`, or of a bare identifier. */
function calleeName(call) {
  const callee = call.expression;
  if (callee.kind === SyntaxKind.PropertyAccessExpression) return callee.name.text;
  if (callee.kind === SyntaxKind.Identifier) return callee.text;
  return '';
}

/** The string value of a `z.literal('x')` call, or undefined. */
function literalValue(expr) {
  if (expr?.kind !== SyntaxKind.CallExpression || calleeName(expr) !== 'literal') return undefined;
  const arg = expr.arguments[0];
  return arg?.kind === SyntaxKind.StringLiteral ? arg.text : undefined;
}

/**
 * The sources of the protocol: every top-level const of the four files with its comment,
 * and helpers to follow a schema expression to the object literal or const it is made of.
 */
function readSources() {
  const dir = mkdtempSync(join(tmpdir(), 'colloquy-protocol-docs-'));
  const files = PARTS.map((p) => join(protocolDir, p.file));
  writeFileSync(join(dir, 'tsconfig.json'), JSON.stringify({ compilerOptions: { noEmit: true, noResolve: true, types: [] }, files }));
  const api = new API({ cwd: dir });
  try {
    const project = api.updateSnapshot({ openProject: join(dir, 'tsconfig.json') }).getProjects()[0];
    /** const name → { doc, init, text } */
    const consts = new Map();
    /** file name → its first comment (the module's description) */
    const headers = new Map();
    for (const [i, file] of files.entries()) {
      const sf = project.program.getSourceFile(file);
      if (!sf) throw new Error(`cannot read ${file}`);
      const text = sf.text;
      const header = /^\s*\/\*\*([\s\S]*?)\*\//.exec(text);
      headers.set(PARTS[i].file, header ? leadingDoc(header[0], { pos: 0, end: header[0].length }) : '');
      for (const statement of sf.statements) {
        if (statement.kind !== SyntaxKind.VariableStatement) continue;
        const doc = leadingDoc(text, statement);
        for (const decl of statement.declarationList.declarations) {
          if (decl.name.kind !== SyntaxKind.Identifier || !decl.initializer) continue;
          consts.set(decl.name.text, { doc, init: decl.initializer, text });
        }
      }
    }
    return { consts, headers };
  } finally {
    api.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * Follow a schema expression through `z.optional(…)`, `z.nullable(…)`, `z.array(…)`,
 * `.check(…)` and const references. Returns `{ object, ref }`: the object literal of the
 * `z.object(…)` it is made of (with the text it is in), and the first documented const it
 * refers to.
 */
function follow(sources, expr, text) {
  let ref;
  for (let depth = 0; expr && depth < 20; depth++) {
    if (expr.kind === SyntaxKind.Identifier) {
      const c = sources.consts.get(expr.text);
      if (!c) return { ref };
      if (ref === undefined && c.doc) ref = { name: expr.text, doc: c.doc };
      expr = c.init;
      text = c.text;
      continue;
    }
    if (expr.kind !== SyntaxKind.CallExpression) return { ref };
    const name = calleeName(expr);
    if (name === 'object' || name === 'strictObject' || name === 'looseObject') {
      const arg = expr.arguments[0];
      return { ref, object: arg?.kind === SyntaxKind.ObjectLiteralExpression ? { node: arg, text } : undefined };
    }
    if (['optional', 'nullable', 'nullish', 'array', 'readonly', 'nonoptional'].includes(name)) {
      expr = expr.arguments[0];
      continue;
    }
    if (expr.expression.kind === SyntaxKind.PropertyAccessExpression && expr.expression.expression.kind === SyntaxKind.CallExpression) {
      // `z.string().check(…)`: the schema is the receiver.
      expr = expr.expression.expression;
      continue;
    }
    return { ref };
  }
  return { ref };
}

/** The properties of an object literal: name → { doc, init }. */
function propertiesOf(object) {
  const props = new Map();
  if (!object) return props;
  for (const p of object.node.properties) {
    if (p.kind !== SyntaxKind.PropertyAssignment && p.kind !== SyntaxKind.ShorthandPropertyAssignment) continue;
    props.set(p.name.text, { doc: leadingDoc(object.text, p), init: p.kind === SyntaxKind.PropertyAssignment ? p.initializer : undefined });
  }
  return props;
}

/** The object literal inside the `envelope` helper of records.ts. */
function envelopeObject(sources) {
  const c = sources.consts.get(ENVELOPE);
  if (!c) throw new Error(`records.ts has no ${ENVELOPE} helper`);
  let found;
  const visit = (node) => {
    if (found) return;
    if (node.kind === SyntaxKind.CallExpression && ['object', 'strictObject'].includes(calleeName(node)) && node.arguments[0]?.kind === SyntaxKind.ObjectLiteralExpression) {
      found = { node: node.arguments[0], text: c.text };
      return;
    }
    node.forEachChild(visit);
  };
  visit(c.init);
  if (!found) throw new Error(`the ${ENVELOPE} helper of records.ts builds no object`);
  return found;
}

/**
 * The variants of a discriminated union const, by `type`: { doc, object, bindings }.
 * An element is a const (its comment), an inline object (the comment before it) or, for log
 * records, `envelope('type', PayloadSchema)` (the payload const's comment).
 */
function variantsOf(sources, unionName) {
  const c = sources.consts.get(unionName);
  if (!c || c.init.kind !== SyntaxKind.CallExpression || calleeName(c.init) !== 'discriminatedUnion') throw new Error(`${unionName} is not a z.discriminatedUnion const`);
  const list = c.init.arguments[1];
  const variants = new Map();
  for (const element of list.elements) {
    if (element.kind === SyntaxKind.CallExpression && calleeName(element) === ENVELOPE) {
      const [typeArg, payload] = element.arguments;
      const target = follow(sources, payload, c.text);
      variants.set(typeArg.text, { doc: target.ref?.doc ?? '', object: envelopeObject(sources), bindings: { payload } });
      continue;
    }
    const target = follow(sources, element, c.text);
    const own = leadingDoc(c.text, element);
    const type = literalValue(propertiesOf(target.object).get('type')?.init);
    if (type === undefined) throw new Error(`an element of ${unionName} has no type literal`);
    variants.set(type, { doc: own || (target.ref?.doc ?? ''), object: target.object, bindings: {} });
  }
  return variants;
}

// ---------------------------------------------------------------------------------------
// Markdown

const MAX_SAFE = Number.MAX_SAFE_INTEGER;

/** A one-line rendering of a JSON Schema type, for the tables. */
function typeOf(schema) {
  if (schema.$ref) {
    const name = schema.$ref.replace('#/$defs/', '');
    return `[${name}](${SHARED_ANCHORS[name] ?? `#${name.toLowerCase()}`})`;
  }
  if ('const' in schema) return `\`${JSON.stringify(schema.const)}\``;
  if (schema.enum) return schema.enum.map((v) => `\`${JSON.stringify(v)}\``).join(' | ');
  const union = schema.oneOf ?? schema.anyOf;
  if (union) return [...new Set(union.map(typeOf))].join(' | ');
  if (Array.isArray(schema.type)) return schema.type.join(' | ');
  const bounds = [];
  if (schema.minLength !== undefined) bounds.push(`≥ ${schema.minLength} chars`);
  if (schema.maxLength !== undefined) bounds.push(`≤ ${schema.maxLength} chars`);
  if (schema.minimum !== undefined && schema.minimum !== -MAX_SAFE) bounds.push(`≥ ${schema.minimum}`);
  if (schema.maximum !== undefined && schema.maximum !== MAX_SAFE) bounds.push(`≤ ${schema.maximum}`);
  if (schema.minItems !== undefined) bounds.push(`≥ ${schema.minItems} ${schema.minItems === 1 ? 'element' : 'elements'}`);
  const suffix = bounds.length ? ` (${bounds.join(', ')})` : '';
  switch (schema.type) {
    case 'array': {
      const inner = typeOf(schema.items ?? {});
      return `${inner.includes(' ') ? `(${inner})` : inner}[]${suffix}`;
    }
    case 'object':
      if (!schema.properties && schema.additionalProperties && typeof schema.additionalProperties === 'object') return `map of ${typeOf(schema.additionalProperties)}`;
      return 'object';
    case undefined:
      return 'any JSON value';
    default:
      return `${schema.type}${suffix}`;
  }
}

/** A JSON Schema with the `array` wrappers removed, and whether there was one. */
function elementSchema(schema) {
  return schema.type === 'array' && schema.items ? { schema: schema.items, array: true } : { schema, array: false };
}

/** Table cells: one line, pipes escaped. */
function cell(text) {
  return text.replace(/\s*\n\s*/g, ' ').replace(/\|/g, '\\|');
}

/**
 * The rows of a field table for an object schema, nested objects flattened (`a.b`, `a[].b`),
 * plus extra tables for fields that are unions of tagged objects.
 */
function fieldRows(sources, schema, object, bindings, prefix, extras) {
  const props = propertiesOf(object);
  const rows = [];
  for (const [name, sub] of Object.entries(schema.properties ?? {})) {
    const prop = props.get(name);
    const init = prop?.init ?? bindings[name];
    const target = init ? follow(sources, init, object?.text ?? '') : {};
    let doc = prop?.doc || target.ref?.doc || '';
    if (!doc && name === 'type' && 'const' in sub) doc = 'The tag.';
    rows.push({ name: `${prefix}${name}`, type: typeOf(sub), required: (schema.required ?? []).includes(name), doc });
    const { schema: element, array } = elementSchema(sub);
    const path = `${prefix}${name}${array ? '[]' : ''}.`;
    if (element.properties && !element.$ref) rows.push(...fieldRows(sources, element, target.object, {}, path, extras));
    const union = element.oneOf ?? element.anyOf;
    if (union && union.every((v) => v.properties?.type && 'const' in v.properties.type) && target.ref) {
      const variants = variantsOf(sources, target.ref.name);
      for (const v of union) {
        const tag = v.properties.type.const;
        const source = variants.get(tag);
        extras.push({ title: `\`${prefix}${name}\` of type \`${tag}\``, doc: source?.doc ?? '', rows: fieldRows(sources, v, source?.object, {}, path, extras) });
      }
    }
  }
  return rows;
}

function table(rows) {
  const lines = ['| Field | Type | Required | Description |', '| --- | --- | --- | --- |'];
  for (const r of rows) lines.push(`| \`${r.name}\` | ${cell(r.type)} | ${r.required ? 'yes' : 'no'} | ${cell(r.doc)} |`);
  return lines.join('\n');
}

/** A field table, or a note that there are no fields, then the extra tables. */
function fieldsBlock(sources, schema, object, bindings) {
  const extras = [];
  const rows = fieldRows(sources, schema, object, bindings, '', extras);
  const out = [table(rows)];
  for (const extra of extras) {
    out.push(`**${extra.title}**${extra.doc ? `: ${extra.doc}` : ''}`);
    out.push(table(extra.rows));
  }
  return out.join('\n\n');
}

function renderPage(schemas, sources) {
  const out = [];
  out.push('# Protocol reference');
  out.push(
    '<!-- Generated by scripts/generate-protocol-docs.mjs from the zod schemas in src/protocol/ and their TSDoc comments. Do not edit: run `npm run docs:protocol`. -->',
  );
  out.push(
    [
      'Everything that crosses a Colloquy boundary is one of four kinds of JSON value, each a union',
      'discriminated on its `type` field and validated with the zod schemas in',
      '[`src/protocol/`](../src/protocol/):',
      '',
      '- [ops](#ops): what a client asks of a conversation (`convo.submit(op)`, the control server\'s',
      '  `POST /api/conversations/:id/ops`), each carried by a submission `{ id, op }`;',
      '- [events](#events): what a conversation tells its subscribers (`convo.subscribe`,',
      '  `runStreamed`, `colloquy exec --json`, the control server\'s WebSocket);',
      '- [items](#items): the units of a conversation\'s history, carried by item events and records;',
      '- [log records](#log-records): the lines of a conversation\'s JSONL log.',
      '',
      'Their JSON Schemas (draft 2020-12) are in [`schema/`](schema/): `ops.schema.json`,',
      '`events.schema.json`, `items.schema.json` and `records.schema.json`. In TypeScript,',
      '`protocolJsonSchemas()` (`src/protocol/json-schema.ts`) returns the same schemas. Each field',
      'table lists a variant\'s fields; nested objects are flattened (`a.b`, and `a[].b` for the',
      'elements of an array).',
    ].join('\n'),
  );

  // Anchors of the type headings, in page order.
  const slug = slugger();
  slug('Protocol reference');
  const anchors = new Map();
  for (const part of PARTS) {
    slug(part.title);
    for (const v of schemas[part.key].oneOf) anchors.set(`${part.key}:${v.properties.type.const}`, slug(v.properties.type.const));
  }

  for (const part of PARTS) {
    const schema = schemas[part.key];
    const variants = variantsOf(sources, part.union);
    out.push(`## ${part.title}`);
    const header = sources.headers.get(part.file);
    if (header) out.push(header);
    out.push(schema.oneOf.map((v) => `[\`${v.properties.type.const}\`](#${anchors.get(`${part.key}:${v.properties.type.const}`)})`).join(' · '));
    for (const variant of schema.oneOf) {
      const type = variant.properties.type.const;
      const source = variants.get(type);
      if (!source?.doc) throw new Error(`${part.file}: the ${part.key} variant \`${type}\` has no TSDoc comment`);
      const example = EXAMPLES[part.key][type];
      if (!example) throw new Error(`scripts/generate-protocol-docs.mjs: no example for the ${part.key} variant \`${type}\``);
      out.push(`### \`${type}\``);
      out.push(source.doc);
      out.push(fieldsBlock(sources, variant, source.object, source.bindings));
      out.push(`Example:\n\n\`\`\`json\n${JSON.stringify(example)}\n\`\`\``);
    }
    for (const type of Object.keys(EXAMPLES[part.key])) {
      if (!variants.has(type)) throw new Error(`scripts/generate-protocol-docs.mjs: an example for \`${type}\`, which is not a ${part.key} variant`);
    }
  }

  out.push('## Shared types');
  out.push('Definitions the tables above refer to (under `$defs` in the JSON Schemas).');
  const defs = new Map();
  for (const part of PARTS) for (const [name, def] of Object.entries(schemas[part.key].$defs ?? {})) if (!defs.has(name)) defs.set(name, def);
  for (const [name, def] of defs) {
    if (SHARED_ANCHORS[name]) continue;
    const c = sources.consts.get(`${name}Schema`);
    if (!c?.doc) throw new Error(`src/protocol: the shared schema ${name}Schema has no TSDoc comment`);
    out.push(`### ${name}`);
    out.push(c.doc);
    const target = follow(sources, { kind: SyntaxKind.Identifier, text: `${name}Schema` }, c.text);
    if (def.oneOf) {
      const variants = variantsOf(sources, `${name}Schema`);
      for (const v of def.oneOf) {
        const tag = v.properties.type.const;
        const source = variants.get(tag);
        out.push(`**\`type\` \`${tag}\`**${source?.doc ? `: ${source.doc}` : ''}`);
        out.push(fieldsBlock(sources, v, source?.object, {}));
      }
    } else {
      out.push(fieldsBlock(sources, def, target.object, {}));
    }
  }
  return `${out.join('\n\n')}\n`;
}

/** GitHub's heading anchors: lower case, punctuation dropped, repeats numbered `-1`, `-2`…. */
function slugger() {
  const seen = new Map();
  return (heading) => {
    const base = heading
      .toLowerCase()
      .replace(/[^\p{L}\p{N}_\- ]/gu, '')
      .replace(/ /g, '-');
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    return n === 0 ? base : `${base}-${n}`;
  };
}

// ---------------------------------------------------------------------------------------

/** Every generated file: path relative to the repository → content. */
export async function generateProtocolDocs() {
  const schemas = await loadJsonSchemas();
  const sources = readSources();
  const files = new Map();
  for (const part of PARTS) files.set(`docs/schema/${part.key}.schema.json`, `${JSON.stringify(schemas[part.key], null, 2)}\n`);
  files.set('docs/protocol.md', renderPage(schemas, sources));
  return files;
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  const at = process.argv.indexOf('--out');
  const outDir = at === -1 ? root : resolve(process.argv[at + 1] ?? '.');
  const files = await generateProtocolDocs();
  for (const [path, content] of files) {
    const target = join(outDir, path);
    await mkdir(dirname(target), { recursive: true });
    await writeFile(target, content);
    if (outDir === root) console.log(`wrote ${path}`);
  }
}
