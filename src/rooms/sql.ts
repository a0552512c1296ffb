/**
 * Query helpers for the rooms repositories. Both honour the EntityManager's open transaction
 * (a plain `getConnection().execute()` would not).
 */
import type { Em } from '../infra/orm';

/** Runs parameterised SQL (`?` placeholders) inside the em's transaction, if any. */
export function sql<T = Record<string, unknown>>(em: Em, text: string, params: unknown[] = []): Promise<T[]> {
  return em.getConnection().execute<T[]>(text, params, 'all', em.getTransactionContext());
}

/**
 * Runs SQL whose parameters are sent as bind values instead of being inlined in the text: used
 * for the multi-megabyte JSON documents of bulk writes, so no escaping pass runs over them.
 * Placeholders are `?`; array parameters must not be used (pass JSON).
 */
export async function sqlBound<T = Record<string, unknown>>(em: Em, text: string, params: unknown[]): Promise<T[]> {
  const knex = em.getConnection().getKnex();
  const query = knex.raw(text, params as unknown as readonly string[]);
  const trx = em.getTransactionContext();
  if (trx) query.transacting(trx);
  try {
    const res = (await query) as { rows: T[] };
    return res.rows;
  } catch (err) {
    throw em.getDriver().getPlatform().getExceptionConverter().convertException(err as Error);
  }
}
