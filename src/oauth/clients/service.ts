import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Kysely } from 'kysely';
import { v7 as uuidv7 } from 'uuid';
import type { AuditFacts } from '../../audit/events.ts';
import type { AuditTrail } from '../../audit/trail.ts';
import { isScope, SCOPES, type Scope } from '../../authz/scopes.ts';
import type { Clock } from '../../clock.ts';
import { toPage } from '../../db/cursor.ts';
import type { Database, NewAuditEvent, OAuthClientRow } from '../../db/schema.ts';
import { ConflictError, NotFoundError, UnprocessableError } from '../../http/errors.ts';
import { decodeCursor } from '../../http/pagination.ts';
import { redirectUriProblem } from './redirect-uris.ts';
import type { ClientsRepository } from './repository.ts';

export type ClientType = 'public' | 'confidential';

/** A client as answers show it: never its secret or the secret's hash. */
export interface Client {
  readonly client_id: string;
  readonly name: string;
  readonly type: ClientType;
  readonly redirect_uris: readonly string[];
  readonly scopes: readonly Scope[];
  readonly first_party: boolean;
  readonly created_at: Date;
  readonly updated_at: Date;
}

/** What clients need from sessions: ending a deleted client's sessions in the deletion's transaction. */
export interface ClientSessions {
  revokeAllOfClientWithin(
    trx: Kysely<Database>,
    clientId: string,
    reason: string,
  ): Promise<{ sessions: number; committed: () => void }>;
}

/** A client may ask for these unless its registration names others (admin only when named). */
const DEFAULT_SCOPES: readonly Scope[] = SCOPES.filter((scope) => scope !== 'admin');

/** SHA-256, base64url: a 256-bit random secret needs no slow hash (nothing to guess), only no plain copy. */
const hashSecret = (secret: string) => createHash('sha256').update(secret).digest('base64url');

export function toClient(row: OAuthClientRow): Client {
  return {
    client_id: row.client_id,
    name: row.name,
    type: row.type,
    redirect_uris: JSON.parse(row.redirect_uris) as string[],
    scopes: row.scopes.split(' ').filter(isScope),
    first_party: row.first_party,
    created_at: row.created_at,
    updated_at: row.updated_at,
  };
}

/** 422 naming each redirect URI that breaks the rules (oauth/clients/redirect-uris.ts). */
function requireRedirectUris(uris: readonly string[], type: ClientType): void {
  const errors = uris.flatMap((uri, index) => {
    const problem = redirectUriProblem(uri, type);
    return problem ? [{ path: `/redirect_uris/${index}`, message: problem }] : [];
  });
  if (new Set(uris).size !== uris.length)
    errors.push({ path: '/redirect_uris', message: 'lists a URI twice' });
  if (errors.length > 0) throw new UnprocessableError(errors);
}

/**
 * A client_id of 128 random bits (base64url), never `taken` (the first-party one's) and never with a
 * leading '-': one in 64 would otherwise read as an option wherever it is typed as an argument
 * (`inkgate clients remove <id>` refused it as an unknown flag).
 */
export function randomClientId(taken: string, random: (size: number) => Buffer = randomBytes): string {
  for (;;) {
    const id = random(16).toString('base64url');
    if (!id.startsWith('-') && id !== taken) return id;
  }
}

export type ClientsService = ReturnType<typeof createClientsService>;

/**
 * Registered OAuth clients (RFC 6749 §2): admin management, the first-party client the settings
 * define, and client authentication. Secrets are 256 random bits, shown once, kept as a hash and
 * compared in constant time.
 */
