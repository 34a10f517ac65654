/**
 * The agent runner: the effect actor a turn invokes to run its agent. It builds the
 * `AgentTurn`, pulls the agent's events, validates every item at this boundary, and relays
 * them to the turn actor; approvals and steered input flow back in. When the turn stops it
 * (interrupt, failure, close), the agent's signal aborts and its iterator is returned.
 */
import { fromCallback } from 'xstate';
import type { RunnerCommand, RunnerEvent, RunnerInput, SteeredInput } from '../../machines/turn.machine.js';
import type { Agent, AgentEvent, AgentTurn, ApprovalRequest } from '../agents/agent.js';
import { localSummary } from '../agents/text.js';
import { ColloquyError, formatPath } from '../errors.js';
import { approvalKey } from '../protocol/approvals.js';
import type { TurnError } from '../protocol/events.js';
import { addUsage, inputImages, inputText, ThreadItemSchema, UsageSchema, type ThreadItem, type Usage, type UserInputItem } from '../protocol/items.js';
import type { ApprovalDecision } from '../protocol/ops.js';
import type { ConversationConfig } from '../protocol/records.js';
import { fast, toIssues } from '../protocol/validate.js';

/** What the runner needs from the conversation it runs a turn for. */
export interface TurnHost {
  readonly history: readonly ThreadItem[];
  readonly summary: string | null;
  readonly config: ConversationConfig;
  newItemId(): string;
  /** What a compaction keeps: history from `keptFromSeq` on, holding `keptTurns` turns. */
  compactionPlan(): { keptFromSeq: number; keptTurns: number; nextItem: number };
  /**
   * Tokens of context at which the conversation compacts before its next turn (tokens), or
   * null for never: min(configured limit, 90% of the model's context window).
   */
  autoCompactLimit(): number | null;
}

/** The error code of a model request refused because the context is too long. */
export const CONTEXT_WINDOW_EXCEEDED = 'context_window_exceeded';

/** An agent produced something that is not a valid event or item. */
class InvalidAgentOutput extends ColloquyError {
  constructor(message: string) {
    super('invalid_agent_output', message);
  }
}

function describeError(err: unknown): TurnError {
  if (err instanceof Error) {
    const code = 'code' in err && typeof err.code === 'string' ? err.code : 'agent_error';
    return { message: err.message || err.name, code };
  }
  return { message: String(err), code: 'agent_error' };
}

function check(item: unknown): ThreadItem {
  const result = fast(ThreadItemSchema).safeParse(item);
  if (result.success) return result.data;
  const issue = toIssues(result.error.issues, item, ['item'])[0];
  throw new InvalidAgentOutput(`the agent produced an invalid item: ${issue ? `${formatPath(issue.path)}: ${issue.message}` : 'invalid'}`);
}

/** The user message a steered input becomes. */
function steeredMessage(s: SteeredInput): ThreadItem {
  const images = inputImages(s.items);
  return {
    id: s.itemId,
    type: 'user_message',
    text: inputText(s.items),
    ...(images.length > 0 ? { images } : {}),
    submission_id: s.submissionId,
  };
}

/**
 * The `agentRunner` actor logic for `agent`. `host` finds the conversation a turn belongs to.
 */
