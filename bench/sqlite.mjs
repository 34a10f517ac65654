// Builds better-sqlite3's native binding when it is missing, for LangGraph's SqliteSaver in the
// peer benchmarks. `npm ci` does not run its install script (see `allowScripts` in
// package.json): it downloads a prebuilt binary from GitHub or, failing that, compiles SQLite,
// which takes minutes and is needed only to benchmark. Run by `npm run bench`; idempotent.
import { execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { dirname } from 'node:path';

const require = createRequire(import.meta.url);

function works() {
  try {
    const Database = require('better-sqlite3');
    new Database(':memory:').close();
    return true;
  } catch {
    return false;
  }
}

if (!works()) {
  const dir = dirname(require.resolve('better-sqlite3/package.json'));
  process.stderr.write(`building better-sqlite3's native binding in ${dir} (once; a few minutes)…\n`);
  const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
  try {
    execFileSync(npm, ['run', 'install', '--prefix', dir], { stdio: ['ignore', 'inherit', 'inherit'] });
  } catch {
    execFileSync(npm, ['run', 'build-release', '--prefix', dir], { stdio: ['ignore', 'inherit', 'inherit'] });
  }
  if (!works()) {
    process.stderr.write('better-sqlite3 still cannot be loaded: the SqliteSaver rows will be reported as skipped\n');
  }
}
