/**
 * Set-based reads and writes of the shutdown procedure (the events themselves go through
 * RoomService's one write path).
 */
import type { Em } from '../infra/orm';
import { sql } from '../infra/sql';

export interface LocalMember {
  userId: string;
  membership: 'join' | 'invite' | 'knock';
  /**
   * The membership's event id when the room's state is unknown here, so a leave must be written
   * out of band: an invite from another server (an outlier), or any membership of a room the
   * server has left (its current state is gone).
   */
  outOfBandEventId: string | null;
}

/** Queries behind shutting a room down. */
export class RoomShutdownRepository {
  /** Local users whose current membership is one of `memberships`, in user id order, after `afterUserId`. */
  async localMembers(em: Em, roomId: string, memberships: string[], afterUserId: string | null, limit: number): Promise<LocalMember[]> {
    const rows = await sql<{ user_id: string; membership: LocalMember['membership']; event_id: string; outlier: boolean | null }>(
      em,
      `SELECT m.user_id, m.membership, m.event_id,
              e.outlier OR NOT EXISTS (SELECT 1 FROM current_state_events c WHERE c.room_id = m.room_id) AS outlier
         FROM local_current_membership m LEFT JOIN events e ON e.event_id = m.event_id
        WHERE m.room_id = ? AND m.membership = ANY(?::text[]) AND m.user_id > ? ORDER BY m.user_id LIMIT ?`,
      [roomId, `{${memberships.join(',')}}`, afterUserId ?? '', limit],
    );
    return rows.map((r) => ({ userId: r.user_id, membership: r.membership, outOfBandEventId: r.outlier ? r.event_id : null }));
  }

  async countLocalMembers(em: Em, roomId: string, memberships: string[]): Promise<number> {
    const rows = await sql<{ n: string }>(
      em,
      'SELECT count(*) AS n FROM local_current_membership WHERE room_id = ? AND membership = ANY(?::text[])',
      [roomId, `{${memberships.join(',')}}`],
    );
    return Number(rows[0].n);
  }

  /** Marks the room forgotten for these local users (no forgotten-room purge is scheduled). */
  async forget(em: Em, roomId: string, userIds: string[]): Promise<void> {
    if (userIds.length === 0) return;
    await sql(
      em,
      'UPDATE local_current_membership SET forgotten = true WHERE room_id = ? AND user_id IN (SELECT jsonb_array_elements_text(?::jsonb))',
      [roomId, JSON.stringify(userIds)],
    );
  }

  /**
   * A replacement room already created for `oldRoomId` by `creator` (found by the marker in its
   * create event), or null. Lets a shutdown that crashed between creating the room and recording it
   * reuse that room instead of creating a second one.
   */
  async replacementRoom(em: Em, oldRoomId: string, creator: string, markerKey: string): Promise<string | null> {
    const rows = await sql<{ room_id: string }>(
      em,
      `SELECT e.room_id FROM rooms r JOIN events e ON e.room_id = r.room_id AND e.type = 'm.room.create' AND e.state_key = ''
        WHERE r.creator = ? AND e.content ->> ? = ? ORDER BY e.stream_ordering LIMIT 1`,
      [creator, markerKey, oldRoomId],
    );
    return rows[0]?.room_id ?? null;
  }

  /** Local aliases (of `serverName`) pointing at the room. */
  async localAliases(em: Em, roomId: string, serverName: string): Promise<string[]> {
    const rows = await sql<{ room_alias: string }>(
      em,
      "SELECT room_alias FROM room_aliases WHERE room_id = ? AND substr(room_alias, strpos(room_alias, ':') + 1) = ? ORDER BY room_alias",
      [roomId, serverName],
    );
    return rows.map((r) => r.room_alias);
  }

  /** Re-points aliases from one room to another, recording `creator` as their creator. */
  async moveAliases(em: Em, aliases: string[], fromRoomId: string, toRoomId: string, creator: string): Promise<void> {
    if (aliases.length === 0) return;
    await sql(
      em,
      'UPDATE room_aliases SET room_id = ?, creator = ? WHERE room_id = ? AND room_alias IN (SELECT jsonb_array_elements_text(?::jsonb))',
      [toRoomId, creator, fromRoomId, JSON.stringify(aliases)],
    );
  }
}
