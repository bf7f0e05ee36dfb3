import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Clause, Standard } from './clauses.ts';

/** A test whose title carries clause tags. `file` is relative to test/. */
export interface TaggedTest {
  readonly file: string;
  /** The title as written in the source, tags removed (a template literal keeps its `${…}`). */
  readonly title: string;
  readonly tags: readonly string[];
}

/** `[RFC6750 §3.1]`, `[RFC7519]`, `[ASVS V7.4.1]`, `[API1:2023]`: ids start upper-case, so `[redis]` is no tag. */
const TAG = /\s*\[(RFC\d+(?: §\d+(?:\.\d+)*)?|WebAuthn §\d+(?:\.\d+)*|ASVS V\d+\.\d+\.\d+|API\d+:2023)\]/g;
/** `test('…'` / `test("…"` / test(`…` — the first argument of every test in the suite is a literal. */
const TEST_CALL = /\btest\(\s*(['"`])((?:\\.|(?!\1)[^\\])*)\1/g;

export function testFiles(testDir: string): string[] {
  return readdirSync(testDir, { recursive: true, encoding: 'utf8' })
    .filter((file) => /\.(test|alone|browser)\.ts$/.test(file))
    .map((file) => file.split('\\').join('/'))
    .sort();
}

/** Every test in `source` that carries at least one tag. */
export function taggedTestsIn(file: string, source: string): TaggedTest[] {
  const tests: TaggedTest[] = [];
  for (const match of source.matchAll(TEST_CALL)) {
    const raw = match[2]!;
    const tags = [...raw.matchAll(TAG)].map((tag) => tag[1]!);
    if (tags.length > 0) tests.push({ file, title: raw.replace(TAG, '').trim(), tags });
  }
  return tests;
}

export function collectTaggedTests(testDir: string): TaggedTest[] {
  return testFiles(testDir).flatMap((file) => taggedTestsIn(file, readFileSync(join(testDir, file), 'utf8')));
}

export interface Row {
  readonly clause: Clause;
  readonly tests: readonly TaggedTest[];
}

/**
 * Each clause with the tests tagged with it. Refuses a tag that names no clause, a clause that has
 * neither a test nor a reason for having none, and a reason beside tests.
 */
export function rowsOf(standards: readonly Standard[], tests: readonly TaggedTest[]): Row[][] {
  const known = new Set(standards.flatMap((standard) => standard.clauses.map((clause) => clause.id)));
  const problems: string[] = [];
  for (const test of tests) {
    for (const tag of test.tags) {
      if (!known.has(tag))
        problems.push(`${test.file}: "${test.title}" is tagged [${tag}], which is no clause`);
    }
  }
  const rows = standards.map((standard) =>
    standard.clauses.map((clause) => {
      const proving = tests.filter((test) => test.tags.includes(clause.id));
      if (proving.length === 0 && !clause.untested)
        problems.push(`${clause.id} has no test tagged [${clause.id}] and no reason in untested`);
      if (proving.length > 0 && clause.untested)
        problems.push(`${clause.id} has tests, so its untested reason is out of date`);
      return { clause, tests: proving };
    }),
  );
  if (problems.length > 0) throw new Error(`conformance table:\n${problems.join('\n')}`);
  return rows;
}

const cell = (text: string) => text.replaceAll('|', '\\|').replaceAll('\n', ' ');

/** One test as the table lists it: its file, then its title. */
export function testEntry(test: TaggedTest): string {
  return `\`${test.file}\` — ${cell(test.title)}`;
}

export function renderTable(standards: readonly Standard[], tests: readonly TaggedTest[]): string {
  const rows = rowsOf(standards, tests);
  const all = rows.flat();
  const count = (status: Clause['status']) => all.filter((row) => row.clause.status === status).length;
  const proving = new Set(all.flatMap((row) => row.tests.map(testEntry)));
  const untested = all.filter((row) => row.tests.length === 0);
  const lines = [
    '# Conformance',
    '',
    '<!-- Written by `npm run conformance` from scripts/conformance/clauses.ts and the tags in test titles; do not edit. -->',
    '',
    'Every standard clause inkgate claims, how it meets it (or why not, and what it does instead), and the',
    'tests that prove it. A test names the clauses it proves in its title — `[RFC6750 §3.1]` — and this file',
    'is generated from those tags; `npm test` fails when it is stale or names a test that does not exist.',
    '',
    `**${all.length} clauses**: ${count('met')} met, ${count('partly')} partly, ${count('not met')} not met, ` +
      `${count('not applicable')} not applicable. **${proving.size} tests** prove them. ` +
      `**${untested.length} clauses have no test**, each for the reason given below.`,
    '',
  ];
  standards.forEach((standard, index) => {
    lines.push(
      `## ${standard.name}`,
      '',
      standard.url,
      '',
      '| Clause | Status | How | Tests |',
      '|---|---|---|---|',
    );
    for (const { clause, tests: clauseTests } of rows[index]!) {
      const evidence =
        clauseTests.length > 0
          ? clauseTests.map(testEntry).join('<br>')
          : `no test: ${cell(clause.untested!)}`;
      lines.push(
        `| **${clause.id}** ${cell(clause.title)} | ${clause.status} | ${cell(clause.how)} | ${evidence} |`,
      );
    }
    lines.push('');
  });
  lines.push('## Clauses with no test', '');
  for (const { clause } of untested) lines.push(`- **${clause.id}** (${clause.status}): ${clause.untested}.`);
  lines.push('');
  return lines.join('\n');
}

/** The tests docs/conformance.md lists, read back from its text, as `file — title` entries. */
export function listedTests(markdown: string): string[] {
  const entries = new Set<string>();
  for (const line of markdown.split('\n')) {
    if (!line.startsWith('| **')) continue;
    const evidence = line.split(' | ').at(-1)!.replace(/ \|$/, '');
    if (evidence.startsWith('no test:')) continue;
    for (const entry of evidence.split('<br>')) entries.add(entry);
  }
  return [...entries];
}
