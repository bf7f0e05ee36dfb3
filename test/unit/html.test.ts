import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { createManualClock } from '../../src/clock.ts';
import { CSRF_FIELD, createFormTokens, csrfField } from '../../src/html/forms.ts';
import { html, trustedHtml } from '../../src/html/template.ts';

test('html: every interpolated string is escaped, Html made by html stays as it is', () => {
  const name = `<script>alert("x")</script>&'`;
  assert.equal(
    html`<p title="${name}">${name}</p>`.text,
    '<p title="&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&amp;&#39;">&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&amp;&#39;</p>',
  );
  assert.equal(
    html`<div>${html`<b>${'a<b'}</b>`}${trustedHtml('<hr>')}</div>`.text,
    '<div><b>a&lt;b</b><hr></div>',
  );
  assert.equal(html`${[1, 'x<', false, null, undefined]}`.text, '1x&lt;');
});

test('form tokens (CSRF): good only for the binding they were made for, untampered and fresh', async () => {
  const clock = createManualClock();
  const key = randomBytes(32);
  const tokens = createFormTokens({ key: async () => key, clock });
  const token = await tokens.issue('pending:abc');

  // The positive control: the same binding, within the hour.
  assert.equal(await tokens.valid(token, 'pending:abc'), true);
  // Another browser's page (another binding) or a form from another site (no token) fits nothing.
  assert.equal(await tokens.valid(token, 'pending:abd'), false);
  assert.equal(await tokens.valid(undefined, 'pending:abc'), false);
  assert.equal(await tokens.valid('', 'pending:abc'), false);
  assert.equal(await tokens.valid(['a', 'b'], 'pending:abc'), false);
  // Changing the expiry (to live longer) or one character of the MAC breaks it.
  const [expires, mac] = token.split('.') as [string, string];
  assert.equal(await tokens.valid(`${Number(expires) + 1}.${mac}`, 'pending:abc'), false);
  const flipped = `${mac.slice(0, 10)}${mac[10] === 'A' ? 'B' : 'A'}${mac.slice(11)}`;
  assert.equal(await tokens.valid(`${expires}.${flipped}`, 'pending:abc'), false);
  // Another server key does not make it.
  const other = createFormTokens({ key: async () => randomBytes(32), clock });
  assert.equal(await other.valid(token, 'pending:abc'), false);
  // Stale after an hour.
  clock.advance(60 * 60 * 1000 - 1);
  assert.equal(await tokens.valid(token, 'pending:abc'), true);
  clock.advance(1);
  assert.equal(await tokens.valid(token, 'pending:abc'), false);
  // Nothing to bind to is refused outright, both ways.
  await assert.rejects(tokens.issue(''));
  assert.equal(await tokens.valid(token, ''), false);
});

test('csrfField: the hidden field, its value escaped', () => {
  assert.equal(csrfField('1.a"b').text, `<input type="hidden" name="${CSRF_FIELD}" value="1.a&quot;b">`);
});
