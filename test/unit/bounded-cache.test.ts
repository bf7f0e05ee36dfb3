import assert from 'node:assert/strict';
import { test } from 'node:test';
import { boundedCache, stringBytes } from '../../src/bounded-cache.ts';

test('a bounded cache keeps at most its entries, dropping the least recently used', () => {
  const cache = boundedCache<string, number>({ entries: 3, bytes: 3000 });
  for (const key of ['a', 'b', 'c']) cache.set(key, 1);
  assert.equal(cache.get('a'), 1); // a is now the most recently used
  cache.set('d', 1);
  assert.deepEqual([...cache.keys()].sort(), ['a', 'c', 'd']);
  assert.equal(cache.size, 3);
});

test('a bounded cache keeps at most its bytes, however few its entries', () => {
  const cache = boundedCache<string, string>({
    entries: 100,
    bytes: 10_000,
    sizeOf: (value) => stringBytes(value),
  });
  cache.set('big', 'y'.repeat(3000)); // about 6 KB
  cache.set('small', 'x');
  cache.set('bigger', 'z'.repeat(2000)); // about 4 KB: with big, past the 10,000
  assert.equal(cache.has('big'), false);
  assert.equal(cache.has('bigger'), true);
  assert.equal(cache.has('small'), true);
  // One entry larger than the whole bound is not kept at all.
  cache.set('huge', 'w'.repeat(6000));
  assert.equal(cache.has('huge'), false);
  assert.ok(cache.calculatedSize <= 10_000);
});

test('a bounded cache takes memory as it fills, not for its bound up front', () => {
  // lru-cache's `max: 1,000,000` alone would allocate its slots (tens of megabytes) here.
  const before = process.memoryUsage().heapUsed + process.memoryUsage().arrayBuffers;
  const caches = Array.from({ length: 10 }, () =>
    boundedCache<string, number>({ entries: 1_000_000, bytes: 1 << 30 }),
  );
  const after = process.memoryUsage().heapUsed + process.memoryUsage().arrayBuffers;
  assert.equal(caches.length, 10);
  assert.ok(after - before < 8 * 1024 * 1024, `${after - before} bytes for ten empty caches`);
});
