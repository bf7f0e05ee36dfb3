import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { test } from 'node:test';

const ROOT = resolve(import.meta.dirname, '../..');

interface Server {
  readonly child: ChildProcess;
  readonly url: string;
  readonly output: () => string;
}

function tempDir(t: { after(fn: () => void): void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'inkgate-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** Starts `npm start` (or node on an entry point, from another folder) and waits for "Server listening". */
async function start(
  t: { after(fn: () => unknown): void },
  env: Record<string, string>,
  how: { command: string; args: string[]; cwd: string } = {
    command: 'npm',
    args: ['start', '--silent'],
    cwd: ROOT,
  },
): Promise<Server> {
  // Its own process group, so that npm, its shell and the server all get the signal, as under a supervisor.
  // Mail goes to a folder of the test's own: a test never writes into the checkout (./data/mail).
  const mailDir = mkdtempSync(join(tmpdir(), 'inkgate-mail-'));
  t.after(() => rmSync(mailDir, { recursive: true, force: true }));
  const child = spawn(how.command, how.args, {
    cwd: how.cwd,
    env: { ...process.env, PORT: '0', LOG_LEVEL: 'info', MAIL_DIR: mailDir, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  let output = '';
  child.stdout!.on('data', (chunk) => {
    output += chunk;
  });
  child.stderr!.on('data', (chunk) => {
    output += chunk;
  });
  // The whole group, even when its leader (npm) is gone: what it started must not outlive the test.
  t.after(() => {
    try {
      process.kill(-child.pid!, 'SIGKILL');
    } catch {
      // the group is gone already
    }
  });
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    const match = /Server listening at (http:\/\/127\.0\.0\.1:\d+)/.exec(output);
    if (match) return { child, url: match[1]!, output: () => output };
    if (child.exitCode !== null) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`server did not start:\n${output}`);
}

/** SIGTERM to the whole group; resolves once the server has logged its clean stop and the group is gone. */
async function stop(server: Server): Promise<void> {
  // 'close' waits for every holder of the output pipes: npm, its shell and the server itself.
  const closed = once(server.child, 'close');
  process.kill(-server.child.pid!, 'SIGTERM');
  await closed;
  assert.match(server.output(), /"msg":"stopped"/, 'the server drained and closed the database');
}

/** Runs a command to its end; its exit code and what it wrote to stdout and stderr. */
async function run(
  command: string,
  args: string[],
  options: { cwd?: string; env?: Record<string, string | undefined> } = {},
) {
  const child = spawn(command, args, {
    cwd: options.cwd ?? ROOT,
    env: { ...process.env, ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk) => {
    stdout += chunk;
  });
  child.stderr.on('data', (chunk) => {
    stderr += chunk;
  });
  const [code] = await once(child, 'close');
  return { code: code as number | null, stdout, stderr };
}

const cli = (dir: string, args: string[], env: Record<string, string>) =>
  run(process.execPath, [join(ROOT, 'src/cli.ts'), ...args], { cwd: dir, env });

const NODE_MAIN = (cwd: string) => ({ command: process.execPath, args: [join(ROOT, 'src/main.ts')], cwd });

async function json(url: string, init: RequestInit = {}) {
  const response = await fetch(url, init);
  return {
    status: response.status,
    headers: response.headers,
    body: (await response.json().catch(() => ({}))) as Record<string, string>,
  };
}

test('npm start: serves on SQLite in the configured folder; tokens survive a restart (the key is in the database)', async (t) => {
  const dir = tempDir(t);
  const env = { DATABASE_URL: `sqlite:${join(dir, 'blog.db')}`, ISSUER: 'http://inkgate.test' };
  const checkoutData = () =>
    existsSync(join(ROOT, 'data')) ? readdirSync(join(ROOT, 'data'), { recursive: true }) : [];
  const before = checkoutData();
  const first = await start(t, env);
  assert.ok(existsSync(join(dir, 'blog.db')));
  assert.deepEqual((await json(`${first.url}/`)).body, { message: 'Welcome to your blog!', docs: '/docs' });

  const signup = await json(`${first.url}/users`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username: 'procuser', email: 'proc@example.com', password: 'a long passphrase' }),
  });
  assert.equal(signup.status, 201);
  const login = await json(`${first.url}/token`, {
    method: 'POST',
    body: new URLSearchParams({ username: 'procuser', password: 'a long passphrase' }),
  });
  assert.equal(login.status, 200);
  const token = login.body.access_token as string;
  await stop(first);
  assert.match(first.output(), /migrations applied/);

  const second = await start(t, env);
  const post = await json(`${second.url}/posts`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify({ title: 'After a restart', content: 'still signed in' }),
  });
  assert.equal(post.status, 201);
  await stop(second);
  assert.doesNotMatch(second.output(), /migrations applied/, 'nothing left to migrate');
  assert.doesNotMatch(first.output() + second.output(), /a long passphrase/);
  assert.deepEqual(checkoutData(), before, 'the signup’s message went to the test’s folder, not ./data/mail');
});

test('SIGTERM to the process npm start made (as a container runtime sends it) stops the server gracefully', {
  timeout: 20_000,
}, async (t) => {
  const dir = tempDir(t);
  const server = await start(t, { DATABASE_URL: `sqlite:${join(dir, 'blog.db')}` });
  const closed = once(server.child, 'close'); // every holder of the output: npm and the server
  server.child.kill('SIGTERM'); // npm alone, not its process group
  await closed;
  assert.match(server.output(), /"signal":"SIGTERM","msg":"shutting down: draining in-flight requests"/);
  assert.match(server.output(), /"msg":"stopped"/);
  const { port } = new URL(server.url);
  await assert.rejects(fetch(`http://127.0.0.1:${port}/healthz`), 'nothing listens any more: no orphan');
});

test('SIGTERM while the server is still starting stops it once started, gracefully (exit 0, "stopped")', async (t) => {
  const dir = tempDir(t);
  const child = spawn(process.execPath, [join(ROOT, 'src/main.ts')], {
    cwd: dir,
    env: {
      ...process.env,
      PORT: '0',
      LOG_LEVEL: 'info',
      MAIL_DIR: join(dir, 'mail'),
      DATABASE_URL: `sqlite:${join(dir, 'blog.db')}`,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  t.after(() => child.kill('SIGKILL'));
  let output = '';
  let signalled = false;
  const exited = once(child, 'exit');
  child.stderr!.on('data', (chunk) => {
    output += chunk;
  });
  child.stdout!.on('data', (chunk) => {
    output += chunk;
    // The first line (the migrations) comes before the server listens.
    if (!signalled) {
      signalled = true;
      child.kill('SIGTERM');
    }
  });
  const [code] = await exited;
  assert.ok(signalled);
  assert.doesNotMatch(
    output.split('\n')[0]!,
    /Server listening/,
    'the signal came before the server listened',
  );
  assert.equal(code, 0, output);
  assert.match(output, /"msg":"signal while starting: stopping once started/);
  assert.match(output, /"msg":"stopped"/);
});

test('SIGTERM lets an in-flight request finish, then exits 0', async (t) => {
  const dir = tempDir(t);
  const server = await start(t, { DATABASE_URL: `sqlite:${join(dir, 'blog.db')}` }, NODE_MAIN(dir));
  const { port } = new URL(server.url);
  const body = JSON.stringify({
    username: 'inflight',
    email: 'inflight@example.com',
    password: 'a long passphrase',
  });
  const socket = connect(Number(port), '127.0.0.1');
  await once(socket, 'connect');
  let answer = '';
  socket.on('data', (chunk) => {
    answer += chunk;
  });
  // Headers and half the body now; the rest after the signal.
  socket.write(
    `POST /users HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body.slice(0, 20)}`,
  );
  await new Promise((r) => setTimeout(r, 200));
  const exited = once(server.child, 'exit');
  server.child.kill('SIGTERM');
  await new Promise((r) => setTimeout(r, 200));
  assert.equal(server.child.exitCode, null, 'still draining');
  socket.write(body.slice(20));
  await once(socket, 'close');
  assert.match(answer, /^HTTP\/1\.1 201 Created/);
  const [code] = await exited;
  assert.equal(code, 0);
  assert.match(server.output(), /draining in-flight requests/);
});

test('NODE_ENV=production without JWT_SECRET exits non-zero with one line naming the variable', async () => {
  const { code, stderr } = await run('npm', ['start', '--silent'], {
    env: {
      NODE_ENV: 'production',
      ISSUER: 'https://api.example.com',
      JWT_SECRET: '',
      KEY_ENCRYPTION_KEY: 'AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=',
      PORT: '0',
      DATABASE_URL: 'sqlite::memory:',
    },
  });
  assert.notEqual(code, 0);
  const lines = stderr.split('\n').filter((line) => line.startsWith('inkgate:'));
  assert.equal(lines.length, 1, stderr);
  assert.match(lines[0]!, /^inkgate: configuration error: JWT_SECRET: is required when NODE_ENV=production/);
});

test('an unreachable PostgreSQL and a bad ADMIN_PASSWORD each stop the start with one line, no stack', async () => {
  for (const [env, expected] of [
    [
      { DATABASE_URL: 'postgres://root@127.0.0.1:1/test' },
      /^inkgate: could not start: the database at 127\.0\.0\.1:1 does not answer \(ECONNREFUSED\)/,
    ],
    [
      {
        DATABASE_URL: 'sqlite::memory:',
        ADMIN_USERNAME: 'admin',
        ADMIN_EMAIL: 'admin@example.com',
        ADMIN_PASSWORD: 'admin',
      },
      /^inkgate: configuration error: ADMIN_PASSWORD: must be at least 8 characters/,
    ],
  ] as const) {
    const { code, stdout, stderr } = await run('npm', ['start', '--silent'], { env: { PORT: '0', ...env } });
    assert.notEqual(code, 0);
    const lines = stderr.split('\n').filter((line) => line.trim() !== '');
    assert.equal(lines.length, 1, stderr);
    assert.match(lines[0]!, expected);
    assert.doesNotMatch(`${stdout}${stderr}`, /\n\s+at /, 'no stack trace');
  }
});

test('ADMIN_* create the first admin at start, and a .env file in the working folder is read [ASVS V6.3.2]', async (t) => {
  const dir = tempDir(t);
  writeFileSync(
    join(dir, '.env'),
    [
      'ADMIN_USERNAME=root_admin',
      'ADMIN_EMAIL=root@example.com',
      'ADMIN_PASSWORD="a long admin passphrase"',
      'DATABASE_URL=sqlite:./here.db',
    ].join('\n'),
  );
  const server = await start(t, {}, NODE_MAIN(dir));
  assert.ok(existsSync(join(dir, 'here.db')), 'DATABASE_URL came from .env');
  const login = await json(`${server.url}/token`, {
    method: 'POST',
    body: new URLSearchParams({ username: 'root_admin', password: 'a long admin passphrase' }),
  });
  assert.equal(login.status, 200);
  assert.equal(login.body.scope, 'profile posts:write comments:write admin');
  assert.match(server.output(), /first admin created/);
  assert.doesNotMatch(server.output(), /a long admin passphrase/);
  await stop(server);
});

test('inkgate create-user makes an account from the command line', async (t) => {
  const dir = tempDir(t);
  const database = { DATABASE_URL: `sqlite:${join(dir, 'cli.db')}` };
  const admin = ['create-user', '--username', 'cli_user', '--email', 'cli@example.com', '--role', 'admin'];
  const created = await cli(dir, admin, { ...database, INKGATE_PASSWORD: 'typed at a prompt' });
  assert.equal(created.code, 0, created.stderr);
  assert.match(created.stdout, /^created admin cli_user \([0-9a-f-]{36}\)\n$/);

  const weak = ['create-user', '--username', 'weak_user', '--email', 'weak@example.com'];
  const refused = await cli(dir, weak, { ...database, INKGATE_PASSWORD: 'password' });
  assert.equal(refused.code, 1);
  assert.match(refused.stderr, /password is one of the most commonly used passwords/);
});

test('inkgate create-user: the flags follow signup’s rules; a wrong command line is one line and the usage, exit 2', async (t) => {
  const dir = tempDir(t);
  const env = { DATABASE_URL: `sqlite:${join(dir, 'cli.db')}`, INKGATE_PASSWORD: 'a long cli passphrase' };
  const ok = ['--username', 'good_name', '--email', 'good@example.com'];
  for (const [args, first] of [
    [
      ['create-user', '--username', 'has space', '--email', 'a@example.com'],
      /^inkgate: --username must be 3 to 32/,
    ],
    [['create-user', '--username', 'x', '--email', 'a@example.com'], /^inkgate: --username must be 3 to 32/],
    [
      ['create-user', '--username', 'good_name', '--email', 'nope'],
      /^inkgate: --email must be an email address$/,
    ],
    [['create-user', ...ok, '--role', 'god'], /^inkgate: --role must be user or admin, not "god"$/],
    [['create-user', ...ok, '--full-name', 'x'.repeat(101)], /^inkgate: --full-name must be at most 100/],
    [['create-user', '--email', 'a@example.com'], /^inkgate: --username is required$/],
    [['create-user', ...ok, '--bogus'], /^inkgate: Unknown option '--bogus'/],
    [['create-user', '--username'], /^inkgate: Option '--username <value>' argument missing/],
    [['create-user', ...ok, 'stray'], /^inkgate: Unexpected argument 'stray'/],
    [['serve', '--port', '9000'], /^inkgate: Unknown option '--port'/],
    [['migrate', 'now'], /^inkgate: Unexpected argument 'now'/],
    [['frobnicate'], /^inkgate: unknown command "frobnicate"$/],
  ] as const) {
    const { code, stdout, stderr } = await cli(dir, [...args], env);
    assert.equal(code, 2, `${args.join(' ')}: ${stderr}`);
    const lines = stderr.split('\n');
    assert.match(lines[0]!, first, args.join(' '));
    assert.match(lines[1]!, /^usage: inkgate /);
    assert.doesNotMatch(`${stdout}${stderr}`, /\n\s+at /, 'no stack trace');
  }
  // Nothing was created by any of them.
  const none = await cli(dir, ['create-user', ...ok], env);
  assert.equal(none.code, 0, none.stderr);

  for (const command of ['serve', 'migrate', 'create-user', 'clients', 'rotate-keys']) {
    for (const flag of ['-h', '--help']) {
      const help = await cli(dir, [command, flag], env);
      assert.equal(help.code, 0, `${command} ${flag}`);
      assert.match(help.stdout, new RegExp(`^usage: inkgate ${command}`));
    }
  }
  const top = await cli(dir, ['--help'], env);
  assert.equal(top.code, 0);
  assert.match(top.stdout, /^usage: inkgate <command>/);
});

test('inkgate create-user asks for the password on a terminal without echoing it, and Enter ends it [ASVS V6.2.6]', async (t) => {
  const dir = tempDir(t);
  const child = spawn(
    'script',
    [
      '-q',
      '-e',
      '-c',
      `${process.execPath} ${join(ROOT, 'src/cli.ts')} create-user --username tty_user --email tty@example.com`,
      '/dev/null',
    ],
    {
      cwd: dir,
      env: { ...process.env, DATABASE_URL: `sqlite:${join(dir, 'tty.db')}`, INKGATE_PASSWORD: '' },
      stdio: ['pipe', 'pipe', 'pipe'],
    },
  );
  let output = '';
  child.stdout.on('data', (chunk) => {
    output += chunk;
    if (output.includes('password: ') && !child.stdin.writableEnded)
      child.stdin.end('typed secret passphrase\r');
  });
  const code = await new Promise((resolve) => child.on('exit', resolve));
  assert.equal(code, 0, output);
  assert.match(output, /created user tty_user \(/);
  assert.ok(!output.includes('typed secret passphrase'), 'the password is not echoed');
});

test('inkgate rotate-keys: a new key in the database, published now, signing after the JWKS max-age', async (t) => {
  const dir = tempDir(t);
  const env = {
    DATABASE_URL: `sqlite:${join(dir, 'keys.db')}`,
    JWT_ALG: 'ES256',
    JWT_SECRET: '',
  };
  const rotate = async (extra: Record<string, string> = {}) => {
    const { code, stdout, stderr } = await cli(dir, ['rotate-keys'], { ...env, ...extra });
    return { code, out: stdout + stderr };
  };
  const kids = async (extra: Record<string, string> = {}) => {
    const server = await start(
      t,
      { DATABASE_URL: env.DATABASE_URL, JWT_ALG: 'ES256', ...extra },
      NODE_MAIN(dir),
    );
    const jwks = (await json(`${server.url}/.well-known/jwks.json`)).body as unknown as {
      keys: Array<{ kid: string }>;
    };
    await stop(server);
    return jwks.keys.map((key) => key.kid);
  };
  const before = await kids(); // the first start generates the first key
  assert.equal(before.length, 1);
  const first = await rotate();
  assert.equal(first.code, 0, first.out);
  const match =
    /^new ES256 key (\S+) is in the JWKS now and signs from \S+Z \(after the JWKS max-age of 300 s\)/.exec(
      first.out,
    );
  assert.ok(match, first.out);
  assert.deepEqual((await kids()).sort(), [before[0], match[1]].sort());

  const refused = await rotate({ JWT_ALG: 'HS256', JWT_SECRET: 'x'.repeat(40) });
  assert.equal(refused.code, 1);
  assert.match(refused.out, /comes from JWT_SECRET or JWT_PRIVATE_KEY/);

  // No HS256 key in the database: no instance signs with one, so none is added (the instances' own
  // settings were not given to the command).
  const nowhere = await rotate({ JWT_ALG: 'HS256' });
  assert.equal(nowhere.code, 1);
  assert.match(nowhere.out, /^inkgate: the database holds no HS256 key, so no instance signs with one/);
  // A KEY_ENCRYPTION_KEY the instances do not have (they keep keys in the clear): refused.
  const kek = Buffer.alloc(32, 3).toString('base64');
  const sealedOtherwise = await rotate({ KEY_ENCRYPTION_KEY: kek });
  assert.equal(sealedOtherwise.code, 1, sealedOtherwise.out);
  assert.match(
    sealedOtherwise.out,
    /^inkgate: KEY_ENCRYPTION_KEY: the keys kept in the database are not encrypted/,
  );
  // Once an instance with the key has sealed them, the command without it is refused instead.
  await kids({ KEY_ENCRYPTION_KEY: kek });
  const unsealed = await rotate();
  assert.equal(unsealed.code, 1, unsealed.out);
  assert.match(unsealed.out, /^inkgate: KEY_ENCRYPTION_KEY: the database holds encrypted keys/);

  // HS256 keys kept in the database: the output says what happened, and that the JWKS stays empty.
  await kids({ JWT_ALG: 'HS256', KEY_ENCRYPTION_KEY: kek });
  const secret = await rotate({ JWT_ALG: 'HS256', KEY_ENCRYPTION_KEY: kek });
  assert.equal(secret.code, 0, secret.out);
  assert.match(
    secret.out,
    /^new HS256 key \S+ is kept in the database \(an HS256 key is a secret: the JWKS stays empty by design\)/,
  );
});

test('an instance started with another KEY_ENCRYPTION_KEY than the one that sealed the database refuses, in one line naming it', async (t) => {
  const dir = tempDir(t);
  const env = { DATABASE_URL: `sqlite:${join(dir, 'sealed.db')}` };
  const sealing = await start(t, { ...env, KEY_ENCRYPTION_KEY: Buffer.alloc(32, 1).toString('base64') });
  await stop(sealing);
  for (const other of [Buffer.alloc(32, 2).toString('base64'), '']) {
    const { code, stdout, stderr } = await run('npm', ['start', '--silent'], {
      env: { PORT: '0', ...env, KEY_ENCRYPTION_KEY: other },
    });
    assert.equal(code, 1);
    const lines = stderr.split('\n').filter((line) => line.trim() !== '');
    assert.equal(lines.length, 1, stderr);
    assert.match(lines[0]!, /^inkgate: could not start: KEY_ENCRYPTION_KEY: /);
    assert.doesNotMatch(`${stdout}${stderr}`, /\n\s+at /, 'no stack trace');
  }
});

test('inkgate clients: add, list, rotate-secret and remove, through the admin API’s rules; a wrong line is one line and the usage', async (t) => {
  const dir = tempDir(t);
  const env = {
    DATABASE_URL: `sqlite:${join(dir, 'cli.db')}`,
    FIRST_PARTY_REDIRECT_URIS: 'https://app.example.com/cb',
  };
  const added = await cli(
    dir,
    [
      'clients',
      'add',
      '--name',
      'Notes',
      '--type',
      'confidential',
      '--redirect-uri',
      'https://notes.example.com/cb',
      '--scope',
      'profile',
    ],
    env,
  );
  assert.equal(added.code, 0, added.stderr);
  const [, clientId, secret] = /^client_id: (\S+)\nclient_secret: (\S+)\n/.exec(added.stdout) ?? [];
  assert.match(clientId ?? '', /^[A-Za-z0-9_-]{22}$/);
  assert.match(secret ?? '', /^[A-Za-z0-9_-]{43}$/);

  const listed = await cli(dir, ['clients', 'list'], env);
  assert.equal(listed.code, 0, listed.stderr);
  assert.deepEqual(listed.stdout.trim().split('\n'), [
    'inkgate\tpublic\tfirst-party\tinkgate (first party)\thttp://127.0.0.1:8000/docs/static/oauth2-redirect.html https://app.example.com/cb',
    `${clientId}\tconfidential\tthird-party\tNotes\thttps://notes.example.com/cb`,
  ]);

  const rotated = await cli(dir, ['clients', 'rotate-secret', clientId!], env);
  assert.equal(rotated.code, 0, rotated.stderr);
  const newSecret = /^client_secret: (\S+)\n/.exec(rotated.stdout)?.[1];
  assert.ok(newSecret && newSecret !== secret);

  // The service's own refusals: one line, exit 1, nothing changed.
  for (const [args, message] of [
    [
      ['clients', 'add', '--name', 'x', '--type', 'public', '--redirect-uri', 'http://evil.example.com/cb'],
      /^inkgate: redirect_uris\/0 may use http: only on a loopback host/,
    ],
    [['clients', 'remove', 'inkgate'], /^inkgate: the first-party client is defined by the settings/],
    [['clients', 'remove', 'nope'], /^inkgate: no such client\n$/],
  ] as const) {
    const refused = await cli(dir, [...args], env);
    assert.equal(refused.code, 1, args.join(' '));
    assert.match(refused.stderr, message);
  }
  // A wrong command line: exit 2, the usage, no database work.
  for (const [args, first] of [
    [['clients'], /^inkgate: clients needs add, list, remove or rotate-secret$/],
    [['clients', 'frob'], /^inkgate: unknown clients command "frob"$/],
    [
      ['clients', 'add', '--name', 'x', '--type', 'other', '--redirect-uri', 'https://a.example.com/cb'],
      /^inkgate: --type must be public or confidential$/,
    ],
    [['clients', 'add', '--name', 'x', '--type', 'public'], /^inkgate: --redirect-uri is required/],
    [
      [
        'clients',
        'add',
        '--name',
        'x',
        '--type',
        'public',
        '--redirect-uri',
        'https://a.example.com/cb',
        '--scope',
        'root',
      ],
      /^inkgate: --scope must be among/,
    ],
    [['clients', 'remove'], /^inkgate: clients remove takes one CLIENT_ID$/],
  ] as const) {
    const { code, stderr } = await cli(dir, [...args], env);
    assert.equal(code, 2, `${args.join(' ')}: ${stderr}`);
    assert.match(stderr.split('\n')[0]!, first);
    assert.match(stderr.split('\n')[1]!, /^usage: inkgate clients/);
  }

  const removed = await cli(dir, ['clients', 'remove', clientId!], env);
  assert.equal(removed.code, 0, removed.stderr);
  const after = await cli(dir, ['clients', 'list'], env);
  assert.doesNotMatch(after.stdout, new RegExp(clientId!));
});
