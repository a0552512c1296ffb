/**
 * Queries behind forward extremities and timestamp lookups.
 */
import type { Em } from '../infra/orm';
import { sql, sqlPrepared } from '../infra/sql';
import type { ForwardExtremity } from './room-admin.types';

/**
 * The forward extremities of a room with their depth, reception time and state group. The state
 * group walks `events_room_state_stream_idx` (state events only) back from the extremity: its first
 * entry is the answer, however many messages were sent since the state last changed.
 */
export function forwardExtremitiesStatement(roomId: string): { text: string; params: unknown[] } {
  return {
    text: `SELECT f.event_id, e.depth, e.received_ts,
              (SELECT s.stream_ordering FROM events s
                WHERE s.room_id = f.room_id AND s.stream_ordering <= e.stream_ordering AND s.state_key IS NOT NULL
                  AND NOT s.outlier AND NOT s.soft_failed AND s.rejected_reason IS NULL
                ORDER BY s.stream_ordering DESC LIMIT 1) AS state_group
         FROM event_forward_extremities f LEFT JOIN events e ON e.event_id = f.event_id
        WHERE f.room_id = ? ORDER BY e.stream_ordering DESC NULLS LAST, f.event_id`,
    params: [roomId],
  };
}

/** Reads of forward extremities and event timestamps. */
export class RoomAdminRepository {
  /**
   * Forward extremities of a room with their event's depth, reception time and state group,
   * newest first.
   *
   * The state group names the room state after the event, as Synapse's does: the stream ordering
   * of the state event that made that state (the room's last accepted state event at or before
   * the event, itself included). A room's events are written in one order, so events sharing a
   * state share the group, a state event starts a new one, and the number never changes. Null
   * when the event is gone.
   */
  async forwardExtremities(em: Em, roomId: string): Promise<ForwardExtremity[]> {
    const st = forwardExtremitiesStatement(roomId);
    const rows = await sqlPrepared<{ event_id: string; depth: string | null; received_ts: string | null; state_group: string | null }>(
      em,
      st.text,
      st.params,
    );
    return rows.map((r) => ({
      eventId: r.event_id,
      stateGroup: r.state_group === null ? null : Number(r.state_group),
      depth: Number(r.depth ?? 0),
      receivedTs: Number(r.received_ts ?? 0),
    }));
  }

  /**
   * Deletes every forward extremity of the room except the one with the highest stream ordering,
   * in one statement. Returns the number deleted, or null when the room has none.
   */
  async deleteOlderForwardExtremities(em: Em, roomId: string): Promise<number | null> {
    const rows = await sql<{ total: string; deleted: string }>(
      em,
      `WITH ext AS (
         SELECT f.event_id, row_number() OVER (ORDER BY e.stream_ordering DESC NULLS LAST, f.event_id) AS rank
           FROM event_forward_extremities f LEFT JOIN events e ON e.event_id = f.event_id
          WHERE f.room_id = ?
       ), del AS (
         DELETE FROM event_forward_extremities f USING ext
          WHERE f.room_id = ? AND f.event_id = ext.event_id AND ext.rank > 1
          RETURNING 1
       )
       SELECT (SELECT count(*) FROM ext) AS total, (SELECT count(*) FROM del) AS deleted`,
      [roomId, roomId],
    );
    return Number(rows[0].total) === 0 ? null : Number(rows[0].deleted);
  }
}
