/**
 * Text helpers shared by the local agent and its scripted mode.
 */
import type { AgentTurn } from './agent.js';

const QUOTE_MAX = 200;

/** `text` on one line, in quotes, cut to 200 characters. */
export function quote(text: string): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  return `"${flat.length > QUOTE_MAX ? `${flat.slice(0, QUOTE_MAX - 1)}…` : flat}"`;
}

/** A summary of the history for a `compact` turn: the user's messages, in order. */
export function localSummary(turn: AgentTurn): string {
  const said = turn.history.filter((i) => i.type === 'user_message').map((i) => quote(i.type === 'user_message' ? i.text : ''));
  const before = turn.summary ? `${turn.summary} Then ` : '';
  return said.length === 0 ? `${before}No messages.`.trim() : `${before}The user said, in order: ${said.join('; ')}.`;
}

