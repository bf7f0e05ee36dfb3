import type { FastifyBaseLogger } from 'fastify';
import type { Kysely } from 'kysely';
import { v7 as uuidv7 } from 'uuid';
import { type Clock, DAY_MS } from '../clock.ts';
import { isPostgres } from '../db/dialect.ts';
import { deleteInBatches } from '../db/scheduled-jobs.ts';
import type { Database } from '../db/schema.ts';
import type { KeyCipher } from '../keys/key-encryption.ts';
import type { MailTransport } from './transport.ts';

/** What a message says: its subject and its two parts. */
export interface MailContent {
  readonly subject: string;
  readonly text: string;
  readonly html: string;
}

/**
 * A claimed message stays with its worker this long; a worker that died leaves it to the next. The
 * claim is renewed before each message of a batch, and one message takes at most ~40 s (the SMTP
 * timeouts), so a batch behind a hanging server never outlives its claim and no mail goes twice.
 */
const CLAIM_MS = 60_000;
/** Retries back off from 10 s, doubling, to at most 10 minutes; after 3 days a message is given up. */
const FIRST_RETRY_MS = 10_000;
const MAX_RETRY_MS = 600_000;
const GIVE_UP_MS = 3 * DAY_MS;
const BATCH = 10;
const KICK_MS = 50;

const bodyContext = (id: string) => `mail_outbox:${id}`;

export type Outbox = ReturnType<typeof createOutbox>;

/**
 * The mail outbox. `enqueue` writes a message with `db` — the transaction of the request that causes
 * it, so a change and its message commit together; a worker then delivers due messages, one delivery
 * across instances (a claim with a lease), with retries and backoff: an SMTP outage loses nothing.
 */
