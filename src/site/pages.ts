import type { PublicComment } from '../comments/service.ts';
import { type ReaderHead, readerDocument } from '../html/page.ts';
import { fromSanitiser, type Html, html } from '../html/template.ts';
import type { ListPage, PublicPost } from '../posts/service.ts';
import { tagSlug } from '../posts/slugs.ts';

export interface Site {
  readonly title: string;
  readonly description: string;
  /** Absolute, without a trailing slash: canonical links and feeds name pages by it. */
  readonly url: string;
}

// Made with the first page (loading ICU's data for it took ~50 ms of the start).
let dates: Intl.DateTimeFormat | undefined;
const longDate = (date: Date) => {
  dates ??= new Intl.DateTimeFormat('en-GB', { dateStyle: 'long', timeZone: 'UTC' });
  return dates.format(date);
};

function when(iso: string | null): Html {
  if (iso === null) return html``;
  return html`<time datetime="${iso}">${longDate(new Date(iso))}</time>`;
}

function tagLinks(tags: readonly string[]): Html {
  if (tags.length === 0) return html``;
  return html`<p class="tags">${tags.map((name) => html`<a href="/tag/${tagSlug(name) ?? ''}">#${name}</a> `)}</p>`;
}

function byline(post: PublicPost): Html {
  const author = post.author.username;
  return html`<p class="meta">by <a href="/author/${author}">${author}</a> · ${when(post.published_at)} · ${post.reading_minutes} min read</p>`;
}

function summary(post: PublicPost): Html {
  return html`<article>
<h2><a href="/p/${post.slug}">${post.title}</a></h2>
${byline(post)}
<p>${post.excerpt}</p>
${tagLinks(post.tags)}
</article>
`;
}

/** The reader site's pages, server-rendered through the escaping template; no script anywhere. */
export function createSitePages(site: Site) {
  const mainFeed = { title: `${site.title} (Atom)`, href: '/feed.atom' };
  const document = (head: ReaderHead, main: Html) => readerDocument(head, site, main);

  /** A list of posts, with "Older posts" when there are more (the same path with ?cursor=). */
  function list(page: ListPage, path: string, empty: string): Html {
    return html`${page.data.length === 0 ? html`<p>${empty}</p>` : page.data.map(summary)}
${page.next_cursor !== null && html`<nav aria-label="Pages"><a rel="next" href="${path}?cursor=${page.next_cursor}">Older posts</a></nav>`}`;
  }

  return {
    home: (page: ListPage, paged: boolean) =>
      document(
        {
          title: site.title,
          description: site.description || `The newest posts of ${site.title}`,
          canonical: paged ? undefined : `${site.url}/`,
          feeds: [mainFeed],
        },
        html`<h1>${paged ? 'Older posts' : 'Newest posts'}</h1>
${list(page, '/', 'Nothing is published yet.')}`,
      ),

    post: (post: PublicPost, comments: readonly PublicComment[]) =>
      document(
        {
          title: `${post.title} · ${site.title}`,
          description: post.excerpt,
          canonical: `${site.url}/p/${post.slug}`,
          feeds: [
            mainFeed,
            { title: `${post.author.username} (Atom)`, href: `/author/${post.author.username}/feed.atom` },
          ],
        },
        html`<article>
<h1>${post.title}</h1>
${byline(post)}
${post.feature_image !== null && html`<img src="${post.feature_image}" alt="">`}
${fromSanitiser(post.html)}
${tagLinks(post.tags)}
</article>
<section class="comments" aria-labelledby="comments-heading">
<h2 id="comments-heading">${post.comments_count === 1 ? '1 comment' : `${post.comments_count} comments`}</h2>
${
  comments.length === 0
    ? html`<p>No comments yet.</p>`
    : html`<ol>${comments.map(
        (
          comment,
        ) => html`<li><p class="meta">${comment.author.username} · ${when(comment.created_at)}</p>${fromSanitiser(comment.html)}</li>
`,
      )}</ol>`
}
</section>`,
      ),

    tag: (tag: { name: string; slug: string; count: number }, page: ListPage, paged: boolean) =>
      document(
        {
          title: `#${tag.name} · ${site.title}`,
          description: `Posts tagged ${tag.name} on ${site.title}`,
          canonical: paged ? undefined : `${site.url}/tag/${tag.slug}`,
          feeds: [{ title: `#${tag.name} (Atom)`, href: `/tag/${tag.slug}/feed.atom` }, mainFeed],
        },
        html`<h1>#${tag.name}</h1>
<p class="meta">${tag.count === 1 ? '1 post' : `${tag.count} posts`}</p>
${list(page, `/tag/${tag.slug}`, 'No posts with this tag.')}`,
      ),

    author: (
      author: { username: string; full_name: string; bio: string; image: string | null; posts_count: number },
      page: ListPage,
      paged: boolean,
    ) =>
      document(
        {
          title: `${author.full_name || author.username} · ${site.title}`,
          description: author.bio || `Posts by ${author.username} on ${site.title}`,
          canonical: paged ? undefined : `${site.url}/author/${author.username}`,
          feeds: [
            { title: `${author.username} (Atom)`, href: `/author/${author.username}/feed.atom` },
            mainFeed,
          ],
        },
        html`<h1>${author.full_name || author.username}</h1>
${author.image !== null && html`<img src="${author.image}" alt="" width="96" height="96">`}
<p class="meta">@${author.username} · ${author.posts_count === 1 ? '1 post' : `${author.posts_count} posts`}</p>
${author.bio !== '' && html`<p>${author.bio}</p>`}
${list(page, `/author/${author.username}`, 'No posts yet.')}`,
      ),

    notFound: () =>
      document(
        {
          title: `Not found · ${site.title}`,
          description: 'This page does not exist.',
          feeds: [mainFeed],
          noindex: true,
        },
        html`<h1>Not found</h1>
<p>There is no such page. <a href="/">The newest posts</a> are on the front page.</p>`,
      ),
  };
}

export type SitePages = ReturnType<typeof createSitePages>;
