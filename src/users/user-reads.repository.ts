/** Queries behind the per-user admin reads: rooms and memberships, counts, devices, name checks. */
import type { Em } from '../infra/orm';
import { sql, sqlPrepared } from '../infra/sql';

export interface DeviceRow {
  device_id: string;
  user_id: string;
  display_name: string | null;
  last_seen_ts: number | null;
  last_seen_ip: string | null;
  last_seen_user_agent: string | null;
}

const DEVICE_COLUMNS = 'device_id, user_id, display_name, last_seen_ts, ip AS last_seen_ip, user_agent AS last_seen_user_agent';
const toDevice = (r: DeviceRow): DeviceRow => ({ ...r, last_seen_ts: r.last_seen_ts === null ? null : Number(r.last_seen_ts) });

/**
 * Invites the user sent, received at or after a time: a walk of `room_memberships_invite_sender_ts_idx`
 * (the time of each membership event is kept in its row).
 */
export const SENT_INVITE_COUNT_SQL = `SELECT count(*) AS n FROM room_memberships
  WHERE sender = ? AND membership = 'invite' AND received_ts >= ?`;

/**
 * Distinct rooms the user joined at or after a time, rooms since left included: a walk of
 * `room_memberships_join_user_ts_idx`, which holds the room id.
 */
export const CUMULATIVE_JOINED_ROOM_COUNT_SQL = `SELECT count(DISTINCT room_id) AS n FROM room_memberships
  WHERE user_id = ? AND membership = 'join' AND received_ts >= ?`;

/**
 * A user's current memberships (of one kind, or all), in room order, from the member index of
 * current state (`current_state_events_member_room_idx`, which holds the room id).
 */
export function membershipsStatement(userId: string, membership?: string): { text: string; params: unknown[] } {
  return {
    text: `SELECT room_id, membership FROM current_state_events
        WHERE type = 'm.room.member' AND state_key = ? ${membership ? 'AND membership = ?' : ''} ORDER BY room_id`,
    params: membership ? [userId, membership] : [userId],
  };
}

export class UserReadsRepository {
  /** The user's current membership in each room, from current state (any server's user). */
  async memberships(em: Em, userId: string, membership?: string): Promise<{ room_id: string; membership: string }[]> {
    const st = membershipsStatement(userId, membership);
    return sqlPrepared(em, st.text, st.params);
  }

  /** Invite events sent by the user and received at or after `fromTs` (repeat invites all count). */
  async sentInviteCount(em: Em, userId: string, fromTs: number): Promise<number> {
    const rows = await sqlPrepared<{ n: string }>(em, SENT_INVITE_COUNT_SQL, [userId, fromTs]);
    return Number(rows[0].n);
  }

  /** Distinct rooms with a join event of the user received at or after `fromTs`. */
  async cumulativeJoinedRoomCount(em: Em, userId: string, fromTs: number): Promise<number> {
    const rows = await sqlPrepared<{ n: string }>(em, CUMULATIVE_JOINED_ROOM_COUNT_SQL, [userId, fromTs]);
    return Number(rows[0].n);
  }

  /** Whether a user id is taken, whatever the case of its letters. */
  async userIdTakenIgnoringCase(em: Em, userId: string): Promise<boolean> {
    return (await sqlPrepared(em, 'SELECT 1 FROM users WHERE lower(name) = lower(?) LIMIT 1', [userId])).length > 0;
  }

  /** Whether the user is registered: one prepared index lookup, no entity loaded. */
  async userExists(em: Em, userId: string): Promise<boolean> {
    return (await sqlPrepared(em, 'SELECT 1 FROM users WHERE name = ?', [userId])).length > 0;
  }

  /** The user's devices, hidden ones left out. */
  async devices(em: Em, userId: string): Promise<DeviceRow[]> {
    return (
      await sqlPrepared<DeviceRow>(em, `SELECT ${DEVICE_COLUMNS} FROM devices WHERE user_id = ? AND NOT hidden ORDER BY device_id`, [
        userId,
      ])
    ).map(toDevice);
  }

  async device(em: Em, userId: string, deviceId: string): Promise<DeviceRow | null> {
    const rows = await sqlPrepared<DeviceRow>(
      em,
      `SELECT ${DEVICE_COLUMNS} FROM devices WHERE user_id = ? AND device_id = ? AND NOT hidden`,
      [userId, deviceId],
    );
    return rows[0] ? toDevice(rows[0]) : null;
  }

  /** Renames a device; false when it does not exist. */
  async renameDevice(em: Em, userId: string, deviceId: string, displayName: string): Promise<boolean> {
    const rows = await sql(em, 'UPDATE devices SET display_name = ? WHERE user_id = ? AND device_id = ? AND NOT hidden RETURNING 1', [
      displayName,
      userId,
      deviceId,
    ]);
    return rows.length > 0;
  }

  /**
   * Deletes devices and every access token bound to them, in one statement. The token deletions
   * are announced on `sra_auth` (migration 7), so every instance stops accepting them at commit.
   */
  async deleteDevices(em: Em, userId: string, deviceIds: string[]): Promise<void> {
    if (deviceIds.length === 0) return;
    // Prepared: the id list binds as one PostgreSQL array (a plain statement takes an array as a list).
    await sqlPrepared(
      em,
      `WITH tokens AS (DELETE FROM access_tokens WHERE user_id = $1 AND device_id = ANY($2::text[]))
       DELETE FROM devices WHERE user_id = $1 AND device_id = ANY($2::text[])`,
      [userId, deviceIds],
    );
  }

  /**
   * Sets the password hash and, with `logout`, deletes every device and token of the user except
   * (when given) one device and one token, in one statement. False when the user does not exist.
   */
  async setPassword(
    em: Em,
    userId: string,
    hash: string,
    logout: boolean,
    keepDeviceId: string | null,
    keepTokenId: number | null,
  ): Promise<boolean> {
    const rows = await sql<{ n: string }>(
      em,
      `WITH u AS (UPDATE users SET password_hash = ? WHERE name = ? RETURNING name),
        d AS (DELETE FROM devices WHERE ?::boolean AND user_id IN (SELECT name FROM u) AND device_id IS DISTINCT FROM ?::text),
        t AS (DELETE FROM access_tokens WHERE ?::boolean AND user_id IN (SELECT name FROM u) AND id IS DISTINCT FROM ?::bigint)
      SELECT count(*) AS n FROM u`,
      [hash, userId, logout, keepDeviceId, logout, keepTokenId],
    );
    return Number(rows[0].n) > 0;
  }
}
