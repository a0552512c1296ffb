/**
 * The one door to SQL. Every repository and service runs its hand-written statements through the
 * functions here, never through `em.execute` or the connection directly:
 *
 * - `sql` (rows) and `sqlCount` (affected rows) send a plain statement;
 * - `sqlPrepared` sends a named prepared statement, planned once per connection.
 *
 * All of them run on the EntityManager's open transaction when it has one (whoever began it), and
 * otherwise on a connection of the pool, autocommitting. Parameters always travel as bind values,
 * never spliced into the statement text. Statements are written with positional `?` placeholders
 * (numbered `$1, $2, …` here); prepared statements may also use `$n` directly (to repeat one).
 * Errors are converted as MikroORM converts them (`UniqueConstraintViolationException`, … with
 * PostgreSQL's `code`).
 */
import { createHash } from 'node:crypto';
import { db as dbMetrics } from '../metrics/metrics';
import type { Em } from './orm';

/** A row as PostgreSQL returns it (bigint and numeric as strings). */
export type Row = Record<string, unknown>;

interface PgQuery {
  name?: string;
  text: string;
  values: unknown[];
}

interface PgConnection {
  query(q: PgQuery): Promise<{ rows: unknown[]; rowCount: number | null }>;
}

interface PooledClient {
  acquireConnection(): Promise<PgConnection>;
  releaseConnection(c: PgConnection): Promise<void>;
}

/** The knex transaction an EntityManager holds open (a savepoint's links to the one it is in). */
interface Transaction {
  client: PooledClient;
  isCompleted(): boolean;
  parentTransaction?: Transaction;
}

/** What a statement needs of `plan_cache_mode`: see `planFor`. */
type Plan = 'generic' | 'default' | 'any';

/**
 * Runs `fn` on the connection of the em's open transaction (which MikroORM's knex hands back for
 * every acquisition, and keeps on release) or on a pooled one, given back afterwards.
 */
async function onConnection<R>(em: Em, plan: Plan, fn: (conn: PgConnection) => Promise<R>): Promise<R> {
  const trx = em.getTransactionContext() as Transaction | undefined;
  // A statement must never run on a finished transaction's connection: it is back in the pool.
  if (trx?.isCompleted()) throw new Error('the transaction of this EntityManager has already ended');
  const client = trx ? trx.client : (em.getConnection().getKnex().client as PooledClient);
  const conn = await client.acquireConnection();
  try {
    if (plan !== 'any') await planFor(conn, trx, plan);
    return await fn(conn);
  } catch (err) {
    throw em
      .getDriver()
      .getPlatform()
      .getExceptionConverter()
      .convertException(err as Error);
  } finally {
    await client.releaseConnection(conn);
  }
}

/**
 * `plan_cache_mode` as this module left it: per connection outside transactions, and per
 * transaction (SET LOCAL, undone when the transaction ends, committed or not) inside them. Null
 * means unknown (a savepoint inside the transaction changed it, and may have been rolled back).
 * Connections and transactions it never touched have their default.
 */
const sessionPlans = new WeakMap<PgConnection, Exclude<Plan, 'any'>>();
const transactionPlans = new WeakMap<Transaction, Exclude<Plan, 'any'> | null>();

/**
 * Named prepared statements run under `plan_cache_mode = force_generic_plan`: PostgreSQL would
 * otherwise keep choosing custom plans for them (their recordset estimates never improve) and
 * re-plan on every call, which costs more than executing them. Plain statements with parameters
 * run under the default, so that each is planned for its values, as when values were spliced into
 * the text: `force_generic_plan` would apply to them too. The setting changes only when a
 * connection (or transaction) goes from one kind of statement to the other.
 */
async function planFor(conn: PgConnection, trx: Transaction | undefined, plan: Exclude<Plan, 'any'>): Promise<void> {
  let current: Exclude<Plan, 'any'> | null | undefined;
  for (let t = trx; t && current === undefined; t = t.parentTransaction) current = transactionPlans.get(t);
  if (current === undefined) current = sessionPlans.get(conn) ?? 'default';
  if (current === plan) return;
  const value = plan === 'generic' ? 'force_generic_plan' : 'DEFAULT';
  await conn.query({ text: `SET ${trx ? 'LOCAL ' : ''}plan_cache_mode TO ${value}`, values: [] });
  dbMetrics.planSwitched(plan);
  if (!trx) return void sessionPlans.set(conn, plan);
  transactionPlans.set(trx, plan);
  // A savepoint's setting outlives it only if it is released: its parents no longer know theirs.
  for (let t = trx.parentTransaction; t; t = t.parentTransaction) transactionPlans.set(t, null);
}

/**
 * A plain statement's `?` placeholders numbered, with the values to bind. Kept from the
 * knex/MikroORM raw bindings every plain statement was written against: an array parameter stands
 * for the list of its elements (`IN (?)`, `ARRAY[?]::text[]`; nested arrays are flattened, an
 * empty one is an empty list), `\?` is a literal question mark (PostgreSQL's jsonb operators), and
 * a statement given no parameters is sent as written. `??` (an identifier binding) is refused:
 * identifiers are never parameters here.
 */
