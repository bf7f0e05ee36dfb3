#!/usr/bin/env node
import { type ParseArgsConfig, parseArgs } from 'node:util';
import { createAccountCreation } from './accounts/creation.ts';
import { hashPassword } from './accounts/passwords.ts';
import { createUsersRepository } from './accounts/repository.ts';
import { accountFieldProblems } from './accounts/signup-rules.ts';
import { createAuditTrail } from './audit/trail.ts';
import { ROLES, type Role } from './authz/roles.ts';
import {
  CLIENTS_DOES,
  CLIENTS_OPTIONS,
  ClientsUsageError,
  clientsCommand,
  runClients,
} from './cli/clients.ts';
import { reportRefusal } from './cli/refusals.ts';
import { systemClock } from './clock.ts';
import { createLogger } from './http/logging.ts';
import { createKeyCipher, KeyEncryptionError } from './keys/key-encryption.ts';
import { jwksMaxAge } from './keys/signing-keys.ts';
import { rotateKeys } from './keys/stored-keys.ts';
import { configFromEnvironment, openMigratedDatabase } from './server.ts';

type Options = NonNullable<ParseArgsConfig['options']>;

/** Each command: its usage line, what it does, and the flags it takes (nothing else is accepted). */
const COMMANDS: Record<string, { usage: string; does: string; options: Options; positionals?: boolean }> = {
  serve: { usage: 'serve', does: 'start the server (the same as npm start)', options: {} },
  migrate: { usage: 'migrate', does: 'apply pending database migrations and exit', options: {} },
  'create-user': {
    usage: 'create-user --username U --email E [--role user|admin] [--full-name N]',
    does:
      "create an account by signup's rules; the password comes from INKGATE_PASSWORD, or is asked\n" +
      'for (hidden, ending at Enter) on a terminal, or is read from standard input',
    options: {
      username: { type: 'string' },
      email: { type: 'string' },
      role: { type: 'string', default: 'user' },
      'full-name': { type: 'string' },
    },
  },
  clients: {
    usage: 'clients add|list|remove|rotate-secret …',
    does: CLIENTS_DOES,
    options: CLIENTS_OPTIONS,
    positionals: true,
  },
  'rotate-keys': {
    usage: 'rotate-keys',
    does:
      'make a new signing key: published in the JWKS at once, signing once every cached JWKS\n' +
      'holds it; the previous key verifies until its tokens expire',
    options: {},
  },
};

const USAGE = `usage: inkgate <command> [--help]

commands:
${Object.values(COMMANDS)
  .map(
    ({ usage, does }) =>
      `  ${usage.padEnd(27)}${usage.length > 26 ? `\n${' '.repeat(29)}` : ''}${does.replace(/\n/g, `\n${' '.repeat(29)}`)}`,
  )
  .join('\n')}
`;

const usageOf = (name: string) =>
  `usage: inkgate ${COMMANDS[name]!.usage}\n\n  ${COMMANDS[name]!.does.replace(/\n/g, '\n  ')}\n`;

/** One line, then the usage: what a mistyped command line gets (exit 2, never a stack trace). */
class UsageError extends Error {
  readonly command: string | undefined;
  constructor(message: string, command?: string) {
    super(message);
    this.command = command;
  }
}

/** A password typed at a terminal: not echoed, ended by Enter; Ctrl-C stops. */
function promptHidden(): Promise<string> {
  return new Promise((resolve, reject) => {
    const input = process.stdin;
    let typed = '';
    // Raw before the prompt shows: whatever is typed after it is never echoed.
    input.setRawMode(true);
    process.stderr.write('password: ');
    input.resume();
    input.setEncoding('utf8');
    const done = (error?: Error) => {
      input.setRawMode(false);
      input.pause();
      input.off('data', onData);
      process.stderr.write('\n');
      if (error) reject(error);
      else resolve(typed);
    };
    const onData = (chunk: string) => {
      for (const character of chunk) {
        if (character === '\r' || character === '\n') return done();
        if (character === '\u0003') return done(new UsageError('cancelled'));
        if (character === '\u007f' || character === '\b') typed = [...typed].slice(0, -1).join('');
        else if (character >= ' ') typed += character;
      }
    };
    input.on('data', onData);
  });
}

async function readPassword(): Promise<string> {
  if (process.env.INKGATE_PASSWORD) return process.env.INKGATE_PASSWORD;
  if (process.stdin.isTTY) return promptHidden();
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks)
    .toString('utf8')
    .replace(/\r?\n$/, '');
}

/** The flags of `command`, strictly: an unknown flag, a missing value or a stray argument is a UsageError. */
function flagsOf(command: string, args: string[]) {
  try {
    const { values, positionals } = parseArgs({
      args,
      options: { ...COMMANDS[command]!.options, help: { type: 'boolean', short: 'h' } },
      strict: true,
      allowPositionals: COMMANDS[command]!.positionals === true,
    });
    return { values: values as Record<string, string | boolean | string[] | undefined>, positionals };
  } catch (error) {
    throw new UsageError((error as Error).message, command);
  }
}

/**
 * The same rules as POST /users (accounts/signup-rules.ts), checked before the password is asked
 * for: one line for the first wrong flag.
 */
