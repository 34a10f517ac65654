/**
 * The `colloquy` executable: loads the bundled CLI (`cli.cjs`) through V8's code cache
 * (`cli.cjs.cache`, made at build time), so a cold start skips compiling it. Node 20 has no
 * built-in module compile cache; this is the same mechanism, for one file. A cache from
 * another Node version is rejected by V8 and rebuilt on exit when the directory is writable.
 */
import fs = require('node:fs');
import path = require('node:path');
import vm = require('node:vm');
import Module = require('node:module');

const bundle = path.join(__dirname, 'cli.cjs');
const cacheFile = `${bundle}.cache`;
const source = fs.readFileSync(bundle, 'utf8');
let cachedData: Buffer | undefined;
try {
  cachedData = fs.readFileSync(cacheFile);
} catch {
  cachedData = undefined;
}
const script = new vm.Script((Module as unknown as { wrap(code: string): string }).wrap(source), {
  filename: bundle,
  ...(cachedData ? { cachedData } : {}),
});
if (!cachedData || script.cachedDataRejected) {
  process.once('exit', () => {
    try {
      fs.writeFileSync(cacheFile, script.createCachedData());
    } catch {
      // A read-only install runs without a cache.
    }
  });
}
const run = script.runInThisContext() as (exports: unknown, req: NodeJS.Require, mod: unknown, file: string, dir: string) => void;
const mod = { exports: {} };
run.call(mod.exports, mod.exports, require, mod, bundle, __dirname);
