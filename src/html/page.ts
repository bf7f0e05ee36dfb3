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
