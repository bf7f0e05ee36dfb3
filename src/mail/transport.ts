import { randomUUID } from 'node:crypto';
import { chmodSync, mkdirSync } from 'node:fs';
import { rename, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type nodemailerTypes from 'nodemailer';
import { lazyModule } from '../lazy-module.ts';
import { addressOf, buildMime } from './mime.ts';

/** One message as it leaves: a plain-text part and an HTML part. */
export interface OutgoingMail {
  readonly from: string;
  readonly to: string;
  readonly subject: string;
  readonly text: string;
  readonly html: string;
}

/** Hands a message on; throws when it could not (the outbox tries again later). Answers where it went. */
export interface MailTransport {
  readonly kind: 'smtp' | 'directory';
  send(mail: OutgoingMail): Promise<string>;
  close(): void;
}

/**
 * SMTP through nodemailer (STARTTLS whenever the server offers it; `smtps://` for TLS from the
 * start), over a small pool of connections kept between messages. The message is handed over as
 * built by mime.ts. Timeouts are short: a hanging server makes the outbox retry, never a request wait.
 */
const nodemailer = lazyModule<typeof nodemailerTypes>('nodemailer');

export function smtpTransport(url: string): MailTransport {
  const transporter = nodemailer().createTransport({
    url,
    pool: true,
    maxConnections: 2,
    connectionTimeout: 10_000,
    greetingTimeout: 10_000,
    socketTimeout: 20_000,
  } as never);
  return {
    kind: 'smtp',
    send: async (mail) => {
      const info = await transporter.sendMail({
        envelope: { from: addressOf(mail.from), to: [mail.to] },
        raw: buildMime(mail),
      });
      return `smtp ${info.messageId ?? ''}`.trim();
    },
    close: () => transporter.close(),
  };
}

/**
 * Without SMTP_URL: each message becomes an .eml file in `dir` (created 0700, files 0600), which any
 * mail program opens, so `npm start` works with nothing else installed.
 */
export function directoryTransport(dir: string): MailTransport {
  const folder = resolve(dir);
  return {
    kind: 'directory',
    send: async (mail) => {
      mkdirSync(folder, { recursive: true, mode: 0o700 });
      chmodSync(folder, 0o700);
      const path = join(folder, `${new Date().toISOString().replace(/[:.]/g, '-')}-${randomUUID()}.eml`);
      // Written under another name and renamed: a reader of the folder never sees half a message.
      await writeFile(`${path}.part`, buildMime(mail), { mode: 0o600 });
      await rename(`${path}.part`, path);
      return path;
    },
    close: () => {},
  };
}
