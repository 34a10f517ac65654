/**
 * Every error class in `src/` is a `ColloquyError` (a stable `code`, a message a person can act
 * on): none extends `Error` or another built-in error but the base class itself, and every one
 * exported from the package is an instance of it.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import * as colloquy from '../../src/index.js';

const src = fileURLToPath(new URL('../../src', import.meta.url));
const BUILT_IN = /class\s+(\w+)\s+extends\s+(Error|TypeError|RangeError|SyntaxError|EvalError|ReferenceError|URIError|AggregateError)\b/g;

describe('error classes', () => {
  it('none extends a built-in error but ColloquyError', () => {
    const found: string[] = [];
    for (const name of readdirSync(src, { recursive: true, encoding: 'utf8' })) {
      if (!/\.(c?ts)$/.test(name)) continue;
      const text = readFileSync(join(src, name), 'utf8');
      for (const m of text.matchAll(BUILT_IN)) if (m[1] !== 'ColloquyError') found.push(`${name}: ${m[1]} extends ${m[2]}`);
    }
    expect(found).toEqual([]);
  });

  it('every error class the package exports is a ColloquyError', () => {
    const classes = Object.entries(colloquy).filter(([name, value]) => typeof value === 'function' && /Error$/.test(name));
    expect(classes.length).toBeGreaterThan(10);
    for (const [name, value] of classes) expect((value as { prototype: unknown }).prototype instanceof colloquy.ColloquyError || value === colloquy.ColloquyError, name).toBe(true);
  });
});
