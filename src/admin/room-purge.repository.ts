/**
 * The SQL of a room purge: bounded, set-based batches (one statement each) over the tables of
 * purge-tables.ts. Table and column names come from that constant list only; values are bound.
 */
import type { Em } from '../infra/orm';
import type { PurgeTable } from './purge-tables';

export interface BatchResult {
  deleted: number;
  /** The highest walk key deleted (tables with a walk key), to seek past next time. */
  lastKey: number | null;
}

/** Row deletions and the checks a room purge needs. */
export class RoomPurgeRepository {
  /**
   * Deletes up to `limit` rows of the room from one table in one statement. Tables with a walk key
   * are deleted in key order starting after `afterKey`; the others by physical row id.
   */
  async deleteBatch(em: Em, t: PurgeTable, roomId: string, afterKey: number | null, limit: number): Promise<BatchResult> {
    if (t.walkKey) {
      const k = t.walkKey;
      const rows = await em.execute<{ n: string; last: string | null }[]>(
        `WITH batch AS (
           SELECT ${k} FROM ${t.table} WHERE room_id = ? AND ${k} > ? ORDER BY ${k} LIMIT ?
         ), del AS (
           DELETE FROM ${t.table} x USING batch b WHERE x.${k} = b.${k} RETURNING x.${k}
         )
         SELECT count(*) AS n, max(${k}) AS last FROM del`,
        [roomId, afterKey ?? Number.MIN_SAFE_INTEGER, limit],
      );
      return { deleted: Number(rows[0].n), lastKey: rows[0].last === null ? afterKey : Number(rows[0].last) };
    }
    const res = await em.execute<{ affectedRows: number }>(
      `DELETE FROM ${t.table} WHERE ctid = ANY(ARRAY(SELECT ctid FROM ${t.table} WHERE room_id = ? LIMIT ?))`,
      [roomId, limit],
      'run',
    );
    return { deleted: res.affectedRows, lastKey: null };
  }

  /** Events of the room still present (for progress). */
  async countEvents(em: Em, roomId: string): Promise<number> {
    const rows = await em.execute<{ n: string }[]>('SELECT count(*) AS n FROM events WHERE room_id = ?', [roomId]);
    return Number(rows[0].n);
  }

  /** True when at least one local user's current membership is `join`. */
  async anyLocalUserJoined(em: Em, roomId: string): Promise<boolean> {
    const rows = await em.execute<unknown[]>("SELECT 1 FROM local_current_membership WHERE room_id = ? AND membership = 'join' LIMIT 1", [roomId]);
    return rows.length > 0;
  }

  /** Tables of the live schema that have a `room_id` column (for the completeness check). */
  async tablesWithRoomId(em: Em): Promise<string[]> {
    const rows = await em.execute<{ table_name: string }[]>(
      `SELECT c.table_name FROM information_schema.columns c
         JOIN information_schema.tables t ON t.table_schema = c.table_schema AND t.table_name = c.table_name
        WHERE c.table_schema = current_schema() AND c.column_name = 'room_id' AND t.table_type = 'BASE TABLE'
        ORDER BY c.table_name`,
    );
    return rows.map((r) => r.table_name);
  }
}
