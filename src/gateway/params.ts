/**
 * Parsing of query strings and JSON bodies with Synapse's exact errors (spec §0.3). These only
 * turn text into typed values; every rule about what the values mean lives behind gRPC.
 */
import { Codes, MatrixError } from '../errors';
import { parseAsciiParam, parseBoolParam, parseChoiceParam, parseIntParam } from '../matrix/query-params';

export { Body, parseJsonObject, type Json } from '../matrix/json-body';

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
    return parseAsciiParam(name, raw);
  }

  /** Every occurrence of a repeated parameter, each decoded as ASCII (as `ascii`). */
  asciiStrings(name: string): string[] {
    return this.params.getAll(name).map((v) => parseAsciiParam(name, v));
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
    return raw === null ? undefined : parseBoolParam(name, raw);
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

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}
