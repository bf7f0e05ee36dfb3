import type { Kysely } from 'kysely';
import type { Database, NewUser, UserRow, UserUpdate } from '../db/schema.ts';

export type UsersRepository = ReturnType<typeof createUsersRepository>;

/** Users rows. Returns undefined for "not there"; never throws HTTP errors. */
export function createUsersRepository(db: Kysely<Database>) {
  return {
    findById: (id: string): Promise<UserRow | undefined> =>
      db.selectFrom('users').selectAll().where('id', '=', id).executeTakeFirst(),

    /** A username (any case) or an email address. */
    findByLogin: (login: string): Promise<UserRow | undefined> => {
      const lower = login.toLowerCase();
      return db
        .selectFrom('users')
        .selectAll()
        .where((eb) =>
          lower.includes('@') ? eb('email', '=', lower) : eb(eb.fn('lower', ['username']), '=', lower),
        )
        .executeTakeFirst();
    },

    insert: (user: NewUser): Promise<UserRow> =>
      db.insertInto('users').values(user).returningAll().executeTakeFirstOrThrow(),

    update: (id: string, changes: UserUpdate): Promise<UserRow | undefined> =>
      db.updateTable('users').set(changes).where('id', '=', id).returningAll().executeTakeFirst(),

    hasAdmin: async (): Promise<boolean> =>
      (await db.selectFrom('users').select('id').where('role', '=', 'admin').limit(1).executeTakeFirst()) !==
      undefined,
  };
}
