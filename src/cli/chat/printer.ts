/**
 * What `colloquy chat` prints for a conversation's events: items as they complete, agent
 * messages as they arrive (the text of `item.updated` events as it grows), and how a turn
 * ended when it did not complete. User messages are not echoed: the user just typed them.
 */
import type { ThreadEvent } from '../../protocol/events.js';
import type { Sink } from '../shared/io.js';
import { itemLines } from '../format/items.js';

/** Prints a conversation's events for `colloquy chat`. */
export class ChatPrinter {
  /** Agent messages partly printed from `item.updated` events: item id → characters printed. */
  readonly #streamed = new Map<string, number>();

  constructor(private readonly out: Sink) {}

  /** Print a line (a newline is added). */
  line(text = ''): void {
    this.out.write(`${text}\n`);
  }

  /** Print lines. */
  lines(lines: readonly string[]): void {
    if (lines.length > 0) this.out.write(`${lines.join('\n')}\n`);
  }

  /** Finish a partly printed agent message; returns whether one was open. */
  #streamedText(id: string, text: string, done: boolean): void {
    const printed = this.#streamed.get(id) ?? 0;
    if (text.length > printed) this.out.write(text.slice(printed));
    if (done) {
      this.#streamed.delete(id);
      this.out.write('\n');
    } else {
      this.#streamed.set(id, Math.max(printed, text.length));
    }
  }

  /** Print what `event` shows. */
  event(event: ThreadEvent): void {
    switch (event.type) {
      case 'item.updated':
        if (event.item.type === 'agent_message') this.#streamedText(event.item.id, event.item.text, false);
        return;
      case 'item.completed': {
        const item = event.item;
        if (item.type === 'user_message') return;
        if (item.type === 'agent_message' && this.#streamed.has(item.id)) {
          this.#streamedText(item.id, item.text, true);
          return;
        }
        this.lines(itemLines(item));
        return;
      }
      case 'turn.aborted':
        this.line(`⏹ interrupted${event.reason !== 'interrupted' ? ` (${event.reason})` : ''}`);
        return;
      case 'turn.failed':
        this.line(`error: the turn failed: ${event.error.message}`);
        return;
      case 'context.compacted':
        this.line('context compacted: the earlier turns are now a summary');
        return;
      case 'error':
        this.line(`error: ${event.message}`);
        return;
      case 'log.issue':
        this.line(`warning: the log had a ${event.kind.replace(/_/g, ' ')} at line ${event.line}: ${event.detail}`);
        return;
      default:
        return;
    }
  }
}
