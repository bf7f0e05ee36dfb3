import type { AuditTrail } from '../audit/trail.ts';
import { isScope, SCOPES, type Scope } from '../authz/scopes.ts';
import { systemClock } from '../clock.ts';
import type { Config } from '../config.ts';
import type { OpenDatabase } from '../db/database.ts';
import { createClientsRepository } from '../oauth/clients/repository.ts';
import { type Client, createClientsService } from '../oauth/clients/service.ts';
import { createSessionsRepository } from '../sessions/repository.ts';
import { reportRefusal } from './refusals.ts';

/** A wrong `clients` command line: one line, then the usage (exit 2). */
export class ClientsUsageError extends Error {}

export const CLIENTS_DOES =
  'register and manage OAuth clients, as the admin API does:\n' +
  '  add --name N --type public|confidential --redirect-uri U [--redirect-uri U2 …]\n' +
  '      [--scope S …] [--first-party]   prints the client_id (and a confidential secret, once)\n' +
  '  list                                one client a line: id, type, party, name, redirect URIs\n' +
  '  remove CLIENT_ID                    the client goes, and every session it has ends\n' +
  '  rotate-secret CLIENT_ID             a new secret; the old one stops working';

export const CLIENTS_OPTIONS = {
  name: { type: 'string' },
  type: { type: 'string' },
  'redirect-uri': { type: 'string', multiple: true },
  scope: { type: 'string', multiple: true },
  'first-party': { type: 'boolean' },
} as const;

type Values = Record<string, string | boolean | string[] | undefined>;

/** The command line, checked before the database is opened: what to do, and with what. */
export function clientsCommand(values: Values, positionals: readonly string[]) {
  const [action, ...rest] = positionals;
  if (action === 'list') {
    if (rest.length > 0) throw new ClientsUsageError(`Unexpected argument '${rest[0]}'`);
    return { action } as const;
  }
  if (action === 'remove' || action === 'rotate-secret') {
    if (rest.length !== 1) throw new ClientsUsageError(`clients ${action} takes one CLIENT_ID`);
    return { action, clientId: rest[0]! } as const;
  }
  if (action !== 'add') {
    throw new ClientsUsageError(
      action === undefined
        ? 'clients needs add, list, remove or rotate-secret'
        : `unknown clients command "${action.slice(0, 40)}"`,
    );
  }
  if (rest.length > 0) throw new ClientsUsageError(`Unexpected argument '${rest[0]}'`);
  if (typeof values.name !== 'string' || values.name.trim() === '')
    throw new ClientsUsageError('--name is required');
  if (values.type !== 'public' && values.type !== 'confidential') {
    throw new ClientsUsageError('--type must be public or confidential');
  }
  const redirectUris = (values['redirect-uri'] as string[] | undefined) ?? [];
  if (redirectUris.length === 0) throw new ClientsUsageError('--redirect-uri is required (once per URI)');
  const scopes = ((values.scope as string[] | undefined) ?? []).flatMap((text) =>
    text.split(/\s+/).filter(Boolean),
  );
  const unknown = scopes.find((scope) => !isScope(scope));
  if (unknown !== undefined)
    throw new ClientsUsageError(`--scope must be among ${SCOPES.join(', ')}, not "${unknown}"`);
  return {
    action,
    input: {
      name: values.name.trim(),
      type: values.type,
      redirect_uris: redirectUris,
      scopes: scopes.length > 0 ? (scopes as Scope[]) : undefined,
      first_party: values['first-party'] === true,
    },
  } as const;
}

const line = (client: Client) =>
  [
    client.client_id,
    client.type,
    client.first_party ? 'first-party' : 'third-party',
    client.name,
    client.redirect_uris.join(' '),
  ].join('\t');

/**
 * `inkgate clients …`, through the same service as the admin API. A removal revokes the client's
 * sessions in the database; instances notice within the one-second bound (the CLI holds no Redis
 * connection to make it instant).
 */
export async function runClients(
  command: ReturnType<typeof clientsCommand>,
  parts: { config: Config; database: OpenDatabase; audit: AuditTrail },
): Promise<number> {
  const sessions = createSessionsRepository(parts.database.db);
  const clients = createClientsService({
    repository: createClientsRepository(parts.database.db),
    sessions: {
      revokeAllOfClientWithin: async (trx, clientId, reason) => {
        const ended = await sessions.revokeAllOfClient(trx, clientId, reason, systemClock.now());
        return { sessions: ended.length, committed: () => {} };
      },
    },
    audit: parts.audit,
    clock: systemClock,
    firstParty: { clientId: parts.config.clientId, redirectUris: parts.config.firstPartyRedirectUris },
  });
  try {
    if (command.action === 'list') {
      process.stdout.write(`${line(await clients.get(parts.config.clientId))}\n`);
      for (let cursor: string | undefined; ; ) {
        const page = await clients.list({ limit: 100, ...(cursor !== undefined && { cursor }) });
        for (const client of page.data) process.stdout.write(`${line(client)}\n`);
        if (page.next_cursor === null) break;
        cursor = page.next_cursor;
      }
    } else if (command.action === 'add') {
      const { client, secret } = await clients.create(command.input, {});
      process.stdout.write(`client_id: ${client.client_id}\n`);
      if (secret !== undefined)
        process.stdout.write(`client_secret: ${secret}\n(shown this once: inkgate keeps only a hash)\n`);
    } else if (command.action === 'remove') {
      await clients.remove(command.clientId, {});
      process.stdout.write(`removed ${command.clientId}; its sessions have ended\n`);
    } else {
      const secret = await clients.rotateSecret(command.clientId, {});
      process.stdout.write(`client_secret: ${secret}\n(shown this once; the old secret no longer works)\n`);
    }
    return 0;
  } catch (error) {
    const code = reportRefusal(error);
    if (code === undefined) throw error;
    return code;
  }
}
