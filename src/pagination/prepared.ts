/**
 * The read path's statements run as named prepared statements: a page statement (correlated
 * subqueries for bundles, redactions, replaced state) costs more to plan than to execute, and a
 * prepared statement is planned once per connection. Written with the `?` placeholders and
 * `ARRAY[?]::text[]` lists the rest of the code uses; arrays are bound as PostgreSQL arrays.
 */
import type { Em } from '../infra/orm';
import { sqlPrepared } from '../rooms/sql';

const ARRAY_PARAM = /ARRAY\[\?\]::text\[\]/g;

/** `?` → `$1, $2, …` (the statements here have no `?` inside literals or operators). */
export function toNumbered(text: string): string {
  let n = 0;
  return text.replace(ARRAY_PARAM, '?::text[]').replace(/\?/g, () => `$${++n}`);
}

const numbered = new Map<string, string>();

/** Runs a read statement as a named prepared statement. */
export function preparedRead<T>(em: Em, text: string, params: unknown[]): Promise<T[]> {
  let t = numbered.get(text);
  if (t === undefined) {
    t = toNumbered(text);
    // Statement texts vary only by shape (ranges, filter fields), so the map stays small.
    numbered.set(text, t);
  }
  return sqlPrepared<T>(em, t, params);
}
