/**
 * What happens to conversations as a whole, for consoles and inspectors: activations (an actor
 * spawned: a first use, a resume, a fork, a restart, a wake after passivation), passivations and
 * ends. `runtime.subscribe` delivers them.
 */
import type { ActivationOrigin } from '../../machines/shard.machine.js';

/** An activation, a passivation or the end of a conversation. */
export type RuntimeEvent =
  | { readonly type: 'conversation.activated'; readonly conversationId: string; readonly origin: ActivationOrigin }
  | { readonly type: 'conversation.passivated'; readonly conversationId: string }
  | { readonly type: 'conversation.closed'; readonly conversationId: string };
