/** Reads and small writes of rooms, memberships, aliases, the directory flag and blocks. */
import type { Em } from '../infra/orm';
import type { BlockInfo, JoinedMember, Membership, MembershipInfo, RoomInfo } from './room.types';
import { sql, sqlPrepared } from '../infra/sql';

/** A local user's joined rooms, in room order: read from `local_current_membership_user_room_idx` alone. */
export const JOINED_ROOM_IDS_SQL =
  "SELECT room_id FROM local_current_membership WHERE user_id = ? AND membership = 'join' ORDER BY room_id";

export class RoomRepository {
  /** The room row, or null when the server does not know the room. */
  async getRoom(em: Em, roomId: string): Promise<RoomInfo | null> {
    const rows = await sqlPrepared<{
      room_id: string;
      room_version: string;
      creator: string | null;
      room_type: string | null;
      is_public: boolean;
      created_ts: string;
      last_depth: string;
    }>(em, 'SELECT room_id, room_version, creator, room_type, is_public, created_ts, last_depth FROM rooms WHERE room_id = ?', [roomId]);
    const r = rows[0];
    if (!r) return null;
    return {
      roomId: r.room_id,
      roomVersion: r.room_version,
      creator: r.creator,
      roomType: r.room_type,
      isPublic: r.is_public,
      createdTs: Number(r.created_ts),
      lastDepth: Number(r.last_depth),
    };
  }

  /** Sets the room's directory flag (rooms and room_stats); false when the room is unknown. */
  async setPublic(em: Em, roomId: string, isPublic: boolean): Promise<boolean> {
    const rows = await sql(
      em,
      `WITH r AS (UPDATE rooms SET is_public = ? WHERE room_id = ? RETURNING room_id)
       UPDATE room_stats s SET is_public = ? FROM r WHERE s.room_id = r.room_id RETURNING s.room_id`,
      [isPublic, roomId, isPublic],
    );
    return rows.length > 0;
  }

  /**
   * A local user's current membership of a room, or null. Prepared: a primary-key lookup plans the
   * same for every value, and the room reads that check it next run prepared statements on the
   * same connection (no switch of `plan_cache_mode` between the two).
   */
  async getLocalMembership(em: Em, roomId: string, userId: string): Promise<MembershipInfo | null> {
    const rows = await sqlPrepared<{ membership: Membership; event_id: string; forgotten: boolean }>(
      em,
      'SELECT membership, event_id, forgotten FROM local_current_membership WHERE room_id = ? AND user_id = ?',
      [roomId, userId],
    );
    return rows[0] ? { membership: rows[0].membership, eventId: rows[0].event_id, forgotten: rows[0].forgotten } : null;
  }

  /** Any user's current membership (from current state), or null. */
  async getMembership(em: Em, roomId: string, userId: string): Promise<{ membership: Membership; eventId: string } | null> {
    const rows = await sqlPrepared<{ membership: Membership; event_id: string }>(
      em,
      "SELECT membership, event_id FROM current_state_events WHERE room_id = ? AND type = 'm.room.member' AND state_key = ?",
      [roomId, userId],
    );
    return rows[0] ? { membership: rows[0].membership, eventId: rows[0].event_id } : null;
  }

  /** Whether some local user is joined (Synapse's "is this server in the room"). */
  async hasLocalJoinedMember(em: Em, roomId: string): Promise<boolean> {
    const rows = await sqlPrepared(em, "SELECT 1 FROM local_current_membership WHERE room_id = ? AND membership = 'join' LIMIT 1", [
      roomId,
    ]);
    return rows.length > 0;
  }

  /** Marks a local membership forgotten; false when the user has no membership row. */
  async forget(em: Em, roomId: string, userId: string): Promise<boolean> {
    const rows = await sql(em, 'UPDATE local_current_membership SET forgotten = true WHERE room_id = ? AND user_id = ? RETURNING 1', [
      roomId,
      userId,
    ]);
    return rows.length > 0;
  }

  /** True when every local membership of the room is forgotten (or there is none). */
  async isLocallyForgotten(em: Em, roomId: string): Promise<boolean> {
    const rows = await sqlPrepared(em, 'SELECT 1 FROM local_current_membership WHERE room_id = ? AND NOT forgotten LIMIT 1', [roomId]);
    return rows.length === 0;
  }

  /** Rooms a local user is currently joined to. */
  async getJoinedRoomIds(em: Em, userId: string): Promise<string[]> {
    const rows = await sqlPrepared<{ room_id: string }>(em, JOINED_ROOM_IDS_SQL, [userId]);
    return rows.map((r) => r.room_id);
  }

  /** Rooms a local user is joined to, invited to or knocking on. */
  async getActiveRoomIds(em: Em, userId: string): Promise<string[]> {
    const rows = await sqlPrepared<{ room_id: string }>(
      em,
      "SELECT room_id FROM local_current_membership WHERE user_id = ? AND membership IN ('join', 'invite', 'knock') ORDER BY room_id",
      [userId],
    );
    return rows.map((r) => r.room_id);
  }

