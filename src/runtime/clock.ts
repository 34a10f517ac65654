/**
 * The runtime's clock: the wall clock, with timers that do not keep the process alive (a
 * passivation timer must not hold an orchestrator's process open). Passed to the actor system
 * as XState's `clock` option; machines read the time from it (see `machines/clock.ts`).
 */
import type { Clock } from '../../machines/clock.js';

export type { Clock } from '../../machines/clock.js';

/** The wall clock (`Date.now`), with unreferenced timers. */
export const systemClock: Clock = {
  setTimeout: (fn, ms) => {
    const timer = setTimeout(fn, ms);
    timer.unref();
    return timer;
  },
  clearTimeout: (id) => clearTimeout(id as NodeJS.Timeout),
  now: () => Date.now(),
};
