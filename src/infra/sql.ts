/**
 * Query helpers for the rooms repositories. All honour the EntityManager's open transaction (a
 * plain `getConnection().execute()` would not).
 */
import { createHash } from 'node:crypto';
import type { Knex } from '@mikro-orm/postgresql';
import type { Em } from './orm';

/** Runs parameterised SQL (`?` placeholders) inside the em's transaction, if any. */
export function sql<T = Record<string, unknown>>(em: Em, text: string, params: unknown[] = []): Promise<T[]> {
  return em.getConnection().execute<T[]>(text, params, 'all', em.getTransactionContext());
}

interface PgConnection {
  query(q: { name: string; text: string; values: unknown[] }): Promise<{ rows: unknown[] }>;
}

const statementNames = new Map<string, string>();
/** Connections already told to keep generic plans for prepared statements. */
const genericPlanConnections = new WeakSet<PgConnection>();

function statementName(text: string): string {
  let name = statementNames.get(text);
  if (!name) {
    name = `rooms_${createHash('sha1').update(text).digest('hex').slice(0, 20)}`;
    statementNames.set(text, name);
  }
  return name;
}

/**
 * Runs SQL with `$n` placeholders as a named prepared statement on the em's transaction
 * connection (or a pooled one): PostgreSQL plans the hot-path statements once per connection
 * instead of on every send, and parameters travel as bind values (no escaping pass over the
 * multi-megabyte JSON documents of bulk writes). Arrays bind as PostgreSQL arrays.
 */
export async function sqlPrepared<T = Record<string, unknown>>(em: Em, text: string, values: unknown[]): Promise<T[]> {
  const trx = em.getTransactionContext() as Knex.Transaction | undefined;
  const client = (trx ?? em.getConnection().getKnex()).client as { acquireConnection(): Promise<PgConnection>; releaseConnection(c: PgConnection): Promise<void> };
  const conn = await client.acquireConnection();
  try {
    if (!genericPlanConnections.has(conn)) {
      // Only named prepared statements (this module's) are affected: PostgreSQL would otherwise
      // keep choosing custom plans for them (their recordset estimates never improve) and re-plan
      // on every call, which costs more than executing them.
      await conn.query({ name: '', text: 'SET plan_cache_mode = force_generic_plan', values: [] } as never);
      genericPlanConnections.add(conn);
    }
    return (await conn.query({ name: statementName(text), text, values })).rows as T[];
  } catch (err) {
    throw em.getDriver().getPlatform().getExceptionConverter().convertException(err as Error);
  } finally {
    await client.releaseConnection(conn);
  }
}

const ARRAY_PARAM = /ARRAY\[\?\]::text\[\]/g;

/** `?` → `$1, $2, …` (the statements given here have no `?` inside literals or operators). */
export function toNumbered(text: string): string {
  let n = 0;
  return text.replace(ARRAY_PARAM, '?::text[]').replace(/\?/g, () => `$${++n}`);
}

const numbered = new Map<string, string>();

/**
 * A read statement written with the `?` placeholders (and `ARRAY[?]::text[]` lists) the rest of
 * the code uses, run as a named prepared statement: statements whose planning costs as much as
 * their execution (page statements with correlated subqueries, trigram searches, whose estimate
 * reads the index) are planned once per connection.
 */
export function preparedRead<T>(em: Em, text: string, params: unknown[]): Promise<T[]> {
  let t = numbered.get(text);
  if (t === undefined) {
    t = toNumbered(text);
    // Statement texts vary only by shape (ranges, filter fields, sort orders), so the map stays small.
    numbered.set(text, t);
  }
  return sqlPrepared<T>(em, t, params);
}
