// Spectral's rules for inkgate's OpenAPI document: spectral:oas and the OWASP API Security Top 10
// 2023 ruleset (versions pinned in package.json). test/http/openapi-lint.test.ts runs them on the
// document the server serves, in every `npm test`, and fails on any error or warning. Where a rule
// is narrowed or turned off below, the comment says why; each such choice has its own test.

import owasp from '@stoplight/spectral-owasp-ruleset';
import { oas } from '@stoplight/spectral-rulesets';

const rule = (name) => owasp.rules[name];

// The bounds that API4 (unrestricted resource consumption) asks for protect a server from what it is
// sent: they apply to every request body and parameter, all of which inkgate bounds (the meta test
// walks them too). Response schemas describe what inkgate writes; a maxLength there would be a promise
// nothing checks, so the size rules look at requests only.
const inRequests = (name, type) => ({
  ...rule(name),
  given: ['requestBody', 'parameters'].map((part) => `$.paths[*][*].${part}..[?(@ && @.type == "${type}")]`),
});

export default {
  extends: [oas, owasp],
  rules: {
    'owasp:api4:2023-string-limit': inRequests('owasp:api4:2023-string-limit', 'string'),
    'owasp:api4:2023-array-limit': inRequests('owasp:api4:2023-array-limit', 'array'),
    'owasp:api4:2023-integer-limit': inRequests('owasp:api4:2023-integer-limit', 'integer'),
    'owasp:api4:2023-integer-limit-legacy': inRequests('owasp:api4:2023-integer-limit-legacy', 'integer'),
    'owasp:api4:2023-integer-format': inRequests('owasp:api4:2023-integer-format', 'integer'),
    // Titles, contents, names and passwords are free text: a pattern would refuse what people write.
    // Identifiers and usernames do have one.
    'owasp:api4:2023-string-restricted': 'off',

    // Rate-limit headers on every 2xx and 4xx of the routes inkgate limits (API.md "Abuse limits": a
    // route whose 429 names a RateLimit-Policy). The other routes have no per-route limit to report;
    // login and the password checks are throttles per account and session, with their own 429 and
    // Retry-After, documented where they apply.
    'owasp:api4:2023-rate-limit': {
      ...rule('owasp:api4:2023-rate-limit'),
      given:
        "$.paths[*][?(@ && @.responses && @.responses['429'] && @.responses['429'].headers && @.responses['429'].headers['RateLimit-Policy'])].responses[?(@property.match(/^(2|4)/))]",
    },
    // A 429 on a route that can never answer one would be false: the limited and throttled routes
    // document theirs (test/http/meta.test.ts checks which).
    'owasp:api4:2023-rate-limit-responses-429': 'off',

    // Public on purpose: reading posts, the keys, the metadata, the health checks; signing up, logging
    // in, revoking (RFC 7009 lets a public client revoke its own token) and the links of recovery
    // messages are how one gets credentials in the first place. test/http/meta.test.ts pins the exact
    // list of operations without security, so a new one cannot slip in unnoticed.
    'owasp:api2:2023-write-restricted': 'off',
    'owasp:api2:2023-read-restricted': 'off',
    // A 401 belongs to the operations that need a token: every one of them documents it.
    'owasp:api8:2023-define-error-responses-401': {
      ...rule('owasp:api8:2023-define-error-responses-401'),
      given: '$.paths[*][?(@ && @.security && @.security.length > 0)].responses',
    },
    // A validation error (400 or 422) belongs to the operations that take a body: every one of them
    // documents both. An id in the path that is not a UUID is a 404 (API.md), never a 422.
    'owasp:api8:2023-define-error-validation': {
      ...rule('owasp:api8:2023-define-error-validation'),
      given: '$.paths[*][?(@ && @.requestBody)].responses',
    },
    // No request produces a 500 (test/http/no-500.test.ts): one would be a bug, not part of the contract.
    'owasp:api8:2023-define-error-responses-500': 'off',
    // CORS is closed unless the operator lists origins in CORS_ORIGINS: Access-Control-Allow-Origin is
    // a deployment's choice, not part of the contract.
    'owasp:api8:2023-define-cors-origin': 'off',
    // The links in recovery messages must carry their token: single use, short-lived, stored only as a
    // hash, and the pages send Referrer-Policy: no-referrer. No API operation takes a credential in a URL.
    'owasp:api2:2023-no-credentials-in-url': {
      ...rule('owasp:api2:2023-no-credentials-in-url'),
      given:
        "$.paths[?(@property.indexOf('/account/') !== 0)][*].parameters[?(@ && @.in && @.in.match(/query|path/))].name",
    },
    // The one server is `/`, the instance serving the document, local or production alike.
    'owasp:api9:2023-inventory-environment': 'off',
    // Self-hosted software has no fixed contact: an operator adds their own.
    'info-contact': 'off',
  },
};
