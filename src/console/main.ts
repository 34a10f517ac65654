/// <reference lib="dom" />
/**
 * The Colloquy console: a plain TypeScript/DOM page served by the control server at `/`.
 *
 * - The list of conversations (state, name, last update, pending approvals), refreshed every
 *   few seconds and at once when something changes here.
 * - One conversation: its live statechart (the active states highlighted as they change),
 *   its transcript, its event log, pending approvals with Approve / Deny, Interrupt, and an
 *   input box with the busy mode (queue, steer, interrupt).
 * - A button to start a conversation.
 *
 * It talks to the server's HTTP API for lists, reads and starts, and follows the conversation
 * it shows over the WebSocket, which also carries every op it submits.
 */
import type { ThreadEvent } from '../protocol/events.js';
import type { ThreadItem } from '../protocol/items.js';
import type { ServerMessage, StateMessage } from '../server/messages.js';
import type { ConversationState } from '../server/state.js';
import { Api, ApiError, Socket, takeToken } from './api.js';
import { Statechart } from './statechart.js';

// ——— the API's shapes the page reads ———

interface ListItem {
  readonly id: string;
  readonly name?: string;
  readonly createdAt: string;
  readonly updatedAt: string;
  readonly archived: boolean;
  readonly model: string;
  readonly resident: boolean;
  /** `active`, `dormant`, `passivated` or `remote` while the runtime holds it; null otherwise. */
  readonly residency: string | null;
  /** The node that runs it when it is `remote`. */
  readonly owner?: string | null;
  readonly state: string | null;
  readonly pendingApprovals: number | null;
}

interface ListAnswer {
  readonly items: readonly ListItem[];
  readonly nextCursor: string | null;
}

interface TurnRecord {
  readonly id: string;
  readonly number: number;
  readonly status: string;
  readonly items: readonly ThreadItem[];
}

interface ReadAnswer {
  readonly conversation: { readonly id: string; readonly name: string | null; readonly turns: readonly TurnRecord[] };
  readonly live: ConversationState | null;
}

interface StartAnswer {
  readonly conversation: { readonly id: string };
}

// ——— DOM helpers ———

type Child = Node | string | null | undefined | false;

function h<K extends keyof HTMLElementTagNameMap>(tag: K, attrs: Record<string, string | boolean | undefined> = {}, ...children: Child[]): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === false) continue;
    if (k === 'class') el.className = String(v);
    else el.setAttribute(k, v === true ? '' : v);
  }
  for (const child of children) if (child !== null && child !== undefined && child !== false) el.append(child);
  return el;
}

function byId<T extends HTMLElement>(id: string): T {
  const el = document.getElementById(id);
  if (!el) throw new Error(`the page has no #${id}`);
  return el as T;
}

