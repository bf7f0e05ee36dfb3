import assert from 'node:assert/strict';
import { test } from 'node:test';
import { simpleParser } from 'mailparser';
import { messages } from '../../src/mail/messages.ts';
import { addressOf, buildMime } from '../../src/mail/mime.ts';

test('mime: a 7-bit multipart/alternative message that mailparser reads back, text and HTML alike', async () => {
  const url = `https://blog.example.com/account/reset-password?token=${'A'.repeat(43)}`;
  const content = messages.resetPassword('ada', url, 1800);
  const raw = buildMime({ from: 'inkgate <no-reply@example.com>', to: 'ada@example.com', ...content });
  assert.match(
    raw,
    /^From: inkgate <no-reply@example.com>\r\nTo: ada@example.com\r\nSubject: Reset your password\r\n/,
  );
  assert.ok(raw.split('\r\n').every((line) => line.length <= 998));
  assert.doesNotMatch(raw, /[^\r\n\x20-\x7e]/, 'nothing but printable ASCII and CRLF');
  assert.ok(raw.includes(`\r\n${url}\r\n`), 'the link stays one line of the text part');
  const parsed = await simpleParser(raw);
  assert.equal(parsed.subject, 'Reset your password');
  assert.equal(parsed.text?.trim(), content.text.trim());
  assert.match(
    String(parsed.html),
    /<a href="https:\/\/blog\.example\.com\/account\/reset-password\?token=A{43}">/,
  );
  assert.match(String(parsed.messageId), /@example\.com>$/);
});

test('mime: no header can be injected, and text that is not ASCII cannot break the encoding', async () => {
  const raw = buildMime({
    from: 'inkgate <no-reply@example.com>',
    to: 'ada@example.com\r\nBcc: everyone@example.com',
    subject: 'Hi\nX-Injected: yes',
    text: 'caf\u00e9 \u2014 ok',
    html: '<p>caf\u00e9</p>',
  });
  const headers = raw.slice(0, raw.indexOf('\r\n\r\n'));
  assert.doesNotMatch(headers, /^(Bcc|X-Injected):/m);
  assert.match(raw, /caf\? \? ok/);
  assert.equal(addressOf('inkgate <no-reply@example.com>'), 'no-reply@example.com');
  assert.equal(addressOf('no-reply@example.com'), 'no-reply@example.com');
  assert.throws(() =>
    buildMime({ from: 'a@b.c', to: 'd@e.f', subject: 's', text: 'x'.repeat(1000), html: '' }),
  );
});