export function createClientsService(deps: {
  repository: ClientsRepository;
  sessions: ClientSessions;
  audit: AuditTrail;
  clock: Clock;
  /** CLIENT_ID with its redirect URIs (Swagger UI's, then FIRST_PARTY_REDIRECT_URIS): managed by settings. */
  firstParty: { readonly clientId: string; readonly redirectUris: readonly string[] };
}) {
  const { repository, audit, clock, firstParty } = deps;

  const notFound = () => new NotFoundError('no such client', 'client_not_found');

  /**
   * The first-party client, as the settings define it: public, first party, every scope, Swagger UI's
   * redirect on the issuer itself (whatever its scheme: the issuer is this server), then
   * FIRST_PARTY_REDIRECT_URIS, which the configuration held to every client's rules. Never stored:
   * a change of settings applies at the next start, and no database is needed to know it.
   */
  const started = clock.now();
  const firstPartyRow: OAuthClientRow = Object.freeze({
    id: '00000000-0000-7000-8000-000000000000',
    client_id: firstParty.clientId,
    name: 'inkgate (first party)',
    type: 'public',
    redirect_uris: JSON.stringify(firstParty.redirectUris),
    scopes: SCOPES.join(' '),
    first_party: true,
    secret_hash: null,
    created_at: started,
    updated_at: started,
  });

  /** The client `clientId` names, the first-party one included; undefined when there is none. */
  async function lookup(clientId: string): Promise<OAuthClientRow | undefined> {
    return clientId === firstParty.clientId ? firstPartyRow : repository.findByClientId(clientId);
  }

  async function find(clientId: string): Promise<OAuthClientRow> {
    const row = await lookup(clientId);
    if (!row) throw notFound();
    return row;
  }

  const newClientId = (): string => randomClientId(firstParty.clientId);

  /** The first-party client's settings are the configuration's: no API call changes or removes it. */
  function requireManaged(clientId: string): void {
    if (clientId === firstParty.clientId) {
      throw new ConflictError(
        'the first-party client is defined by the settings (CLIENT_ID, FIRST_PARTY_REDIRECT_URIS)',
        'client_managed_by_settings',
      );
    }
  }

  const event = (
    type: Parameters<AuditTrail['event']>[0],
    facts: AuditFacts,
    details: Record<string, string | number | boolean | readonly string[]>,
  ) => audit.event(type, { ...facts, userId: null, details });

  async function create(
    input: {
      name: string;
      type: ClientType;
      redirect_uris: readonly string[];
      scopes?: readonly Scope[] | undefined;
      first_party?: boolean | undefined;
    },
    facts: AuditFacts = {},
  ): Promise<{ client: Client; secret?: string }> {
    requireRedirectUris(input.redirect_uris, input.type);
    const now = clock.now();
    const secret = input.type === 'confidential' ? randomBytes(32).toString('base64url') : undefined;
    const row: OAuthClientRow = {
      id: uuidv7(),
      client_id: newClientId(),
      name: input.name,
      type: input.type,
      redirect_uris: JSON.stringify(input.redirect_uris),
      scopes: SCOPES.filter((scope) => (input.scopes ?? DEFAULT_SCOPES).includes(scope)).join(' '),
      first_party: input.first_party ?? false,
      secret_hash: secret === undefined ? null : hashSecret(secret),
      created_at: now,
      updated_at: now,
    };
    const events = [
      event('client_created', facts, {
        client_id: row.client_id,
        name: row.name,
        type: row.type,
        first_party: row.first_party,
        scopes: row.scopes.split(' ').filter(Boolean),
      }),
    ];
    const client = toClient(await repository.insert(row, events));
    audit.published(events);
    return secret === undefined ? { client } : { client, secret };
  }

  async function update(
    clientId: string,
    changes: {
      name?: string | undefined;
      redirect_uris?: readonly string[] | undefined;
      scopes?: readonly Scope[] | undefined;
      first_party?: boolean | undefined;
    },
    facts: AuditFacts = {},
  ): Promise<Client> {
    requireManaged(clientId);
    const current = toClient(await find(clientId));
    if (changes.redirect_uris !== undefined) requireRedirectUris(changes.redirect_uris, current.type);
    const next = {
      ...(changes.name !== undefined && { name: changes.name }),
      ...(changes.redirect_uris !== undefined && { redirect_uris: JSON.stringify(changes.redirect_uris) }),
      ...(changes.scopes !== undefined && {
        scopes: SCOPES.filter((scope) => changes.scopes?.includes(scope)).join(' '),
      }),
      ...(changes.first_party !== undefined && { first_party: changes.first_party }),
    };
    const fields = (['name', 'redirect_uris', 'scopes', 'first_party'] as const).filter(
      (field) =>
        changes[field] !== undefined && JSON.stringify(changes[field]) !== JSON.stringify(current[field]),
    );
    const events = fields.length > 0 ? [event('client_updated', facts, { client_id: clientId, fields })] : [];
    const row = await repository.update(clientId, { ...next, updated_at: clock.now() }, events);
    if (!row) throw notFound();
    audit.published(events);
    return toClient(row);
  }

  /** Deletes the client and, in the same transaction, ends every session it has (any user). */
  async function remove(clientId: string, facts: AuditFacts = {}): Promise<void> {
    requireManaged(clientId);
    await find(clientId);
    let events: NewAuditEvent[] = [];
    const outcome = await repository.inTransaction(async (clients, trx) => {
      const ended = await deps.sessions.revokeAllOfClientWithin(trx, clientId, 'client_deleted');
      events = [event('client_deleted', facts, { client_id: clientId, sessions: ended.sessions })];
      const removed = await clients.remove(clientId, events);
      return removed ? ended : undefined;
    });
    if (!outcome) throw notFound();
    audit.published(events);
    outcome.committed();
  }

  /** A new secret for a confidential client; the old one stops working at once. */
  async function rotateSecret(clientId: string, facts: AuditFacts = {}): Promise<string> {
    requireManaged(clientId);
    const current = await find(clientId);
    if (current.type !== 'confidential') {
      throw new ConflictError('a public client has no secret', 'client_is_public');
    }
    const secret = randomBytes(32).toString('base64url');
    const events = [event('client_secret_rotated', facts, { client_id: clientId })];
    const row = await repository.update(
      clientId,
      { secret_hash: hashSecret(secret), updated_at: clock.now() },
      events,
    );
    if (!row) throw notFound();
    audit.published(events);
    return secret;
  }

  async function list(query: { limit?: number; cursor?: string }) {
    const limit = query.limit ?? 20;
    const after = query.cursor === undefined ? undefined : decodeCursor(query.cursor);
    const page = toPage(await repository.list(after, limit), limit);
    return { data: page.data.map(toClient), next_cursor: page.next_cursor };
  }

  /**
   * RFC 6749 §2.3.1: whether `secret` is this client's, compared in constant time (on the hashes, so
   * the length of what was sent tells nothing either).
   */
  function secretMatches(client: OAuthClientRow, secret: string): boolean {
    if (client.secret_hash === null) return false;
    return timingSafeEqual(Buffer.from(hashSecret(secret)), Buffer.from(client.secret_hash));
  }

  return {
    create,
    update,
    remove,
    rotateSecret,
    list,
    get: async (clientId: string): Promise<Client> => toClient(await find(clientId)),
    find: lookup,
    secretMatches,
  };
}
