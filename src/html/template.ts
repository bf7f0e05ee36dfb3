/**
 * HTML built only through `html`: every interpolated value is escaped unless it is already Html
 * (made by `html` itself, or by a sanitiser that brands its output). A page cannot carry a value
 * unescaped by forgetting to escape it: a plain string is always text.
 */
declare const HTML: unique symbol;
export type Html = { readonly [HTML]: true; readonly text: string };

const brand = (text: string): Html => ({ text }) as Html;

/** Text made safe to stand in HTML, as an element's content or an attribute's value (quoted). */
export const escapeHtml = (text: string): string =>
  text.replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!,
  );

type Value = Html | string | number | false | null | undefined | readonly Value[];

function render(value: Value): string {
  if (value === false || value === null || value === undefined) return '';
  if (Array.isArray(value)) return value.map(render).join('');
  if (typeof value === 'object') return (value as Html).text;
  return escapeHtml(String(value));
}

/** The tagged template: `html\`<p>${name}</p>\`` escapes `name`; nested `html` stays as it is. */
export function html(strings: TemplateStringsArray, ...values: Value[]): Html {
  let text = strings[0] ?? '';
  for (let i = 0; i < values.length; i += 1) text += render(values[i]!) + (strings[i + 1] ?? '');
  return brand(text);
}

/** Markup that is trusted by construction (a constant of this code, never input). */
export const trustedHtml = (constant: string): Html => brand(constant);

/**
 * HTML that an allow-list sanitiser made (posts/markdown.ts: a post's or comment's stored `html`).
 * Only for such output: it is placed as it is.
 */
export const fromSanitiser = (sanitised: string): Html => brand(sanitised);
