import type { TestContext } from 'node:test';
import { type ParsedMail, simpleParser } from 'mailparser';
import { SMTPServer } from 'smtp-server';

/**
 * A real SMTP server on a loopback port, keeping every message it receives (parsed by mailparser).
 * It can be stopped and started again on the same port, as an outage would.
 */
export async function startSmtp(
  t: TestContext,
  options: {
    /** The SMTP reply code to refuse a recipient with (550: no such mailbox, 450: try later), if any. */
    refuse?: (address: string) => number | undefined;
  } = {},
) {
  const received: ParsedMail[] = [];
  let server: SMTPServer | undefined;
  let port = 0;

  const listen = async () => {
    const next = new SMTPServer({
      authOptional: true,
      disabledCommands: ['STARTTLS', 'AUTH'],
      logger: false,
      // A stop is an outage: open connections (nodemailer keeps a pool) are cut at once.
      closeTimeout: 50,
      onRcptTo(address, _session, callback) {
        const code = options.refuse?.(address.address.toLowerCase());
        if (code === undefined) return callback();
        const refusal = Object.assign(new Error(`${address.address}: refused by the test`), {
          responseCode: code,
        });
        callback(refusal);
      },
      onData(stream, _session, callback) {
        simpleParser(stream).then(
          (mail) => {
            received.push(mail);
            callback();
          },
          (error: Error) => callback(error),
        );
      },
    });
    await new Promise<void>((resolve, reject) => {
      next.once('error', reject);
      next.listen(port, '127.0.0.1', () => resolve());
    });
    port = (next.server.address() as { port: number }).port;
    server = next;
  };
  const stop = () =>
    new Promise<void>((resolve) => {
      if (!server) return resolve();
      const closing = server;
      server = undefined;
      closing.close(() => resolve());
    });

  await listen();
  t.after(stop);
  return {
    get url() {
      return `smtp://127.0.0.1:${port}`;
    },
    received,
    stop,
    start: listen,
    /** The next message to `to` not yet taken by an earlier call; fails after `timeoutMs`. */
    async next(to: string, timeoutMs = 5000): Promise<ParsedMail> {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const index = received.findIndex((mail) => addressesOf(mail).includes(to.toLowerCase()));
        if (index >= 0) return received.splice(index, 1)[0]!;
        if (Date.now() > deadline) throw new Error(`no mail to ${to} within ${timeoutMs} ms`);
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    },
  };
}

export function addressesOf(mail: ParsedMail): string[] {
  const to = Array.isArray(mail.to) ? mail.to : mail.to ? [mail.to] : [];
  return to.flatMap((group) => group.value.map((entry) => (entry.address ?? '').toLowerCase()));
}

/** The one link a message's text part holds, and its token. */
export function linkIn(mail: ParsedMail): { url: URL; token: string } {
  const match = /https?:\/\/\S+\?token=[A-Za-z0-9_-]+/.exec(mail.text ?? '');
  if (!match) throw new Error(`no link in: ${mail.text}`);
  const url = new URL(match[0]);
  return { url, token: url.searchParams.get('token') ?? '' };
}

/** A password reset as its owner does it: ask for the link, take it from the message, set `newPassword`. */
export async function resetByMail(
  testApp: { app: { inject: (options: object) => Promise<{ statusCode: number }> } },
  smtp: Awaited<ReturnType<typeof startSmtp>>,
  email: string,
  newPassword: string,
): Promise<void> {
  const asked = await testApp.app.inject({ method: 'POST', url: '/password-resets', payload: { email } });
  if (asked.statusCode !== 202) throw new Error(`reset asked: ${asked.statusCode}`);
  const { token } = linkIn(await smtp.next(email));
  const done = await testApp.app.inject({
    method: 'POST',
    url: '/password-resets/confirm',
    payload: { token, new_password: newPassword },
  });
  if (done.statusCode !== 204) throw new Error(`reset confirmed: ${done.statusCode}`);
}
