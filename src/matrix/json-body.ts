/**
 * A request body: JSON object text parsed with Synapse's errors ("Content not JSON.", "Content must
 * be a JSON object."), and typed accessors that refuse a value of the wrong type with Synapse's
 * error for it. Services read the `body_json` fields of their requests with these, after
 * authentication; the REST gateway passes every body on as received.
 */
import { badJson, missingParams } from '../errors';
import { parseJsonObjectText } from '../json-text';

export type Json = Record<string, unknown>;

/** Parses a request body (bytes are UTF-8) as a JSON object; `emptyAllowed` treats a zero-length body as `{}`. */
export function parseJsonObject(raw: Uint8Array | string, emptyAllowed: boolean): Json {
  if (raw.length === 0 && emptyAllowed) return {};
  const text = typeof raw === 'string' ? raw : Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength).toString('utf8');
  return parseJsonObjectText(text, 'Content not JSON.', 'Content must be a JSON object.');
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
