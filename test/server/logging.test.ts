import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { test } from 'node:test';

test('asynchronous logs: every line written before a crash reaches standard output, and the fatal line too', () => {
  const result = spawnSync(
    process.execPath,
    [join(import.meta.dirname, '../fixtures/crash-after-logging.ts')],
    {
      encoding: 'utf8',
    },
  );
  assert.equal(result.status, 1);
  const lines = result.stdout
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line));
  assert.equal(lines.length, 5001);
  assert.deepEqual(
    lines.slice(0, 5000).map((line) => line.i),
    Array.from({ length: 5000 }, (_, i) => i),
  );
  assert.equal(lines[5000].level, 60);
  assert.equal(lines[5000].err.message, 'boom');
});
