/**
 * JSON Schemas of the protocol, converted from its zod schemas with zod's `toJSONSchema`, for
 * clients written in other languages and for editors. `docs/schema/*.schema.json` hold them
 * as committed files (regenerated with `npm run docs:protocol`).
 */
import * as z from 'zod/mini';
import { ThreadEventSchema, TurnErrorSchema } from './events.js';
import { ThreadItemSchema, UserInputItemSchema, UsageSchema } from './items.js';
import { OpSchema } from './ops.js';
import { ConversationConfigSchema, LogRecordSchema } from './records.js';

/** A JSON Schema (draft 2020-12) as a plain JSON value. */
export type JsonSchema = { readonly [key: string]: unknown };

/** The JSON Schemas of the four parts of the protocol. */
export interface ProtocolJsonSchemas {
  /** An op (`OpSchema`), what `submit` and the control server's `POST …/ops` accept. */
  readonly ops: JsonSchema;
  /** A thread event (`ThreadEventSchema`), what subscribers and `runStreamed` see. */
  readonly events: JsonSchema;
  /** A thread item (`ThreadItemSchema`), the units of a conversation's history. */
  readonly items: JsonSchema;
  /** A log record (`LogRecordSchema`), one line of a conversation's JSONL log. */
  readonly records: JsonSchema;
}

/** The parts of the protocol, their root schema and the title their JSON Schema gets. */
const PARTS = {
  ops: { schema: OpSchema, title: 'Colloquy op', description: 'An op a client submits to a conversation, discriminated on `type`.' },
  events: { schema: ThreadEventSchema, title: 'Colloquy thread event', description: 'An event a conversation tells its subscribers, discriminated on `type`.' },
  items: { schema: ThreadItemSchema, title: 'Colloquy thread item', description: 'An item of a conversation\'s history, discriminated on `type`.' },
  records: { schema: LogRecordSchema, title: 'Colloquy log record', description: 'One line of a conversation\'s JSONL log: `{ ts, seq, type, payload }`, discriminated on `type`.' },
} as const;

/**
 * Schemas used in several places, emitted once under `$defs` with these names and referenced
 * with `$ref` (except in the document whose root they are).
 */
const SHARED: ReadonlyArray<readonly [z.ZodMiniType, string]> = [
  [ThreadItemSchema, 'ThreadItem'],
  [UserInputItemSchema, 'UserInputItem'],
  [UsageSchema, 'Usage'],
  [TurnErrorSchema, 'TurnError'],
  [ConversationConfigSchema, 'ConversationConfig'],
];

/** The JSON Schema of one part: the input a validation at the boundary accepts. */
function toJsonSchema(part: keyof typeof PARTS): JsonSchema {
  const { schema, title, description } = PARTS[part];
  const registry = z.registry<{ id?: string; title?: string; description?: string }>();
  for (const [shared, id] of SHARED) if (shared !== schema) registry.add(shared, { id });
  registry.add(schema, { title, description });
  return z.toJSONSchema(schema, { metadata: registry, io: 'input', target: 'draft-2020-12', unrepresentable: 'any' }) as JsonSchema;
}

/**
 * The JSON Schemas (draft 2020-12) of ops, events, items and log records, converted from the
 * zod schemas. They describe the input the protocol's validation accepts: a strict object
 * (an op) forbids unknown fields, other objects allow them (they are dropped when parsed).
 * Items, usages, turn errors, user input parts and conversation settings are shared
 * definitions under `$defs`.
 */
export function protocolJsonSchemas(): ProtocolJsonSchemas {
  return { ops: toJsonSchema('ops'), events: toJsonSchema('events'), items: toJsonSchema('items'), records: toJsonSchema('records') };
}
