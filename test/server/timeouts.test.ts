import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { buildTestApp, captureLogs } from '../helpers/app.ts';

/** Resolves with what the server sent and how long the socket stayed open. */
function watch(socket: Socket): Promise<{ seconds: number; received: string }> {
  const started = performance.now();
  let received = '';
  socket.on('data', (chunk) => {
    received += chunk.toString();
  });
  return new Promise((resolve) => {
    socket.on('close', () => resolve({ seconds: (performance.now() - started) / 1000, received }));
    socket.on('error', () => {});
  });
}

test('a body trickled byte by byte is cut within REQUEST_TIMEOUT, answered 408, and logged in one line without a stack [API4:2023]', async (t) => {
  const { logger, lines } = captureLogs();
  const testApp = await buildTestApp(t, { env: { REQUEST_TIMEOUT: '2' }, logger });
  await testApp.app.listen({ port: 0, host: '127.0.0.1' });
  const { port } = testApp.app.server.address() as { port: number };

  const socket = connect(port, '127.0.0.1');
  const closed = watch(socket);
  socket.write(
    'POST /users HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{',
  );
  const trickle = setInterval(() => socket.writable && socket.write(' '), 300);
  t.after(() => clearInterval(trickle));
  const { seconds, received } = await Promise.race([
    closed,
    sleep(10_000).then(() => ({ seconds: 10, received: '' })),
  ]);
  clearInterval(trickle);
  socket.destroy();
  assert.ok(seconds >= 1.9 && seconds < 4, `closed after ${seconds.toFixed(1)} s`);
  assert.match(received, /^HTTP\/1\.1 408 Request Timeout\r\n/);
  assert.match(received, /application\/problem\+json/);

  await sleep(50);
  const entries = lines.map((line) => JSON.parse(line));
  const aborted = entries.filter((entry) => entry.event === 'request_aborted');
  assert.equal(aborted.length, 1, JSON.stringify(entries));
  assert.equal(aborted[0].reason, 'request_timeout');
  assert.ok(!lines.join('\n').includes('"stack"'), 'no stack in the logs');
  assert.equal(entries.filter((entry) => entry.level >= 50).length, 0, 'nothing logged as an error');
});

test('headers that never finish are cut within the headers timeout; the server keeps answering', async (t) => {
  const testApp = await buildTestApp(t, { env: { REQUEST_TIMEOUT: '2' } });
  await testApp.app.listen({ port: 0, host: '127.0.0.1' });
  const { port } = testApp.app.server.address() as { port: number };
  const socket = connect(port, '127.0.0.1');
  const closed = watch(socket);
  socket.write('GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ');
  const { seconds } = await closed;
  assert.ok(seconds < 4, `closed after ${seconds.toFixed(1)} s`);
  const health = await fetch(`http://127.0.0.1:${port}/healthz`);
  assert.equal(health.status, 200);
});

test('idle keep-alive sockets are closed after 72 s; requests and headers have their own bounds', async (t) => {
  const testApp = await buildTestApp(t);
  const server = testApp.app.server;
  assert.equal(server.keepAliveTimeout, 72_000);
  assert.equal(server.requestTimeout, 30_000);
  assert.equal(server.headersTimeout, 10_000);
});
