/**
 * Durable turn throughput next to the peers: C concurrent conversations × T turns each
 * (default 1,000 × 20), every turn answered instantly, run back to back in one process for
 * Colloquy (file store, durability `sync`), LangGraph JS (`MemorySaver`; `SqliteSaver` on a
 * temporary file) and the OpenAI Agents SDK (`MemorySession`; Colloquy's durable session).
 * Reports turns/s (wall clock), process CPU µs per turn, whether each side is durable, and
 * the ratio Colloquy / peer (turns/s: above 1 means Colloquy is faster; CPU: below 1 means
 * Colloquy spends less). See bench/peers.ts for how each side runs a turn.
 */
import { agentsColloquy, agentsMemory, colloquy, langGraphMemory, langGraphSqlite, measure, sqliteMissing, ratio, withSide, type Measured } from './peers.js';
import { report, smoke } from './machine.js';

const conversations = smoke ? 5 : Number(process.env.BENCH_CONVERSATIONS ?? 1_000);
const turns = smoke ? 2 : Number(process.env.BENCH_TURNS ?? 20);
const deadlineMs = Number(process.env.BENCH_DEADLINE_MS ?? 300_000);

const noSqlite = sqliteMissing();
const sides = [colloquy, langGraphMemory, ...(noSqlite ? [] : [langGraphSqlite]), agentsMemory, agentsColloquy];
const figures: Record<string, Record<string, unknown>> = {};
if (noSqlite) figures[`${langGraphSqlite.label}: skipped`] = { reason: noSqlite };
const measured = new Map<string, Measured>();
for (const side of sides) {
  const m = await withSide(side, (open) => measure(open, { conversations, turns, deadlineMs }));
  measured.set(side.label, m);
  figures[side.label] = { ...m, durable: side.durable };
}
const base = measured.get(colloquy.label)!;
for (const side of sides.slice(1)) {
  const m = measured.get(side.label)!;
  figures[`ratio Colloquy / ${side.label}`] = {
    turnsPerSecond: ratio(base.turnsPerSecond, m.turnsPerSecond),
    cpuUsPerTurn: ratio(base.cpuUsPerTurn, m.cpuUsPerTurn),
  };
}
report({ name: 'peers-throughput', conversations, turnsEach: turns, figures });
