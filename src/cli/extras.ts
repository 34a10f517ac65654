/**
 * Entry of the command line's second bundle (`dist/cli-extras.cjs`): what `serve`, `inspect`
 * and the `--inspect` options need (the control server, the inspection relay, `ws`,
 * `@statelyai/inspect`). The main bundle (`dist/cli.cjs`) loads it only when one of them is
 * used (by `commands/serve.ts` and `commands/inspect.ts`): `scripts/build-cli.mjs` maps the
 * imports of `serve-run.ts`, `inspect-run.ts` and `src/server/index.ts` to it.
 */
export { runServe } from './serve-run.js';
export { interrupted, parsePort, runInspect, startInspection } from './inspect-run.js';
export { serve } from '../server/index.js';
