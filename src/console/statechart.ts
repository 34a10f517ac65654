/// <reference lib="dom" />
/**
 * The conversation statechart: the Mermaid diagram the server generates from the machine
 * definition (`toMermaid`), drawn once with the Mermaid bundle served next to the page, then
 * highlighted in place as the conversation's active states change (no redraw per event).
 *
 * The container keeps what it shows in attributes: `data-active` (the active state node ids,
 * comma-separated) and `data-trail` (the public states seen, in order, without repeats).
 */

interface MermaidApi {
  initialize(config: Record<string, unknown>): void;
  render(id: string, text: string): Promise<{ svg: string }>;
}

declare global {
  interface Window {
    mermaid?: MermaidApi;
  }
}

/** The Mermaid name of a state node id (as `toMermaid` makes it): `conversation.processing` → `conversation_processing`. */
export function mermaidRef(stateId: string): string {
  return stateId.replace(/[^A-Za-z0-9_]/g, '_');
}

/** Drop the `classDef`/`class` lines of a highlighted diagram: the highlight is applied to the drawing instead. */
function baseDiagram(text: string): string {
  return text
    .split('\n')
    .filter((line) => !/^\s*(classDef|class)\s/.test(line))
    .join('\n');
}

let renders = 0;

export class Statechart {
  readonly #root: HTMLElement;
  #nodes = new Map<string, Element>();
  #drawn: Promise<void> | null = null;
  #active: readonly string[] = [];
  #trail: string[] = [];

  constructor(root: HTMLElement) {
    this.#root = root;
  }

  /** Draw `diagram` (Mermaid text) once; later calls do nothing. Resolves when drawn. */
  draw(diagram: string): Promise<void> {
    this.#drawn ??= this.#render(diagram);
    return this.#drawn;
  }

  async #render(diagram: string): Promise<void> {
    const mermaid = window.mermaid;
    if (!mermaid) {
      this.#root.textContent = 'The statechart cannot be drawn: the Mermaid bundle did not load.';
      return;
    }
    mermaid.initialize({ startOnLoad: false, securityLevel: 'strict', theme: 'neutral', state: { useMaxWidth: true } });
    const id = `statechart-${++renders}`;
    const { svg } = await mermaid.render(id, baseDiagram(diagram));
    this.#root.innerHTML = svg;
    this.#nodes.clear();
    const pattern = new RegExp(`^${id}-state-(.+)-\\d+$`);
    for (const el of this.#root.querySelectorAll('g[id]')) {
      const m = pattern.exec(el.id);
      if (m?.[1] !== undefined) this.#nodes.set(m[1], el);
    }
    this.#apply();
  }

  /** Highlight the active state nodes (ids such as `conversation.processing.streaming`) and note the public `state`. */
  show(active: readonly string[], state: string): void {
    this.#active = active;
    if (this.#trail[this.#trail.length - 1] !== state) this.#trail.push(state);
    if (this.#trail.length > 200) this.#trail = this.#trail.slice(-200);
    this.#root.dataset.state = state;
    this.#root.dataset.trail = this.#trail.join(',');
    this.#apply();
  }

  /** Forget the trail (another conversation is shown). */
  reset(): void {
    this.#trail = [];
    this.#active = [];
    delete this.#root.dataset.state;
    this.#root.dataset.trail = '';
    this.#apply();
  }

  #apply(): void {
    this.#root.dataset.active = this.#active.join(',');
    const wanted = new Set(this.#active.map(mermaidRef));
    for (const [ref, el] of this.#nodes) {
      const on = wanted.has(ref);
      el.classList.toggle('colloquy-active', on);
      if (on) el.setAttribute('data-active', 'true');
      else el.removeAttribute('data-active');
    }
  }
}
