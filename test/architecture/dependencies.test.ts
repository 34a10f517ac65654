/**
 * Which way imports may point, checked with dependency-cruiser over `src/` and `machines/`
 * (the rules are in `.dependency-cruiser.mjs`): no circles, type-only imports included, and
 * arrows pointing down, cli → clients/server → runtime → machines/store/agents → log →
 * protocol. A small tree under `fixture/` breaks every rule once, so a rule that cannot fire
 * (or a parser that drops type-only imports) fails here too.
 */
import { readdirSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cruise, type ICruiseOptions, type ICruiseResult, type IViolation } from 'dependency-cruiser';
import extractDepcruiseOptions from 'dependency-cruiser/config-utl/extract-depcruise-options';
import { beforeAll, describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../..', import.meta.url));
const fixture = fileURLToPath(new URL('./fixture', import.meta.url));

let options: ICruiseOptions;
beforeAll(async () => {
  options = await extractDepcruiseOptions(join(root, '.dependency-cruiser.mjs'));
});

async function check(baseDir: string): Promise<ICruiseResult> {
  const result = await cruise(['src', 'machines'], { ...options, baseDir, validate: true });
  return result.output as ICruiseResult;
}

/** One line per violation: `rule: from → to`, or the whole circle for `no-circular`. */
function describeViolation(v: IViolation): string {
  const path = v.cycle && v.cycle.length > 0 ? [v.from, ...v.cycle.map((step) => step.name)] : [v.from, v.to];
  return `${v.rule.name}: ${path.join(' → ')}`;
}

function lines(result: ICruiseResult): string[] {
  return [...new Set(result.summary.violations.map(describeViolation))].sort();
}

/** The TypeScript files under `dir`, relative to `base`. */
function sources(base: string, dir: string): string[] {
  return readdirSync(join(base, dir), { recursive: true, encoding: 'utf8' })
    .filter((name) => /\.c?ts$/.test(name))
    .map((name) => relative(base, join(base, dir, name)));
}

describe('the dependency graph', () => {
  it('breaks no rule of .dependency-cruiser.mjs', async () => {
    const result = await check(root);
    // Every module was read, with its type-only imports (main.ts imports only types of io.ts).
    const cruised = new Set(result.modules.map((m) => m.source));
    for (const file of [...sources(root, 'src'), ...sources(root, 'machines')]) expect(cruised, file).toContain(file);
    const main = result.modules.find((m) => m.source === 'src/cli/main.ts');
    expect(main?.dependencies.map((d) => d.resolved)).toContain('src/cli/shared/io.ts');
    const found = lines(result);
    expect(found, `imports that break the rules of .dependency-cruiser.mjs:\n  ${found.join('\n  ')}\n`).toEqual([]);
  });

  it('finds a break of every rule in the fixture, type-only imports and circles included', async () => {
    const found = lines(await check(fixture));
    expect(found).toEqual([
      'agents-beside-store-below-runtime: src/agents/agent.ts → src/store/store.ts',
      'log-below-all-but-protocol: src/log/log.ts → src/agents/agent.ts',
      'machines-below-server-cli-store: machines/machine.ts → src/server/server.ts',
      'no-circular: src/log/log.ts → src/protocol/item.ts → src/log/log.ts',
      'no-circular: src/protocol/item.ts → src/protocol/part.ts → src/protocol/item.ts',
      'postgres-store-apart: src/index.ts → src/store/postgres/postgres.ts',
      'protocol-at-the-bottom: src/protocol/item.ts → src/log/log.ts',
      'runtime-above-machines-and-store: src/store/store.ts → src/runtime/runtime.ts',
    ]);
  });
});