export function agentRunner(agent: Agent, host: (conversationId: string) => TurnHost | undefined) {
  return fromCallback<RunnerCommand, RunnerInput>(({ input, sendBack, receive }) => {
    const send = (event: RunnerEvent): void => sendBack(event);
    const conversation = host(input.conversationId);
    if (!conversation) {
      send({ type: 'runner.failed', error: { message: `conversation ${input.conversationId} is not resident`, code: 'runner_error' } });
      return;
    }
    const signal = input.signal;
    const waiting = new Map<string, { item: ThreadItem; resolve: (d: ApprovalDecision) => void }>();
    const early = new Map<string, ApprovalDecision>();
    const session = new Set(input.sessionApprovals);
    const steered: SteeredInput[] = [];
    let compacted = false;
    let stopped = false;
    let total: Usage | null = null;
    let last: Usage | null = null;
    // The context is (nearly) full after this turn: the conversation compacts before the next.
    const full = (): boolean => {
      if (input.kind === 'compact' || !last) return false;
      const limit = conversation.autoCompactLimit();
      return limit !== null && last.input_tokens + last.output_tokens >= limit;
    };

    receive((command) => {
      if (command.type === 'runner.steer') {
        steered.push(command.input);
        return;
      }
      const entry = waiting.get(command.callId);
      if (command.decision === 'approved_for_session' && entry) session.add(approvalKey(entry.item));
      if (entry) {
        waiting.delete(command.callId);
        entry.resolve(command.decision);
      } else early.set(command.callId, command.decision);
    });

    const handle = (event: AgentEvent): void => {
      if (stopped) return;
      switch (event?.type) {
        case 'item.started':
        case 'item.updated':
        case 'item.completed':
          send({ type: 'runner.item', phase: event.type.slice(5) as 'started' | 'updated' | 'completed', item: check(event.item) });
          return;
        case 'usage': {
          const usage = fast(UsageSchema).safeParse(event.usage);
          if (!usage.success) throw new InvalidAgentOutput('the agent reported an invalid usage');
          // Added up here and reported with the turn's end: one event less per turn.
          total = total ? addUsage(total, usage.data) : usage.data;
          last = usage.data;
          return;
        }
        case 'compaction': {
          if (input.kind !== 'compact') throw new InvalidAgentOutput('the agent reported a compaction outside a compact turn');
          if (typeof event.summary !== 'string') throw new InvalidAgentOutput('the agent reported a compaction without a summary');
          compacted = true;
          send({ type: 'runner.compacted', summary: event.summary, ...conversation.compactionPlan() });
          return;
        }
        case 'rate_limits':
          if (typeof event.snapshot !== 'object' || event.snapshot === null) throw new InvalidAgentOutput('the agent reported invalid rate limits');
          send({ type: 'runner.notice', notice: { type: 'rate_limits', snapshot: event.snapshot } });
          return;
        case 'retrying':
          send({
            type: 'runner.notice',
            notice: { type: 'retrying', attempt: Number(event.attempt) || 0, delayMs: Math.max(0, Number(event.delayMs) || 0), message: String(event.message) },
          });
          return;
        default:
          throw new InvalidAgentOutput(`the agent produced an unknown event ${JSON.stringify((event as { type?: unknown })?.type ?? null)}`);
      }
    };

    const turn: AgentTurn = {
      conversationId: input.conversationId,
      turnId: input.turnId,
      number: input.number,
      kind: input.kind,
      input: input.input,
      history: conversation.history,
      summary: conversation.summary,
      config: conversation.config,
      signal,
      resumed:
        input.pendingApprovals || input.resumedItems
          ? { items: input.resumedItems ?? [], approvals: input.pendingApprovals ?? [] }
          : null,
      newItemId: () => conversation.newItemId(),
      requestApproval: (request: ApprovalRequest): Promise<ApprovalDecision> => {
        if (signal.aborted) return Promise.resolve('abort');
        const item = check(request.item);
        if (input.approvalPolicy === 'never' || session.has(approvalKey(item))) return Promise.resolve('approved');
        const decided = early.get(request.callId);
        if (decided !== undefined) {
          early.delete(request.callId);
          return Promise.resolve(decided);
        }
        return new Promise((resolve) => {
          waiting.set(request.callId, { item, resolve });
          send({ type: 'runner.approval', callId: request.callId, item });
        });
      },
      takeSteeredInput: (): UserInputItem[][] => {
        if (steered.length === 0 || stopped) return [];
        const taken = steered.splice(0);
        for (const s of taken) send({ type: 'runner.item', phase: 'completed', item: steeredMessage(s) });
        send({ type: 'runner.steer.taken', submissionIds: taken.map((s) => s.submissionId) });
        return taken.map((s) => [...s.items]);
      },
      emit: handle,
    };

    let iterator: AsyncIterator<AgentEvent> | null = null;
    void (async () => {
      try {
        iterator = agent(turn)[Symbol.asyncIterator]();
        while (!stopped) {
          const next = await iterator.next();
          if (next.done || stopped) break;
          handle(next.value);
        }
        if (stopped) return;
        if (input.kind === 'compact' && !compacted) {
          // An agent that does not summarise gets the default summary: the user's messages.
          handle({ type: 'compaction', summary: localSummary(turn) });
        }
        send({ type: 'runner.done', ...(total ? { usage: total } : {}), ...(full() ? { compactNext: true } : {}) });
      } catch (err) {
        if (stopped) return;
        const error = describeError(err);
        const compactNext = input.kind !== 'compact' && (error.code === CONTEXT_WINDOW_EXCEEDED || full());
        send({ type: 'runner.failed', error, ...(compactNext ? { compactNext: true } : {}) });
      }
    })();

    return () => {
      stopped = true;
      for (const entry of waiting.values()) entry.resolve('abort');
      waiting.clear();
      const it = iterator as AsyncIterator<AgentEvent> | null;
      if (it?.return) void Promise.resolve(it.return()).catch(() => {});
    };
  });
}
