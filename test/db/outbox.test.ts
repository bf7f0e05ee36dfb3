import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createManualClock } from '../../src/clock.ts';
import { createKeyCipher } from '../../src/keys/key-encryption.ts';
import { createOutbox } from '../../src/mail/outbox.ts';
import { type MailTransport, smtpTransport } from '../../src/mail/transport.ts';
import { captureLogs, createStorage, describeEachEngine, openTestDatabase } from '../helpers/app.ts';
import { addressesOf, startSmtp } from '../helpers/mail.ts';

const content = (subject: string) => ({ subject, text: `${subject}\n`, html: `<p>${subject}</p>` });

describeEachEngine('mail outbox', (engine) => {
  test('an SMTP 5xx is final and holds up nothing; a 4xx backs off that message only', async (t) => {
    const smtp = await startSmtp(t, {
      refuse: (address) => (address.startsWith('gone') ? 550 : address.startsWith('later') ? 450 : undefined),
    });
    const { db } = await openTestDatabase(t, engine);
    const clock = createManualClock(new Date());
    const { logger, lines } = captureLogs();
    const outbox = createOutbox({
      db,
      clock,
      cipher: createKeyCipher(undefined),
      transport: smtpTransport(smtp.url),
      from: 'inkgate <no-reply@example.com>',
      log: logger,
    });
    t.after(() => outbox.stop());
    // Older rejected and deferred messages first, then the reset that must still go out.
    for (let i = 0; i < 25; i += 1) await outbox.enqueue(db, `gone${i}@example.com`, content(`bounce ${i}`));
    for (let i = 0; i < 3; i += 1) await outbox.enqueue(db, `later${i}@example.com`, content(`later ${i}`));
    clock.advance(1);
    await outbox.enqueue(db, 'ada@example.com', content('Reset your password'));

    await outbox.deliverDue();
    assert.deepEqual(
      smtp.received.map((mail) => addressesOf(mail)[0]),
      ['ada@example.com'],
      'the good message went out in the same run',
    );
    const rows = await db.selectFrom('mail_outbox').selectAll().execute();
    const gone = rows.filter((row) => row.recipient.startsWith('gone'));
    assert.equal(gone.length, 25);
    for (const row of gone) {
      assert.ok(row.failed_at, 'marked failed');
      assert.equal(row.attempts, 1);
      assert.equal(row.body, '', 'its link is not kept');
      assert.match(row.last_error ?? '', /550/);
    }
    const later = rows.filter((row) => row.recipient.startsWith('later'));
    for (const row of later) {
      assert.equal(row.failed_at, null);
      assert.ok(row.next_attempt_at > clock.now(), 'backs off');
    }
    assert.ok(lines.some((line) => /"event":"mail_rejected"/.test(line)));

    // A 5xx is never tried again; a 4xx is, once its backoff has passed.
    smtp.received.length = 0;
    clock.advance(20_000);
    await outbox.deliverDue();
    const again = await db.selectFrom('mail_outbox').selectAll().execute();
    for (const row of again.filter((each) => each.recipient.startsWith('gone')))
      assert.equal(row.attempts, 1);
    for (const row of again.filter((each) => each.recipient.startsWith('later')))
      assert.equal(row.attempts, 2);
    assert.equal(smtp.received.length, 0);
  });

  test('a batch behind a slow SMTP server renews its claim per message: another worker never sends one twice', async (t) => {
    const url = await createStorage(t, engine);
    const dbA = (await openTestDatabase(t, engine, { url })).db;
    const dbB = (await openTestDatabase(t, engine, { url })).db;
    const clock = createManualClock(new Date());
    const sent: string[] = [];
    let other: ReturnType<typeof createOutbox> | undefined;
    // Worker A's server takes 40 s a message (what the SMTP timeouts allow); while it is on the second
    // message, 80 s after the claim, worker B looks for due messages.
    const slow: MailTransport = {
      kind: 'smtp',
      async send(mail) {
        sent.push(`${mail.to} by A`);
        clock.advance(40_000);
        if (sent.length === 2) await other?.deliverDue();
        return 'slow';
      },
      close() {},
    };
    const fast: MailTransport = {
      kind: 'smtp',
      async send(mail) {
        sent.push(`${mail.to} by B`);
        return 'fast';
      },
      close() {},
    };
    const make = (db: typeof dbA, transport: MailTransport) =>
      createOutbox({ db, clock, cipher: createKeyCipher(undefined), transport, from: 'x <x@example.com>' });
    const a = make(dbA, slow);
    other = make(dbB, fast);
    for (const name of ['one', 'two', 'three', 'four'])
      await a.enqueue(dbA, `${name}@example.com`, content(name));
    await a.deliverDue();
    const recipients = sent.map((entry) => entry.split(' ')[0]);
    assert.deepEqual([...recipients].sort(), [
      'four@example.com',
      'one@example.com',
      'three@example.com',
      'two@example.com',
    ]);
    assert.ok(
      sent.some((entry) => entry.endsWith('by B')),
      `B took over the lapsed claims: ${sent.join(', ')}`,
    );
    const rows = await dbA.selectFrom('mail_outbox').select(['recipient', 'sent_at']).execute();
    assert.ok(rows.every((row) => row.sent_at !== null));
  });
});
