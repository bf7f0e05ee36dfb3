/**
 * Slugs of posts and tags (API.md "Blog"): lower-case ASCII letters, digits and single hyphens, at
 * most 96 characters, never one of the site's own words. Pure functions; the posts repository takes
 * `-2`, `-3`, … when one is taken.
 */

export const SLUG_MAX = 96;
/** What a given slug must look like (and a made one always does). */
export const SLUG_PATTERN = '^[a-z0-9]+(-[a-z0-9]+)*$';
const SLUG = new RegExp(SLUG_PATTERN);

/** The reader site's and the API's own path words: a post named so would shadow or confuse them. */
export const RESERVED_SLUGS: ReadonlySet<string> = new Set([
  'account',
  'admin',
  'api',
  'author',
  'authors',
  'docs',
  'feed',
  'feeds',
  'login',
  'logout',
  'p',
  'page',
  'posts',
  'robots',
  'search',
  'sitemap',
  'tag',
  'tags',
  'users',
]);

/**
 * Text folded to slug characters: compatibility forms and accents folded to ASCII (NFKD, marks
 * dropped, a few letters that do not decompose spelled out), everything else a separator.
 */
function fold(text: string): string {
  return text
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .replace(/ß/g, 'ss')
    .replace(/[æÆ]/g, 'ae')
    .replace(/[øØ]/g, 'o')
    .replace(/[œŒ]/g, 'oe')
    .replace(/[đĐ]/g, 'd')
    .replace(/[łŁ]/g, 'l')
    .replace(/[þÞ]/g, 'th')
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '');
}

/** Cut to `max` characters, at a hyphen when there is one near the end, never ending in one. */
function cut(slug: string, max: number): string {
  if (slug.length <= max) return slug;
  const head = slug.slice(0, max);
  const lastHyphen = head.lastIndexOf('-');
  return (lastHyphen > max / 2 ? head.slice(0, lastHyphen) : head).replace(/-+$/, '');
}

/** A post's slug from its title; `post` when nothing of it folds to ASCII, and never a reserved word. */
export function slugFromTitle(title: string): string {
  const slug = cut(fold(title), SLUG_MAX) || 'post';
  return RESERVED_SLUGS.has(slug) ? `${slug}-post` : slug;
}

/** The `n`th candidate for `base` (n ≥ 2: `base-n`), still within SLUG_MAX. */
export function numberedSlug(base: string, n: number): string {
  if (n < 2) return base;
  const suffix = `-${n}`;
  return `${cut(base, SLUG_MAX - suffix.length)}${suffix}`;
}

/** Whether a slug given by a writer may be taken: the form, the length, not reserved. */
export function slugProblem(slug: string): string | undefined {
  if (slug.length > SLUG_MAX) return `at most ${SLUG_MAX} characters`;
  if (!SLUG.test(slug)) return 'lower-case letters, digits and single hyphens only';
  if (RESERVED_SLUGS.has(slug)) return 'is one of the site’s own words';
  return undefined;
}

/**
 * A tag's identity: two names that differ only in case, accents or spacing are one tag. The first
 * spelling is kept as its name by the caller. Undefined for a name with nothing to keep.
 */
export function tagSlug(name: string): string | undefined {
  return cut(fold(name.trim()), SLUG_MAX) || undefined;
}
