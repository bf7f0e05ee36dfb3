import { UnprocessableError } from '../http/errors.ts';
import { tagSlug } from './slugs.ts';

export const TAGS_MAX = 10;
export const TAG_NAME_MAX = 40;

/** A tag as a post names it: its identity (slug) and the spelling given. */
export interface TagName {
  readonly slug: string;
  readonly name: string;
}

/**
 * The tags of a post as given → one per identity (API.md "Blog": names that differ only in case,
 * accents or spacing are one tag; the first spelling given wins), each trimmed, inner spaces made
 * single, 1 to 40 characters, at most 10. Every bad name is its own 422 entry.
 */
export function parseTags(names: readonly string[]): TagName[] {
  const problems: Array<{ path: string; message: string }> = [];
  const bySlug = new Map<string, TagName>();
  names.forEach((raw, index) => {
    const name = raw.trim().replace(/\s+/g, ' ');
    const length = [...name].length;
    const slug = tagSlug(name);
    if (length < 1 || length > TAG_NAME_MAX) {
      problems.push({
        path: `/tags/${index}`,
        message: `must be 1 to ${TAG_NAME_MAX} characters after trimming`,
      });
    } else if (slug === undefined) {
      problems.push({ path: `/tags/${index}`, message: 'must hold at least one letter or digit' });
    } else if (!bySlug.has(slug)) {
      bySlug.set(slug, { slug, name });
    }
  });
  if (problems.length === 0 && bySlug.size > TAGS_MAX) {
    problems.push({ path: '/tags', message: `at most ${TAGS_MAX} different tags` });
  }
  if (problems.length > 0) throw new UnprocessableError(problems);
  return [...bySlug.values()];
}
