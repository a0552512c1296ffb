/**
 * Parsing of query strings and JSON bodies with Synapse's exact errors (spec §0.3). These only
 * turn text into typed values; every rule about what the values mean lives behind gRPC.
 */
import { Codes, MatrixError, badJson, invalidParam, missingParams } from '../errors';
import { parseJsonObjectText } from '../json-text';
import { parseChoiceParam, parseIntParam } from '../matrix/query-params';

export type Json = Record<string, unknown>;

export class Query {
  constructor(private readonly params: URLSearchParams) {}

  has(name: string): boolean {
    return this.params.has(name);
  }

  /** First occurrence, as Synapse does. */
  string(name: string): string | undefined {
    return this.params.get(name) ?? undefined;
  }

  strings(name: string): string[] {
    return this.params.getAll(name);
  }

  /** A string Synapse decodes as ASCII: 400 M_UNKNOWN "Query parameter '<name>' must be ascii" otherwise. */
  ascii(name: string, opts: { required?: boolean } = {}): string | undefined {
    const raw = this.params.get(name);
    if (raw === null) {
      if (opts.required) throw new MatrixError(400, `Missing string query parameter '${name}'`, Codes.MISSING_PARAM);
      return undefined;
    }
    if (!isAscii(raw)) throw new MatrixError(400, `Query parameter '${name}' must be ascii`, Codes.UNKNOWN);
    return raw;
  }

  /** Every occurrence of a repeated parameter, each decoded as ASCII (as `ascii`). */
  asciiStrings(name: string): string[] {
    const values = this.params.getAll(name);
    if (!values.every(isAscii)) throw new MatrixError(400, `Query parameter '${name}' must be ascii`, Codes.UNKNOWN);
    return values;
  }

  int(name: string, opts: { required?: boolean } = {}): number | undefined {
    const raw = this.params.get(name);
    if (raw === null) {
      if (opts.required) throw new MatrixError(400, `Missing required integer query parameter ${name}`, Codes.MISSING_PARAM);
      return undefined;
    }
    return parseIntParam(name, raw);
  }

  bool(name: string): boolean | undefined {
    const raw = this.params.get(name);
    if (raw === null) return undefined;
    if (raw === 'true') return true;
    if (raw === 'false') return false;
    throw invalidParam(`Boolean query parameter '${name}' must be one of ['true', 'false']`);
  }

  choice<T extends string>(name: string, allowed: readonly T[]): T | undefined {
    const raw = this.params.get(name);
    return raw === null ? undefined : parseChoiceParam(name, raw, allowed);
  }

  /**
   * The text of a JSON query parameter, URL-decoded a second time as Synapse does; the service
   * parses it (parseJsonParam).
   */
  jsonText(name: string): string | undefined {
    const raw = this.params.get(name);
    return raw === null ? undefined : safeDecode(raw);
  }
}

const isAscii = (s: string) => /^[\x00-\x7f]*$/.test(s);

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

/** Parses a request body as a JSON object; `emptyAllowed` treats a zero-length body as `{}`. */
export function parseJsonObject(raw: Buffer, emptyAllowed: boolean): Json {
  if (raw.length === 0 && emptyAllowed) return {};
  return parseJsonObjectText(raw.toString('utf8'), 'Content not JSON.', 'Content must be a JSON object.');
}

/** Typed accessors over a parsed JSON body. */
export class Body {
  constructor(readonly json: Json) {}

  has(key: string): boolean {
    return this.json[key] !== undefined;
  }

  require(...keys: string[]): void {
    const missing = keys.filter((k) => !(k in this.json));
    if (missing.length > 0) throw missingParams(missing);
  }

  /** An optional boolean; `message` is Synapse's error text for a non-boolean. */
  bool(key: string, message = `Param '${key}' must be a boolean, if given`): boolean | undefined {
    const v = this.json[key];
    // Synapse reads these with body.get(key, default) and an isinstance check: null is refused.
    if (v === undefined) return undefined;
    if (typeof v !== 'boolean') throw badJson(message);
    return v;
  }

  string(key: string, message = `Param '${key}' must be a string`): string | undefined {
    const v = this.json[key];
    if (v === undefined || v === null) return undefined;
    if (typeof v !== 'string') throw badJson(message);
    return v;
  }

  int(key: string, message = `Param '${key}' must be an integer`): number | undefined {
    const v = this.json[key];
    if (v === undefined || v === null) return undefined;
    if (typeof v !== 'number' || !Number.isSafeInteger(v)) throw badJson(message);
    return v;
  }

  object(key: string, message = `Param '${key}' must be an object`): Json | undefined {
    const v = this.json[key];
    if (v === undefined || v === null) return undefined;
    if (typeof v !== 'object' || Array.isArray(v)) throw badJson(message);
    return v as Json;
  }

  stringList(key: string, message = `Param '${key}' must be a list of strings`): string[] | undefined {
    const v = this.json[key];
    if (v === undefined || v === null) return undefined;
    if (!Array.isArray(v) || v.some((x) => typeof x !== 'string')) throw badJson(message);
    return v as string[];
  }

  /** Python-style truthiness, for keys Synapse coerces with bool(). */
  truthy(key: string): boolean {
    const v = this.json[key];
    if (Array.isArray(v)) return v.length > 0;
    if (v && typeof v === 'object') return Object.keys(v).length > 0;
    return Boolean(v);
  }
}
