import { randomUUID } from 'node:crypto';
import type { OutgoingMail } from './transport.ts';

/** The bare address of `Name <addr>` (or of `addr`): the SMTP envelope sender. */
export function addressOf(mailbox: string): string {
  return /<([^<>]+)>\s*$/.exec(mailbox)?.[1] ?? mailbox.trim();
}

/** Text that may stand in a 7-bit message as it is: ASCII, no bare CR, lines of at most 998 octets. */
function sevenBit(text: string): string {
  const ascii = text.replace(/\r\n?/g, '\n').replace(/[^\n\x20-\x7e]/g, (c) => (c === '\t' ? ' ' : '?'));
  if (ascii.split('\n').some((line) => line.length > 998)) throw new Error('a mail line is too long');
  return ascii.replace(/\n/g, '\r\n');
}

/** One header value: no CR or LF can start another header (no header injection). */
const headerValue = (value: string) => value.replace(/[\r\n]+/g, ' ');

/**
 * The message as RFC 5322 text: multipart/alternative with a plain-text and an HTML part, both 7-bit
 * (the messages inkgate sends are ASCII, so nothing needs encoding and a link stays one line, easy
 * to read off an .eml file). Built directly, which costs a fraction of a general MIME composer.
 */
export function buildMime(mail: OutgoingMail, now: Date = new Date()): string {
  const boundary = `inkgate-${randomUUID()}`;
  const domain = addressOf(mail.from).split('@')[1] ?? 'localhost';
  return [
    `From: ${headerValue(mail.from)}`,
    `To: ${headerValue(mail.to)}`,
    `Subject: ${headerValue(sevenBit(mail.subject))}`,
    `Date: ${now.toUTCString().replace('GMT', '+0000')}`,
    `Message-ID: <${randomUUID()}@${domain}>`,
    'MIME-Version: 1.0',
    `Content-Type: multipart/alternative; boundary="${boundary}"`,
    '',
    `--${boundary}`,
    'Content-Type: text/plain; charset=us-ascii',
    'Content-Transfer-Encoding: 7bit',
    '',
    sevenBit(mail.text),
    `--${boundary}`,
    'Content-Type: text/html; charset=us-ascii',
    'Content-Transfer-Encoding: 7bit',
    '',
    sevenBit(mail.html),
    `--${boundary}--`,
    '',
  ].join('\r\n');
}
