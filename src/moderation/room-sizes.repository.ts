/**
 * Rooms by estimated size on disk (`GET /_synapse/admin/v1/statistics/database/rooms`).
 *
 * The estimate, in bytes: for each per-room table (events, current_state_events,
 * room_memberships, event_relations), the room's rows' own size (the sum of pg_column_size of
 * each whole row, i.e. what its tuples hold, TOASTed content at its stored size) multiplied by the
 * table's ratio of total size on disk (heap, indexes, TOAST) to the size of its heap, so each room
 * carries its share of indexes and storage overhead. Summed over the tables. Unlike Synapse's
 * (planner statistics: only rooms among the most common values of each table get a size, and an
 * unanalysed table is a 500), every room is measured from its rows; the cost is one scan of
 * those tables.
 */
import type { Em } from '../infra/orm';
import { sql } from '../infra/sql';
import { SharedReads } from '../infra/shared-reads';

export const ROOM_SIZE_TABLES = ['events', 'current_state_events', 'room_memberships', 'event_relations'] as const;
export const LARGEST_ROOMS = 10;

export class RoomSizeRepository {
  private readonly reads = new SharedReads<{ roomId: string; estimatedSize: number }[]>();

  /**
   * The largest rooms, as `largest`; a call made while another is being read shares that read
   * (the read goes over every row of the room tables, so admin tools opening pages at once ask the
   * database once). Nothing is kept once the read is done: a later call reads again.
   */
  largestShared(em: Em): Promise<{ roomId: string; estimatedSize: number }[]> {
    return this.reads.share('largest', () => this.largest(em));
  }

  async largest(em: Em, n = LARGEST_ROOMS): Promise<{ roomId: string; estimatedSize: number }[]> {
    const perTable = ROOM_SIZE_TABLES.map(
      (t) =>
        `SELECT t.room_id, sum(pg_column_size(t.*))::float8 * (pg_total_relation_size('${t}')::float8 / greatest(pg_relation_size('${t}'), 8192)) AS bytes FROM ${t} t GROUP BY t.room_id`,
    ).join(' UNION ALL ');
    const rows = await sql<{ room_id: string; size: string }>(
      em,
      `SELECT room_id, round(sum(bytes))::bigint AS size FROM (${perTable}) x GROUP BY room_id ORDER BY size DESC, room_id LIMIT ?`,
      [n],
    );
    return rows.map((r) => ({ roomId: r.room_id, estimatedSize: Number(r.size) }));
  }
}
