/**
 * The SQL of retention purge jobs (spec §8.4): which rooms a job covers.
 */
import type { Em } from '../infra/orm';
import { sql } from '../infra/sql';

export interface RetentionRoom {
  roomId: string;
  /** The room's own max_lifetime; null when it has no policy or its policy has none. */
  maxLifetime: number | null;
}

export class RetentionRepository {
  /**
   * Rooms whose current `m.room.retention` policy has `minMs < max_lifetime <= maxMs` (bounds
   * omitted when null) and, with `includeNull`, rooms whose policy has no max_lifetime and rooms
   * with no policy at all.
   */
  async roomsInRange(em: Em, minMs: number | null, maxMs: number | null, includeNull: boolean): Promise<RetentionRoom[]> {
    const range: string[] = [];
    const params: unknown[] = [];
    if (minMs !== null) {
      range.push('rr.max_lifetime > ?');
      params.push(minMs);
    }
    if (maxMs !== null) {
      range.push('rr.max_lifetime <= ?');
      params.push(maxMs);
    }
    let inRange = range.length > 0 ? range.join(' AND ') : 'rr.max_lifetime IS NOT NULL';
    if (includeNull) inRange = `(${inRange}) OR rr.max_lifetime IS NULL`;
    const withPolicy = `SELECT c.room_id, rr.max_lifetime FROM current_state_events c JOIN room_retention rr ON rr.event_id = c.event_id
      WHERE c.type = 'm.room.retention' AND c.state_key = '' AND (${inRange})`;
    const withoutPolicy = `SELECT r.room_id, NULL::bigint AS max_lifetime FROM rooms r
      WHERE EXISTS (SELECT 1 FROM current_state_events c WHERE c.room_id = r.room_id)
        AND NOT EXISTS (SELECT 1 FROM current_state_events c JOIN room_retention rr ON rr.event_id = c.event_id
                         WHERE c.room_id = r.room_id AND c.type = 'm.room.retention' AND c.state_key = '')`;
    const rows = await sql<{ room_id: string; max_lifetime: string | null }>(
      em,
      includeNull ? `${withPolicy} UNION ALL ${withoutPolicy} ORDER BY 1` : `${withPolicy} ORDER BY 1`,
      params,
    );
    return rows.map((r) => ({ roomId: r.room_id, maxLifetime: r.max_lifetime === null ? null : Number(r.max_lifetime) }));
  }
}
