import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { principalOf, type RequireAuth } from '../authz/principal.ts';
import { SECURITY_SCHEME } from '../http/openapi.ts';
import { Page } from '../http/pagination.ts';
import { problemResponses } from '../http/problem.ts';
import { ref } from '../http/schema-ref.ts';
import { AuditEventPublic, ListAuditEventsQuery, ListSecurityEventsQuery } from './schemas.ts';
import type { AuditService } from './service.ts';

export const auditRoutes: FastifyPluginAsyncTypebox<{
  audit: AuditService;
  requireAuth: RequireAuth;
}> = async (app, { audit, requireAuth }) => {
  const events = Page(ref(AuditEventPublic), 'A page of events, newest first');

  app.get(
    '/audit-events',
    {
      onRequest: requireAuth('admin'),
      schema: {
        tags: ['admin'],
        summary: 'The audit log: security events of every account, newest first',
        description:
          'Logins (succeeded, failed against a known account, throttled), refresh-token reuse, sessions ended, ' +
          'password and email changes, admin changes to users, deletions, key rotations. `since` is inclusive, ' +
          '`until` exclusive. Events are kept AUDIT_RETENTION_DAYS (default 90).',
        security: [{ [SECURITY_SCHEME]: ['admin'] }],
        querystring: ListAuditEventsQuery,
        response: { 200: events, ...problemResponses(401, 403, 422) },
      },
    },
    async (request) => audit.list(request.query),
  );

  app.get(
    '/users/me/security-events',
    {
      onRequest: requireAuth('profile'),
      schema: {
        tags: ['accounts'],
        summary: 'Your account’s security events, newest first',
        description:
          'Every login to your account (with its address and user agent), failed and throttled attempts, sessions ' +
          'ended, password and email changes, and changes an admin made: so you can spot what was not you.',
        security: [{ [SECURITY_SCHEME]: ['profile'] }],
        querystring: ListSecurityEventsQuery,
        response: { 200: events, ...problemResponses(401, 403, 422) },
      },
    },
    async (request) => audit.list({ ...request.query, user_id: principalOf(request).userId }),
  );
};
