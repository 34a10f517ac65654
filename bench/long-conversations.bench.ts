/**
 * Long conversations: does the cost of a turn grow with the conversation's length? For each
 * side (see bench/peers.ts), 1 conversation × 200 turns and 10 concurrent conversations ×
 * 2,000 turns, each against the same concurrency with 20-turn conversations (fresh
 * conversations, repeated until they have run as many turns as the long run, at most 2,000;
 * measured before and after the long run and averaged, after an unmeasured warm-up).
 * Reports turns/s, the rate over the last tenth of the long conversations' turns, and the
 * ratio long / short (1.0: no slowdown; Colloquy's target is at least 0.9).
 *
 * Peers whose per-turn cost grows with history are stopped after a deadline (default 90 s
 * per run, `BENCH_DEADLINE_MS`) or at 4 GiB RSS, and the figure says so.
 */
import { agentsColloquy, agentsMemory, colloquy, langGraphMemory, langGraphSqlite, measure, sqliteMissing, ratio, withSide, type OpenSide } from './peers.js';
import { report, smoke } from './machine.js';

const shortTurns = smoke ? 2 : 20;
const runs: Array<{ label: string; conversations: number; turns: number }> = smoke
  ? [{ label: '1 × 4', conversations: 1, turns: 4 }]
  : [
      { label: '1 × 200', conversations: 1, turns: 200 },
      { label: '10 × 2000', conversations: 10, turns: 2_000 },
    ];
const deadlineMs = Number(process.env.BENCH_DEADLINE_MS ?? 90_000);
const rssLimitBytes = 4 * 2 ** 30;

/** The short-conversation rate at this concurrency: fresh C × `shortTurns` runs until `total` turns. */
async function shortRate(open: OpenSide, conversations: number, total: number): Promise<number> {
  const repeats = Math.max(1, Math.min(Math.ceil(total / (conversations * shortTurns)), Math.ceil(2_000 / (conversations * shortTurns))));
  let turns = 0;
  let seconds = 0;
  for (let i = 0; i < repeats; i++) {
    const m = await measure(open, { conversations, turns: shortTurns });
    turns += m.turns;
    seconds += m.seconds;
  }
  return Math.round(turns / seconds);
}

const noSqlite = sqliteMissing();
const sides = [colloquy, langGraphMemory, ...(noSqlite ? [] : [langGraphSqlite]), agentsMemory, agentsColloquy];
const figures: Record<string, Record<string, unknown>> = {};
if (noSqlite) figures[`${langGraphSqlite.label}: skipped`] = { reason: noSqlite };
for (const run of runs) {
  for (const side of sides) {
    const row = await withSide(side, async (open) => {
      // Warm up (JIT, caches), unmeasured; then the short rate before and after the long run, averaged, so drift in the machine's load hits both alike.
      await measure(open, { conversations: run.conversations, turns: shortTurns });
      const before = await shortRate(open, run.conversations, run.conversations * run.turns);
      const long = await measure(open, { conversations: run.conversations, turns: run.turns, deadlineMs, rssLimitBytes }, { lastTenth: true });
      const after = await shortRate(open, run.conversations, run.conversations * run.turns);
      const short = Math.round((before + after) / 2);
      return {
        shortTurnsPerSecond: short,
        turnsPerSecond: long.turnsPerSecond,
        lastTenthTurnsPerSecond: long.lastTenthTurnsPerSecond ?? null,
        cpuUsPerTurn: long.cpuUsPerTurn,
        longOverShort: ratio(long.turnsPerSecond, short),
        lastTenthOverShort: long.lastTenthTurnsPerSecond ? ratio(long.lastTenthTurnsPerSecond, short) : null,
        ...(long.stoppedEarly ? { stoppedEarly: long.stoppedEarly } : {}),
        durable: side.durable.split(':')[0],
      };
    });
    figures[`${run.label} (short: ${run.conversations} × ${shortTurns}): ${side.label}`] = row;
  }
}
report({ name: 'long-conversations', shortTurns, deadlineMs, figures });
