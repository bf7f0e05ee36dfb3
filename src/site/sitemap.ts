import type { Site } from './pages.ts';
import { xmlText } from './xml.ts';

/** sitemaps.org: at most 50,000 URLs in one sitemap. */
export const SITEMAP_MAX = 50_000;

/** The sitemap index: the site's own pages, then one sitemap of posts per month with any. */
export function sitemapIndex(site: Site, months: readonly string[]): string {
  const entries = ['pages', ...months.map((month) => `posts-${month}`)]
    .map((name) => `  <sitemap><loc>${xmlText(`${site.url}/sitemap/${name}.xml`)}</loc></sitemap>\n`)
    .join('');
  return `<?xml version="1.0" encoding="utf-8"?>
<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">
${entries}</sitemapindex>
`;
}

/** A sitemap (urlset): absolute, escaped URLs, each with its lastmod when known (W3C datetime). */
export function urlSet(
  site: Site,
  urls: ReadonlyArray<{ path: string; lastmod?: Date | undefined }>,
): string {
  const entries = urls
    .map(
      (url) =>
        `  <url><loc>${xmlText(`${site.url}${url.path}`)}</loc>${url.lastmod ? `<lastmod>${url.lastmod.toISOString()}</lastmod>` : ''}</url>\n`,
    )
    .join('');
  return `<?xml version="1.0" encoding="utf-8"?>
<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">
${entries}</urlset>
`;
}

/** robots.txt: everything public may be crawled but the account pages, the API docs and the feeds of accounts. */
export function robotsTxt(site: Site): string {
  return `User-agent: *
Disallow: /account/
Disallow: /authorize
Disallow: /docs
Allow: /

Sitemap: ${site.url}/sitemap.xml
`;
}
