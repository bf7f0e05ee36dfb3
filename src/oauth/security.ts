import type QRCodeTypes from 'qrcode';
import type { UsersRepository } from '../accounts/repository.ts';
import type { AuditFacts } from '../audit/events.ts';
import { ACR_MFA, acrOf } from '../authz/authentication.ts';
import { hasSecondFactor } from '../authz/mfa-policy.ts';
import type { Clock } from '../clock.ts';
import { HttpError } from '../http/errors.ts';
import { lazyModule } from '../lazy-module.ts';
import type { Passkeys } from '../mfa/passkeys.ts';
import type { Mfa } from '../mfa/service.ts';
import type { SessionsService } from '../sessions/service.ts';
import type { Browser, Outcome, PageKit } from './page-kit.ts';
import { securityPages } from './security-pages.ts';

/** The enrolment page's QR code, drawn by a package loaded on the first enrolment. */
const qrCode = lazyModule<typeof QRCodeTypes>('qrcode');

const BACK: Outcome = { location: '/account/security' };

/**
 * The account security page for a signed-in browser: the same factors as /users/me/mfa and
 * /users/me/passkeys, with the same rule for changes (RFC 9470's, for a browser): an account with a
 * second factor changes them only within STEP_UP_MAX_AGE of a two-factor sign-in.
 */
