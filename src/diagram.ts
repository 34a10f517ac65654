/**
 * Statechart diagrams generated from machine definitions (never drawn by hand): Mermaid
 * `stateDiagram-v2` text for a machine, optionally with its current state highlighted.
 */
import type { AnyStateMachine } from 'xstate';

interface Transition {
  readonly eventType: string;
  readonly target?: readonly NodeShape[];
  readonly guard?: unknown;
}

interface NodeShape {
  readonly id: string;
  readonly key: string;
  readonly type: string;
  readonly initial?: { target: readonly NodeShape[] };
  readonly states: Record<string, NodeShape>;
  readonly transitions: Map<string, Transition[]>;
  readonly always?: Transition[];
  readonly parent?: NodeShape;
}

/** Options of `toMermaid`: which state nodes to highlight as active, and which events' transitions to leave out. */
export interface DiagramOptions {
  /** State node ids to highlight (e.g. the active ones, `conversation.processing.streaming`). */
  readonly active?: readonly string[];
  /** Leave out transitions on these events (e.g. internal acknowledgements). */
  readonly omitEvents?: readonly string[];
}

/** A Mermaid-safe identifier for a state node. */
function ref(node: NodeShape): string {
  return node.id.replace(/[^A-Za-z0-9_]/g, '_');
}

/** A guard in words: `name`, `!name`, `and(a, b)`. */
export function describeGuard(guard: unknown): string {
  if (guard === undefined || guard === null) return '';
  if (typeof guard === 'string') return guard;
  if (typeof guard === 'function') return guard.name || 'guard';
  const g = guard as { type?: string; params?: { guards?: unknown[] } };
  if (g.type === 'xstate.and' || g.type === 'xstate.or') {
    return `${g.type.slice(7)}(${(g.params?.guards ?? []).map(describeGuard).join(', ')})`;
  }
  if (g.type === 'xstate.not') return `!${describeGuard(g.params?.guards?.[0])}`;
  return g.type ?? 'guard';
}

function label(t: Transition): string {
  const event = t.eventType === '' ? 'always' : t.eventType;
  const guard = describeGuard(t.guard);
  return guard ? `${event} [${guard}]` : event;
}

/** States, nested as in the machine, with initial and final markers. */
function declare(node: NodeShape, lines: string[], indent: string): void {
  const initial = node.initial?.target[0];
  if (initial) lines.push(`${indent}[*] --> ${ref(initial)}`);
  for (const child of Object.values(node.states)) {
    lines.push(`${indent}state "${child.key}" as ${ref(child)}`);
    if (Object.keys(child.states).length > 0) {
      lines.push(`${indent}state ${ref(child)} {`);
      declare(child, lines, `${indent}  `);
      lines.push(`${indent}}`);
    }
    if (child.type === 'final') lines.push(`${indent}${ref(child)} --> [*]`);
  }
}

/** Every state-changing transition, at the top level (so no state is re-declared inside a composite). */
function connect(node: NodeShape, lines: string[], options: DiagramOptions): void {
  for (const child of Object.values(node.states)) {
    for (const t of [...[...child.transitions.values()].flat(), ...(child.always ?? [])]) {
      if (!t.target || t.target.length === 0) continue;
      if (options.omitEvents?.includes(t.eventType)) continue;
      for (const target of t.target) lines.push(`  ${ref(child)} --> ${ref(target)} : ${label(t)}`);
    }
    connect(child, lines, options);
  }
}

/**
 * The Mermaid `stateDiagram-v2` of a machine: states (nested as in the machine), initial and
 * final markers, and every transition that changes state, labelled `event [guard]`
 * (eventless ones `always`). Transitions that only run actions are left out.
 */
export function toMermaid(machine: AnyStateMachine, options: DiagramOptions = {}): string {
  const root = machine.root as unknown as NodeShape;
  const lines = ['stateDiagram-v2'];
  declare(root, lines, '  ');
  connect(root, lines, options);
  const active = options.active ?? [];
  if (active.length > 0) {
    lines.push('  classDef active fill:#ffd866,stroke:#b8860b,stroke-width:2px,color:#000');
    for (const id of active) {
      if (id === root.id) continue;
      lines.push(`  class ${id.replace(/[^A-Za-z0-9_]/g, '_')} active`);
    }
  }
  return lines.join('\n');
}
