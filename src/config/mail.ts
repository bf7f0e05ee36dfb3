import type { Config } from '../config.ts';
import type { Reader } from './reader.ts';

/** Mail (SMTP or .eml files), the links in messages and their lifetimes, email verification. */
export function readMailSettings(read: Reader, server: { production: boolean; issuer: string }) {
  const { value, bad, warnings } = read;
  const { production } = server;
  const smtpUrl = value('SMTP_URL');
  if (smtpUrl !== undefined && !/^smtps?:\/\/[^/]+/.test(smtpUrl)) {
    bad('SMTP_URL', 'must be an smtp:// or smtps:// URL', 'smtp://user:pass@mail.example.com:587');
  }
  const mailFrom = value('MAIL_FROM') ?? 'inkgate <no-reply@localhost>';
  if (!/^([^<>\r\n]*<[^<>@\s]+@[^<>@\s]+>|[^<>@\s]+@[^<>@\s]+)$/.test(mailFrom)) {
    bad('MAIL_FROM', `"${mailFrom}" is not an address`, '"inkgate <no-reply@example.com>"');
  }
  const mailDir = value('MAIL_DIR') ?? './data/mail/';
  const appUrlText = value('APP_URL');
  if (appUrlText !== undefined && !/^https?:\/\/[^/]+/.test(appUrlText)) {
    bad('APP_URL', `"${appUrlText}" is not an http(s) URL`, 'https://blog.example.com');
  }
  const emailVerification = value('EMAIL_VERIFICATION') ?? 'optional';
  if (emailVerification !== 'optional' && emailVerification !== 'required') {
    bad('EMAIL_VERIFICATION', `"${emailVerification}" must be optional or required`, 'required');
  }
  if (production && emailVerification === 'required' && smtpUrl === undefined) {
    bad(
      'SMTP_URL',
      'is required when NODE_ENV=production and EMAIL_VERIFICATION=required (messages must reach people)',
      'smtp://user:pass@mail.example.com:587',
    );
  }
  const lifetime = (name: string, fallback: number, max: number, example: string) => {
    const seconds = read.duration({ name, fallback, min: 1, max, range: `1s to ${max / 86400}d`, example });
    if (seconds < 300)
      warnings.push(`${name} is ${seconds} s: links in messages will expire before most people open them`);
    return seconds;
  };
  const passwordResetTtlSeconds = lifetime('PASSWORD_RESET_TTL', 1800, 86400, '30m');
  const emailVerificationTtlSeconds = lifetime('EMAIL_VERIFICATION_TTL', 86400, 30 * 86400, '24h');
  const rateLimitMail = read.count({
    name: 'RATE_LIMIT_MAIL',
    fallback: 5,
    min: 1,
    max: 1_000_000,
    example: '5',
  });

  return {
    smtpUrl,
    mailFrom,
    mailDir,
    appUrl: (appUrlText ?? server.issuer).replace(/\/+$/, ''),
    emailVerification: emailVerification === 'required' ? ('required' as const) : ('optional' as const),
    passwordResetTtlSeconds,
    emailVerificationTtlSeconds,
    rateLimitMail,
  } satisfies Partial<Config>;
}
