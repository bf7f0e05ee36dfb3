import type { PublicPost } from '../posts/service.ts';
import { tagSlug } from '../posts/slugs.ts';
import type { Site } from './pages.ts';
import { xmlText } from './xml.ts';

/** An entry's time of its last significant change: never before it was published. */
export function entryUpdated(post: PublicPost): string {
  const published = post.published_at ?? post.created_at;
  return post.updated_at > published ? post.updated_at : published;
}

/**
 * An Atom feed (RFC 4287) of `posts`, newest first: the feed's id (its own URL), title, updated
 * (its newest entry's), author and self link; each entry's id is `urn:uuid:` of the post's id,
 * which no change of title or slug ever moves, with its page, times, author, tags, summary and the
 * sanitised HTML as escaped content.
 */
export function atomFeed(
  site: Site,
  feed: { path: string; title: string; alternate: string },
  posts: readonly PublicPost[],
): { xml: string; updated: string } {
  const updated = posts.reduce((newest, post) => {
    const at = entryUpdated(post);
    return at > newest ? at : newest;
  }, '1970-01-01T00:00:00.000Z');
  const url = `${site.url}${feed.path}`;
  const entries = posts.map((post) => {
    const page = `${site.url}/p/${post.slug}`;
    const categories = post.tags
      .map((name) => `    <category term="${xmlText(tagSlug(name) ?? '')}" label="${xmlText(name)}"/>\n`)
      .join('');
    return `  <entry>
    <id>urn:uuid:${post.id}</id>
    <title>${xmlText(post.title)}</title>
    <link rel="alternate" type="text/html" href="${xmlText(page)}"/>
    <published>${post.published_at ?? post.created_at}</published>
    <updated>${entryUpdated(post)}</updated>
    <author><name>${xmlText(post.author.username)}</name><uri>${xmlText(`${site.url}/author/${post.author.username}`)}</uri></author>
${categories}    <summary>${xmlText(post.excerpt)}</summary>
    <content type="html">${xmlText(post.html)}</content>
  </entry>
`;
  });
  const xml = `<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom">
  <id>${xmlText(url)}</id>
  <title>${xmlText(feed.title)}</title>
${site.description === '' ? '' : `  <subtitle>${xmlText(site.description)}</subtitle>\n`}  <updated>${updated}</updated>
  <author><name>${xmlText(site.title)}</name></author>
  <link rel="self" type="application/atom+xml" href="${xmlText(url)}"/>
  <link rel="alternate" type="text/html" href="${xmlText(`${site.url}${feed.alternate}`)}"/>
  <generator>inkgate</generator>
${entries.join('')}</feed>
`;
  return { xml, updated };
}
