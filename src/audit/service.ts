import type { Static } from 'typebox';
import { toPage } from '../db/cursor.ts';
import { UnprocessableError } from '../http/errors.ts';
import { decodeCursor } from '../http/pagination.ts';
import { AUDIT_EVENT_TYPES } from './events.ts';
import type { AuditRepository } from './repository.ts';
import type { AuditEventPublic } from './schemas.ts';
import type { AuditTrail } from './trail.ts';

type AuditEventAnswer = Static<typeof AuditEventPublic>;

export type AuditService = ReturnType<typeof createAuditService>;

export function createAuditService(deps: { repository: AuditRepository; trail: AuditTrail }) {
  const { repository, trail } = deps;
  const known: ReadonlySet<string> = new Set(AUDIT_EVENT_TYPES);

  function typesOf(text: string | undefined): string[] | undefined {
    if (text === undefined) return undefined;
    const types = text.split(',').map((type) => type.trim());
    const unknown = types.find((type) => !known.has(type));
    if (unknown !== undefined) {
      throw new UnprocessableError([
        { path: '/type', message: `${JSON.stringify(unknown.slice(0, 40))} is not an event type` },
      ]);
    }
    return types;
  }

  return {
    /** A page of events, newest first. Events of this instance still waiting to be stored are stored first. */
    async list(query: {
      type?: string;
      user_id?: string;
      since?: string;
      until?: string;
      limit?: number;
      cursor?: string;
    }): Promise<{ data: AuditEventAnswer[]; next_cursor: string | null }> {
      const types = typesOf(query.type);
      const since = query.since === undefined ? undefined : new Date(query.since);
      const until = query.until === undefined ? undefined : new Date(query.until);
      if (since && until && until.getTime() <= since.getTime()) {
        throw new UnprocessableError([{ path: '/until', message: 'must be later than since' }]);
      }
      const limit = query.limit ?? 20;
      const after = query.cursor === undefined ? undefined : decodeCursor(query.cursor);
      await trail.flush();
      const rows = await repository.list({
        ...(types && { types }),
        ...(query.user_id !== undefined && { userId: query.user_id }),
        ...(since && { since }),
        ...(until && { until }),
        ...(after && { after }),
        limit,
      });
      const page = toPage(
        rows.map((row) => ({ ...row, created_at: row.occurred_at })),
        limit,
      );
      return {
        data: page.data.map((row) => ({
          id: row.id,
          occurred_at: row.occurred_at.toISOString(),
          type: row.type as AuditEventAnswer['type'],
          user_id: row.user_id,
          actor_id: row.actor_id,
          session_id: row.session_id,
          ip: row.ip,
          user_agent: row.user_agent,
          details: JSON.parse(row.details) as Record<string, unknown>,
        })),
        next_cursor: page.next_cursor,
      };
    },
  };
}
