/**
 * Time in the machines: every actor reads it from its actor system's clock, the `clock` option
 * of XState's `createActor` (which also runs delayed events), extended with `now()`. The
 * runtime passes the system clock; tests pass XState's `SimulatedClock`, whose time stands
 * still until they advance it. No machine reads the time any other way, so they are
 * deterministic under a simulated clock.
 */
import type { AnyActorRef } from 'xstate';

/** XState's clock (`setTimeout` / `clearTimeout` for delayed events) with the current time in ms since the epoch. */
export interface Clock {
  setTimeout(fn: (...args: unknown[]) => void, timeout: number): unknown;
  clearTimeout(id: unknown): void;
  now(): number;
}

/** The current time (ms since the epoch) of `actor`'s clock; 0 when its clock does not tell the time. */
export function nowOf(actor: AnyActorRef): number {
  const clock = (actor as { clock?: Partial<Clock> }).clock;
  return typeof clock?.now === 'function' ? clock.now() : 0;
}

let lastMs = Number.NaN;
let lastIso = '';

/** The current time of `actor`'s clock as an ISO-8601 UTC string (formatted once per millisecond). */
export function isoTime(actor: AnyActorRef): string {
  const ms = nowOf(actor);
  if (ms !== lastMs) {
    lastMs = ms;
    lastIso = new Date(ms).toISOString();
  }
  return lastIso;
}
