import type { OAuthClientRow } from '../db/schema.ts';
import type { ClientsService } from './clients/service.ts';
import { OAuthError } from './errors.ts';

/** Who is calling the token endpoint, as RFC 6749 §2.3 and §3.2.1 let a client say. */
export interface CallingClient {
  readonly client: OAuthClientRow;
  /** A confidential client proved its secret; a public client has none to prove. */
  readonly authenticated: boolean;
}

/** RFC 6749 §2.3.1: `Basic base64(urlencode(id):urlencode(secret))`; undefined when no Basic header. */
function basicCredentials(header: string | undefined): { id: string; secret: string } | undefined {
  const match = /^Basic\s+([A-Za-z0-9+/]+=*)\s*$/i.exec(header ?? '');
  if (!match) return undefined;
  const decoded = Buffer.from(match[1]!, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) return undefined;
  try {
    return {
      id: decodeURIComponent(decoded.slice(0, colon)),
      secret: decodeURIComponent(decoded.slice(colon + 1)),
    };
  } catch {
    return undefined;
  }
}

/**
 * The client of a token request: `client_secret_basic`, `client_secret_post`, or a public client's
 * `client_id`; none named means the first-party client (what password-grant clients send). A
 * confidential client that does not prove its secret, or an unknown one, is 401 invalid_client
 * (with `WWW-Authenticate: Basic` when Basic was tried, RFC 6749 §5.2).
 */
export async function callingClient(
  clients: ClientsService,
  firstPartyClientId: string,
  input: {
    authorization: string | undefined;
    clientId: string | undefined;
    clientSecret: string | undefined;
  },
): Promise<CallingClient> {
  const basic = basicCredentials(input.authorization);
  const invalid = (description: string) =>
    new OAuthError('invalid_client', description, {
      status: 401,
      headers: basic ? { 'www-authenticate': 'Basic realm="inkgate"' } : {},
    });
  if (basic && input.clientSecret !== undefined)
    throw new OAuthError('invalid_request', 'use one client authentication method');
  if (basic && input.clientId !== undefined && input.clientId !== basic.id) {
    throw new OAuthError('invalid_request', 'client_id differs from the client authenticated');
  }
  const id = basic?.id ?? input.clientId ?? firstPartyClientId;
  const secret = basic?.secret ?? input.clientSecret;
  const client = await clients.find(id);
  if (!client) throw invalid('unknown client');
  if (client.type === 'public') {
    if (secret !== undefined) throw invalid('a public client has no secret');
    return { client, authenticated: false };
  }
  if (secret === undefined) throw invalid('this client must authenticate');
  if (!clients.secretMatches(client, secret)) throw invalid('client authentication failed');
  return { client, authenticated: true };
}