  /**
   * Joined members (local and remote) with their room profile (prepared, as the membership check
   * before it). Each member's profile is looked up by key (`OFFSET 0` keeps the lookup a probe):
   * with a plain join, a generic plan hashed the whole `room_memberships` table while it held a
   * few thousand rows.
   */
  async getJoinedMembers(em: Em, roomId: string): Promise<JoinedMember[]> {
    const rows = await sqlPrepared<{ user_id: string; display_name: string | null; avatar_url: string | null }>(
      em,
      `SELECT c.state_key AS user_id, m.display_name, m.avatar_url FROM current_state_events c
         CROSS JOIN LATERAL (SELECT m.display_name, m.avatar_url FROM room_memberships m WHERE m.event_id = c.event_id OFFSET 0) m
        WHERE c.room_id = ? AND c.type = 'm.room.member' AND c.membership = 'join' ORDER BY c.state_key`,
      [roomId],
    );
    return rows.map((r) => ({ userId: r.user_id, displayName: r.display_name, avatarUrl: r.avatar_url }));
  }

  /** The room an alias points to, or null. */
  async getAlias(em: Em, alias: string): Promise<{ roomId: string; creator: string } | null> {
    const rows = await sqlPrepared<{ room_id: string; creator: string }>(
      em,
      'SELECT room_id, creator FROM room_aliases WHERE room_alias = ?',
      [alias],
    );
    return rows[0] ? { roomId: rows[0].room_id, creator: rows[0].creator } : null;
  }

  /**
   * The room an alias points to and the server names of its joined members (each once, unordered),
   * or null: one statement, reading no member's profile.
   */
  async resolveAlias(em: Em, alias: string): Promise<{ roomId: string; servers: string[] } | null> {
    const rows = await sqlPrepared<{ room_id: string; servers: string[] }>(
      em,
      `SELECT a.room_id, ARRAY(SELECT DISTINCT substr(c.state_key, strpos(c.state_key, ':') + 1) FROM current_state_events c
          WHERE c.room_id = a.room_id AND c.type = 'm.room.member' AND c.membership = 'join') AS servers
         FROM room_aliases a WHERE a.room_alias = ?`,
      [alias],
    );
    return rows[0] ? { roomId: rows[0].room_id, servers: rows[0].servers } : null;
  }

  /** Creates an alias; false when it already exists. */
  async insertAlias(em: Em, alias: string, roomId: string, creator: string): Promise<boolean> {
    const rows = await sql(
      em,
      'INSERT INTO room_aliases (room_alias, room_id, creator) VALUES (?, ?, ?) ON CONFLICT DO NOTHING RETURNING 1',
      [alias, roomId, creator],
    );
    return rows.length > 0;
  }

  /** Deletes an alias and returns the room it pointed to, or null. */
  async deleteAlias(em: Em, alias: string): Promise<string | null> {
    const rows = await sql<{ room_id: string }>(em, 'DELETE FROM room_aliases WHERE room_alias = ? RETURNING room_id', [alias]);
    return rows[0]?.room_id ?? null;
  }

  /** Aliases of a room, sorted. */
  async getAliasesForRoom(em: Em, roomId: string): Promise<string[]> {
    const rows = await sqlPrepared<{ room_alias: string }>(
      em,
      'SELECT room_alias FROM room_aliases WHERE room_id = ? ORDER BY room_alias',
      [roomId],
    );
    return rows.map((r) => r.room_alias);
  }

  /** Whether a room is blocked, and by whom. */
  async getBlock(em: Em, roomId: string): Promise<BlockInfo> {
    const rows = await sqlPrepared<{ user_id: string }>(em, 'SELECT user_id FROM blocked_rooms WHERE room_id = ?', [roomId]);
    return rows[0] ? { blocked: true, userId: rows[0].user_id } : { blocked: false, userId: null };
  }

  /** Blocks a room; an existing block keeps its first blocker. */
  async block(em: Em, roomId: string, userId: string): Promise<void> {
    await sqlPrepared(em, 'INSERT INTO blocked_rooms (room_id, user_id) VALUES (?, ?) ON CONFLICT (room_id) DO NOTHING', [roomId, userId]);
  }

  /** Removes a block (idempotent). */
  async unblock(em: Em, roomId: string): Promise<void> {
    await sqlPrepared(em, 'DELETE FROM blocked_rooms WHERE room_id = ?', [roomId]);
  }

  /** Which of the given rooms exist. */
  async existingRooms(em: Em, roomIds: string[]): Promise<Set<string>> {
    if (roomIds.length === 0) return new Set();
    const rows = await sql<{ room_id: string }>(em, 'SELECT room_id FROM rooms WHERE room_id IN (?)', [roomIds]);
    return new Set(rows.map((r) => r.room_id));
  }
}
