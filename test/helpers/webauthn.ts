import { createHash, generateKeyPairSync, randomBytes, sign } from 'node:crypto';
import { v7 as uuidv7 } from 'uuid';
import type { TestApp } from './app.ts';

const sha256 = (data: Buffer | string) => createHash('sha256').update(data).digest();
const b64url = (data: Buffer) => data.toString('base64url');

/**
 * A passkey held by the test itself: an ES256 key pair whose public key is stored as a COSE key (the
 * CBOR map of RFC 9053 written out by hand: kty EC2, alg ES256, crv P-256, x, y), and assertions made
 * as an authenticator makes them (authenticator data, client data, a signature over both). With it a
 * test sends what Chromium's virtual authenticator never would: no user verification, a counter gone
 * back, another origin.
 */
export function softwarePasskey(options: { rpId: string; origin: string; userId: string }) {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const jwk = publicKey.export({ format: 'jwk' }) as { x: string; y: string };
  const cose = Buffer.concat([
    Buffer.from([0xa5, 0x01, 0x02, 0x03, 0x26, 0x20, 0x01, 0x21, 0x58, 0x20]),
    Buffer.from(jwk.x, 'base64url'),
    Buffer.from([0x22, 0x58, 0x20]),
    Buffer.from(jwk.y, 'base64url'),
  ]);
  const credentialId = b64url(randomBytes(16));
  return {
    credentialId,
    /** Stores it as the user's passkey (and counts it on the users row), as a registration would. */
    async store(testApp: TestApp, counter = 0) {
      await testApp.database.db
        .insertInto('passkeys')
        .values({
          id: uuidv7(),
          user_id: options.userId,
          credential_id: credentialId,
          public_key: b64url(cose),
          counter,
          transports: 'internal',
          device_type: 'singleDevice',
          backed_up: false,
          name: 'Test key',
          created_at: testApp.clock.now(),
        })
        .execute();
      await testApp.database.db
        .updateTable('users')
        .set((eb) => ({ mfa_passkeys: eb('mfa_passkeys', '+', 1) }))
        .where('id', '=', options.userId)
        .execute();
    },
    /** An assertion for `challenge`, in @simplewebauthn/browser's JSON form. */
    assertion(
      challenge: string,
      how: { userVerified?: boolean; counter: number; origin?: string; rpId?: string },
    ) {
      const clientData = Buffer.from(
        JSON.stringify({
          type: 'webauthn.get',
          challenge,
          origin: how.origin ?? options.origin,
          crossOrigin: false,
        }),
      );
      const flags = 0x01 | (how.userVerified === false ? 0 : 0x04); // UP, and UV unless told otherwise
      const count = Buffer.alloc(4);
      count.writeUInt32BE(how.counter);
      const authenticatorData = Buffer.concat([
        sha256(how.rpId ?? options.rpId),
        Buffer.from([flags]),
        count,
      ]);
      const signature = sign('sha256', Buffer.concat([authenticatorData, sha256(clientData)]), privateKey);
      return {
        id: credentialId,
        rawId: credentialId,
        type: 'public-key',
        response: {
          clientDataJSON: b64url(clientData),
          authenticatorData: b64url(authenticatorData),
          signature: b64url(signature),
          userHandle: b64url(Buffer.from(options.userId)),
        },
        clientExtensionResults: {},
        authenticatorAttachment: 'platform',
      };
    },
  };
}