function ago(iso: string): string {
  const ms = Date.now() - Date.parse(iso);
  if (!Number.isFinite(ms)) return iso;
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s}s ago`;
  if (s < 3600) return `${Math.round(s / 60)}m ago`;
  if (s < 86_400) return `${Math.round(s / 3600)}h ago`;
  return new Date(iso).toISOString().slice(0, 10);
}

function clip(text: string, max = 160): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat;
}

function badge(state: string | null): HTMLElement {
  return h('span', { class: `badge state-${state ?? 'stored'}` }, state ?? 'stored');
}

/** Where a conversation the runtime holds lives, when its actor is not running here: `dormant`, `passivated` or `remote` (on `owner`). */
function residencyBadge(residency: string | null | undefined, owner?: string | null): HTMLElement | string {
  if (residency === 'remote') {
    return h('span', { class: 'residency residency-remote', title: `runs on node ${owner ?? '(unknown)'} of the cluster: ops go there, its events come back from its log` }, owner ? `on ${owner}` : 'remote');
  }
  if (residency !== 'passivated' && residency !== 'dormant') return '';
  return h('span', { class: `residency residency-${residency}`, title: residency === 'passivated' ? 'idle: its actor is stopped; the next use brings it back from its log' : 'started, not used yet: no actor' }, residency);
}

/** A one-line summary of an event for the log. */
function describeEvent(event: ThreadEvent): string {
  switch (event.type) {
    case 'thread.started':
      return event.thread_id;
    case 'turn.started':
      return `turn ${event.turn_id}${event.kind && event.kind !== 'regular' ? ` (${event.kind})` : ''}`;
    case 'item.started':
    case 'item.updated':
    case 'item.completed':
      return `${event.item.type} ${event.item.id}: ${clip(itemText(event.item), 120)}`;
    case 'approval.requested':
      return `${event.callId}: ${clip(itemText(event.item), 120)}`;
    case 'approval.resolved':
      return `${event.callId} → ${event.decision}`;
    case 'input.queued':
      return `${event.mode}: ${clip(event.text, 120)}`;
    case 'turn.completed':
      return `turn ${event.turn_id} · ${event.usage.input_tokens} in / ${event.usage.output_tokens} out tokens`;
    case 'turn.aborted':
      return `turn ${event.turn_id}: ${event.reason}`;
    case 'turn.failed':
      return `turn ${event.turn_id}: ${event.error.message}`;
    case 'error':
      return event.message;
    default:
      return '';
  }
}

/** The text an item shows. */
function itemText(item: ThreadItem): string {
  const i = item as ThreadItem & { text?: string; command?: string; aggregated_output?: string; message?: string; name?: string; status?: string };
  switch (item.type) {
    case 'user_message':
    case 'agent_message':
    case 'reasoning':
      return i.text ?? '';
    case 'command_execution':
      return `$ ${i.command ?? ''}${i.status ? ` [${i.status}]` : ''}`;
    case 'error':
      return i.message ?? '';
    default:
      return i.name ?? i.text ?? item.type;
  }
}

// ——— the page ———

class ConsolePage {
  readonly #api: Api;
  readonly #socket: Socket;
  readonly #chart: Statechart;
  #diagram: Promise<string> | null = null;
  /** The conversation shown, or null. */
  #selected: string | null = null;
  #state: ConversationState | null = null;
  #items: readonly ListItem[] = [];
  #refs = 0;
  readonly #pendingRefs = new Map<string, string>();
  #refreshTimer = 0;

  constructor() {
    const token = takeToken();
    this.#api = new Api(token);
    this.#chart = new Statechart(byId('statechart'));
    this.#socket = new Socket(token, {
      message: (m) => this.#onMessage(m),
      open: () => {
        this.#connection('connected');
        if (this.#selected) this.#socket.send({ type: 'subscribe', conversationId: this.#selected });
      },
      close: (reason) => this.#connection(`disconnected: ${reason}`),
    });
    this.#wire();
    void this.refresh();
    this.#refreshTimer = window.setInterval(() => void this.refresh(), 3000);
    const fromHash = window.location.hash.slice(1);
    if (/^[0-9A-HJKMNP-TV-Z]{26}$/i.test(fromHash)) void this.select(fromHash.toUpperCase());
  }

  #wire(): void {
    byId<HTMLFormElement>('new-form').addEventListener('submit', (e) => {
      e.preventDefault();
      void this.start();
    });
    byId<HTMLFormElement>('composer').addEventListener('submit', (e) => {
      e.preventDefault();
      this.send();
    });
    byId<HTMLTextAreaElement>('input').addEventListener('keydown', (e) => {
      if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) {
        e.preventDefault();
        this.send();
      }
    });
    byId<HTMLButtonElement>('interrupt').addEventListener('click', () => this.#submit({ type: 'interrupt' }, 'interrupt'));
    byId('approvals').addEventListener('click', (e) => {
      const button = (e.target as Element).closest('button[data-decision]');
      const row = button?.closest<HTMLElement>('[data-call-id]');
      if (!button || !row) return;
      const callId = row.dataset.callId as string;
      const decision = (button as HTMLElement).dataset.decision as string;
      row.querySelectorAll('button').forEach((b) => (b.disabled = true));
      this.#submit({ type: 'approval', callId, decision }, `${decision} ${callId}`);
    });
    byId('conversations').addEventListener('click', (e) => {
      const row = (e.target as Element).closest<HTMLElement>('tr[data-id]');
      if (row?.dataset.id) void this.select(row.dataset.id);
    });
    byId<HTMLButtonElement>('resume').addEventListener('click', () => {
      if (this.#selected) this.#socket.send({ type: 'subscribe', conversationId: this.#selected });
    });
  }

  #connection(text: string): void {
    const el = byId('connection');
    el.textContent = text;
    el.dataset.status = text === 'connected' ? 'up' : 'down';
  }

  /** Show a problem (an API error, an error message from the server) above the conversation. */
  #problem(text: string | null): void {
    const el = byId('problem');
    el.textContent = text ?? '';
    el.hidden = text === null;
  }

  #fail(err: unknown, what: string): void {
    if (err instanceof ApiError) {
      const issues = err.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ');
      this.#problem(`${what}: ${err.message}${issues && !err.message.includes(issues) ? ` (${issues})` : ''}`);
    } else this.#problem(`${what}: ${err instanceof Error ? err.message : String(err)}`);
  }

  // ——— the list ———

  async refresh(): Promise<void> {
    try {
      const page = await this.#api.get<ListAnswer>('/api/conversations?limit=100&sort=updated');
      this.#items = page.items;
      this.#renderList();
    } catch (err) {
      if (err instanceof ApiError && err.status === 401) {
        window.clearInterval(this.#refreshTimer);
        this.#problem('Not logged in: open the address `colloquy serve` printed (it ends with ?token=…).');
        return;
      }
      this.#fail(err, 'listing conversations');
    }
  }

  #renderList(): void {
    const body = byId('conversations');
    const rows = this.#items.map((item) => {
      const live = item.id === this.#selected && this.#state ? this.#state : null;
      const state = live ? live.status : item.state;
      const approvals = live ? live.pendingApprovals.length : item.pendingApprovals;
      return h(
        'tr',
        { 'data-id': item.id, 'data-state': state ?? 'stored', class: item.id === this.#selected ? 'selected' : undefined },
        h('td', { class: 'name' }, h('div', {}, item.name ?? h('span', { class: 'muted' }, '(unnamed)')), h('code', { class: 'id' }, item.id)),
        h('td', { class: 'state' }, badge(state), item.id === this.#selected && this.#state ? residencyBadge(this.#state.residency, this.#state.owner) : residencyBadge(item.residency, item.owner)),
        h('td', { class: 'updated', title: item.updatedAt }, ago(item.updatedAt)),
        h('td', { class: 'approvals' }, approvals ? h('span', { class: 'count' }, String(approvals)) : approvals === 0 ? '0' : '–'),
      );
    });
    body.replaceChildren(...rows);
    byId('list-empty').hidden = rows.length > 0;
  }

  // ——— starting and choosing ———

  async start(): Promise<void> {
    const nameInput = byId<HTMLInputElement>('new-name');
    const name = nameInput.value.trim();
    try {
      const answer = await this.#api.post<StartAnswer>('/api/conversations', name ? { name } : {});
      nameInput.value = '';
      this.#problem(null);
      await this.select(answer.conversation.id);
      void this.refresh();
    } catch (err) {
      this.#fail(err, 'starting a conversation');
    }
  }

  async select(id: string): Promise<void> {
    if (this.#selected && this.#selected !== id) this.#socket.send({ type: 'unsubscribe', conversationId: this.#selected });
    this.#selected = id;
    this.#state = null;
    window.history.replaceState(null, '', `${window.location.pathname}${window.location.search}#${id}`);
    this.#chart.reset();
    this.#problem(null);
    byId('view').hidden = false;
    byId('placeholder').hidden = true;
    byId('conversation-id').textContent = id;
    byId('conversation-name').textContent = '';
    byId('event-log').replaceChildren();
    byId('transcript').replaceChildren();
    byId('approvals').replaceChildren();
    this.#renderState();
    this.#renderList();
    this.#diagram ??= this.#api.get<{ diagram: string }>('/api/statechart').then((a) => a.diagram);
    void this.#diagram.then((d) => this.#chart.draw(d)).catch((err: unknown) => this.#fail(err, 'drawing the statechart'));
    try {
      const read = await this.#api.get<ReadAnswer>(`/api/conversations/${encodeURIComponent(id)}`);
      if (this.#selected !== id) return;
      byId('conversation-name').textContent = read.conversation.name ?? '';
      const transcript = byId('transcript');
      for (const turn of read.conversation.turns) {
        transcript.append(h('div', { class: 'turn-mark' }, `turn ${turn.number} · ${turn.status}`));
        for (const item of turn.items) transcript.append(this.#itemView(item));
      }
      transcript.scrollTop = transcript.scrollHeight;
    } catch (err) {
      this.#fail(err, 'reading the conversation');
    }
    // Follow it (the server loads it if it is not loaded).
    this.#socket.send({ type: 'subscribe', conversationId: id });
  }

  // ——— what the server pushes ———

  #onMessage(message: ServerMessage): void {
    switch (message.type) {
      case 'hello':
        return;
      case 'event':
        if (message.conversationId === this.#selected) this.#onEvent(message.event);
        return;
      case 'state':
        if (message.conversationId === this.#selected) this.#onState(message);
        return;
      case 'submitted': {
        const what = message.ref !== undefined ? this.#pendingRefs.get(message.ref) : undefined;
        if (message.ref !== undefined) this.#pendingRefs.delete(message.ref);
        if (what) this.#logLine('submitted', `${what} (${message.submissionId})`);
        return;
      }
      case 'unsubscribed':
        return;
      case 'runtime':
        this.#onRuntime(message.event);
        return;
      case 'error': {
        const what = message.ref !== undefined ? this.#pendingRefs.get(message.ref) : undefined;
        if (message.ref !== undefined) this.#pendingRefs.delete(message.ref);
        const issues = (message.issues ?? []).map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ');
        this.#problem(`${what ? `${what}: ` : ''}${message.message}${issues && !message.message.includes(issues) ? ` (${issues})` : ''}`);
        this.#logLine('error', `${message.code}: ${message.message}`);
        this.#renderState();
        return;
      }
    }
  }

  #onEvent(event: ThreadEvent): void {
    this.#logLine(event.type, describeEvent(event));
    const transcript = byId('transcript');
    switch (event.type) {
      case 'turn.started':
        transcript.append(h('div', { class: 'turn-mark' }, `turn ${event.turn_id} started`));
        break;
      case 'item.completed':
        transcript.append(this.#itemView(event.item));
        break;
      case 'turn.aborted':
        transcript.append(h('div', { class: 'turn-mark aborted' }, `turn aborted (${event.reason})`));
        break;
      case 'turn.failed':
        transcript.append(h('div', { class: 'turn-mark failed' }, `turn failed: ${event.error.message}`));
        break;
      case 'thread.name_updated':
        byId('conversation-name').textContent = event.name;
        break;
      case 'turn.completed':
        break;
      default:
        return;
    }
    transcript.scrollTop = transcript.scrollHeight;
    if (event.type === 'turn.started' || event.type === 'turn.completed' || event.type === 'turn.aborted' || event.type === 'turn.failed') {
      // The list shows the new state and time soon after a turn starts or ends.
      window.clearTimeout(this.#listSoon);
      this.#listSoon = window.setTimeout(() => void this.refresh(), 200);
    }
  }

  #listSoon = 0;

  /** A conversation was activated, passivated or closed: the list shows where it lives now. */
  #onRuntime(event: Extract<ServerMessage, { type: 'runtime' }>['event']): void {
    const residency = event.type === 'conversation.activated' ? 'active' : event.type === 'conversation.passivated' ? 'passivated' : null;
    this.#items = this.#items.map((item) => (item.id === event.conversationId ? { ...item, residency, resident: residency !== null } : item));
    this.#renderList();
    if (event.conversationId === this.#selected) {
      this.#logLine(event.type.slice('conversation.'.length), event.type === 'conversation.activated' ? `actor spawned (${event.origin})` : event.type === 'conversation.passivated' ? 'idle: actor stopped, its log holds it' : '');
    }
  }

  #onState(message: StateMessage): void {
    const state: ConversationState = {
      conversationId: message.conversationId,
      status: message.status,
      active: message.active,
      name: message.name,
      turnId: message.turnId,
      pendingApprovals: message.pendingApprovals,
      queued: message.queued,
      residency: message.residency,
      owner: message.owner ?? null,
    };
    this.#state = state;
    if (message.diagram !== undefined && !this.#diagram) this.#diagram = Promise.resolve(message.diagram);
    void this.#diagram?.then((d) => this.#chart.draw(d));
    this.#chart.show(state.active, state.status);
    if (state.name) byId('conversation-name').textContent = state.name;
    this.#renderState();
    this.#renderList();
  }

  #renderState(): void {
    const state = this.#state;
    const status = state?.status ?? null;
    const el = byId('conversation-state');
    el.replaceChildren(badge(status));
    el.dataset.state = status ?? '';
    const running = status === 'active' || status === 'processing';
    byId<HTMLButtonElement>('interrupt').disabled = !running;
    byId<HTMLButtonElement>('send').disabled = status === null || status === 'closed';
    byId<HTMLButtonElement>('resume').hidden = status !== 'closed';
    byId('queued').textContent = state && state.queued > 0 ? `${state.queued} queued` : '';
    const approvals = byId('approvals');
    const list = state?.pendingApprovals ?? [];
    approvals.replaceChildren(
      ...list.map((a) =>
        h(
          'li',
          { class: 'approval', 'data-call-id': a.callId },
          h('div', { class: 'what' }, h('code', {}, clip(itemText(a.item), 300))),
          h('div', { class: 'meta' }, `${a.item.type} · ${a.callId}`),
          h(
            'div',
            { class: 'buttons' },
            h('button', { type: 'button', class: 'approve', 'data-decision': 'approved' }, 'Approve'),
            h('button', { type: 'button', class: 'deny', 'data-decision': 'denied' }, 'Deny'),
          ),
        ),
      ),
    );
    byId('approvals-empty').hidden = list.length > 0;
  }

  #itemView(item: ThreadItem): HTMLElement {
    const i = item as ThreadItem & { aggregated_output?: string; exit_code?: number; status?: string };
    if (item.type === 'command_execution') {
      return h(
        'div',
        { class: `item command status-${i.status ?? ''}`, 'data-item-type': item.type },
        h('code', {}, itemText(item)),
        i.aggregated_output ? h('pre', {}, i.aggregated_output.length > 4000 ? `${i.aggregated_output.slice(0, 4000)}…` : i.aggregated_output) : null,
      );
    }
    return h('div', { class: `item ${item.type}`, 'data-item-type': item.type }, h('div', { class: 'who' }, item.type.replace('_', ' ')), h('div', { class: 'text' }, itemText(item)));
  }

  #logLine(type: string, detail: string): void {
    const log = byId('event-log');
    const atBottom = log.scrollHeight - log.scrollTop - log.clientHeight < 40;
    log.append(h('li', { 'data-type': type }, h('span', { class: 'time' }, new Date().toISOString().slice(11, 23)), h('span', { class: 'type' }, type), h('span', { class: 'detail' }, detail)));
    while (log.childElementCount > 2000) log.firstElementChild?.remove();
    if (atBottom) log.scrollTop = log.scrollHeight;
  }

  // ——— ops ———

  #submit(op: Record<string, unknown>, what: string): void {
    const id = this.#selected;
    if (!id) return;
    const ref = `r${++this.#refs}`;
    this.#pendingRefs.set(ref, what);
    this.#problem(null);
    this.#socket.send({ type: 'submit', conversationId: id, op, ref });
  }

  send(): void {
    const input = byId<HTMLTextAreaElement>('input');
    const text = input.value;
    if (text.trim() === '' || !this.#selected) return;
    const mode = byId<HTMLSelectElement>('mode').value;
    this.#submit({ type: 'user_input', items: [{ type: 'text', text }], mode }, `${mode} input`);
    input.value = '';
  }
}

if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', () => new ConsolePage());
else new ConsolePage();
