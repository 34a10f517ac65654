/**
 * Model-based testing helpers: explore a machine's state graph with `xstate/graph`, then
 * replay every edge on a real actor restored at the edge's source and record, through the
 * inspection API, which transition definitions fired (eventless ones included). Coverage is
 * then "every declared transition fired, every state node entered".
 */
import { createActor, fromCallback, type AnyActorRef, type AnyStateMachine, type InspectionEvent } from 'xstate';
import { getAdjacencyMap } from 'xstate/graph';

type AnyTransition = {
  source: NodeLike;
  eventType: string;
  target?: readonly { id: string }[];
  guard?: unknown;
};

/**
 * A stable name for a transition definition: source, event, candidate index, target (the
 * same across `machine.provide(...)` copies of a machine).
 */
export function transitionName(t: AnyTransition): string {
  const always = t.source.always ?? [];
  const list = always.includes(t) ? always : (t.source.transitions.get(t.eventType) ?? []);
  const targets = (t.target ?? []).map((n) => n.id).join(',');
  const event = always.includes(t) ? '(always)' : t.eventType;
  return `${t.source.id} --${event}[${list.indexOf(t)}]--> ${targets || '(no target)'}`;
}

interface NodeLike {
  id: string;
  states: Record<string, NodeLike>;
  transitions: Map<string, AnyTransition[]>;
  always?: AnyTransition[];
}

function allNodes(node: NodeLike): NodeLike[] {
  return [node, ...Object.values(node.states).flatMap(allNodes)];
}

/** The names of every transition the machine declares (one per candidate, guards included). */
export function declaredTransitions(machine: AnyStateMachine): Set<string> {
  const out = new Set<string>();
  for (const node of allNodes(machine.root as unknown as NodeLike)) {
    for (const list of node.transitions.values()) for (const t of list) out.add(transitionName(t));
    for (const t of node.always ?? []) out.add(transitionName(t));
  }
  return out;
}

/** Every state node id of the machine. */
export function declaredStates(machine: AnyStateMachine): Set<string> {
  return new Set(allNodes(machine.root as unknown as NodeLike).map((n) => n.id));
}

export interface Coverage {
  readonly vertices: number;
  readonly edges: number;
  readonly fired: Set<string>;
  readonly entered: Set<string>;
}

type Snap = { _nodes: { id: string }[] };

/**
 * The machine with every transition computed in a fresh mock scope. `xstate/graph` shares
 * one mock actor system across a whole traversal, so a child spawned with a `systemId` on
 * one branch would collide with the same child spawned on another.
 */
export function isolated(machine: AnyStateMachine): AnyStateMachine {
  const scope = () => {
    const self = createActor(fromCallback(() => {}));
    return {
      self,
      logger: () => {},
      id: '',
      sessionId: '',
      defer: () => {},
      system: self.system,
      stopChild: () => {},
      emit: () => {},
      actionExecutor: () => {},
    };
  };
  return Object.assign(Object.create(machine), {
    transition: (state: unknown, event: unknown) => machine.transition(state as never, event as never, scope() as never),
    getInitialSnapshot: (_: unknown, input: unknown) => machine.getInitialSnapshot(scope() as never, input as never),
  }) as AnyStateMachine;
}

/**
 * Explore `machine` from each input. `check` sees every edge of the model (before, event,
 * after). Edges that can add coverage are replayed on a real actor (the shortest path to the
 * edge's source, then its event), recording the transitions that fired from `@xstate.microstep`
 * inspection events, so eventless transitions count too. `logic` is the machine with inert
 * implementations, so the actor can run.
 */
export function explore<M extends AnyStateMachine>(
  machine: M,
  logic: AnyStateMachine,
  inputs: readonly unknown[],
  options: { events: (state: any) => any[]; serializeState: (state: any) => string },
  check?: (before: any, event: any, after: any) => void,
  host: (logic: AnyStateMachine, input: unknown, inspect: (e: InspectionEvent) => void) => { actor: AnyActorRef; stop(): void } = (l, i, inspect) => {
    const actor = createActor(l, { input: i as never, inspect });
    actor.start();
    return { actor, stop: () => actor.stop() };
  },
): Coverage {
  const fired = new Set<string>();
  const entered = new Set<string>();
  let vertices = 0;
  let edges = 0;
  // A vertex explored from an earlier input is not expanded again from a later one.
  const explored = new Set<string>();
  for (const input of inputs) {
    const traversal = {
      ...options,
      input,
      serializeEvent: (e: unknown) => JSON.stringify(e),
      stopWhen: (state: unknown) => explored.has(options.serializeState(state)),
    } as never;
    const t0 = performance.now();
    const map = getAdjacencyMap(isolated(machine), traversal) as unknown as Record<
      string,
      { state: unknown; transitions: Record<string, { event: any; state: unknown }> }
    >;
    // Shortest event path to every vertex, by breadth-first search over the map.
    const initial = Object.keys(map)[0] as string;
    const paths = new Map<string, any[]>([[initial, []]]);
    for (const queue = [initial]; queue.length > 0; ) {
      const key = queue.shift() as string;
      for (const edge of Object.values(map[key]?.transitions ?? {})) {
        const next = options.serializeState(edge.state);
        if (paths.has(next)) continue;
        paths.set(next, [...(paths.get(key) as any[]), edge.event]);
        queue.push(next);
      }
    }
    const replayed = new Set<string>();
    const record = (seen: InspectionEvent[], actor: AnyActorRef): void => {
      for (const e of seen) {
        if (e.type !== '@xstate.microstep' || e.actorRef !== actor) continue;
        for (const t of (e as unknown as { _transitions: AnyTransition[] })._transitions) {
          fired.add(transitionName(t));
          entered.add(t.source.id);
        }
        // Transient states (eventless transitions out) show only in microsteps.
        for (const node of (e.snapshot as unknown as Snap)._nodes) entered.add(node.id);
      }
      for (const node of (actor.getSnapshot() as unknown as Snap)._nodes) entered.add(node.id);
    };
    {
      // Every input's start, whatever state it lands in.
      const seen: InspectionEvent[] = [];
      const hosted = host(logic, input, (e) => void seen.push(e));
      record(seen, hosted.actor);
      hosted.stop();
    }
    for (const [key, vertex] of Object.entries(map)) {
      if (explored.has(key)) continue;
      explored.add(key);
      vertices++;
      const path = paths.get(key);
      if (!path) throw new Error(`no path to ${key}`);
      for (const edge of Object.values(vertex.transitions)) {
        edges++;
        // Invariants hold on every edge of the model.
        check?.(vertex.state, edge.event, edge.state);
        // Replay on a real actor only the edges that can add coverage: a transition not yet
        // fired, or a target not yet reached (eventless transitions fire on arrival).
        const target = options.serializeState(edge.state);
        const enabled = machine.getTransitionData(vertex.state as never, edge.event).map((t) => transitionName(t as never));
        if (replayed.has(target) && enabled.every((t) => fired.has(t))) continue;
        replayed.add(target);
        const seen: InspectionEvent[] = [];
        const hosted = host(logic, input, (e) => void seen.push(e));
        const actor = hosted.actor;
        for (const event of path) actor.send(event);
        actor.send(edge.event);
        record(seen, actor);
        hosted.stop();
      }
    }
    if (process.env.MODEL_STATS) process.stderr.write(`model: ${Object.keys(map).length} vertices in ${Math.round(performance.now() - t0)} ms\n`);
  }
  return { vertices, edges, fired, entered };
}
