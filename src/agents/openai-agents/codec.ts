/**
 * How Agents SDK items are kept in a log line: as JSON, exactly as given, except for the few
 * values JSON cannot hold, which are written as tagged objects and read back as they were:
 * `undefined` (a property or an array element), `Uint8Array` bytes (images and files in tool
 * output), and the numbers `NaN`, `Infinity`, `-Infinity` and `-0`. An object that happens to
 * have the tag's key is wrapped, so every value reads back deep-equal to what was written.
 */
import { ColloquyError } from '../../errors.js';

/** The key of a tagged value. */
const TAG = '$colloquy';

/** A value that cannot be kept losslessly (a function, a symbol, a class instance…). */
export class UnsupportedValueError extends ColloquyError {
  /** Where the value is, e.g. `items[2].providerData.when`. */
  readonly path: string;
  constructor(path: string, what: string) {
    super('unsupported_value', `${path}: ${what} cannot be stored in a conversation log (items must be JSON values, undefined or Uint8Array)`);
    this.name = 'UnsupportedValueError';
    this.path = path;
  }
}

function isPlainObject(value: object): boolean {
  const proto = Object.getPrototypeOf(value) as unknown;
  return proto === Object.prototype || proto === null;
}

function at(path: string, key: string | number): string {
  return typeof key === 'number' ? `${path}[${key}]` : /^[A-Za-z_$][\w$]*$/.test(key) ? `${path}.${key}` : `${path}[${JSON.stringify(key)}]`;
}

/**
 * The JSON form of `value`.
 * @throws {UnsupportedValueError} naming where a value is that cannot be kept.
 */
export function encode(value: unknown, path = 'value', seen: Set<object> = new Set()): unknown {
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return value;
    case 'number':
      if (Number.isNaN(value)) return { [TAG]: 'number', value: 'NaN' };
      if (value === Infinity) return { [TAG]: 'number', value: 'Infinity' };
      if (value === -Infinity) return { [TAG]: 'number', value: '-Infinity' };
      if (Object.is(value, -0)) return { [TAG]: 'number', value: '-0' };
      return value;
    case 'undefined':
      return { [TAG]: 'undefined' };
    case 'object':
      break;
    default:
      throw new UnsupportedValueError(path, `a ${typeof value}`);
  }
  if (value === null) return null;
  if (seen.has(value)) throw new UnsupportedValueError(path, 'a cyclic reference');
  if (value instanceof Uint8Array) return { [TAG]: 'bytes', base64: Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('base64') };
  seen.add(value);
  try {
    if (Array.isArray(value)) return value.map((v, i) => encode(v, at(path, i), seen));
    if (!isPlainObject(value)) throw new UnsupportedValueError(path, `an instance of ${value.constructor?.name ?? 'a class'}`);
    const out: Record<string, unknown> = {};
    for (const [key, v] of Object.entries(value)) out[key] = encode(v, at(path, key), seen);
    return TAG in out ? { [TAG]: 'object', value: out } : out;
  } finally {
    seen.delete(value);
  }
}

/** The value whose JSON form is `value` (the inverse of {@link encode}). */
export function decode(value: unknown): unknown {
  if (value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) return value.map(decode);
  const object = value as Record<string, unknown>;
  switch (object[TAG]) {
    case undefined:
      break;
    case 'undefined':
      return undefined;
    case 'number':
      return object.value === '-0' ? -0 : Number(object.value);
    case 'bytes':
      return new Uint8Array(Buffer.from(String(object.base64), 'base64'));
    case 'object':
      return decodeEntries(object.value as Record<string, unknown>);
  }
  return decodeEntries(object);
}

function decodeEntries(object: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, v] of Object.entries(object)) out[key] = decode(v);
  return out;
}
