import type { MarkdownIt as MarkdownItInstance } from 'markdown-it';
import type sanitizeHtml from 'sanitize-html';
import { lazyModule } from '../lazy-module.ts';

// Loaded on the first render (a write, or a renderer upgrade), not at start.
const markdownIt = lazyModule<typeof import('markdown-it').default>('markdown-it');
const sanitizer = lazyModule<typeof sanitizeHtml>('sanitize-html');

/**
 * Bumped whenever the rendering below changes what it makes: stored HTML made by an older version is
 * rendered again (API.md "Blog": the HTML is made on write).
 */
export const RENDERER_VERSION = 1;

/** What is rendered: a post (images over https allowed) or a comment (no images, links marked as the users'). */
export type MarkdownKind = 'post' | 'comment';

/** Links only to these (or relative); images only over https (API.md "Blog"). */
const LINK_SCHEMES = ['http', 'https', 'mailto'];

/**
 * markdown-it's own link check, before any HTML exists: CommonMark with tables and strikethrough, raw
 * HTML shown as text (`html: false`), and a link or image whose target is not an allowed scheme or a
 * relative path is not made a link at all. A protocol-relative `//host` is another site: refused.
 */
function validLink(url: string): boolean {
  // What a browser would read: entities decoded by markdown-it already; controls and blanks dropped.
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what it removes.
  const compact = url.replace(/[\u0000-\u0020\u007f-\u009f]/g, '').toLowerCase();
  if (compact.startsWith('//') || compact.startsWith('\\\\') || compact.startsWith('/\\')) return false;
  const scheme = /^([a-z][a-z0-9+.-]*):/.exec(compact)?.[1];
  return scheme === undefined || LINK_SCHEMES.includes(scheme);
}

/** Heading ids, from their text, with a prefix no page id uses (no DOM clobbering of the page's own ids). */
const HEADING_ID_PREFIX = 'section-';

function parser(kind: MarkdownKind): MarkdownItInstance {
  const MarkdownIt = markdownIt();
  const md = new MarkdownIt('commonmark', { html: false, linkify: false, typographer: false });
  md.enable(['table', 'strikethrough']);
  if (kind === 'comment') md.disable('image');
  md.validateLink = validLink;
  if (kind === 'post') {
    md.core.ruler.push('heading_ids', (state) => {
      const used = new Map<string, number>();
      state.tokens.forEach((token, index) => {
        if (token.type !== 'heading_open') return;
        const text = state.tokens[index + 1]?.content ?? '';
        const base =
          text
            .normalize('NFKD')
            .replace(/[\u0300-\u036f]/g, '')
            .toLowerCase()
            .replace(/[^a-z0-9]+/g, '-')
            .replace(/^-+|-+$/g, '')
            .slice(0, 64) || 'heading';
        const seen = used.get(base) ?? 0;
        used.set(base, seen + 1);
        token.attrSet('id', `${HEADING_ID_PREFIX}${base}${seen === 0 ? '' : `-${seen + 1}`}`);
      });
    });
  }
  return md;
}

const parsers = new Map<MarkdownKind, MarkdownItInstance>();
function parserOf(kind: MarkdownKind): MarkdownItInstance {
  let md = parsers.get(kind);
  if (!md) {
    md = parser(kind);
    parsers.set(kind, md);
  }
  return md;
}

const BLOCKS = [
  'p',
  'blockquote',
  'ul',
  'ol',
  'li',
  'pre',
  'hr',
  'br',
  'table',
  'thead',
  'tbody',
  'tr',
  'th',
  'td',
];
const INLINE = ['a', 'strong', 'em', 'del', 's', 'code'];
const HEADINGS = ['h1', 'h2', 'h3', 'h4', 'h5', 'h6'];

/**
 * The allow-list on what comes out (sanitize-html): the tags and attributes Markdown makes and no
 * other, no `style`, no event handler, no `id` but the headings' own prefixed ones; links http(s),
 * mailto or relative; images https only. It runs after markdown-it even though markdown-it makes no
 * raw HTML: a second, independent line.
 */