function requireSignupFlags(values: Record<string, string | boolean | string[] | undefined>) {
  const username = values.username;
  const email = values.email;
  if (typeof username !== 'string') throw new UsageError('--username is required', 'create-user');
  if (typeof email !== 'string') throw new UsageError('--email is required', 'create-user');
  const role = String(values.role);
  if (!(ROLES as readonly string[]).includes(role)) {
    throw new UsageError(`--role must be ${ROLES.join(' or ')}, not "${role}"`, 'create-user');
  }
  const fullName = typeof values['full-name'] === 'string' ? values['full-name'] : undefined;
  const [first] = accountFieldProblems({ username, email, full_name: fullName });
  if (first) {
    const flag = first.path === '/full_name' ? '--full-name' : `--${first.path.slice(1)}`;
    throw new UsageError(`${flag} ${first.message}`, 'create-user');
  }
  return { username, email, role: role as Role, fullName };
}

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (command === undefined || command === '--help' || command === '-h' || command === 'help') {
    process.stdout.write(USAGE);
    return 0;
  }
  if (!(command in COMMANDS)) throw new UsageError(`unknown command "${command.slice(0, 40)}"`);
  const { values, positionals } = flagsOf(command, rest);
  if (values.help) {
    process.stdout.write(usageOf(command));
    return 0;
  }
  if (command === 'serve') {
    await import('./main.ts');
    return -1; // keeps running
  }
  const signup = command === 'create-user' ? requireSignupFlags(values) : undefined;
  let clients: ReturnType<typeof clientsCommand> | undefined;
  try {
    if (command === 'clients') clients = clientsCommand(values, positionals);
  } catch (error) {
    if (error instanceof ClientsUsageError) throw new UsageError(error.message, command);
    throw error;
  }

  const config = configFromEnvironment();
  for (const warning of config.warnings) process.stderr.write(`inkgate: configuration: ${warning}\n`);
  const log = createLogger(config.logLevel === 'info' ? 'warn' : config.logLevel, process.stderr);
  const database = await openMigratedDatabase(config, log);
  const audit = createAuditTrail({ db: database.db, clock: systemClock, log });
  try {
    if (command === 'migrate') {
      process.stdout.write('migrations are up to date\n');
      return 0;
    }
    if (command === 'rotate-keys') return await rotate(config, database, audit);
    if (clients) return await runClients(clients, { config, database, audit });
    const accounts = createAccountCreation({
      users: createUsersRepository(database.db),
      clock: systemClock,
      audit,
      hash: hashPassword,
    });
    try {
      const user = await accounts.signup(
        {
          username: signup!.username,
          email: signup!.email,
          password: await readPassword(),
          full_name: signup!.fullName,
          role: signup!.role,
        },
        { via: 'cli' },
      );
      process.stdout.write(`created ${user.role} ${user.username} (${user.id})\n`);
      return 0;
    } catch (error) {
      const code = reportRefusal(error);
      if (code === undefined) throw error;
      return code;
    }
  } finally {
    await database.close();
  }
}

async function rotate(
  config: ReturnType<typeof configFromEnvironment>,
  database: Awaited<ReturnType<typeof openMigratedDatabase>>,
  audit: ReturnType<typeof createAuditTrail>,
): Promise<number> {
  if (config.jwtSecret !== undefined || config.jwtPrivateKey !== undefined) {
    process.stderr.write(
      'inkgate: the signing key comes from JWT_SECRET or JWT_PRIVATE_KEY; rotate it there, and list the old ' +
        'key in JWT_PREVIOUS_KEYS until its tokens have expired\n',
    );
    return 1;
  }
  // The first key of an algorithm is made by the first instance that signs with it. None here means
  // the instances sign with configured keys or another JWT_ALG: a key added now would sign nowhere.
  const existing = await database.db
    .selectFrom('signing_keys')
    .select('kid')
    .where('alg', '=', config.jwtAlg)
    .executeTakeFirst();
  if (!existing) {
    process.stderr.write(
      `inkgate: the database holds no ${config.jwtAlg} key, so no instance signs with one: run rotate-keys ` +
        'with the settings the instances use (JWT_ALG, KEY_ENCRYPTION_KEY, NODE_ENV); keys from JWT_SECRET or ' +
        'JWT_PRIVATE_KEY rotate there\n',
    );
    return 1;
  }
  let rotated: Awaited<ReturnType<typeof rotateKeys>>;
  try {
    rotated = await rotateKeys(database.db, {
      alg: config.jwtAlg,
      now: systemClock.now(),
      accessTokenTtlSeconds: config.accessTokenTtlSeconds,
      cipher: createKeyCipher(config.keyEncryptionKey),
      audit,
    });
  } catch (error) {
    if (!(error instanceof KeyEncryptionError)) throw error;
    process.stderr.write(`inkgate: ${error.reason}\n`);
    return 1;
  }
  const maxAge = jwksMaxAge(config.accessTokenTtlSeconds);
  const published =
    config.jwtAlg === 'HS256'
      ? 'is kept in the database (an HS256 key is a secret: the JWKS stays empty by design)'
      : 'is in the JWKS now';
  process.stdout.write(
    `new ${config.jwtAlg} key ${rotated?.kid} ${published} and signs from ${rotated?.activatesAt.toISOString()} ` +
      `(after the JWKS max-age of ${maxAge} s); the previous key verifies until its last tokens expire\n`,
  );
  return 0;
}

try {
  const code = await main(process.argv.slice(2));
  if (code >= 0) process.exitCode = code;
} catch (error) {
  if (!(error instanceof UsageError)) throw error;
  process.stderr.write(`inkgate: ${error.message}\n${error.command ? usageOf(error.command) : USAGE}`);
  process.exitCode = error.message === 'cancelled' ? 130 : 2;
}
