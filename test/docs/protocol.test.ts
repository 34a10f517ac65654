import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type * as z from 'zod/mini';
import { LogRecordSchema, OpSchema, ThreadEventSchema, ThreadItemSchema } from '../../src/protocol/index.js';
import { protocolJsonSchemas } from '../../src/protocol/json-schema.js';

const run = promisify(execFile);
const root = fileURLToPath(new URL('../../', import.meta.url));
const REGENERATE = 'run: npm run docs:protocol';

/** The parts of the protocol: their section on the page and their zod union. */
const PARTS = [
  { key: 'ops', title: 'Ops', schema: OpSchema },
  { key: 'events', title: 'Events', schema: ThreadEventSchema },
  { key: 'items', title: 'Items', schema: ThreadItemSchema },
  { key: 'records', title: 'Log records', schema: LogRecordSchema },
] as const;

type Variant = { readonly def: { readonly shape: Record<string, z.ZodMiniType> } };

/** The variants of a discriminated union, by their `type` literal. */
function variants(schema: (typeof PARTS)[number]['schema']): Map<string, Variant> {
  const out = new Map<string, Variant>();
  for (const option of schema.def.options as readonly Variant[]) {
    const tag = option.def.shape.type as unknown as { def: { values: readonly unknown[] } };
    out.set(String(tag.def.values[0]), option);
  }
  return out;
}

/** The `## part` sections of the page, each with its `### \`type\`` sections and their text. */
function sections(page: string): Map<string, Map<string, string>> {
  const parts = new Map<string, Map<string, string>>();
  let part: Map<string, string> | undefined;
  let type: string | undefined;
  let body: string[] = [];
  const flush = () => {
    if (part && type !== undefined) part.set(type, body.join('\n'));
    type = undefined;
    body = [];
  };
  for (const line of page.split('\n')) {
    const h2 = /^## (.+)$/.exec(line);
    const h3 = /^### `([^`]+)`$/.exec(line);
    if (h2) {
      flush();
      part = new Map();
      parts.set(h2[1] as string, part);
    } else if (h3) {
      flush();
      type = h3[1];
    } else if (type !== undefined) {
      body.push(line);
    }
  }
  flush();
  return parts;
}

const page = await readFile(join(root, 'docs/protocol.md'), 'utf8');
const bySection = sections(page);

describe('docs/schema/*.schema.json', () => {
  const schemas = protocolJsonSchemas();
  for (const { key } of PARTS) {
    it(`holds the JSON Schema of the ${key}, converted from the zod schemas`, async () => {
      const committed: unknown = JSON.parse(await readFile(join(root, `docs/schema/${key}.schema.json`), 'utf8'));
      expect(committed, REGENERATE).toEqual(schemas[key]);
    });
  }

  it('describes every variant of each union (a `oneOf` with one object per type)', () => {
    for (const { key, schema } of PARTS) {
      const oneOf = (schemas[key] as { oneOf?: Array<{ properties: { type: { const: string } } }> }).oneOf ?? [];
      expect(oneOf.map((v) => v.properties.type.const), key).toEqual([...variants(schema).keys()]);
    }
  });
});

describe('docs/protocol.md', () => {
  let generated: string;
  beforeAll(async () => {
    generated = await mkdtemp(join(tmpdir(), 'colloquy-protocol-docs-'));
    await run(process.execPath, [join(root, 'scripts/generate-protocol-docs.mjs'), '--out', generated], { cwd: root });
  });
  afterAll(async () => {
    await rm(generated, { recursive: true, force: true });
  });

  it('and docs/schema/ are exactly what the generator writes from the current sources', async () => {
    for (const path of ['docs/protocol.md', ...PARTS.map((p) => `docs/schema/${p.key}.schema.json`)]) {
      const committed = await readFile(join(root, path), 'utf8');
      expect(committed, `${path} is stale; ${REGENERATE}`).toBe(await readFile(join(generated, path), 'utf8'));
    }
  });

  for (const { key, title, schema } of PARTS) {
    describe(`${title} (${key})`, () => {
      const types = [...variants(schema).keys()];
      const documented = bySection.get(title);

      it('has a section for every type in the schema, and none for a type that does not exist', () => {
        expect(documented, `no "## ${title}" section`).toBeDefined();
        expect([...(documented?.keys() ?? [])].sort()).toEqual([...types].sort());
      });

      for (const [type, variant] of variants(schema)) {
        it(`\`${type}\`: has a description and a table listing every field`, () => {
          const body = documented?.get(type) ?? '';
          const description = body.split('\n\n').map((p) => p.trim()).find((p) => p !== '');
          expect(description, `section ${type} has no description`).toBeDefined();
          expect(description?.startsWith('|')).toBe(false);
          const rows = [...body.matchAll(/^\| `([^`]+)` \|/gm)].map((m) => m[1]);
          expect(rows).toEqual(expect.arrayContaining(Object.keys(variant.def.shape)));
        });

        it(`\`${type}\`: its JSON example is valid and keeps every field when parsed`, () => {
          const body = documented?.get(type) ?? '';
          const examples = [...body.matchAll(/^```json\n([\s\S]*?)\n```$/gm)].map((m) => m[1] as string);
          expect(examples.length, `section ${type} has no example`).toBeGreaterThan(0);
          for (const text of examples) {
            const value: unknown = JSON.parse(text);
            const parsed = schema.safeParse(value);
            expect(parsed.error?.issues, text).toBeUndefined();
            expect(parsed.data, 'no field of the example may be dropped as unknown').toEqual(value);
            expect((value as { type?: unknown }).type).toBe(type);
          }
        });
      }
    });
  }
});