export function createSecurityPage(deps: {
  sessions: SessionsService;
  users: Pick<UsersRepository, 'findById'>;
  mfa: Mfa;
  passkeys: Passkeys;
  kit: Pick<PageKit, 'formToken' | 'formValid'>;
  clock: Clock;
  stepUpMaxAgeSeconds: number;
}) {
  const { sessions, users, mfa, passkeys, clock } = deps;
  const { formToken, formValid } = deps.kit;

  /** The browser's sign-in and its user, and whether it may change factors now. */
  async function signedIn(browser: Browser) {
    const session = await sessions.browserSession(browser.signin);
    const user = session && (await users.findById(session.userId));
    if (!session || !user) return undefined;
    const recent = clock.now().getTime() - session.authTime.getTime() <= deps.stepUpMaxAgeSeconds * 1000;
    const fresh = !hasSecondFactor(user) || (acrOf(session.amr) === ACR_MFA && recent);
    return { session, user, fresh };
  }

  /** A POST of the page: this browser's form, signed in, allowed to change now; else what to answer. */
  async function allowed(browser: Browser, csrf: unknown) {
    if (!(await formValid('security', browser, {}, csrf))) return 'forbidden' as const;
    const current = await signedIn(browser);
    if (!current) return { location: '/account/login' } satisfies Outcome;
    if (!current.fresh) return { location: '/account/security?failed=stale' } satisfies Outcome;
    return current;
  }

  const facts = (base: AuditFacts, sessionId: string): AuditFacts => ({ ...base, sessionId });
  const codesPage = (codes: readonly string[]): Outcome => ({
    page: securityPages.recoveryCodes(codes),
    status: 200,
    formTargets: [],
  });
  /** A refusal the JSON services throw (422 for a wrong code, 409, 404): back to the page, saying so. */
  const refused = (error: unknown, problem: string): Outcome => {
    if (error instanceof HttpError && error.status < 500)
      return { location: `/account/security?failed=${problem}` };
    throw error;
  };

  const PROBLEMS: Record<string, string> = {
    code: 'That code is not right: enter the one the app shows now.',
    stale: 'Sign in again with your second factor to change these.',
    passkey: 'That passkey could not be added.',
    change: 'That change could not be made.',
  };

  return {
    async page(browser: Browser, failed: string | undefined): Promise<Outcome> {
      const current = await signedIn(browser);
      if (!current) return { location: '/account/login' };
      const { user, fresh } = current;
      const pending = await mfa.pendingTotp(user.id);
      const status = await mfa.status(user.id);
      return {
        page: securityPages.security({
          username: user.username,
          csrf: await formToken('security', browser, {}),
          fresh,
          required: status.required,
          status,
          pendingTotp: pending && {
            secret: pending.secret,
            qr: await qrCode().toString(pending.otpauth_uri, { type: 'svg', margin: 1 }),
          },
          passkeys: await passkeys.list(user.id),
          problem: failed === undefined ? undefined : PROBLEMS[failed],
        }),
        status: 200,
        formTargets: [],
        script: true,
      };
    },

    async startTotp(browser: Browser, csrf: unknown): Promise<Outcome | 'forbidden'> {
      const current = await allowed(browser, csrf);
      if (current === 'forbidden' || 'location' in current) return current;
      try {
        await mfa.startTotp(current.user.id);
      } catch (error) {
        return refused(error, 'change');
      }
      return BACK;
    },

    async confirmTotp(browser: Browser, csrf: unknown, code: string, base: AuditFacts) {
      // Confirming a waiting app is no change of a factor already there: no step-up (as the JSON route).
      if (!(await formValid('security', browser, {}, csrf))) return 'forbidden' as const;
      const current = await signedIn(browser);
      if (!current) return { location: '/account/login' } satisfies Outcome;
      try {
        const { recovery_codes } = await mfa.confirmTotp(
          current.user.id,
          code,
          facts(base, current.session.sessionId),
        );
        return recovery_codes.length > 0 ? codesPage(recovery_codes) : BACK;
      } catch (error) {
        return refused(error, 'code');
      }
    },

    async removeTotp(browser: Browser, csrf: unknown, base: AuditFacts): Promise<Outcome | 'forbidden'> {
      const current = await allowed(browser, csrf);
      if (current === 'forbidden' || 'location' in current) return current;
      try {
        await mfa.removeTotp(current.user.id, facts(base, current.session.sessionId));
      } catch (error) {
        return refused(error, 'change');
      }
      return BACK;
    },

    async renewRecoveryCodes(
      browser: Browser,
      csrf: unknown,
      base: AuditFacts,
    ): Promise<Outcome | 'forbidden'> {
      const current = await allowed(browser, csrf);
      if (current === 'forbidden' || 'location' in current) return current;
      try {
        const { recovery_codes } = await mfa.renewRecoveryCodes(
          current.user.id,
          facts(base, current.session.sessionId),
        );
        return codesPage(recovery_codes);
      } catch (error) {
        return refused(error, 'change');
      }
    },

    /** The page script's request for creation options (JSON), with the page's token. */
    async passkeyOptions(browser: Browser, csrf: unknown) {
      const current = await allowed(browser, csrf);
      if (current === 'forbidden' || 'location' in current) return 'forbidden' as const;
      return passkeys.registrationOptions(current.user.id);
    },

    async addPasskey(
      browser: Browser,
      form: { csrf?: string; name?: string; response?: string },
      base: AuditFacts,
    ): Promise<Outcome | 'forbidden'> {
      const current = await allowed(browser, form.csrf);
      if (current === 'forbidden' || 'location' in current) return current;
      try {
        const added = await passkeys.register(
          current.user.id,
          { name: form.name?.slice(0, 100), response: JSON.parse(form.response ?? 'null') },
          facts(base, current.session.sessionId),
        );
        return added.recovery_codes ? codesPage(added.recovery_codes) : BACK;
      } catch (error) {
        if (error instanceof SyntaxError) return { location: '/account/security?failed=passkey' };
        return refused(error, 'passkey');
      }
    },

    async removePasskey(
      browser: Browser,
      csrf: unknown,
      id: string,
      base: AuditFacts,
    ): Promise<Outcome | 'forbidden'> {
      const current = await allowed(browser, csrf);
      if (current === 'forbidden' || 'location' in current) return current;
      try {
        await passkeys.remove(current.user.id, id, facts(base, current.session.sessionId));
      } catch (error) {
        return refused(error, 'change');
      }
      return BACK;
    },
  };
}

export type SecurityPage = ReturnType<typeof createSecurityPage>;
