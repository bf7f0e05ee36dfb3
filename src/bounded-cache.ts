import { LRUCache } from 'lru-cache';

/**
 * A least-recently-used cache bounded both by entries and by an estimate of its bytes, that takes
 * memory only as it fills. lru-cache's `max` allocates its slots up front (the eight caches of a
 * server held ~15 MB and took ~50 ms of the start before a single entry), so the bound is kept
 * through `maxSize` instead: each entry weighs at least `bytes / entries`, so at most `entries` fit,
 * and at most `bytes` of what `sizeOf` counts. `sizeOf` estimates an entry's own bytes (its key and
 * value as held in memory); without it every entry weighs the same and `entries` alone binds.
 */
export function boundedCache<K extends {}, V extends {}>(options: {
  entries: number;
  bytes: number;
  sizeOf?: (value: V, key: K) => number;
  ttl?: number;
  ttlAutopurge?: boolean;
  perf?: { now(): number };
  ttlResolution?: number;
}): LRUCache<K, V> {
  const { entries, bytes, sizeOf, ...rest } = options;
  const least = Math.max(1, Math.floor(bytes / entries));
  return new LRUCache<K, V>({
    ...rest,
    maxSize: least * entries,
    sizeCalculation: sizeOf ? (value, key) => Math.max(least, Math.ceil(sizeOf(value, key))) : () => least,
  });
}

/** What a string key or value holds in V8, about: its characters (two bytes each, to be safe) and a header. */
export const stringBytes = (text: string): number => 2 * text.length + 16;
