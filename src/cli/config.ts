/**
 * `--config key=value` overrides, as Codex's CLI takes them (and as `@openai/codex-sdk`
 * passes them): the value is a TOML literal (`"text"`, `true`, `3`, `{ a = 1 }`), dotted keys
 * nest, and a value that is not valid TOML is taken as a plain string.
 */
import { parse } from 'smol-toml';
import { UsageError } from './shared/usage.js';

export type ConfigValue = string | number | boolean | null | ConfigValue[] | { [key: string]: ConfigValue };
export type ConfigTable = { [key: string]: ConfigValue };

/** One part of a dotted key. `__proto__` would reach `Object.prototype` instead of the table. */
function validPart(part: string): boolean {
  return /^[A-Za-z0-9_-]+$/.test(part) && part !== '__proto__';
}

/** The dotted key of an override, split. @throws {UsageError} when it has no `=` or a bad key. */
function keyParts(override: string): string[] {
  const eq = override.indexOf('=');
  const parts = eq === -1 ? [] : override.slice(0, eq).trim().split('.');
  if (parts.length === 0 || !parts.every(validPart)) {
    throw new UsageError(`invalid --config ${JSON.stringify(override)}: expected key=value (e.g. model="local")`);
  }
  return parts;
}

/**
 * Parse `key=value` overrides into one table (later overrides win).
 * @throws {UsageError} for an override without `=`, or with an empty or malformed key
 * (an empty dotted part, a character outside `A-Za-z0-9_-`, or `__proto__`).
 */
export function parseOverrides(overrides: readonly string[]): ConfigTable {
  const table: ConfigTable = {};
  for (const override of overrides) {
    const parts = keyParts(override);
    const raw = override.slice(override.indexOf('=') + 1).trim();
    let value: ConfigValue;
    try {
      value = (parse(`v = ${raw}`) as { v: ConfigValue }).v;
    } catch {
      value = raw;
    }
    let target = table;
    for (const part of parts.slice(0, -1)) {
      const next = target[part];
      if (typeof next !== 'object' || next === null || Array.isArray(next)) target[part] = {};
      target = target[part] as ConfigTable;
    }
    target[parts[parts.length - 1] as string] = value;
  }
  return table;
}

/** A string setting, or undefined. @throws {UsageError} when it is set but not a string. */
export function stringSetting(table: ConfigTable, key: string): string | undefined {
  const value = table[key];
  if (value === undefined) return undefined;
  if (typeof value !== 'string') throw new UsageError(`--config ${key} must be a string`);
  return value;
}
