// Builds the command line: one bundle (dist/cli.cjs), so a cold start does not resolve
// hundreds of modules, and a launcher (dist/colloquy.cjs, the `colloquy` bin) that loads it
// through V8's code cache. The cache is made here by one warm-up run.
import { execFileSync } from 'node:child_process';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { build } from 'esbuild';

const common = { bundle: true, platform: 'node', format: 'cjs', target: 'node20', legalComments: 'none', logLevel: 'warning' };

// `serve`, `inspect` and `--inspect` live in a second bundle (dist/cli-extras.cjs, entry
// src/cli/extras.ts), loaded only when used: the main bundle's imports of these modules
// (from src/cli/commands/serve.ts and inspect.ts) become `require('./cli-extras.cjs')`, so
// `colloquy exec` never parses the control server, `ws` or `@statelyai/inspect`. They are
// matched by the file they resolve to, wherever the importing module is.
const extraModules = new Set(['src/cli/serve-run.ts', 'src/cli/inspect-run.ts', 'src/server/index.ts'].map((path) => resolve(path)));
const extras = {
  name: 'cli-extras',
  setup(b) {
    b.onResolve({ filter: /\/(serve-run|inspect-run|server\/index)\.js$/ }, (args) =>
      extraModules.has(resolve(args.resolveDir, args.path.replace(/\.js$/, '.ts'))) ? { path: './cli-extras.cjs', external: true } : undefined,
    );
  },
};
// `import()` becomes `require()` (the launcher runs the bundle in a vm.Script, which has no dynamic import).
await build({
  ...common,
  entryPoints: ['src/cli/bin.ts'],
  outfile: 'dist/cli.cjs',
  minify: true,
  sourcemap: 'linked',
  plugins: [extras],
  supported: { 'dynamic-import': false },
});
await build({
  ...common,
  entryPoints: ['src/cli/extras.ts'],
  outfile: 'dist/cli-extras.cjs',
  minify: true,
  sourcemap: 'linked',
  supported: { 'dynamic-import': false },
  // Optional native speed-ups of `ws`, required inside try/catch.
  external: ['bufferutil', 'utf-8-validate'],
  // `import.meta.url` has no meaning in this bundle; code that needs its directory uses `__dirname`.
  define: { 'import.meta.url': 'undefined' },
});
await build({ ...common, entryPoints: ['src/cli/launcher.cts'], outfile: 'dist/colloquy.cjs', banner: { js: '#!/usr/bin/env node' } });
await chmod('dist/colloquy.cjs', 0o755);
await rm('dist/cli.cjs.cache', { force: true });

// Warm-up: one ephemeral turn compiles what a real run needs; the launcher saves the cache on exit.
const home = await mkdtemp(join(tmpdir(), 'colloquy-build-'));
try {
  execFileSync(process.execPath, ['dist/colloquy.cjs', 'exec', '--ephemeral', '--json', 'warm-up'], {
    env: { ...process.env, COLLOQUY_HOME: home },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
} finally {
  await rm(home, { recursive: true, force: true });
}