function allowList(kind: MarkdownKind): sanitizeHtml.IOptions {
  return {
    allowedTags: [...BLOCKS, ...INLINE, ...HEADINGS, ...(kind === 'post' ? ['img'] : [])],
    allowedAttributes: {
      a: ['href', 'title', ...(kind === 'comment' ? ['rel'] : [])],
      img: ['src', 'alt', 'title'],
      ol: ['start'],
      ...Object.fromEntries(HEADINGS.map((tag) => [tag, ['id']])),
    },
    allowedSchemes: LINK_SCHEMES,
    allowedSchemesByTag: { img: ['https'] },
    allowedSchemesAppliedToAttributes: ['href', 'src'],
    allowProtocolRelative: false,
    disallowedTagsMode: 'discard',
    exclusiveFilter: (frame) => frame.tag === 'img' && !frame.attribs.src,
    transformTags: {
      // Headings keep only the ids made above.
      ...Object.fromEntries(
        HEADINGS.map((tag) => [
          tag,
          (name: string, attribs: sanitizeHtml.Attributes) => ({
            tagName: name,
            attribs: attribs.id?.startsWith(HEADING_ID_PREFIX) ? { id: attribs.id } : {},
          }),
        ]),
      ),
      ...(kind === 'comment' && {
        a: (name: string, attribs: sanitizeHtml.Attributes) => ({
          tagName: name,
          attribs: { ...attribs, rel: 'nofollow ugc noopener' },
        }),
      }),
    },
  };
}

const ALLOW_LISTS: Record<MarkdownKind, sanitizeHtml.IOptions> = {
  post: allowList('post'),
  comment: allowList('comment'),
};

/** The allow-list alone, on any HTML (what renderMarkdown runs on markdown-it's output). */
export function sanitizeRendered(html: string, kind: MarkdownKind): string {
  return sanitizer()(html, ALLOW_LISTS[kind]).trim();
}

/** Markdown → the HTML stored with a post or comment: rendered, then sanitised. */
export function renderMarkdown(source: string, kind: MarkdownKind): string {
  return sanitizeRendered(parserOf(kind).render(source), kind);
}

/** What a post's answers carry beside its HTML: made from one parse of the Markdown. */
export interface RenderedPost {
  readonly html: string;
  /** The first EXCERPT_WORDS words of the text (at most EXCERPT_CHARS characters), with an ellipsis when there is more. */
  readonly excerpt: string;
  /** At WORDS_PER_MINUTE, at least one. */
  readonly readingMinutes: number;
}

export const EXCERPT_WORDS = 50;
/** The most an excerpt holds, made or given (posts/schemas.ts EXCERPT_MAX). */
const EXCERPT_CHARS = 300;
const WORDS_PER_MINUTE = 200;

/** A post's Markdown → its sanitised HTML, the excerpt of its text and its reading time. */
export function renderPost(source: string): RenderedPost {
  const md = parserOf('post');
  const tokens = md.parse(source, {});
  const html = sanitizeRendered(md.renderer.render(tokens, md.options, {}), 'post');
  const words: string[] = [];
  for (const token of tokens) {
    // An inline run's pieces join as they read (`three`. is one word); line breaks separate words.
    const texts =
      token.type === 'inline'
        ? [
            (token.children ?? [])
              .map((child) =>
                child.type === 'text' || child.type === 'code_inline'
                  ? child.content
                  : child.type === 'softbreak' || child.type === 'hardbreak'
                    ? ' '
                    : '',
              )
              .join(''),
          ]
        : token.type === 'fence' || token.type === 'code_block'
          ? [token.content]
          : [];
    for (const text of texts) words.push(...text.split(/\s+/).filter(Boolean));
  }
  // At most as long as a given excerpt may be: fifty words, or fewer when they are long ones.
  const head = words.slice(0, EXCERPT_WORDS).join(' ');
  const chars = [...head];
  const excerpt =
    chars.length > EXCERPT_CHARS
      ? `${chars.slice(0, EXCERPT_CHARS - 1).join('')}…`
      : head + (words.length > EXCERPT_WORDS ? '…' : '');
  return { html, excerpt, readingMinutes: Math.max(1, Math.ceil(words.length / WORDS_PER_MINUTE)) };
}
