import { AjvCompiler } from '@fastify/ajv-compiler';

/**
 * Two kinds of input pass ajv's schema checks and then fail in PostgreSQL, which answered them
 * with a 500 (docs/decisions/0049-input-guard.md):
 *
 * - a NUL character (`\u0000`, `%00` in a URL) in a string: PostgreSQL text and jsonb cannot
 *   hold it;
 * - a string coerced to a number that is not finite: `limit=Infinity` or `limit=1e309` is
 *   coerced to `Infinity`, and ajv checks neither the coerced type again nor `minimum` and
 *   `maximum` for a number that is not finite.
 *
 * So every validator Fastify compiles is wrapped. Once ajv has validated (and coerced) a value,
 * a checker compiled from the same schema visits only the places the schema declares a string or
 * a number. A part declared as anything (`Type.Unknown()`, such as a CDR batch's records, each
 * checked by its module on its own) is not visited, and a route whose schema declares neither
 * costs nothing.
 */

/** Where the first bad value is, as an ajv instance path, and what is wrong with it. */
interface Finding {
  path: string;
  message: string;
}
type Checker = (value: unknown) => Finding | undefined;

const NUL = '\u0000';

const nulFree: Checker = (value) =>
  typeof value === 'string' && value.includes(NUL)
    ? { path: '', message: 'must not contain NUL characters (\\u0000)' }
    : undefined;

const finite: Checker = (value) =>
  typeof value === 'number' && !Number.isFinite(value)
    ? { path: '', message: 'must be a finite number' }
    : undefined;

type Schema = Record<string, unknown>;

function isSchema(value: unknown): value is Schema {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function within(key: string | number, finding: Finding | undefined): Finding | undefined {
  if (finding) finding.path = `/${key}${finding.path}`;
  return finding;
}

function propertiesChecker(properties: Schema): Checker | undefined {
  const checks: [string, Checker][] = [];
  for (const [key, schema] of Object.entries(properties)) {
    const check = checkerOf(schema);
    if (check) checks.push([key, check]);
  }
  if (checks.length === 0) return undefined;
  return (value) => {
    if (!isPlainObject(value)) return undefined;
    for (const [key, check] of checks) {
      const found = value[key] === undefined ? undefined : within(key, check(value[key]));
      if (found) return found;
    }
    return undefined;
  };
}

/** `Type.Record` and open objects: every key is a string, and every value has one schema. */
function mapChecker(valueSchemas: unknown[]): Checker {
  const valueChecks = valueSchemas.map(checkerOf).filter((check) => check !== undefined);
  return (value) => {
    if (!isPlainObject(value)) return undefined;
    for (const key of Object.keys(value)) {
      const found = within(key, nulFree(key) ?? firstFinding(valueChecks, value[key]));
      if (found) return found;
    }
    return undefined;
  };
}

function itemsChecker(items: unknown): Checker | undefined {
  const check = checkerOf(items);
  if (!check) return undefined;
  return (value) => {
    if (!Array.isArray(value)) return undefined;
    for (let index = 0; index < value.length; index++) {
      const found = within(index, check(value[index]));
      if (found) return found;
    }
    return undefined;
  };
}

function firstFinding(checks: Checker[], value: unknown): Finding | undefined {
  for (const check of checks) {
    const found = check(value);
    if (found) return found;
  }
  return undefined;
}

/** The checks a schema asks for, or undefined when the schema declares no string or number. */
export function checkerOf(schema: unknown): Checker | undefined {
  if (!isSchema(schema)) return undefined;
  const checks: Checker[] = [];
  const types = new Set([schema.type].flat());
  if (types.has('string')) checks.push(nulFree);
  if (types.has('number') || types.has('integer')) checks.push(finite);
  if (isSchema(schema.properties)) {
    const check = propertiesChecker(schema.properties);
    if (check) checks.push(check);
  }
  const mapValues = [
    ...(isSchema(schema.patternProperties) ? Object.values(schema.patternProperties) : []),
    ...(isSchema(schema.additionalProperties) ? [schema.additionalProperties] : []),
  ];
  if (mapValues.length) checks.push(mapChecker(mapValues));
  if (schema.items !== undefined) {
    const check = itemsChecker(schema.items);
    if (check) checks.push(check);
  }
  for (const keyword of ['anyOf', 'oneOf', 'allOf'] as const) {
    const branches = schema[keyword];
    if (!Array.isArray(branches)) continue;
    for (const branch of branches) {
      const check = checkerOf(branch);
      if (check) checks.push(check);
    }
  }
  if (checks.length === 0) return undefined;
  const [only] = checks;
  return checks.length === 1 ? only : (value) => firstFinding(checks, value);
}

/** What Fastify calls with a compiled validator: ajv's signature, with its `errors` and `schemaEnv`. */
interface Validator {
  (data: unknown, context?: { parentData: Record<string, unknown>; parentDataProperty: string }): unknown;
  errors?: unknown;
  schemaEnv?: unknown;
}
type CompileRoute = (route: { schema?: unknown; [key: string]: unknown }) => Validator;
type BuildCompiler = (externalSchemas: unknown, options: unknown) => CompileRoute;

/** Fastify's `schemaController.compilersFactory.buildValidator`: its default ajv compiler, guarded. */
export function guardedValidatorBuilder(): BuildCompiler {
  const buildAjvCompiler = AjvCompiler() as unknown as BuildCompiler;
  return (externalSchemas, options) => {
    const compile = buildAjvCompiler(externalSchemas, options);
    return (route) => {
      const validate = compile(route);
      const check = checkerOf(route.schema);
      if (!check) return validate;
      const guarded: Validator = (data, context) => {
        const valid = validate(data, context);
        if (valid !== true) {
          guarded.errors = validate.errors;
          return valid;
        }
        // Ajv may have replaced a coerced root value in its parent.
        const value = context ? context.parentData[context.parentDataProperty] : data;
        const found = check(value);
        if (!found) return true;
        guarded.errors = [{ keyword: 'guard', instancePath: found.path, message: found.message, params: {} }];
        return false;
      };
      guarded.schemaEnv = validate.schemaEnv;
      return guarded;
    };
  };
}
