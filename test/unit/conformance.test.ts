import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { Standard } from '../../scripts/conformance/clauses.ts';
import { STANDARDS } from '../../scripts/conformance/clauses.ts';
import {
  collectTaggedTests,
  listedTests,
  renderTable,
  taggedTestsIn,
  testEntry,
} from '../../scripts/conformance/table.ts';

const root = fileURLToPath(new URL('../..', import.meta.url));
const published = () => readFileSync(`${root}docs/conformance.md`, 'utf8');

test('docs/conformance.md: every test it lists exists, and it is what npm run conformance writes today', () => {
  const existing = new Set(collectTaggedTests(`${root}test`).map(testEntry));
  const markdown = published();
  const missing = listedTests(markdown).filter((entry) => !existing.has(entry));
  assert.deepEqual(
    missing,
    [],
    'listed tests that no longer exist (or lost their tag): run npm run conformance',
  );
  assert.ok(
    markdown === renderTable(STANDARDS, collectTaggedTests(`${root}test`)),
    'docs/conformance.md is stale: run npm run conformance',
  );
});

test('conformance table: tags are read from test titles; a stale file, an unknown tag or an unproven clause is caught', () => {
  // Built from parts, so that the scan of this very file does not take these lines for its tests.
  const call = 'test';
  const placeholder = ['$', '{alg}'].join('');
  const source = [
    `${call}('refused alg none [RFC8725 §3.1] [ASVS V9.1.2]', () => {});`,
    `${call}(\`${placeholder}: verifies [RFC7638]\`, () => {});`,
    "describe('a suite [RFC7638]', () => {});",
    `${call}('engine loop [redis]', () => {});`,
  ].join('\n');
  const tests = taggedTestsIn('unit/example.test.ts', source);
  assert.deepEqual(tests, [
    { file: 'unit/example.test.ts', title: 'refused alg none', tags: ['RFC8725 §3.1', 'ASVS V9.1.2'] },
    { file: 'unit/example.test.ts', title: `${placeholder}: verifies`, tags: ['RFC7638'] },
  ]);

  const standards: Standard[] = [
    {
      name: 'Example',
      url: 'https://example.com',
      clauses: [
        { id: 'RFC8725 §3.1', title: 'a', status: 'met', how: 'x' },
        { id: 'ASVS V9.1.2', title: 'b', status: 'met', how: 'y' },
        { id: 'RFC7638', title: 'c', status: 'met', how: 'z' },
      ],
    },
  ];
  const markdown = renderTable(standards, tests);
  assert.match(markdown, /\*\*3 clauses\*\*: 3 met, 0 partly, 0 not met, 0 not applicable\. \*\*2 tests\*\*/);
  assert.deepEqual(listedTests(markdown).sort(), [
    `\`unit/example.test.ts\` — ${placeholder}: verifies`,
    '`unit/example.test.ts` — refused alg none',
  ]);
  // The file goes stale when a test loses its tag: the clause has no test left, so the table is refused.
  assert.throws(
    () => renderTable(standards, tests.slice(0, 1)),
    /RFC7638 has no test tagged \[RFC7638\] and no reason in untested/,
  );
  assert.throws(
    () => renderTable(standards, [{ file: 'x.test.ts', title: 't', tags: ['RFC9999'] }, ...tests]),
    /"t" is tagged \[RFC9999\], which is no clause/,
  );
  const withReason: Standard[] = [
    { ...standards[0]!, clauses: [{ ...standards[0]!.clauses[0]!, untested: 'why' }] },
  ];
  assert.throws(() => renderTable(withReason, tests), /untested reason is out of date/);
});
