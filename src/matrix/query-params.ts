/**
 * Synapse's rules for query parameter values (`parse_integer`, `parse_enum`, JSON parameters),
 * with its exact errors. The REST gateway reads parameters through them, and the services that
 * receive a parameter as given (so that they can check a request's parameters in Synapse's order,
 * after authentication) apply the same rules.
 */
import { Codes, MatrixError, badJson, invalidParam } from '../errors';
import { checkJsonText } from '../json-text';

type Json = Record<string, unknown>;

/**
 * An integer parameter: optional whitespace and sign around decimal digits. 400 M_INVALID_PARAM
 * "Query parameter <name> must be an integer" otherwise (or past the safe integers), and
 * "... must be a positive integer." below zero.
 */
export function parseIntParam(name: string, raw: string): number {
  if (!/^\s*[-+]?\d+\s*$/.test(raw)) throw invalidParam(`Query parameter ${name} must be an integer`);
  const n = Number(raw);
  if (n < 0) throw invalidParam(`Query parameter ${name} must be a positive integer.`);
  if (!Number.isSafeInteger(n)) throw invalidParam(`Query parameter ${name} must be an integer`);
  return n;
}

/** The words of a `dir` parameter, in Synapse's error message order. */
export const DIRECTIONS = ['b', 'f'] as const;

/** `parse(name, raw)` of a parameter that was given; undefined when it was not. */
export function ifGiven<T>(name: string, raw: string | null | undefined, parse: (name: string, raw: string) => T): T | undefined {
  return raw === null || raw === undefined ? undefined : parse(name, raw);
}

/** One of `allowed`: 400 M_INVALID_PARAM "Query parameter '<name>' must be one of [...]" otherwise. */
export function parseChoiceParam<T extends string>(name: string, raw: string, allowed: readonly T[]): T {
  if (!(allowed as readonly string[]).includes(raw))
    throw invalidParam(`Query parameter '${name}' must be one of [${allowed.map((v) => `'${v}'`).join(', ')}]`);
  return raw as T;
}

/** A parameter Synapse decodes as ASCII: 400 M_UNKNOWN "Query parameter '<name>' must be ascii" otherwise. */
export function parseAsciiParam(name: string, raw: string): string {
  if (!/^[\x00-\x7f]*$/.test(raw)) throw new MatrixError(400, `Query parameter '${name}' must be ascii`, Codes.UNKNOWN);
  return raw;
}

/** `true` or `false`: 400 M_INVALID_PARAM "Boolean query parameter '<name>' must be one of ['true', 'false']" otherwise. */
export function parseBoolParam(name: string, raw: string): boolean {
  if (raw === 'true') return true;
  if (raw === 'false') return false;
  throw invalidParam(`Boolean query parameter '${name}' must be one of ['true', 'false']`);
}

/**
 * A JSON object parameter, from its text (once URL-decoded a second time, as Synapse unquotes it):
 * 400 M_NOT_JSON "Query parameter <name> must be a valid JSON object" when it is not JSON; falsy
 * JSON values and `[]` mean absent (undefined); any other value that is not an object is 400
 * M_BAD_JSON "Query parameter <name> must be a JSON object".
 */
export function parseJsonParam(name: string, text: string): Json | undefined {
  const notJson = `Query parameter ${name} must be a valid JSON object`;
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new MatrixError(400, notJson, Codes.NOT_JSON);
  }
  checkJsonText(text, notJson);
  if (!value) return undefined;
  if (typeof value !== 'object' || Array.isArray(value)) {
    if (Array.isArray(value) && value.length === 0) return undefined;
    throw badJson(`Query parameter ${name} must be a JSON object`);
  }
  return value as Json;
}
