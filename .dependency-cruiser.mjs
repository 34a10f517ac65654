// The rooms of the code and which way their imports may point (test/architecture/dependencies.test.ts
// checks them over src/ and machines/). Arrows point down:
//
//   cli → clients / server → runtime → machines / store / agents → log → protocol
//
// `src/errors.ts` and `src/version.ts` sit below everything and may be imported from anywhere.
// Type-only imports count like any other: a type that has to come from above is a sign the
// piece belongs lower down.

/** Every module of ours. */
const OURS = '^(src|machines)/';
/** What the log room may import: itself, the protocol and the shared leaves. */
const LOG_OR_BELOW = ['^src/(log|protocol)/', '^src/(errors|version)\\.ts$'];
/** What the protocol may import: itself and the shared leaves. */
const PROTOCOL_OR_BELOW = ['^src/protocol/', '^src/(errors|version)\\.ts$'];

/** @type {import('dependency-cruiser').IConfiguration} */
export default {
  forbidden: [
    {
      name: 'no-circular',
      comment: 'No module may reach itself again through its imports (type-only imports included).',
      severity: 'error',
      from: { path: OURS },
      to: { circular: true },
    },
    {
      name: 'runtime-above-machines-and-store',
      comment: 'The runtime drives the machines and the store; neither may import the runtime.',
      severity: 'error',
      from: { path: '^(machines|src/store)/' },
      to: { path: '^src/runtime/' },
    },
    {
      name: 'agents-beside-store-below-runtime',
      comment: 'Agents are run by the runtime and know nothing of it or of the store.',
      severity: 'error',
      from: { path: '^src/agents/' },
      to: { path: '^src/(runtime|store)/' },
    },
    {
      name: 'log-below-all-but-protocol',
      comment: 'The log room (record types, the fold, replay) imports only the protocol and the shared leaves.',
      severity: 'error',
      from: { path: '^src/log/' },
      to: { path: OURS, pathNot: LOG_OR_BELOW },
    },
    {
      name: 'protocol-at-the-bottom',
      comment: 'The protocol imports nothing of ours but the shared leaves.',
      severity: 'error',
      from: { path: '^src/protocol/' },
      to: { path: OURS, pathNot: PROTOCOL_OR_BELOW },
    },
    {
      name: 'machines-below-server-cli-store',
      comment: 'The statecharts know nothing of the control server, the command line, the store, the runtime, the agents or the clients.',
      severity: 'error',
      from: { path: '^machines/' },
      to: { path: '^src/(server|cli|store|runtime|agents|clients|import|console|inspect)/' },
    },
    {
      name: 'runtime-below-its-clients',
      comment: 'The runtime knows nothing of what drives it: the server, the clients, the import, the command line.',
      severity: 'error',
      from: { path: '^src/runtime/' },
      to: { path: '^src/(server|cli|clients|import|console)/' },
    },
    {
      name: 'store-below-the-actors',
      comment: 'The store knows the log and the protocol, not the machines, agents or anything that drives them.',
      severity: 'error',
      from: { path: '^src/store/' },
      to: { path: '^(machines/|src/(agents|server|cli|clients|import|console|inspect)/)' },
    },
    {
      name: 'postgres-store-apart',
      comment: 'The Postgres store is its own entry point (colloquy/postgres): nothing else imports it, so importing colloquy never loads pg.',
      severity: 'error',
      from: { path: OURS, pathNot: '^src/store/postgres/' },
      to: { path: '^src/store/postgres/' },
    },
    {
      name: 'agents-below-their-drivers',
      comment: 'Agents know nothing of the clients, the server, the import or the command line.',
      severity: 'error',
      from: { path: '^src/agents/' },
      to: { path: '^src/(server|cli|clients|import|console)/' },
    },
    {
      name: 'clients-below-cli',
      comment: 'Clients of the runtime (the server, the Agents SDK session, the import) are used by the command line, never the other way.',
      severity: 'error',
      from: { path: '^src/(server|clients|import)/' },
      to: { path: '^src/cli/' },
    },
  ],
  options: {
    // TypeScript 7 has no JavaScript compiler API for dependency-cruiser to use; swc parses
    // TypeScript and keeps type-only imports.
    parser: 'swc',
    // swc reads .cts too (the launcher), but dependency-cruiser only scans it when asked.
    extraExtensionsToScan: ['.cts'],
    doNotFollow: { path: 'node_modules' },
    moduleSystems: ['es6', 'cjs'],
    enhancedResolveOptions: {
      exportsFields: ['exports'],
      conditionNames: ['import', 'require', 'node', 'default'],
    },
  },
};