export function createOutbox(deps: {
  db: Kysely<Database>;
  clock: Clock;
  /** Seals message bodies at rest (KEY_ENCRYPTION_KEY): a pending message holds a live link. */
  cipher: KeyCipher;
  transport: MailTransport;
  from: string;
  log?: FastifyBaseLogger | undefined;
  /** How often each instance looks for due messages (retries, other instances' messages). */
  pollMs?: number;
}) {
  const { db, clock, cipher, transport, from } = deps;
  let timer: NodeJS.Timeout | undefined;
  let kicked: NodeJS.Timeout | undefined;
  let running: Promise<void> | undefined;
  let again = false;
  let failing = false;

  async function enqueue(executor: Kysely<Database>, recipient: string, content: MailContent): Promise<void> {
    const id = uuidv7();
    const now = clock.now();
    await executor
      .insertInto('mail_outbox')
      .values({
        id,
        recipient,
        subject: content.subject,
        body: cipher.seal(JSON.stringify({ text: content.text, html: content.html }), bodyContext(id)),
        created_at: now,
        next_attempt_at: now,
      })
      .execute();
  }

  /** Claims up to BATCH due messages for this worker (SKIP LOCKED on PostgreSQL; SQLite has one writer). */
  async function claim(now: Date) {
    const until = new Date(now.getTime() + CLAIM_MS);
    return db.transaction().execute(async (trx) => {
      let due = trx
        .selectFrom('mail_outbox')
        .select('id')
        .where('sent_at', 'is', null)
        .where('failed_at', 'is', null)
        .where('next_attempt_at', '<=', now)
        .where((eb) => eb.or([eb('claimed_until', 'is', null), eb('claimed_until', '<', now)]))
        .orderBy('next_attempt_at')
        .limit(BATCH);
      if (isPostgres(trx)) due = due.forUpdate().skipLocked();
      const ids = (await due.execute()).map((row) => row.id);
      if (ids.length === 0) return [];
      return trx
        .updateTable('mail_outbox')
        .set({ claimed_until: until })
        .where('id', 'in', ids)
        .where('sent_at', 'is', null)
        .returningAll()
        .execute();
    });
  }

  type Claimed = Awaited<ReturnType<typeof claim>>[number];

  /** Renews this worker's claim on one message; false when it is no longer ours (a lapsed claim). */
  async function renew(message: Claimed): Promise<boolean> {
    const renewed = await db
      .updateTable('mail_outbox')
      .set({ claimed_until: new Date(clock.now().getTime() + CLAIM_MS) })
      .where('id', '=', message.id)
      .where('sent_at', 'is', null)
      .where('claimed_until', '=', message.claimed_until)
      .executeTakeFirst();
    return Number(renewed.numUpdatedRows) === 1;
  }

  /**
   * One delivery: sent; rejected for good (an SMTP 5xx for this recipient: marked failed, never
   * retried); deferred (a 4xx: this message backs off); or unreachable (no SMTP answer at all: the
   * server is down, so the rest of the run waits for the next poll).
   */
  async function deliverOne(
    message: Claimed,
    now: Date,
  ): Promise<'sent' | 'rejected' | 'deferred' | 'unreachable'> {
    try {
      const { text, html } = JSON.parse(cipher.open(message.body, bodyContext(message.id))) as {
        text: string;
        html: string;
      };
      const where = await transport.send({
        from,
        to: message.recipient,
        subject: message.subject,
        text,
        html,
      });
      // Sent: the body (and its link) is not kept.
      await db
        .updateTable('mail_outbox')
        .set({ sent_at: clock.now(), body: '', claimed_until: null, attempts: message.attempts + 1 })
        .where('id', '=', message.id)
        .execute();
      if (failing) deps.log?.info('mail is being delivered again');
      failing = false;
      deps.log?.info({ mailId: message.id, subject: message.subject, to: where }, 'mail sent');
      return 'sent';
    } catch (error) {
      const attempts = message.attempts + 1;
      const code = (error as { responseCode?: unknown }).responseCode;
      const permanent = typeof code === 'number' && code >= 500 && code < 600;
      const giveUp = permanent || now.getTime() - message.created_at.getTime() >= GIVE_UP_MS;
      const delay = Math.min(FIRST_RETRY_MS * 2 ** (attempts - 1), MAX_RETRY_MS);
      await db
        .updateTable('mail_outbox')
        .set({
          attempts,
          claimed_until: null,
          next_attempt_at: new Date(now.getTime() + delay),
          last_error: String((error as Error).message ?? error).slice(0, 500),
          ...(giveUp && { failed_at: now, body: '' }),
        })
        .where('id', '=', message.id)
        .execute();
      if (permanent) {
        deps.log?.warn(
          { event: 'mail_rejected', mailId: message.id, subject: message.subject, responseCode: code },
          'mail refused for good by the SMTP server (5xx); it is not retried',
        );
        return 'rejected';
      }
      if (giveUp)
        deps.log?.error({ mailId: message.id, err: error }, 'mail given up after 3 days of failures');
      else if (!failing)
        deps.log?.warn(
          { mailId: message.id, err: error, retryInMs: delay },
          'mail not delivered; it is retried',
        );
      if (typeof code === 'number') return 'deferred';
      failing = true;
      return 'unreachable';
    }
  }

  /** Gives back the claims of messages this run will not try (the server stopped answering). */
  async function unclaim(messages: readonly Claimed[]): Promise<void> {
    if (messages.length === 0) return;
    await db
      .updateTable('mail_outbox')
      .set({ claimed_until: null })
      .where(
        'id',
        'in',
        messages.map((message) => message.id),
      )
      .where('sent_at', 'is', null)
      .execute();
  }

  /**
   * Runs through every due message, a batch at a time. A message refused or deferred holds up no
   * other: it is marked (failed, or due later) and the run goes on; only a server that does not
   * answer at all ends the run, since every further message would wait out the same timeouts.
   */
  async function deliverDueNow(): Promise<void> {
    for (;;) {
      const now = clock.now();
      const batch = await claim(now);
      for (const [index, message] of batch.entries()) {
        if (!(await renew(message))) continue; // our claim lapsed and another worker has it
        if ((await deliverOne(message, now)) === 'unreachable') {
          await unclaim(batch.slice(index + 1));
          return;
        }
      }
      if (batch.length < BATCH) return;
    }
  }

  /** Delivers what is due; concurrent calls share one run (and ask for another after it). */
  function deliverDue(): Promise<void> {
    if (running) {
      again = true;
      return running;
    }
    running = deliverDueNow()
      .catch((error) => {
        deps.log?.warn({ err: error }, 'mail outbox could not be read; it is tried again');
      })
      .finally(() => {
        running = undefined;
        if (again) {
          again = false;
          void deliverDue();
        }
      });
    return running;
  }

  return {
    enqueue,
    deliverDue,
    /**
     * Called after a commit that enqueued mail: deliver soon, without making the answer wait. Kicks
     * within KICK_MS share one delivery run, so a burst of signups is claimed in batches.
     */
    kick(): void {
      if (kicked) return;
      kicked = setTimeout(() => {
        kicked = undefined;
        void deliverDue();
      }, KICK_MS);
      kicked.unref();
    },
    start(): void {
      if (timer) return;
      timer = setInterval(() => void deliverDue(), deps.pollMs ?? 5000);
      timer.unref();
      void deliverDue();
    },
    async stop(): Promise<void> {
      if (timer) clearInterval(timer);
      if (kicked) clearTimeout(kicked);
      timer = undefined;
      kicked = undefined;
      await running;
      transport.close();
    },
  };
}

/** Sent and given-up messages (their bodies already gone) are kept a week for support, then deleted. */
export function purgeOutbox(db: Kysely<Database>, now: Date): Promise<number> {
  const before = new Date(now.getTime() - 7 * DAY_MS);
  return deleteInBatches(async () => {
    const result = await db
      .deleteFrom('mail_outbox')
      .where('id', 'in', (eb) =>
        eb
          .selectFrom('mail_outbox')
          .select('id')
          .where((w) => w.or([w('sent_at', '<', before), w('failed_at', '<', before)]))
          .limit(500),
      )
      .executeTakeFirst();
    return Number(result.numDeletedRows);
  }, 500);
}
