/**
 * Global account data (Synapse's `/user/{userId}/account_data/{type}`): one JSON object per user
 * and type, replaced whole on every write. Writing `m.ignored_user_list` also rewrites the user's
 * rows in `ignored_users` (the keys of its `ignored_users` object; anything else there ignores
 * nobody, as Synapse reads it), in the same transaction, so pagination sees the list it was given.
 */
import { MatrixError, Codes, forbidden, notFound, parseJsonObjectText } from '../errors';
import type { Em } from '../infra/orm';
import { sql } from '../rooms/sql';

type Json = Record<string, unknown>;

const IGNORED_USER_LIST = 'm.ignored_user_list';

/** The types with their own APIs, refused here as Synapse does (405 M_BAD_JSON). */
const OWN_API: Record<string, string> = {
  'm.fully_read': 'Cannot set m.fully_read through this API. Use /rooms/!roomId:server.name/read_markers',
  'm.push_rules': 'Cannot set m.push_rules through this API. Use /pushrules',
};

/** The users an `m.ignored_user_list` content ignores. */
function ignoredUsersOf(content: Json): string[] {
  const list = content.ignored_users;
  return list && typeof list === 'object' && !Array.isArray(list) ? Object.keys(list) : [];
}

export class AccountDataService {
  /**
   * Stores the JSON object `contentText` for (`userId`, `type`). Checked in Synapse's order: only
   * the user themself may (403), types with their own API are refused (405), then the content must
   * be a JSON object (400 M_NOT_JSON / M_BAD_JSON).
   */
  async set(em: Em, requesterId: string, userId: string, type: string, contentText: string): Promise<void> {
    if (userId !== requesterId) throw forbidden('Cannot add account data for other users.');
    if (type in OWN_API) throw new MatrixError(405, OWN_API[type], Codes.BAD_JSON);
    const content = parseJsonObjectText(contentText, 'Content not JSON.', 'Content must be a JSON object.');
    await em.transactional(async (tx) => {
      await sql(
        tx,
        `INSERT INTO account_data (user_id, account_data_type, content, updated_ts) VALUES (?, ?, ?::jsonb, ?)
         ON CONFLICT (user_id, account_data_type) DO UPDATE SET content = excluded.content, updated_ts = excluded.updated_ts`,
        [userId, type, contentText, Date.now()],
      );
      if (type !== IGNORED_USER_LIST) return;
      await sql(tx, 'DELETE FROM ignored_users WHERE ignorer_user_id = ?', [userId]);
      const ignored = ignoredUsersOf(content);
      if (ignored.length > 0) await sql(tx, 'INSERT INTO ignored_users (ignorer_user_id, ignored_user_id) SELECT ?, u FROM unnest(ARRAY[?]::text[]) AS u ON CONFLICT DO NOTHING', [userId, ignored]);
    });
  }

  /** The stored content as JSON text; 404 "Account data not found" when none, 403 for another user's. */
  async get(em: Em, requesterId: string, userId: string, type: string): Promise<string> {
    if (userId !== requesterId) throw forbidden('Cannot get account data for other users.');
    const rows = await sql<{ content: string }>(em, 'SELECT content::text AS content FROM account_data WHERE user_id = ? AND account_data_type = ?', [userId, type]);
    if (rows.length === 0) throw notFound('Account data not found');
    return rows[0].content;
  }
}
