import type { Config } from '../config.ts';
import type { Reader } from './reader.ts';

/** The blog's and the reader site's settings: comments, their limit, the site's name and line. */
export function readBlogSettings(read: Reader) {
  const { value, bad } = read;
  const comments = read.oneOf('COMMENTS', ['open', 'moderated', 'off'] as const, 'open', 'moderated');
  const rateLimitComments = read.count({
    name: 'RATE_LIMIT_COMMENTS',
    fallback: 10,
    min: 1,
    max: 1_000_000,
    example: '10',
  });
  const text = (name: string, fallback: string, max: number, example: string): string => {
    const given = value(name) ?? fallback;
    // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what it refuses.
    if ([...given].length > max || /[\u0000-\u001f\u007f]/.test(given)) {
      bad(name, `is longer than ${max} characters or holds a control character`, example);
      return fallback;
    }
    return given.trim();
  };
  const siteTitle = text('SITE_TITLE', 'inkgate', 100, '"Ada’s notebook"') || 'inkgate';
  const siteDescription = text('SITE_DESCRIPTION', '', 300, '"Notes on engines and numbers"');
  const realworldApi = read.oneOf('REALWORLD_API', ['off', 'on'] as const, 'off', 'on') === 'on';
  const realworldTokenTtlSeconds = read.duration({
    name: 'REALWORLD_TOKEN_TTL',
    fallback: 86_400,
    min: 60,
    max: 30 * 86_400,
    range: '1m to 30d',
    example: '1d',
  });
  return {
    comments,
    rateLimitComments,
    siteTitle,
    siteDescription,
    realworldApi,
    realworldTokenTtlSeconds,
  } satisfies Partial<Config>;
}
