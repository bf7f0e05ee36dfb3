import { createHash } from 'node:crypto';
import { type Html, html, trustedHtml } from './template.ts';

/**
 * The one page shell and the headers of every HTML page inkgate serves. Server-rendered; the one
 * style block is allowed by its hash, and the pages that offer passkeys load one same-origin script
 * (PAGE_SCRIPT) and nothing else, so the policy stays strict: no inline script, nothing from another
 * origin, forms post only here, no page frames them, and `Referrer-Policy: no-referrer` keeps a
 * token in the URL from leaking.
 */
const STYLE =
  'body{font-family:system-ui,sans-serif;max-width:32rem;margin:4rem auto;padding:0 1rem;line-height:1.5}' +
  'label{display:block;margin:.75rem 0 .25rem}input{width:100%;padding:.5rem;font-size:1rem;box-sizing:border-box}' +
  'button{margin-top:1rem;padding:.5rem 1rem;font-size:1rem}.error{color:#a40000}' +
  'svg{width:12rem;height:12rem}code{word-break:break-all}';
const STYLE_HASH = createHash('sha256').update(STYLE).digest('base64');

/**
 * The headers of a page whose forms post here and may be redirected on to `formTargets` (origins, or
 * a private-use scheme such as `com.example.app:`): browsers hold a form's redirects to form-action too.
 */
export function pageHeaders(
  formTargets: readonly string[] = [],
  options: { script?: boolean } = {},
): Readonly<Record<string, string>> {
  const formAction = ["'self'", ...formTargets].join(' ');
  // The page script fetches its WebAuthn options from this origin, and nothing else.
  const script = options.script ? " script-src 'self'; connect-src 'self';" : '';
  return {
    'content-type': 'text/html; charset=utf-8',
    'content-security-policy': `default-src 'none';${script} style-src 'sha256-${STYLE_HASH}'; form-action ${formAction}; base-uri 'none'; frame-ancestors 'none'`,
    'referrer-policy': 'no-referrer',
    'cache-control': 'no-store',
  };
}

export const PAGE_HEADERS: Readonly<Record<string, string>> = Object.freeze(pageHeaders());

/** The one script a page may load (the passkey ceremonies); same-origin, served by inkgate. */
export const PAGE_SCRIPT = '/account/passkeys.js';

/**
 * A whole document: the title (escaped) and the body (Html, so already escaped where it must be);
 * with `script`, the page script too (its headers must then say so: pageHeaders(…, { script })).
 */
export function page(title: string, body: Html, options: { script?: boolean } = {}): string {
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>${title} · inkgate</title>
<style>${trustedHtml(STYLE)}</style>
${options.script === true && html`<script src="${PAGE_SCRIPT}" defer></script>`}
</head>
<body>
<h1>${title}</h1>
${body}
</body>
</html>
`.text;
}

/** A page's answer in a route's OpenAPI responses. */
export const htmlResponse = (description: string) => ({
  description,
  content: { 'text/html': { schema: { type: 'string' } } },
});

/**
 * The reader site's style: readable on a phone (nothing wider than the screen: long words wrap,
 * code and tables scroll inside themselves, images shrink), light and dark.
 */
const READER_STYLE =
  ':root{color-scheme:light dark}' +
  'body{font-family:Georgia,serif;max-width:42rem;margin:0 auto;padding:0 1rem;line-height:1.6;overflow-wrap:anywhere}' +
  'header,footer{font-family:system-ui,sans-serif;padding:1rem 0}header{border-bottom:1px solid #8884}' +
  'footer{border-top:1px solid #8884;margin-top:2rem;font-size:.9rem}' +
  'header a,nav a{text-decoration:none}.site{font-size:1.4rem;font-weight:bold}' +
  'article{margin:2rem 0}.meta,.tags{font-family:system-ui,sans-serif;font-size:.9rem;color:#777}' +
  '.tags a{margin-right:.5rem}img{max-width:100%;height:auto}' +
  'pre{overflow-x:auto;padding:.5rem;background:#8881}code{font-size:.9em}' +
  'table{display:block;overflow-x:auto;border-collapse:collapse}td,th{border:1px solid #8886;padding:.25rem .5rem}' +
  '.comments li{margin:1rem 0}blockquote{margin-left:0;padding-left:1rem;border-left:3px solid #8886}';
const READER_STYLE_HASH = createHash('sha256').update(READER_STYLE).digest('base64');

/**
 * The headers of a reader page: no script at all, images over https only, nothing framed, posted
 * or based elsewhere; cached by anyone for a minute and revalidated by its ETag.
 */
export const READER_HEADERS: Readonly<Record<string, string>> = Object.freeze({
  'content-type': 'text/html; charset=utf-8',
  'content-security-policy': `default-src 'none'; img-src https:; style-src 'sha256-${READER_STYLE_HASH}'; form-action 'none'; base-uri 'none'; frame-ancestors 'none'`,
  'referrer-policy': 'strict-origin-when-cross-origin',
  'cache-control': 'public, max-age=60',
});

/** What a reader page says of itself in its head: description, canonical URL, feeds. */
export interface ReaderHead {
  readonly title: string;
  readonly description: string;
  /** Absolute. */
  readonly canonical?: string | undefined;
  readonly feeds: ReadonlyArray<{ readonly title: string; readonly href: string }>;
  /** A page that should not be indexed (a missing page). */
  readonly noindex?: boolean;
}

/** A whole reader document: the site's header and footer around `main`. */
export function readerDocument(
  head: ReaderHead,
  site: { readonly title: string; readonly description: string },
  main: Html,
): string {
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${head.title}</title>
<meta name="description" content="${head.description}">
${head.noindex === true && html`<meta name="robots" content="noindex">`}
${head.canonical !== undefined && html`<link rel="canonical" href="${head.canonical}">`}
${head.feeds.map((feed) => html`<link rel="alternate" type="application/atom+xml" title="${feed.title}" href="${feed.href}">\n`)}
<style>${trustedHtml(READER_STYLE)}</style>
</head>
<body>
<header>
<a class="site" href="/">${site.title}</a>
${site.description !== '' && html`<p>${site.description}</p>`}
</header>
<main>
${main}
</main>
<footer>
<nav aria-label="Site"><a href="/">Home</a> · <a href="/feed.atom">Atom feed</a> · <a href="/docs">API</a></nav>
</footer>
</body>
</html>
`.text;
}
