import type {
  AuthenticationResponseJSON,
  PublicKeyCredentialCreationOptionsJSON,
  PublicKeyCredentialRequestOptionsJSON,
  RegistrationResponseJSON,
} from '@simplewebauthn/server';
import type { FastifyBaseLogger } from 'fastify';
import { v7 as uuidv7 } from 'uuid';
import { lazyModule } from '../lazy-module.ts';

/** WebAuthn's verification (and its ASN.1 and COSE stack), loaded with the first passkey ceremony. */
const webauthn = lazyModule<typeof import('@simplewebauthn/server')>('@simplewebauthn/server');

import type { AccountMail, SessionControl } from '../accounts/dependencies.ts';
import type { UsersRepository } from '../accounts/repository.ts';
import type { AuditFacts } from '../audit/events.ts';
import type { AuditTrail } from '../audit/trail.ts';
import type { Clock } from '../clock.ts';
import { isUuid } from '../db/ids.ts';
import type { PasskeyRow, UserRow } from '../db/schema.ts';
import { ConflictError, NotFoundError, UnprocessableError } from '../http/errors.ts';
import { MAX_PASSKEYS, type PasskeysRepository } from './passkeys-repository.ts';
import { hashRecoveryCode, newRecoveryCodes, normaliseRecoveryCode } from './recovery-codes.ts';
import { enrolmentEvents } from './service.ts';

/** COSE algorithms: EdDSA, ES256, RS256 (not yet the experimental ML-DSA that Node 24 warns about). */
const ALGORITHMS = [-8, -7, -257];
/** How long a ceremony may take: the options' timeout and the challenge's life. */
const CEREMONY_MS = 5 * 60_000;

export interface PasskeyPublic {
  readonly id: string;
  readonly name: string;
  readonly created_at: Date;
  readonly last_used_at: Date | null;
  readonly backed_up: boolean;
}

export type Passkeys = ReturnType<typeof createPasskeys>;

const toPublic = (row: PasskeyRow): PasskeyPublic => ({
  id: row.id,
  name: row.name,
  created_at: row.created_at,
  last_used_at: row.last_used_at,
  backed_up: row.backed_up,
});

/**
 * Passkeys (WebAuthn, @simplewebauthn/server): registration and sign-in with user verification
 * required, the relying party the host of APP_URL and the origin its origin; each challenge is spent
 * once; the counter only moves forward. A passkey is a second factor everywhere, and a complete
 * sign-in by itself (amr hwk user).
 */
