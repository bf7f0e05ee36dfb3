import type { FastifyBaseLogger } from 'fastify';
import type { Clock } from '../clock.ts';
import type { Change, ChangeFeed } from './change-feed.ts';

/** How often a feed is read: four looks in each second, so one slow look costs no trust. */
const FEED_LOOK_MS = 250;
/**
 * A look that comes this long after the last complete one may have missed rows the hourly purge
 * removed (CHANGES_KEPT_MS): everything is forgotten instead.
 */
const FEED_GAP_MS = 5 * 60_000;

/** A cache's reading of a change feed, in turn, from the app's start to its close. */
export interface ChangeWatch {
  /** Starts reading (the app's onReady); without a feed, nothing. */
  start(): void;
  /** Stops reading, once the look under way has ended (the app's onClose). */
  stop(): Promise<void>;
  /** Resolves once a look that began after this call has ended. */
  caughtUp(): Promise<void>;
  /** Milliseconds since the last complete look began; undefined before the first (or without a feed). */
  ageMs(): number | undefined;
  /** Whether the last complete look began less than `withinMs` before `now` (by the cache's clock). */
  current(now: number, withinMs: number): boolean;
}

/**
 * Reads `feed` four times a second, one look at a time, and tells the cache what each complete look
 * names — or to forget everything when a look cannot know what it missed: the first one, one that
 * found more rows than it reads, and one more than five minutes after the last (by the monotonic
 * clock). A failed look changes nothing and is told to `onError`; the cache then trusts its entries
 * only as it would without a feed. When the last complete look began is by the cache's clock (the
 * one its entries are dated by).
 */
export function watchChanges<Kind extends string>(options: {
  feed: ChangeFeed<Kind> | undefined;
  clock: Clock;
  onChanges: (changes: readonly Change<Kind>[]) => void;
  onForgetAll: () => void;
  onError?: ((error: unknown) => void) | undefined;
  /** Milliseconds that only go forward (performance.now), for the gap the purge could open. */
  monotonic?: (() => number) | undefined;
}): ChangeWatch {
  const { feed, clock } = options;
  const monotonic = options.monotonic ?? (() => performance.now());
  let lookedAt: number | undefined;
  let lookedAtMonotonic = Number.NEGATIVE_INFINITY;
  let looks: Promise<void> = Promise.resolve();
  let started = false;
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;

  async function look(): Promise<void> {
    if (!feed || stopped) return;
    const startedAt = clock.now().getTime();
    const startedMonotonic = monotonic();
    try {
      const { changes, complete } = await feed.look();
      if (!complete || startedMonotonic - lookedAtMonotonic > FEED_GAP_MS) options.onForgetAll();
      else if (changes.length > 0) options.onChanges(changes);
      lookedAt = startedAt;
      lookedAtMonotonic = startedMonotonic;
    } catch (error) {
      options.onError?.(error);
    }
  }
  const lookInTurn = (): Promise<void> => {
    looks = looks.then(look);
    return looks;
  };
  const lookAgain = () => {
    if (stopped) return;
    timer = setTimeout(() => lookInTurn().then(lookAgain), FEED_LOOK_MS);
    timer.unref();
  };

  return {
    start() {
      if (!feed || started || stopped) return;
      started = true;
      lookInTurn().then(lookAgain);
    },
    async stop() {
      stopped = true;
      clearTimeout(timer);
      await looks;
    },
    caughtUp: lookInTurn,
    ageMs: () => (lookedAt === undefined ? undefined : clock.now().getTime() - lookedAt),
    current: (now, withinMs) => lookedAt !== undefined && now >= lookedAt && now - lookedAt < withinMs,
  };
}

/**
 * What a failed look at a change feed logs: a warning once a minute at most (a database that does
 * not answer fails every look), with the bound that holds meanwhile: `message` says both.
 */
export function feedErrorLogger(
  log: FastifyBaseLogger | undefined,
  message: string,
): (error: unknown) => void {
  let loggedAt = Number.NEGATIVE_INFINITY;
  return (error) => {
    const now = performance.now();
    if (!log || now - loggedAt < 60_000) return;
    loggedAt = now;
    log.warn({ err: error instanceof Error ? error.message : String(error) }, message);
  };
}
