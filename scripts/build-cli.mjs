// Builds the command line: one bundle (dist/cli.cjs), so a cold start does not resolve
// hundreds of modules, and a launcher (dist/colloquy.cjs, the `colloquy` bin) that loads it
// through V8's code cache. The cache is made here by one warm-up run.
import { execFileSync } from 'node:child_process';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { build } from 'esbuild';

const common = { bundle: true, platform: 'node', format: 'cjs', target: 'node20', legalComments: 'none', logLevel: 'warning' };

await build({ ...common, entryPoints: ['src/cli/bin.ts'], outfile: 'dist/cli.cjs', minify: true, sourcemap: 'linked' });
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
