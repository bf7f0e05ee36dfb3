import assert from 'node:assert/strict';
import { test } from 'node:test';
import { matchRedirectUri, redirectUriProblem } from '../../src/oauth/clients/redirect-uris.ts';

test('redirect URIs a client may register: https, loopback http, private-use schemes for public clients; no fragment, no wildcard [RFC9700 §2.1] [RFC8252 §7.1] [RFC8252 §8.4]', () => {
  const allowed: Array<[string, 'public' | 'confidential']> = [
    ['https://app.example.com/callback', 'confidential'],
    ['https://app.example.com/cb?tenant=a', 'public'],
    ['http://127.0.0.1/callback', 'public'],
    ['http://127.0.0.1:8400/callback', 'confidential'],
    ['http://[::1]/cb', 'public'],
    ['http://localhost:3000/cb', 'public'],
    ['com.example.app:/oauth2redirect', 'public'],
  ];
  for (const [uri, type] of allowed) assert.equal(redirectUriProblem(uri, type), undefined, uri);
  const refused: Array<[string, 'public' | 'confidential', RegExp]> = [
    ['https://app.example.com/cb#frag', 'public', /fragment/],
    ['https://*.example.com/cb', 'public', /wildcard/],
    ['https://app.example.com/*', 'public', /wildcard/],
    ['http://app.example.com/cb', 'public', /loopback/],
    ['http://127.0.0.1.example.com/cb', 'public', /loopback/],
    ['/relative/cb', 'public', /absolute/],
    ['https://user:pw@app.example.com/cb', 'public', /user name/],
    ['https://app.example.com/ cb', 'public', /visible ASCII/],
    ['https://app.exämple.com/cb', 'public', /visible ASCII/],
    ['javascript:alert(1)', 'public', /private-use/],
    ['data:text/html,x', 'public', /private-use/],
    ['myapp:/cb', 'public', /private-use/],
    ['com.example.app:/cb', 'confidential', /public clients/],
    [`https://app.example.com/${'a'.repeat(2000)}`, 'public', /at most/],
  ];
  for (const [uri, type, why] of refused) assert.match(redirectUriProblem(uri, type) ?? 'allowed', why, uri);
});

test('the redirect matcher: exact strings, and any port for a registered loopback http URI, each host only itself [RFC9700 §2.1] [RFC8252 §7.3]', () => {
  const registered = [
    'https://app.example.com/callback',
    'http://127.0.0.1/cb',
    'http://localhost:3000/done?x=1',
    'com.example.app:/oauth2redirect',
  ];
  const matches: Array<[string, string]> = [
    ['https://app.example.com/callback', 'https://app.example.com/callback'],
    ['http://127.0.0.1/cb', 'http://127.0.0.1/cb'],
    ['http://127.0.0.1:51234/cb', 'http://127.0.0.1/cb'],
    ['http://127.0.0.1:1/cb', 'http://127.0.0.1/cb'],
    ['http://localhost/done?x=1', 'http://localhost:3000/done?x=1'],
    ['http://localhost:49152/done?x=1', 'http://localhost:3000/done?x=1'],
    ['com.example.app:/oauth2redirect', 'com.example.app:/oauth2redirect'],
  ];
  for (const [presented, match] of matches)
    assert.equal(matchRedirectUri(registered, presented), match, presented);
  const refusals = [
    'https://app.example.com/callback/',
    'https://app.example.com/callback?x=1',
    'https://app.example.com/Callback',
    'HTTPS://app.example.com/callback',
    'https://app.example.com:443/callback',
    'https://app.example.com.evil.com/callback',
    'https://app.example.com/callback#x',
    'http://app.example.com/callback',
    // Each loopback host only itself, and the path and query exactly as registered.
    'http://localhost/cb',
    'http://[::1]/cb',
    'http://127.0.0.1:8080/cb/',
    'http://127.0.0.1:8080/CB',
    'http://127.0.0.1:8080/cb?x=1',
    'http://127.0.0.1:8080/cb#x',
    'http://127.0.0.1.evil.com/cb',
    'http://127.0.0.1:8080@evil.com/cb',
    'http://127.0.0.1:123456/cb',
    'http://localhost:3000/done',
    'https://127.0.0.1/cb',
    'com.example.app:/oauth2redirect/x',
    '',
  ];
  for (const presented of refusals)
    assert.equal(matchRedirectUri(registered, presented), undefined, presented);
});
