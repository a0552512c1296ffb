/**
 * Reading query strings as given: the services parse the values (src/matrix/query-params.ts) and
 * the request bodies (src/matrix/json-body.ts) after authentication, with Synapse's errors.
 */

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
