import { SerializerSelector } from '@fastify/fast-json-stringify-compiler';
import type { FastifySchemaCompiler, FastifySchemaValidationError, FastifySerializerCompiler } from 'fastify';

/**
 * Route schemas compiled when first needed instead of all at start: compiling every route's
 * validators (ajv) and response serialisers (fast-json-stringify) took about 0.9 s of a 2.3 s start
 * in a CPU profile, for routes most processes rarely serve. Each compiler here answers a stand-in
 * that compiles its schema on its first call (a few milliseconds, once per route); `compilePending()`
 * compiles every one not yet compiled, which a test runs so that a schema that cannot compile is found
 * before any request could meet it.
 */
export interface DeferredSchemas {
  /** Fastify's `setValidatorCompiler` argument: `compile` deferred. */
  validator(compile: FastifySchemaCompiler<unknown>): FastifySchemaCompiler<unknown>;
  /** Fastify's `schemaController.compilersFactory.buildSerializer`: its default (fast-json-stringify), deferred. */
  buildSerializer(
    externalSchemas: unknown,
    options: unknown,
  ): FastifySerializerCompiler<unknown> & ((route: unknown) => (data: unknown) => string);
  /** How many stand-ins have not compiled yet. */
  readonly pending: number;
  /** Compiles every stand-in not yet compiled, a few at a time between other work; throws a schema's error. */
  compilePending(): Promise<void>;
}

type Validate = ((data: unknown, context?: unknown) => boolean) & {
  errors?: FastifySchemaValidationError[] | null;
};

export function createDeferredSchemas(): DeferredSchemas {
  const pending = new Set<() => void>();
  const defaultSerializers = SerializerSelector();

  return {
    validator(compile) {
      return (route) => {
        let validate: Validate | undefined;
        const compileNow = () => {
          validate ??= compile(route) as Validate;
          pending.delete(compileNow);
          return validate;
        };
        pending.add(compileNow);
        const standIn: Validate & { schemaEnv?: unknown } = (data, context) => {
          const real = validate ?? compileNow();
          const result = real(data, context);
          standIn.errors = real.errors;
          return result;
        };
        // Fastify hands ajv's data context (so a root value may be coerced) to a function with schemaEnv.
        standIn.schemaEnv = {};
        return standIn;
      };
    },
    buildSerializer(externalSchemas, options) {
      const compile = defaultSerializers(
        externalSchemas,
        options as Parameters<typeof defaultSerializers>[1],
      ) as (route: unknown) => (data: unknown) => string;
      return (route: unknown) => {
        let serialize: ((data: unknown) => string) | undefined;
        const compileNow = () => {
          serialize ??= compile(route);
          pending.delete(compileNow);
          return serialize;
        };
        pending.add(compileNow);
        return (data: unknown) => (serialize ?? compileNow())(data);
      };
    },
    get pending() {
      return pending.size;
    },
    async compilePending() {
      for (const compileNow of [...pending]) {
        compileNow();
        await new Promise((next) => setImmediate(next));
      }
    },
  };
}
