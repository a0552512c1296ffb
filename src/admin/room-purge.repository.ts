/**
 * The SQL of a room purge: bounded, set-based batches (one statement each) over the tables of
 * purge-tables.ts. Table and column names come from that constant list only; values are bound.
 */
import type { Em } from '../infra/orm';
import { sql, sqlCount } from '../infra/sql';
import type { PurgeTable } from './purge-tables';

export interface BatchResult {
  deleted: number;
  /** The highest walk key deleted (tables with a walk key), to seek past next time. */
  lastKey: number | null;
  /** Nothing of the room is left in the table. */
  done: boolean;
}

/** Row deletions and the checks a room purge needs. */
export class RoomPurgeRepository {
  /**
   * Deletes up to `limit` rows of the room from one table. Tables with a walk key are deleted by
   * key range: the upper key of the batch is found in the (room_id, key) index, then one DELETE
   * takes the range (an index range scan, no per-row join). The others are deleted by physical row
   * id. Both statements of a batch run in the caller's transaction.
   */
  async deleteBatch(em: Em, t: PurgeTable, roomId: string, afterKey: number | null, limit: number): Promise<BatchResult> {
    if (t.walkKey) {
      const k = t.walkKey;
      const lower = afterKey ?? Number.MIN_SAFE_INTEGER;
      const upperRows = await sql<{ key: string }>(
        em,
        `SELECT ${k} AS key FROM ${t.table} WHERE room_id = ? AND ${k} > ? ORDER BY ${k} OFFSET ? LIMIT 1`,
        [roomId, lower, limit - 1],
      );
      const upper = upperRows.length ? Number(upperRows[0].key) : null;
      const deleted = await sqlCount(
        em,
        `DELETE FROM ${t.table} WHERE room_id = ? AND ${k} > ?${upper === null ? '' : ` AND ${k} <= ?`}`,
        upper === null ? [roomId, lower] : [roomId, lower, upper],
      );
      return { deleted, lastKey: upper, done: upper === null };
    }
    const deleted = await sqlCount(
      em,
      `DELETE FROM ${t.table} WHERE ctid = ANY(ARRAY(SELECT ctid FROM ${t.table} WHERE room_id = ? LIMIT ?))`,
      [roomId, limit],
    );
    return { deleted, lastKey: null, done: deleted < limit };
  }

  /** Events of the room still present (for progress). */
  async countEvents(em: Em, roomId: string): Promise<number> {
    const rows = await sql<{ n: string }>(em, 'SELECT count(*) AS n FROM events WHERE room_id = ?', [roomId]);
    return Number(rows[0].n);
  }

  /** True when at least one local user's current membership is `join`. */
  async anyLocalUserJoined(em: Em, roomId: string): Promise<boolean> {
    const rows = await sql(em, "SELECT 1 FROM local_current_membership WHERE room_id = ? AND membership = 'join' LIMIT 1", [roomId]);
    return rows.length > 0;
  }

  /** Tables of the live schema that have a `room_id` column (for the completeness check). */
  async tablesWithRoomId(em: Em): Promise<string[]> {
    const rows = await sql<{ table_name: string }>(
      em,
      `SELECT c.table_name FROM information_schema.columns c
         JOIN information_schema.tables t ON t.table_schema = c.table_schema AND t.table_name = c.table_name
        WHERE c.table_schema = current_schema() AND c.column_name = 'room_id' AND t.table_type = 'BASE TABLE'
        ORDER BY c.table_name`,
    );
    return rows.map((r) => r.table_name);
  }
}
