/** Anything that reads the time takes a Clock, so tests move time instead of sleeping. */
export interface Clock {
  now(): Date;
}

export const systemClock: Clock = { now: () => new Date() };

/** Milliseconds in an hour and in a day, for lifetimes and windows counted in them. */
export const HOUR_MS = 3_600_000;
export const DAY_MS = 86_400_000;

/** A clock that stands still until told to move: for tests and the benchmark. */
export function createManualClock(start = new Date('2026-01-01T00:00:00.000Z')): Clock & {
  advance(ms: number): void;
  set(at: Date): void;
} {
  let current = start.getTime();
  return {
    now: () => new Date(current),
    advance: (ms) => {
      current += ms;
    },
    set: (at) => {
      current = at.getTime();
    },
  };
}
