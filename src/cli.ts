#!/usr/bin/env node
import { parseArgs } from 'node:util';
import { hashPassword } from './accounts/passwords.ts';
import { createUsersRepository } from './accounts/repository.ts';
import { createAccountsService } from './accounts/service.ts';
import { createAuditTrail } from './audit/trail.ts';
import { ROLES, type Role } from './authz/roles.ts';
import { systemClock } from './clock.ts';
import { HttpError, UnprocessableError } from './http/errors.ts';
import { createLogger } from './http/logging.ts';
import { configFromEnvironment, openMigratedDatabase } from './server.ts';
import { createKeyCipher } from './tokens/key-encryption.ts';
import { jwksMaxAge, rotateKeys } from './tokens/keys.ts';

const USAGE = `usage: inkgate <command>

commands:
  serve                      start the server (same as npm start)
  migrate                    apply pending database migrations and exit
  create-user --username U --email E [--role user|admin] [--full-name N]
                             create an account; the password is read from INKGATE_PASSWORD or standard input
  rotate-keys                make a new signing key: published in the JWKS at once, signing once every
                             cached JWKS holds it; the previous key verifies until its tokens expire
`;

async function readPassword(): Promise<string> {
  if (process.env.INKGATE_PASSWORD) return process.env.INKGATE_PASSWORD;
  if (process.stdin.isTTY) process.stderr.write('password: ');
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks)
    .toString('utf8')
    .replace(/\r?\n$/, '');
}

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (command === 'serve') {
    await import('./main.ts');
    return -1; // keeps running
  }
  if (command !== 'migrate' && command !== 'create-user' && command !== 'rotate-keys') {
    process.stderr.write(USAGE);
    return command === undefined || command === '--help' || command === 'help' ? 0 : 2;
  }
  const config = configFromEnvironment();
  const log = createLogger(config.logLevel === 'info' ? 'warn' : config.logLevel, process.stderr);
  const database = await openMigratedDatabase(config, log);
  const audit = createAuditTrail({ db: database.db, clock: systemClock, log });
  try {
    if (command === 'migrate') {
      process.stdout.write('migrations are up to date\n');
      return 0;
    }
    if (command === 'rotate-keys') {
      if (config.jwtSecret !== undefined || config.jwtPrivateKey !== undefined) {
        process.stderr.write(
          'inkgate: the signing key comes from JWT_SECRET or JWT_PRIVATE_KEY; rotate it there, and list the old ' +
            'key in JWT_PREVIOUS_KEYS until its tokens have expired\n',
        );
        return 1;
      }
      const rotated = await rotateKeys(database.db, {
        alg: config.jwtAlg,
        now: systemClock.now(),
        accessTokenTtlSeconds: config.accessTokenTtlSeconds,
        cipher: createKeyCipher(config.keyEncryptionKey),
        audit,
      });
      const maxAge = jwksMaxAge(config.accessTokenTtlSeconds);
      const startsNow = rotated !== undefined && rotated.activatesAt.getTime() <= Date.now();
      process.stdout.write(
        startsNow
          ? `new ${config.jwtAlg} key ${rotated.kid} signs from now (the first of its algorithm)\n`
          : `new ${config.jwtAlg} key ${rotated?.kid} is in the JWKS now and signs from ${rotated?.activatesAt.toISOString()} ` +
              `(after the JWKS max-age of ${maxAge} s); the previous key verifies until its last tokens expire\n`,
      );
      return 0;
    }
    const { values } = parseArgs({
      args: rest,
      options: {
        username: { type: 'string' },
        email: { type: 'string' },
        role: { type: 'string', default: 'user' },
        'full-name': { type: 'string' },
      },
    });
    if (!values.username || !values.email || !(ROLES as readonly string[]).includes(values.role ?? '')) {
      process.stderr.write(USAGE);
      return 2;
    }
    const accounts = createAccountsService({
      users: createUsersRepository(database.db),
      clock: systemClock,
      audit,
      hash: hashPassword,
    });
    try {
      const user = await accounts.signup(
        {
          username: values.username,
          email: values.email,
          password: await readPassword(),
          full_name: values['full-name'],
          role: values.role as Role,
        },
        { via: 'cli' },
      );
      process.stdout.write(`created ${user.role} ${user.username} (${user.id})\n`);
      return 0;
    } catch (error) {
      if (error instanceof UnprocessableError) {
        for (const { path, message } of error.errors)
          process.stderr.write(`inkgate: ${path.slice(1)} ${message}\n`);
        return 1;
      }
      if (error instanceof HttpError) {
        process.stderr.write(`inkgate: ${error.message}\n`);
        return 1;
      }
      throw error;
    }
  } finally {
    await database.close();
  }
}

const code = await main(process.argv.slice(2));
if (code >= 0) process.exitCode = code;