export function createPasskeys(deps: {
  repository: PasskeysRepository;
  users: UsersRepository;
  audit: AuditTrail;
  clock: Clock;
  mail: Pick<AccountMail, 'securityChanged' | 'committed'>;
  sessions: Pick<SessionControl, 'forgetUser'>;
  /** APP_URL: its host is the relying party id, its origin the one origin ceremonies may come from. */
  appUrl: string;
}) {
  const { repository, users, audit, clock, mail, sessions } = deps;
  const url = new URL(deps.appUrl);
  const rp = { id: url.hostname, name: url.host, origin: url.origin };
  const expires = () => new Date(clock.now().getTime() + CEREMONY_MS);
  const unverifiable = (why: string) =>
    new UnprocessableError([{ path: '/response', message: `the passkey could not be verified: ${why}` }]);

  return {
    relyingParty: rp,

    async list(userId: string): Promise<PasskeyPublic[]> {
      return (await repository.list(userId)).map(toPublic);
    },

    /** WebAuthn creation options for the user: a discoverable credential, user verification required. */
    async registrationOptions(userId: string): Promise<PublicKeyCredentialCreationOptionsJSON> {
      const user = await users.findById(userId);
      if (!user) throw new NotFoundError('user not found', 'user_not_found');
      const existing = await repository.list(userId);
      if (existing.length >= MAX_PASSKEYS)
        throw new ConflictError(`an account holds at most ${MAX_PASSKEYS} passkeys`, 'passkey_limit');
      const options = await webauthn().generateRegistrationOptions({
        rpName: rp.name,
        rpID: rp.id,
        userName: user.username,
        userID: new TextEncoder().encode(user.id),
        userDisplayName: user.full_name || user.username,
        timeout: CEREMONY_MS,
        attestationType: 'none',
        excludeCredentials: existing.map((row) => ({
          id: row.credential_id,
          transports: row.transports.split(' ').filter(Boolean),
        })),
        authenticatorSelection: { residentKey: 'required', userVerification: 'required' },
        supportedAlgorithmIDs: ALGORITHMS,
      });
      await repository.addChallenge(options.challenge, 'register', userId, expires());
      return options;
    },

    /** The registration response for a challenge of this user's: verified (user verification required) and stored. */
    async register(
      userId: string,
      input: { name?: string | undefined; response: unknown },
      facts: AuditFacts,
    ): Promise<PasskeyPublic & { recovery_codes?: string[] }> {
      let verified: Awaited<ReturnType<typeof import('@simplewebauthn/server').verifyRegistrationResponse>>;
      try {
        verified = await webauthn().verifyRegistrationResponse({
          response: input.response as RegistrationResponseJSON,
          expectedChallenge: (challenge) =>
            repository.takeChallenge(challenge, 'register', userId, clock.now()),
          expectedOrigin: rp.origin,
          expectedRPID: rp.id,
          requireUserVerification: true,
          supportedAlgorithmIDs: ALGORITHMS,
        });
      } catch (error) {
        throw unverifiable(error instanceof Error ? error.message : 'malformed');
      }
      if (!verified.verified) throw unverifiable('not verified');
      const info = verified.registrationInfo;
      const now = clock.now();
      const row = {
        id: uuidv7(),
        user_id: userId,
        credential_id: info.credential.id,
        public_key: Buffer.from(info.credential.publicKey).toString('base64url'),
        counter: info.credential.counter,
        transports: (info.credential.transports ?? []).join(' '),
        device_type: info.credentialDeviceType,
        backed_up: info.credentialBackedUp,
        name: input.name?.trim() || 'Passkey',
        created_at: now,
      };
      const codes = newRecoveryCodes();
      let events: Parameters<AuditTrail['published']>[0] = [];
      let added: { first: boolean } | undefined;
      try {
        added = await repository.add(
          row,
          codes.map((code) => hashRecoveryCode(normaliseRecoveryCode(code)!)),
          (first) => {
            events = enrolmentEvents(
              audit,
              { ...facts, userId },
              { factor: 'passkey', name: row.name },
              first ? codes.length : 0,
            );
            return events;
          },
          (trx, user) => mail.securityChanged(trx, user, 'passkey_added'),
        );
      } catch (error) {
        // The same credential twice (excludeCredentials asks authenticators not to): refused.
        if ((await repository.byCredential(row.credential_id)) !== undefined)
          throw new ConflictError('this passkey is registered already', 'passkey_registered');
        throw error;
      }
      if (!added)
        throw new ConflictError(`an account holds at most ${MAX_PASSKEYS} passkeys`, 'passkey_limit');
      audit.published(events);
      mail.committed();
      sessions.forgetUser(userId);
      return { ...toPublic({ ...row, last_used_at: null }), ...(added.first && { recovery_codes: codes }) };
    },

    async rename(userId: string, id: string, name: string): Promise<PasskeyPublic> {
      const row = isUuid(id) ? await repository.rename(userId, id, name.trim()) : undefined;
      if (!row) throw new NotFoundError('not one of your passkeys', 'passkey_not_found');
      return toPublic(row);
    },

    async remove(userId: string, id: string, facts: AuditFacts): Promise<void> {
      const events = [audit.event('mfa_removed', { ...facts, userId, details: { factor: 'passkey' } })];
      const removed =
        isUuid(id) &&
        (await repository.remove(userId, id, events, (trx, user) =>
          mail.securityChanged(trx, user, 'passkey_removed'),
        ));
      if (!removed) throw new NotFoundError('not one of your passkeys', 'passkey_not_found');
      audit.published(events);
      mail.committed();
      sessions.forgetUser(userId);
    },

    /**
     * Options for a sign-in: any discoverable passkey of this relying party (a sign-in with a passkey
     * alone), or one of `userId`'s (the second step after a password). User verification required.
     */
    async signInOptions(userId?: string): Promise<PublicKeyCredentialRequestOptionsJSON> {
      const allow = userId === undefined ? undefined : await repository.list(userId);
      const options = await webauthn().generateAuthenticationOptions({
        rpID: rp.id,
        timeout: CEREMONY_MS,
        userVerification: 'required',
        ...(allow && {
          allowCredentials: allow.map((row) => ({
            id: row.credential_id,
            transports: row.transports.split(' ').filter(Boolean),
          })),
        }),
      });
      await repository.addChallenge(options.challenge, 'sign_in', userId ?? null, expires());
      return options;
    },

    /**
     * A sign-in response: the user whose passkey signed the challenge with user verification, or
     * undefined (an unknown passkey, another user's when `userId` is given, a spent or foreign
     * challenge, no user verification, a counter that went back). Failures are mfa_failed events.
     */
    async verifySignIn(
      response: unknown,
      facts: AuditFacts,
      options: { userId?: string | undefined; log?: FastifyBaseLogger } = {},
    ): Promise<UserRow | undefined> {
      const answer = response as AuthenticationResponseJSON;
      const row = typeof answer?.id === 'string' ? await repository.byCredential(answer.id) : undefined;
      const failed = (reason: string) => {
        audit.later(
          'mfa_failed',
          { ...facts, userId: row?.user_id ?? null, details: { method: 'passkey', reason } },
          options.log,
        );
        return undefined;
      };
      if (!row) return failed('unknown_passkey');
      if (options.userId !== undefined && row.user_id !== options.userId) return failed('another_account');
      let verified: Awaited<ReturnType<typeof import('@simplewebauthn/server').verifyAuthenticationResponse>>;
      try {
        verified = await webauthn().verifyAuthenticationResponse({
          response: answer,
          expectedChallenge: (challenge) =>
            repository.takeChallenge(challenge, 'sign_in', options.userId ?? null, clock.now()),
          expectedOrigin: rp.origin,
          expectedRPID: rp.id,
          credential: {
            id: row.credential_id,
            publicKey: new Uint8Array(Buffer.from(row.public_key, 'base64url')),
            counter: Number(row.counter),
            transports: row.transports.split(' ').filter(Boolean) as never,
          },
          requireUserVerification: true,
        });
      } catch {
        return failed('not_verified');
      }
      if (!verified.verified || !verified.authenticationInfo.userVerified) return failed('not_verified');
      const moved = await repository.used(row, {
        counter: verified.authenticationInfo.newCounter,
        backedUp: verified.authenticationInfo.credentialBackedUp,
        now: clock.now(),
      });
      if (!moved) return failed('counter');
      const user = await users.findById(row.user_id);
      return user && !user.disabled ? user : undefined;
    },
  };
}