export function bindPlain(text: string, params: readonly unknown[]): PgQuery {
  if (params.length === 0) return { text, values: [] };
  const values: unknown[] = [];
  let i = 0;
  const out = text.replace(/\\\?|\?\??/g, (token) => {
    if (token === '\\?') return '?';
    if (token === '??') throw new Error('identifier bindings (??) are not supported');
    const v = params[i++];
    if (!Array.isArray(v)) {
      values.push(v === undefined ? null : v);
      return `$${values.length}`;
    }
    return (v.flat(Infinity) as unknown[]).map((e) => (values.push(e === undefined ? null : e), `$${values.length}`)).join(', ');
  });
  return { text: out, values };
}

/** Rows of a plain statement (`?` placeholders; an array parameter is a list of values). */
export function sql<T = Row>(em: Em, text: string, params: readonly unknown[] = []): Promise<T[]> {
  const q = bindPlain(text, params);
  return onConnection(em, q.values.length ? 'default' : 'any', async (conn) => (await conn.query(q)).rows as T[]);
}

/** How many rows a plain statement inserted, updated or deleted (its command tag's count). */
export function sqlCount(em: Em, text: string, params: readonly unknown[] = []): Promise<number> {
  const q = bindPlain(text, params);
  return onConnection(em, q.values.length ? 'default' : 'any', async (conn) => (await conn.query(q)).rowCount ?? 0);
}

const statementNames = new Map<string, string>();

function statementName(text: string): string {
  let name = statementNames.get(text);
  if (!name) {
    name = `rooms_${createHash('sha1').update(text).digest('hex').slice(0, 20)}`;
    statementNames.set(text, name);
  }
  return name;
}

const ARRAY_PARAM = /ARRAY\[\?\]::text\[\]/g;

/**
 * `?` → `$1, $2, …`, and the `ARRAY[?]::text[]` lists plain statements use → `$n::text[]` (a
 * prepared statement binds an array parameter as one PostgreSQL array). Statements given here have
 * no `?` inside literals or operators; a text with `$n` placeholders only is returned unchanged.
 */
export function toNumbered(text: string): string {
  let n = 0;
  return text.replace(ARRAY_PARAM, '?::text[]').replace(/\?/g, () => `$${++n}`);
}

const numbered = new Map<string, string>();

function numberedOnce(text: string): string {
  let t = numbered.get(text);
  if (t === undefined) {
    t = toNumbered(text);
    // Statement texts vary only by shape (ranges, filter fields, sort orders, batch parts), so the map stays small.
    numbered.set(text, t);
  }
  return t;
}

/**
 * Rows of a named prepared statement. PostgreSQL plans it once per connection instead of on every
 * send (worth it for hot-path statements, and for those whose planning costs as much as their
 * execution: page statements with correlated subqueries, trigram searches whose estimate reads the
 * index), and parameters travel as bind values with no escaping pass over the multi-megabyte JSON
 * documents of bulk writes. Placeholders are `?` (numbered here, as `toNumbered` says) or `$n`.
 * An array parameter binds as a PostgreSQL array (`= ANY(?::text[])`), not as a list.
 */
export function sqlPrepared<T = Row>(em: Em, text: string, params: readonly unknown[]): Promise<T[]> {
  const numberedText = numberedOnce(text);
  const q: PgQuery = { name: statementName(numberedText), text: numberedText, values: [...params] };
  // Without parameters PostgreSQL plans generically whatever the setting.
  return onConnection(em, q.values.length ? 'generic' : 'any', async (conn) => (await conn.query(q)).rows as T[]);
}

/**
 * Rows of a statement written for `sqlPrepared` (same placeholders, arrays bound as arrays), sent
 * unnamed so that PostgreSQL plans it for its values on every call: for statements whose best
 * plan depends on a value (a search pattern with or without a trigram of its own) and whose
 * execution outweighs planning.
 */
export function sqlPlannedPerCall<T = Row>(em: Em, text: string, params: readonly unknown[]): Promise<T[]> {
  const q: PgQuery = { text: numberedOnce(text), values: [...params] };
  return onConnection(em, q.values.length ? 'default' : 'any', async (conn) => (await conn.query(q)).rows as T[]);
}

/**
 * The LIMIT written into the text of a prepared page statement for a page of `limit` rows: the
 * power of two at or above it (at least 16). Prepared statements run on generic plans, which know
 * no bound value of `LIMIT $n` and assume a tenth of the rows; with a constant the planner sees a
 * small page and joins it back to its table by index lookups instead of hashing the whole table.
 * The statement cuts the page to its exact size with a bound LIMIT over this one, so one text
 * serves every limit up to the power of two (at most 54 texts per statement shape).
 */
export function pageLimitBound(limit: number): number {
  if (!Number.isSafeInteger(limit) || limit < 0) throw new Error(`a page limit must be a non-negative integer, not ${limit}`);
  let bound = 16;
  while (bound < limit) bound *= 2;
  return bound;
}
