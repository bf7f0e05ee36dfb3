import type { IncomingMessage, ServerResponse } from 'node:http';
import helmet, { type HelmetOptions } from 'helmet';

/**
 * The security headers of every answer, computed once by helmet at start (its defaults, with the
 * policy an API wants: nothing may run, be framed or post anywhere) and then set as a fixed map on
 * each reply, instead of helmet working them out again per request. Swagger UI's pages replace the
 * Content-Security-Policy with their own.
 */
export function securityHeaders(options: { crossOrigin: boolean }): Readonly<Record<string, string>> {
  const config: HelmetOptions = {
    contentSecurityPolicy: {
      useDefaults: false,
      directives: {
        defaultSrc: ["'none'"],
        baseUri: ["'none'"],
        formAction: ["'none'"],
        frameAncestors: ["'none'"],
      },
    },
    frameguard: { action: 'deny' },
    // Cross-origin front ends (CORS_ORIGINS) may read answers; otherwise only this origin.
    crossOriginResourcePolicy: { policy: options.crossOrigin ? 'cross-origin' : 'same-origin' },
  };
  const headers: Record<string, string> = {};
  const response = {
    setHeader: (name: string, value: string | number | readonly string[]) => {
      headers[name.toLowerCase()] = String(value);
    },
    removeHeader: (name: string) => {
      delete headers[name.toLowerCase()];
    },
  };
  helmet(config)({} as IncomingMessage, response as unknown as ServerResponse, () => {});
  return Object.freeze(headers);
}
