/**
 * Boundary validation: turn zod results into typed Colloquy errors with readable issues.
 */
import * as z from 'zod/mini';
import { InvalidOpError, type Issue } from '../errors.js';
import { OpSchema, SubmissionSchema, type Op, type Submission } from './ops.js';

/** Validations of a schema before it is compiled. */
const COMPILE_AFTER = 64;

const compiled = new WeakMap<z.ZodMiniType, { uses: number; schema: z.ZodMiniType }>();

/**
 * The schema, compiled to a fast validator (zod's `compile`) once it has been used
 * `COMPILE_AFTER` times: a hot path gets the compiled one, a short-lived process does not pay
 * for compiling (about 10 ms for the record schema). Invalid input still goes through the
 * regular parser, so issues are the same either way.
 */
export function fast<S extends z.ZodMiniType>(schema: S): S {
  let entry = compiled.get(schema);
  if (!entry) {
    entry = { uses: 0, schema };
    compiled.set(schema, entry);
  }
  if (entry.schema === schema && ++entry.uses >= COMPILE_AFTER) entry.schema = z.compile(schema);
  return entry.schema as S;
}

type RawIssue = z.core.$ZodIssue;

function describeValue(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  return typeof v;
}

function valueAt(root: unknown, path: readonly PropertyKey[]): unknown {
  let cur: unknown = root;
  for (const key of path) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<PropertyKey, unknown>)[key];
  }
  return cur;
}

/** Describe one zod issue in words, e.g. `expected string, got number`. */
export function describeIssue(issue: RawIssue, input: unknown): string {
  switch (issue.code) {
    case 'invalid_type': {
      const got = valueAt(input, issue.path);
      return got === undefined ? `required ${issue.expected} is missing` : `expected ${issue.expected}, got ${describeValue(got)}`;
    }
    case 'unrecognized_keys':
      return `unknown field${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map((k) => JSON.stringify(k)).join(', ')}`;
    case 'invalid_value':
      return `expected one of ${issue.values.map((v) => JSON.stringify(v)).join(', ')}`;
    case 'invalid_union': {
      const note = issue as RawIssue & { discriminator?: string; options?: unknown[] };
      if (note.discriminator !== undefined) {
        const got = valueAt(input, [...issue.path]);
        const known = (note.options ?? []).map((o) => JSON.stringify(o)).join(', ');
        return got === undefined ? `required ${note.discriminator} is missing (one of ${known})` : `unknown ${JSON.stringify(got)} (expected one of ${known})`;
      }
      return 'does not match any allowed shape';
    }
    case 'too_small':
      if (issue.origin === 'array') return `must have at least ${String(issue.minimum)} item${issue.minimum === 1 ? '' : 's'}`;
      if (issue.origin === 'string') return `must be at least ${String(issue.minimum)} character${issue.minimum === 1 ? '' : 's'} long`;
      return `must be ${issue.inclusive ? 'at least' : 'more than'} ${String(issue.minimum)}`;
    case 'too_big':
      if (issue.origin === 'array') return `must have at most ${String(issue.maximum)} items`;
      if (issue.origin === 'string') return `must be at most ${String(issue.maximum)} characters long`;
      return `must be ${issue.inclusive ? 'at most' : 'less than'} ${String(issue.maximum)}`;
    case 'invalid_format':
      return `must be a valid ${issue.format}`;
    default:
      return issue.message && issue.message !== 'Invalid input' ? issue.message : 'invalid value';
  }
}

/** Convert zod issues to Colloquy issues, with `prefix` put before every path. */
export function toIssues(issues: readonly RawIssue[], input: unknown, prefix: readonly (string | number)[] = []): Issue[] {
  return issues.map((issue) => ({
    path: [...prefix, ...issue.path.map((p) => (typeof p === 'symbol' ? String(p) : p))],
    message: describeIssue(issue, input),
  }));
}

/**
 * Parse `value` with `schema` or throw `InvalidOpError` naming the first bad field.
 * @throws {InvalidOpError} when `value` does not match `schema`.
 */
export function parseOrThrow<S extends z.ZodMiniType>(schema: S, value: unknown, what = 'op'): z.infer<S> {
  const result = fast(schema).safeParse(value);
  if (result.success) return result.data as z.infer<S>;
  throw new InvalidOpError(toIssues(result.error.issues, value), what);
}

/**
 * Validate an op.
 * @throws {InvalidOpError} naming the bad field, e.g. `items[0].text: expected string, got number`.
 */
export function parseOp(value: unknown): Op {
  return parseOrThrow(OpSchema, value);
}

/**
 * Validate a submission `{ id, op }`.
 * @throws {InvalidOpError} naming the bad field, e.g. `op.callId: required string is missing`.
 */
export function parseSubmission(value: unknown): Submission {
  return parseOrThrow(SubmissionSchema, value, 'submission');
}
