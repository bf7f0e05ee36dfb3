import { UUID_PATTERN } from '../db/ids.ts';
import { Type } from '../http/json-schema.ts';
import { PageQuery } from '../http/pagination.ts';
import { AUDIT_EVENT_TYPES } from './events.ts';

const nullable = <T extends ReturnType<typeof Type.String>>(schema: T) => Type.Union([schema, Type.Null()]);

export const AuditEventPublic = Type.Object(
  {
    id: Type.String({ format: 'uuid' }),
    occurred_at: Type.String({ format: 'date-time' }),
    type: Type.Union(
      AUDIT_EVENT_TYPES.map((type) => Type.Literal(type)),
      { examples: ['login_succeeded'] },
    ),
    user_id: nullable(Type.String({ format: 'uuid', description: 'whose account the event concerns' })),
    actor_id: nullable(
      Type.String({ format: 'uuid', description: 'who did it, when not the user: an admin' }),
    ),
    session_id: nullable(
      Type.String({
        format: 'uuid',
        description: 'the session the event concerns, or else the one the request came from',
      }),
    ),
    ip: nullable(Type.String({ examples: ['203.0.113.7'] })),
    user_agent: nullable(Type.String({ examples: ['Mozilla/5.0 (X11; Linux x86_64)'] })),
    details: Type.Record(Type.String(), Type.Unknown(), {
      description: 'a small object; never a password, hash, token or key',
      examples: [{ scope: 'profile posts:write' }],
    }),
  },
  { $id: 'AuditEvent', description: 'A security event' },
);

const filters = {
  type: Type.Optional(
    Type.String({
      maxLength: 400,
      description: `one event type or a comma-separated list: ${AUDIT_EVENT_TYPES.join(', ')}`,
      examples: ['login_failed,login_throttled'],
    }),
  ),
  since: Type.Optional(
    Type.String({ format: 'date-time', maxLength: 40, description: 'RFC 3339; events at or after it' }),
  ),
  until: Type.Optional(
    Type.String({ format: 'date-time', maxLength: 40, description: 'RFC 3339; events before it' }),
  ),
  ...PageQuery,
};

export const ListAuditEventsQuery = Type.Object(
  {
    ...filters,
    user_id: Type.Optional(
      Type.String({ pattern: UUID_PATTERN, maxLength: 36, description: 'only the events of this user' }),
    ),
  },
  { additionalProperties: false },
);

export const ListSecurityEventsQuery = Type.Object(filters, { additionalProperties: false });
