/**
 * `npm run conformance`: writes docs/conformance.md from scripts/conformance/clauses.ts and the clause
 * tags in test titles. test/unit/conformance.test.ts fails when the file is stale.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { STANDARDS } from './conformance/clauses.ts';
import { collectTaggedTests, renderTable } from './conformance/table.ts';

const root = fileURLToPath(new URL('..', import.meta.url));
const markdown = renderTable(STANDARDS, collectTaggedTests(`${root}test`));
mkdirSync(`${root}docs`, { recursive: true });
writeFileSync(`${root}docs/conformance.md`, markdown);
console.log('wrote docs/conformance.md');
