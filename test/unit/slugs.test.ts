import assert from 'node:assert/strict';
import { test } from 'node:test';
import { numberedSlug, SLUG_MAX, slugFromTitle, slugProblem, tagSlug } from '../../src/posts/slugs.ts';

test('slugs from titles: ASCII folding, lower case, single hyphens, at most 96 characters, never a site word', () => {
  const cases: Array<[string, string]> = [
    ['Hello, World!', 'hello-world'],
    ['  Crème brûlée — à la française ', 'creme-brulee-a-la-francaise'],
    ['Straße, Æther, Øre, Łódź', 'strasse-aether-ore-lodz'],
    ['Ｆｕｌｌｗｉｄｔｈ ５', 'fullwidth-5'],
    ['C++ & Node.js: 10 tips', 'c-node-js-10-tips'],
    ['日本語のタイトル', 'post'],
    ['!!!', 'post'],
    ['feed', 'feed-post'],
    ['Admin', 'admin-post'],
    ['a--b__c', 'a-b-c'],
  ];
  for (const [title, slug] of cases) assert.equal(slugFromTitle(title), slug, title);
  const long = slugFromTitle(`${'word '.repeat(40)}end`);
  assert.ok(long.length <= SLUG_MAX, long);
  assert.doesNotMatch(long, /-$/);
  assert.equal(slugFromTitle('x'.repeat(200)).length, SLUG_MAX);
});

test('numbered slugs stay within 96 characters; given slugs are checked', () => {
  assert.equal(numberedSlug('hello-world', 1), 'hello-world');
  assert.equal(numberedSlug('hello-world', 2), 'hello-world-2');
  const base = 'x'.repeat(SLUG_MAX);
  assert.equal(numberedSlug(base, 12).length, SLUG_MAX);
  assert.match(numberedSlug(base, 12), /-12$/);
  assert.equal(slugProblem('my-post-2'), undefined);
  for (const bad of [
    'My-Post',
    'my--post',
    '-my-post',
    'my-post-',
    'my_post',
    'mý-post',
    'feed',
    'x'.repeat(97),
  ]) {
    assert.ok(slugProblem(bad) !== undefined, bad);
  }
});

test('tag identity: case, accents and spacing do not make another tag', () => {
  const same = ['Node.js', 'node js', ' NODE-JS ', 'Nöde.js'];
  assert.deepEqual(new Set(same.map(tagSlug)), new Set(['node-js']));
  assert.notEqual(tagSlug('nodejs'), tagSlug('node js'));
  assert.equal(tagSlug('   '), undefined);
  assert.equal(tagSlug('!!!'), undefined);
});
