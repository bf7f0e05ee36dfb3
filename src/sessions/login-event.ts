import type { AuditDetails } from '../audit/events.ts';
import type { AuditTrail } from '../audit/trail.ts';
import type { NewAuditEvent } from '../db/schema.ts';

/**
 * The login_succeeded event stored with a new session, token or browser: its user, address, agent,
 * client and how the user signed in (RFC 8176 `amr`), and what the door adds.
 */
export function loginEvent(
  audit: AuditTrail,
  session: {
    id: string;
    user_id: string;
    ip: string;
    user_agent: string;
    client_id: string;
    amr: string;
  },
  details: AuditDetails,
): NewAuditEvent {
  return audit.event('login_succeeded', {
    userId: session.user_id,
    sessionId: session.id,
    ip: session.ip,
    userAgent: session.user_agent,
    details: { ...details, client_id: session.client_id, amr: session.amr.split(' ') },
  });
}
