/**
 * `--config key=value` overrides, as Codex's CLI takes them (and as `@openai/codex-sdk`
 * passes them): the value is a TOML literal (`"text"`, `true`, `3`, `{ a = 1 }`), dotted keys
 * nest, and a value that is not valid TOML is taken as a plain string.
 */
import { parse } from 'smol-toml';

/** A usage error: bad flags or arguments (exit code 2). */
export class UsageError extends Error {
  readonly exitCode = 2;
}

export type ConfigValue = string | number | boolean | null | ConfigValue[] | { [key: string]: ConfigValue };
export type ConfigTable = { [key: string]: ConfigValue };

/**
 * Parse `key=value` overrides into one table (later overrides win).
 * @throws {UsageError} for an override without `=` or with an empty key.
 */
export function parseOverrides(overrides: readonly string[]): ConfigTable {
  const table: ConfigTable = {};
  for (const override of overrides) {
    const eq = override.indexOf('=');
    const key = eq === -1 ? '' : override.slice(0, eq).trim();
    if (eq === -1 || key === '' || !/^[A-Za-z0-9_.-]+$/.test(key)) {
      throw new UsageError(`invalid --config ${JSON.stringify(override)}: expected key=value (e.g. model="local")`);
    }
    const raw = override.slice(eq + 1).trim();
    let value: ConfigValue;
    try {
      value = (parse(`v = ${raw}`) as { v: ConfigValue }).v;
    } catch {
      value = raw;
    }
    let target = table;
    const parts = key.split('.');
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
