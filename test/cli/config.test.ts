/**
 * `--config key=value` overrides, parsed as Codex's CLI parses them (and as
 * `@openai/codex-sdk` serialises them): TOML literal values, dotted keys, plain strings.
 */
import { describe, expect, it } from 'vitest';
import { parseOverrides, stringSetting } from '../../src/cli/config.js';
import { UsageError } from '../../src/cli/shared/usage.js';

/** Plain (prototype-ful) copies, so `toEqual` compares values only. */
function plain(value: unknown): unknown {
  return JSON.parse(JSON.stringify(value)) as unknown;
}

function usageError(overrides: string[]): UsageError {
  try {
    parseOverrides(overrides);
  } catch (err) {
    expect(err).toBeInstanceOf(UsageError);
    return err as UsageError;
  }
  throw new Error(`expected ${JSON.stringify(overrides)} to be rejected`);
}

describe('parseOverrides: values are TOML literals', () => {
  it.each([
    ['a basic string', 'model="gpt-5"', 'gpt-5'],
    ['a string with escapes', 'k="a\\"b\\n"', 'a"b\n'],
    ['a literal string', "k='C:\\dir'", 'C:\\dir'],
    ['a multi-line string', 'k="""x"""', 'x'],
    ['true', 'k=true', true],
    ['false', 'k=false', false],
    ['an integer', 'k=42', 42],
    ['a negative integer', 'k=-7', -7],
    ['a float', 'k=1.5', 1.5],
    ['an array', 'k=[1, "two", true]', [1, 'two', true]],
    ['an inline table', 'k={ a = 1, b = { c = "d" } }', { a: 1, b: { c: 'd' } }],
  ])('%s', (_name, override, expected) => {
    expect(plain(Object.values(parseOverrides([override])))).toEqual([expected]);
  });

  it('keeps a string value that contains "=" (the key ends at the first "=")', () => {
    expect(parseOverrides(['k="a=b"'])).toEqual({ k: 'a=b' });
    expect(parseOverrides(['k=a=b'])).toEqual({ k: 'a=b' });
  });

  it('trims spaces around the key and the value', () => {
    expect(parseOverrides(['  model =  "x"  '])).toEqual({ model: 'x' });
    expect(parseOverrides(['k= 1 '])).toEqual({ k: 1 });
  });

  it('parses exactly what the Codex SDK passes', () => {
    const table = parseOverrides([
      'approval_policy="never"',
      'sandbox_workspace_write.network_access=false',
      'web_search="disabled"',
      'model_reasoning_effort="high"',
      'openai_base_url="http://127.0.0.1:9/v1"',
      'agent_script="/tmp/dir with spaces/script.json"',
    ]);
    expect(plain(table)).toEqual({
      approval_policy: 'never',
      sandbox_workspace_write: { network_access: false },
      web_search: 'disabled',
      model_reasoning_effort: 'high',
      openai_base_url: 'http://127.0.0.1:9/v1',
      agent_script: '/tmp/dir with spaces/script.json',
    });
  });
});

describe('parseOverrides: a value that is not TOML is a plain string', () => {
  it.each([
    ['a bare word', 'approval_policy=never', 'never'],
    ['a model name', 'model=gpt-5.1-codex', 'gpt-5.1-codex'],
    ['a path', 'agent_script=/tmp/a b/c.json', '/tmp/a b/c.json'],
    ['words', 'k=1 2', '1 2'],
    ['nothing', 'k=', ''],
  ])('%s', (_name, override, expected) => {
    const table = parseOverrides([override]);
    expect(Object.values(table)).toEqual([expected]);
  });
});

describe('parseOverrides: dotted keys nest', () => {
  it('builds nested tables', () => {
    expect(plain(parseOverrides(['a.b.c=1']))).toEqual({ a: { b: { c: 1 } } });
  });

  it('merges keys of the same table', () => {
    expect(plain(parseOverrides(['a.b=1', 'a.c="x"', 'd=true']))).toEqual({ a: { b: 1, c: 'x' }, d: true });
  });

  it('merges a dotted key into an inline table given earlier', () => {
    expect(plain(parseOverrides(['a={ b = 1 }', 'a.c=2']))).toEqual({ a: { b: 1, c: 2 } });
  });

  it('later overrides win, also over a whole table', () => {
    expect(parseOverrides(['model="a"', 'model="b"'])).toEqual({ model: 'b' });
    expect(plain(parseOverrides(['a.b=1', 'a=2']))).toEqual({ a: 2 });
  });

  it('a dotted key through a value that is not a table replaces it with a table', () => {
    expect(plain(parseOverrides(['a=1', 'a.b=2']))).toEqual({ a: { b: 2 } });
    expect(plain(parseOverrides(['a=[1]', 'a.b=2']))).toEqual({ a: { b: 2 } });
  });

  it('allows "-" and "_" and digits in key parts', () => {
    expect(plain(parseOverrides(['mcp_servers.my-server.timeout_2=5']))).toEqual({ mcp_servers: { 'my-server': { timeout_2: 5 } } });
  });

  it('no overrides give an empty table', () => {
    expect(parseOverrides([])).toEqual({});
  });
});

describe('parseOverrides: errors', () => {
  it.each([
    ['no "="', 'model'],
    ['an empty key', '="x"'],
    ['a blank key', '   =1'],
    ['a space in the key', 'a b=1'],
    ['a quoted key', '"a"=1'],
    ['an empty dotted part', 'a..b=1'],
    ['a leading dot', '.a=1'],
    ['a trailing dot', 'a.=1'],
  ])('rejects %s as a usage error naming the override', (_name, override) => {
    const err = usageError([override]);
    expect(err.message).toContain(`invalid --config ${JSON.stringify(override)}`);
    expect(err.message).toContain('key=value');
    expect(err.exitCode).toBe(2);
  });

  it('rejects the whole list when one override is bad', () => {
    usageError(['model="a"', 'oops']);
  });

  it('refuses __proto__ keys and does not touch Object.prototype', () => {
    usageError(['__proto__.polluted=1']);
    usageError(['a.__proto__.polluted=1']);
    usageError(['__proto__={ polluted = 1 }']);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(Object.prototype).not.toHaveProperty('polluted');
  });

  it('keys named like Object.prototype members are ordinary keys', () => {
    const table = parseOverrides(['constructor.x=1', 'toString="s"']);
    expect(plain(table)).toEqual({ constructor: { x: 1 }, toString: 's' });
    expect(({} as { constructor: unknown }).constructor).toBe(Object);
  });
});

describe('stringSetting', () => {
  it('returns a string setting, or undefined when it is not set', () => {
    const table = parseOverrides(['model="m"']);
    expect(stringSetting(table, 'model')).toBe('m');
    expect(stringSetting(table, 'approval_policy')).toBeUndefined();
  });

  it.each([['model=3'], ['model=true'], ['model={ a = 1 }'], ['model=[1]']])('rejects %s as not a string', (override) => {
    expect(() => stringSetting(parseOverrides([override]), 'model')).toThrow(UsageError);
    expect(() => stringSetting(parseOverrides([override]), 'model')).toThrow('--config model must be a string');
  });
});
