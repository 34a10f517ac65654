/**
 * How `colloquy exec` shows a turn: as the exact Codex exec JSONL stream (`--json`), or for
 * people: agent messages on stdout (so `> file` keeps the answer), everything else on stderr.
 */
import type { ThreadEvent } from '../protocol/events.js';
import type { ThreadItem } from '../protocol/items.js';
import { codexEvent } from './codex-events.js';
import type { Sink } from './shared/io.js';

/** Shows a turn's events. */
export interface Renderer {
  header(info: { id: string; resumed: boolean; model: string; approvalPolicy: string; home: string }): void;
  event(event: ThreadEvent): void;
  footer(info: { id: string; ok: boolean }): void;
}

/** The `--json` renderer: one JSON object per line on stdout, nothing else. */
export class JsonRenderer implements Renderer {
  constructor(private readonly out: Sink) {}
  header(): void {}
  event(event: ThreadEvent): void {
    const line = codexEvent(event);
    if (line) this.out.write(`${JSON.stringify(line)}\n`);
  }
  footer(): void {}
}

const OUTPUT_LINES = 20;

function indent(text: string, max = OUTPUT_LINES): string {
  const lines = text.replace(/\n$/, '').split('\n');
  const shown = lines.slice(0, max).map((l) => `    ${l}`);
  if (lines.length > max) shown.push(`    … ${lines.length - max} more lines`);
  return shown.join('\n');
}

/** The human renderer. */
export class HumanRenderer implements Renderer {
  #policy = 'on-request';
  constructor(
    private readonly out: Sink,
    private readonly err: Sink,
  ) {}

  header(info: { id: string; resumed: boolean; model: string; approvalPolicy: string; home: string }): void {
    this.#policy = info.approvalPolicy;
    this.err.write(
      `colloquy exec · ${info.resumed ? 'resumed' : 'new'} conversation ${info.id} · model ${info.model} · approvals ${info.approvalPolicy}\n`,
    );
  }

  #item(item: ThreadItem): void {
    switch (item.type) {
      case 'user_message':
        return;
      case 'agent_message':
        this.out.write(`${item.text}\n`);
        return;
      case 'reasoning':
        this.err.write(`thinking: ${item.text}\n`);
        return;
      case 'command_execution':
        if (item.status === 'declined') {
          this.err.write(
            `$ ${item.command}  (declined: approval policy "${this.#policy}" asks before running commands and exec cannot ask; ` +
              `use --config approval_policy="never" to allow)\n`,
          );
          return;
        }
        this.err.write(`$ ${item.command}  (exit code ${item.exit_code ?? '?'})\n`);
        if (item.aggregated_output.trim() !== '') this.err.write(`${indent(item.aggregated_output)}\n`);
        return;
      case 'tool_call':
        this.err.write(`tool ${item.name} (${item.status})\n`);
        if (item.output) this.err.write(`${indent(item.output)}\n`);
        return;
      case 'mcp_tool_call':
        this.err.write(`tool ${item.server}/${item.tool} (${item.status})\n`);
        return;
      case 'file_change':
        for (const change of item.changes) this.err.write(`${change.kind} ${change.path}\n`);
        return;
      case 'web_search':
        this.err.write(`searched: ${item.query}\n`);
        return;
      case 'todo_list':
        for (const todo of item.items) this.err.write(`[${todo.completed ? 'x' : ' '}] ${todo.text}\n`);
        return;
      case 'error':
        this.err.write(`warning: ${item.message}\n`);
        return;
      case 'turn_aborted':
        return;
    }
  }

  event(event: ThreadEvent): void {
    switch (event.type) {
      case 'item.completed':
        this.#item(event.item);
        return;
      case 'turn.completed': {
        const u = event.turn_usage ?? event.usage;
        this.err.write(`tokens: ${u.input_tokens} in (${u.cached_input_tokens} cached), ${u.output_tokens} out\n`);
        return;
      }
      case 'turn.failed':
        this.err.write(`error: the turn failed: ${event.error.message}\n`);
        return;
      case 'turn.aborted':
        this.err.write(`the turn was interrupted (${event.reason})\n`);
        return;
      case 'error':
        this.err.write(`error: ${event.message}\n`);
        return;
      default:
        return;
    }
  }

  footer(info: { id: string; ok: boolean }): void {
    this.err.write(`to continue: colloquy exec resume ${info.id} "your next message"\n`);
  }
}
