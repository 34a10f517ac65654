/**
 * Writes conversation logs directly (no runtime), fast, for benchmarks: `turns` turns of four
 * records each (turn.started, the user message, the agent's answer, turn.completed), and
 * optionally a compaction every `compactEvery` turns, as a long conversation with automatic
 * compaction would have.
 */
import { closeSync, mkdirSync, openSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { newConversationId } from '../src/protocol/ids.js';
import { dayParts } from '../src/store/paths.js';

export interface GeneratedLog {
  readonly id: string;
  readonly path: string;
  readonly records: number;
  readonly bytes: number;
}

const usage = { input_tokens: 120, cached_input_tokens: 100, output_tokens: 40, reasoning_output_tokens: 0 };

/** Write one conversation's log of about `records` records under `home`. */
export function generateLog(home: string, records: number, options: { compactEvery?: number; id?: string; name?: string } = {}): GeneratedLog {
  const id = options.id ?? newConversationId();
  const dir = join(home, 'sessions', ...dayParts(id));
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const path = join(dir, `${id}.jsonl`);
  const fd = openSync(path, 'w', 0o600);
  const ts = new Date().toISOString();
  const config = { model: 'local', cwd: '/tmp', approvalPolicy: 'on-request' };
  let seq = 0;
  let bytes = 0;
  let buffer = '';
  const put = (type: string, payload: unknown): void => {
    buffer += `${JSON.stringify({ ts, seq: seq++, type, payload })}\n`;
    if (buffer.length > 1 << 20) {
      bytes += writeSync(fd, buffer);
      buffer = '';
    }
  };
  put('session_meta', { format: 1, id, created_at: ts, config, ...(options.name ? { name: options.name } : {}), source: 'colloquy' });
  let item = 0;
  let turn = 0;
  while (seq < records) {
    turn++;
    const turnId = `turn-${turn}`;
    put('event', { type: 'turn.started', turn_id: turnId, kind: 'regular' });
    put('item', { turn_id: turnId, item: { id: `item_${item++}`, type: 'user_message', text: `message number ${turn}: please look at the next part of the task` } });
    put('item', { turn_id: turnId, item: { id: `item_${item++}`, type: 'agent_message', text: `Turn ${turn}. Here is a reasonably sized answer that stands in for what a model would write back.` } });
    put('event', { type: 'turn.completed', turn_id: turnId, usage, turn_usage: usage });
    if (options.compactEvery && turn % options.compactEvery === 0) {
      const compactTurn = `compact-${turn}`;
      turn++;
      const start = seq;
      put('event', { type: 'turn.started', turn_id: compactTurn, kind: 'compact' });
      put('compacted', {
        turn_id: compactTurn,
        summary: `Summary of the conversation up to turn ${turn - 1}.`,
        kept_from_seq: seq,
        from_seq: start,
        kept_turns: 0,
        next_item: item,
        turns: turn,
        usage,
        config,
        session_approvals: [],
      });
      put('event', { type: 'turn.completed', turn_id: compactTurn, usage, turn_usage: usage });
    }
  }
  bytes += writeSync(fd, buffer);
  closeSync(fd);
  return { id, path, records: seq, bytes };
}
