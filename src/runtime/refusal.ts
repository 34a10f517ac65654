/**
 * Why a conversation does not take an op: the typed error a caller gets when the conversation
 * machine has no transition for it in its current state. Nothing was changed.
 */
import type { ConversationContext, ConversationStatus } from '../../machines/conversation.machine.js';
import { ConversationBusyError, InvalidOpError } from '../errors.js';
import type { Op } from '../protocol/ops.js';

/** The error for `op`, refused by conversation `id` in `state` with context `ctx`. */
export function refusal(id: string, op: Op | { readonly type: 'records.append'; readonly expectedSeq?: number }, state: ConversationStatus, ctx: ConversationContext): Error {
  const invalid = (field: string, message: string): InvalidOpError => new InvalidOpError([{ path: [field], message }]);
  switch (op.type) {
    case 'user_input':
      if (op.mode === 'reject' && (state === 'active' || state === 'processing')) return new ConversationBusyError(id, ctx.turn?.id ?? null);
      break;
    case 'approval': {
      const known = Object.keys(ctx.turn?.pending ?? {});
      return invalid(
        'callId',
        known.length > 0
          ? `no pending approval with call id ${JSON.stringify(op.callId)} (pending: ${known.join(', ')})`
          : `no approval is pending (call id ${JSON.stringify(op.callId)})`,
      );
    }
    case 'rollback':
      if (state !== 'idle') return invalid('type', `rollback is only possible when the conversation is idle (it is ${state})`);
      return invalid('turns', `only ${ctx.historyTurns} turn${ctx.historyTurns === 1 ? '' : 's'} can be rolled back`);
    case 'retry':
    case 'reset':
      return invalid('type', `${op.type} is only possible in the error state (the conversation is ${state})`);
    case 'compact':
      return invalid('type', `compact is only possible when no turn is running (the conversation is ${state})`);
    case 'records.append':
      if (state !== 'idle') return new ConversationBusyError(id, ctx.turn?.id ?? null);
      return invalid('expectedSeq', `the log of conversation ${id} is at seq ${ctx.seq}, not ${op.expectedSeq}: it was written since it was read`);
  }
  return invalid('type', `${JSON.stringify(op.type)} is not possible while the conversation is ${state}`);
}
