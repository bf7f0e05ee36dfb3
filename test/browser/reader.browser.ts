import assert from 'node:assert/strict';
import { test } from 'node:test';
import { buildTestApp, signedIn } from '../helpers/app.ts';
import { call, writePost, XSS } from '../helpers/blog.ts';
import { cspViolations, openPage, SHOTS } from '../helpers/browser.ts';
import { freePort } from '../helpers/net.ts';

test('the reader site in Chromium: home, post, tag and author pages with XSS payloads seeded open no dialog and break no CSP; readable at 375 px', async (t) => {
  const port = await freePort();
  const base = `http://localhost:${port}`;
  const testApp = await buildTestApp(t, {
    env: {
      ISSUER: base,
      SITE_TITLE: 'The inkgate notebook',
      SITE_DESCRIPTION: 'Notes on engines, numbers and safe HTML',
    },
  });
  await testApp.app.listen({ port, host: 'localhost' });
  const { token, user } = await signedIn(testApp);
  await call(testApp, 'PATCH', '/users/me', token, {
    full_name: 'Ada Lovelace',
    bio: `Writes about engines. ${XSS.join(' ')}`,
  });
  await writePost(testApp, token, {
    title: 'Notes on the Analytical Engine',
    content:
      '## The engine\n\nIt weaves *algebraic patterns* just as the Jacquard loom weaves flowers and leaves.\n\n' +
      '| operation | cards |\n|---|---|\n| addition | 1 |\n| multiplication | 2 |\n\n' +
      `\`\`\`\n${'a_very_long_identifier_that_would_push_the_page_wider_than_a_phone_screen '.repeat(3)}\n\`\`\`\n\n` +
      `${'Averyveryverylongwordwithoutanyspacesatallthatmustwrap'.repeat(3)}`,
    tags: ['Engines', 'History'],
  });
  const post = await writePost(testApp, token, {
    title: `${XSS[0]} and ${XSS[2]}`,
    content: XSS.join('\n\n'),
    excerpt: XSS[1],
    tags: ['Engines', '<b>bold</b>'],
  });
  for (const payload of XSS)
    await call(testApp, 'POST', `/posts/${post.id}/comments`, token, { body: payload });

  const { page, problems, dialogs } = await openPage(t);
  await page.setViewportSize({ width: 375, height: 800 });
  const pages = {
    home: '/',
    post: `/p/${post.slug}`,
    article: '/p/notes-on-the-analytical-engine',
    tag: '/tag/engines',
    author: `/author/${user.username}`,
  };
  for (const [name, path] of Object.entries(pages)) {
    const response = await page.goto(`${base}${path}`);
    assert.equal(response?.status(), 200, path);
    assert.equal(await page.locator('script').count(), 0, `${path}: no script element`);
    assert.equal(await page.locator('main').count(), 1, `${path}: a main landmark`);
    assert.equal(await page.locator('h1').count(), 1, `${path}: one h1`);
    assert.equal(await page.locator('html').getAttribute('lang'), 'en');
    const width = await page.evaluate(
      // biome-ignore lint/suspicious/noExplicitAny: the page's own globals.
      () => (globalThis as any).document.documentElement.scrollWidth as number,
    );
    assert.ok(width <= 375, `${path}: ${width} px wide at 375 px, a horizontal scroll`);
    await page.screenshot({ path: `${SHOTS}/reader-${name}.png`, fullPage: true });
  }
  await page.setViewportSize({ width: 1100, height: 900 });
  await page.goto(`${base}/`);
  await page.screenshot({ path: `${SHOTS}/reader-home-wide.png` });
  // The payloads are text on the page.
  await page.goto(`${base}${pages.post}`);
  assert.match(await page.locator('h1').innerText(), /<script>alert\(1\)<\/script>/);
  assert.deepEqual(dialogs, [], 'no payload ran');
  assert.deepEqual(cspViolations(problems), [], 'nothing the policy had to stop');
});
