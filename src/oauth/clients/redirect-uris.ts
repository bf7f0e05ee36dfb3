/**
 * Redirect URIs (API.md "Authorization"; RFC 9700 §2.1, RFC 8252 §7): what a client may register,
 * and the one matcher `/authorize` and `/token` both use. Matching is exact string comparison, with
 * one exception: a registered `http:` URI on a loopback host matches any port (RFC 8252 §7.3) — and
 * each loopback host matches only itself, so `127.0.0.1` never stands for `localhost`.
 */

const LOOPBACK_HOSTS = new Set(['127.0.0.1', '[::1]', 'localhost']);
/** A URI longer than this is no redirect URI anyone registers (and keeps rows and pages small). */
export const REDIRECT_URI_MAX = 2000;

/** Why `uri` cannot be registered for a client of `type`, or undefined when it can. */
export function redirectUriProblem(uri: string, type: 'public' | 'confidential'): string | undefined {
  if (uri.length > REDIRECT_URI_MAX) return `must be at most ${REDIRECT_URI_MAX} characters`;
  // Only visible ASCII: a space, a control character or a non-ASCII letter is no URI as sent.
  if (!/^[\x21-\x7e]+$/.test(uri)) return 'must be an absolute URI of visible ASCII characters';
  if (uri.includes('#')) return 'must not have a fragment (RFC 6749 §3.1.2)';
  if (uri.includes('*')) return 'must not have a wildcard: redirect URIs are matched exactly';
  if (!URL.canParse(uri)) return 'must be an absolute URI';
  const url = new URL(uri);
  if (url.username !== '' || url.password !== '') return 'must not carry a user name or password';
  if (url.protocol === 'https:') return url.hostname === '' ? 'must name a host' : undefined;
  if (url.protocol === 'http:') {
    return LOOPBACK_HOSTS.has(url.hostname)
      ? undefined
      : 'may use http: only on a loopback host (127.0.0.1, [::1] or localhost); use https: elsewhere';
  }
  // RFC 8252 §7.1: a private-use scheme, a reverse domain name such as com.example.app:/callback.
  if (!/^[a-z][a-z0-9+.-]*\.[a-z0-9+.-]+:$/.test(url.protocol)) {
    return 'must use https:, http: on a loopback host, or a private-use scheme such as com.example.app:';
  }
  if (type === 'confidential') return 'a private-use scheme is for public clients (apps) only';
  if (url.protocol.slice(0, -1) !== url.protocol.slice(0, -1).toLowerCase())
    return 'the scheme must be lower case';
  return undefined;
}

/** A loopback `http:` URI as written: its host, and what follows the port (path and query, exactly). */
const LOOPBACK_URI = /^http:\/\/(127\.0\.0\.1|\[::1\]|localhost)(?::\d{1,5})?((?:\/[^?#]*)?(?:\?[^#]*)?)$/;

/**
 * The registered URI that `presented` matches, or undefined: the same string, or — for a loopback
 * `http:` URI — the same host and the same path and query, written alike, on any port.
 */
export function matchRedirectUri(registered: readonly string[], presented: string): string | undefined {
  if (registered.includes(presented)) return presented;
  const given = LOOPBACK_URI.exec(presented);
  if (!given) return undefined;
  return registered.find((uri) => {
    const own = LOOPBACK_URI.exec(uri);
    return own !== null && own[1] === given[1] && own[2] === given[2];
  });
}
