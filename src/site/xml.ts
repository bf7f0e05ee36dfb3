/**
 * What XML 1.0 cannot hold at all: control characters but tab and line ends, lone surrogates,
 * U+FFFE and U+FFFF. Built from code points so that the pattern itself holds no control character.
 */
const NOT_XML = new RegExp(
  `[${String.fromCharCode(0)}-${String.fromCharCode(8)}${String.fromCharCode(11)}${String.fromCharCode(12)}${String.fromCharCode(14)}-${String.fromCharCode(31)}\\ufffe\\uffff]|[\\ud800-\\udbff](?![\\udc00-\\udfff])|(?<![\\ud800-\\udbff])[\\udc00-\\udfff]`,
  'g',
);

/**
 * Text as XML 1.0 character data or an attribute value (quoted): the five markup characters escaped,
 * and what XML cannot hold dropped, so that no title or comment can make a feed ill-formed.
 */
export function xmlText(text: string): string {
  return text
    .replace(NOT_XML, '')
    .replace(
      /[&<>"']/g,
      (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' })[c]!,
    );
}
