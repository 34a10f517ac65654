// Crash-trial worker (see crash.test.ts). Runs from the BUILT package (dist/), as a user
// process would: starts `conversations` conversations on a file store at `home` with
// `durability: 'sync'` and the local agent (no delay), then runs turns in a loop in every
// one of them at once until it is killed.
//
// Protocol on stdout, one JSON object per line:
//   { "started": [ids…] }                          once every conversation exists
//   { "id", "turn", "turnId", "text" }             an ACKNOWLEDGED turn: written only after
//                                                  `await convo.run(text)` resolved
// Anything that goes wrong is written to stderr and the process exits with code 2 (the
// parent expects to SIGKILL it, so any exit is a failure).
//
// argv: home conversations seed
import { createRuntime } from '../../dist/src/index.js';
import { prng } from '../support/prng.mjs';

const [home, countArg = '50', seedArg = '1'] = process.argv.slice(2);
if (!home) {
  process.stderr.write('usage: worker.mjs <home> [conversations] [seed]\n');
  process.exit(2);
}
const count = Number(countArg);

const random = prng(Number(seedArg));
const pick = (list) => list[Math.floor(random() * list.length)];

const FLAVOURS = [
  () => 'plain ascii input',
  () => 'unicode: ☃ café 日本語 𝄞 🧪👩‍👩‍👧 e\u0301',
  () => 'several\nlines\r\nwith\ttabs and "quotes" and \\backslashes\\',
  () => 'separators \u2028 \u2029 and a NUL \u0000 and DEL \u007f',
  () => '{"looks":"like","a":["record"],"seq":0}',
  () => `long ${'lorem ipsum dolor sit amet '.repeat(200 + Math.floor(random() * 1200))}end`,
  () => '   leading and trailing spaces   ',
];

/** The text of turn `n` of conversation `index`: unique, never a `!command`. */
function textFor(index, n) {
  return `c${index} turn ${n}: ${pick(FLAVOURS)()}`;
}

function send(value) {
  // Synchronous on Linux for pipes: once this returns, the parent can read the line even if
  // this process is killed right after.
  process.stdout.write(`${JSON.stringify(value)}\n`);
}

function die(error) {
  process.stderr.write(`crash worker failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(2);
}
process.on('uncaughtException', die);
process.on('unhandledRejection', die);
// Never outlive the parent: it holds our stdin open until it has killed us. And a hard cap.
process.stdin.on('end', () => process.exit(3));
process.stdin.resume();
setTimeout(() => die(new Error('not killed within 120 s')), 120_000).unref();

const runtime = createRuntime({
  home,
  durability: 'sync',
  onError: (error, context) => die(new Error(`runtime error (${context.conversationId ?? 'runtime'}): ${error?.message ?? error}`)),
});

const conversations = await Promise.all(Array.from({ length: count }, (_, i) => runtime.start({ name: `crash ${i}`, metadata: { index: i } })));
send({ started: conversations.map((c) => c.id) });

async function loop(convo, index) {
  for (let n = 1; ; n++) {
    const text = textFor(index, n);
    const result = await convo.run(text);
    send({ id: convo.id, turn: n, turnId: result.turnId, text });
  }
}

await Promise.all(conversations.map((c, i) => loop(c, i))).catch(die);
