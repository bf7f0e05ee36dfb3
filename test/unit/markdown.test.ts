import assert from 'node:assert/strict';
import { test } from 'node:test';
import { renderMarkdown, sanitizeRendered } from '../../src/posts/markdown.ts';

/** Nothing that can run: no script element, no handler, no javascript:/vbscript:/data: URL, no srcdoc, no style. */
function inert(html: string, payload: string) {
  const lower = html.toLowerCase();
  const elements = [
    '<script',
    '<iframe',
    '<svg',
    '<object',
    '<embed',
    '<form',
    '<input',
    '<style',
    '<base',
    '<meta',
    '<link',
  ];
  for (const bad of elements) assert.ok(!lower.includes(bad), `${payload} → ${html}: ${bad}`);
  // Attributes live in tags; escaped text (&lt;img onerror=…&gt;) is only text.
  const tags = (html.match(/<[a-z][^>]*>/gi) ?? []).join(' ');
  assert.doesNotMatch(tags, /\son[a-z]+\s*=/i, `${payload} → ${html}: an event handler`);
  assert.doesNotMatch(tags, /\s(style|srcdoc|formaction|xlink:href)\s*=/i, `${payload} → ${html}`);
  assert.doesNotMatch(tags, /\s(id|name)="(?!section-)/, `${payload} → ${html}: an id that could clobber`);
  for (const [, url] of tags.matchAll(/\s(?:href|src)="([^"]*)"/g)) {
    const bare = url!
      .replace(/&#x?[0-9a-f]+;?|&[a-z]+;/gi, '')
      // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what it removes.
      .replace(/[\s\u0000-\u001f]/g, '')
      .toLowerCase();
    assert.match(bare, /^(https?:|mailto:|\/(?!\/)|#|[^:/]*$)/, `${payload} → ${html}: ${url}`);
  }
}

const PAYLOADS = [
  '<script>alert(1)</script>',
  '<img src=x onerror=alert(1)>',
  '<svg onload=alert(1)>',
  '<iframe srcdoc="<script>alert(1)</script>"></iframe>',
  '<a href="javascript:alert(1)">x</a>',
  '[x](javascript:alert(1))',
  '[x](JaVaScRiPt:alert(1))',
  '[x](java\tscript:alert(1))',
  '[x](&#106;avascript:alert(1))',
  '[x](&#x6A;avascript&#58;alert(1))',
  '[x](  javascript:alert(1))',
  '[x](vbscript:msgbox(1))',
  '[x](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)',
  '[x](//evil.example/path)',
  '[x](\\\\evil.example)',
  '![x](javascript:alert(1))',
  '![x](data:image/svg+xml,<svg onload=alert(1)>)',
  '![x](http://insecure.example/a.png)',
  '![x](https://ok.example/a.png" onerror="alert(1))',
  '![x](https://ok.example/a.png"onerror="alert(1)")',
  '[x](https://ok.example/"><script>alert(1)</script>)',
  '<a id="config" name="config">clobber</a>',
  '<form id="x"><input name="y"></form>',
  '<div style="background:url(javascript:alert(1))">x</div>',
  '<math><mi xlink:href="javascript:alert(1)">x</mi></math>',
  '<details open ontoggle=alert(1)>',
  '[x]: javascript:alert(1)\n\n[y][x]',
  '<https://ok.example> <javascript:alert(1)>',
  '``` onerror=alert(1)\ncode\n```',
];

test('Markdown: the known XSS payloads come out inert, in posts and in comments [ASVS V1.3.1]', () => {
  for (const payload of PAYLOADS) {
    for (const kind of ['post', 'comment'] as const) inert(renderMarkdown(payload, kind), payload);
  }
});

test('the allow-list alone (the second line, should markdown-it ever let HTML through) leaves the same payloads inert [ASVS V1.3.1]', () => {
  for (const payload of PAYLOADS) {
    for (const kind of ['post', 'comment'] as const) inert(sanitizeRendered(payload, kind), payload);
  }
  assert.equal(
    sanitizeRendered(
      '<p><a href="https://ok.example" onclick="x()">a</a><img src="https://ok.example/i.png" onerror="x()"></p>',
      'post',
    ),
    '<p><a href="https://ok.example">a</a><img src="https://ok.example/i.png" /></p>',
  );
});

test('Markdown: CommonMark with tables and strikethrough; raw HTML shown as text; links http(s), mailto or relative; images https only', () => {
  assert.equal(
    renderMarkdown('**bold** and ~~gone~~', 'post'),
    '<p><strong>bold</strong> and <s>gone</s></p>',
  );
  assert.equal(renderMarkdown('<b>raw</b>', 'post'), '<p>&lt;b&gt;raw&lt;/b&gt;</p>');
  assert.match(
    renderMarkdown('| a | b |\n|---|---|\n| 1 | 2 |', 'post'),
    /^<table>\s*<thead>\s*<tr>\s*<th>a<\/th>/,
  );
  assert.equal(
    renderMarkdown('[a](https://ok.example/x)', 'post'),
    '<p><a href="https://ok.example/x">a</a></p>',
  );
  assert.equal(renderMarkdown('[a](/p/other-post)', 'post'), '<p><a href="/p/other-post">a</a></p>');
  assert.equal(
    renderMarkdown('[a](mailto:ada@example.com)', 'post'),
    '<p><a href="mailto:ada@example.com">a</a></p>',
  );
  assert.equal(
    renderMarkdown('[a](javascript:alert(1))', 'post'),
    '<p>[a](javascript:alert(1))</p>',
    'no link at all',
  );
  assert.equal(
    renderMarkdown('![cat](https://ok.example/cat.png)', 'post'),
    '<p><img src="https://ok.example/cat.png" alt="cat" /></p>',
  );
  assert.equal(renderMarkdown('![cat](http://ok.example/cat.png)', 'post'), '<p></p>', 'no image over http');
});

test('Markdown: headings get ids of their own prefix, distinct; comments have no images and their links say nofollow ugc noopener', () => {
  assert.equal(
    renderMarkdown('# Hello, World\n\n## Hello, world!\n\n### Ünïcode', 'post'),
    '<h1 id="section-hello-world">Hello, World</h1>\n<h2 id="section-hello-world-2">Hello, world!</h2>\n<h3 id="section-unicode">Ünïcode</h3>',
  );
  assert.equal(
    renderMarkdown('[site](https://ok.example)', 'comment'),
    '<p><a href="https://ok.example" rel="nofollow ugc noopener">site</a></p>',
  );
  assert.doesNotMatch(renderMarkdown('![cat](https://ok.example/cat.png)', 'comment'), /<img/);
  assert.doesNotMatch(renderMarkdown('# Title', 'comment'), /id=/);
});

test('renderPost: the excerpt is the first 50 words, at most 300 characters, with an ellipsis when cut', async () => {
  const { renderPost } = await import('../../src/posts/markdown.ts');
  assert.equal(renderPost('# Title\n\nOne *two* `three`.').excerpt, 'Title One two three.');
  const many = Array.from({ length: 60 }, (_, i) => `w${i}`).join(' ');
  assert.equal(renderPost(many).excerpt, `${many.split(' ').slice(0, 50).join(' ')}…`);
  const long = renderPost('a'.repeat(59_000)).excerpt;
  assert.equal([...long].length, 300);
  assert.ok(long.endsWith('…'));
  assert.equal(renderPost('word '.repeat(401)).readingMinutes, 3);
  assert.equal(renderPost('x').readingMinutes, 1);
});
