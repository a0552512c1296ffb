/**
 * Raw room data for purge tests: one row (or many events) of a room in every room table, written
 * with set-based SQL so a test can build a 100k-event room in a second.
 */
import type { Em } from '../../src/infra/orm';

export interface RawRoomOptions {
  events?: number;
  members?: string[];
  joinedLocal?: string[];
  alias?: string;
  blockedBy?: string;
}

/** Inserts a room with `events` messages plus a row in every other room table. */
export async function insertRawRoom(em: Em, roomId: string, o: RawRoomOptions = {}): Promise<void> {
  const x = (sql: string, params: unknown[] = []) => em.execute(sql, params);
  const now = Date.now();
  await x('INSERT INTO rooms (room_id, room_version, creator, created_ts) VALUES (?, ?, ?, ?)', [roomId, '10', '@creator:test', now]);
  await x('INSERT INTO room_stats (room_id, name, joined_members) VALUES (?, ?, ?)', [roomId, `raw ${roomId}`, (o.members ?? []).length]);
  await x(
    `INSERT INTO events (stream_ordering, event_id, room_id, type, sender, content, origin_server_ts, received_ts, depth)
     SELECT nextval('events_stream_seq'), ? || g, ?, 'm.room.message', '@creator:test', '{"body":"x"}'::jsonb, ? + g, ? + g, g
       FROM generate_series(1, ?) g`,
    [`$${roomId.slice(1, 9)}_`, roomId, now, now, o.events ?? 10],
  );
  const members = o.members ?? ['@creator:test'];
  for (const [i, user] of members.entries()) {
    const eventId = `$m${i}_${roomId}`;
    await x(
      `INSERT INTO events (stream_ordering, event_id, room_id, type, state_key, sender, content, origin_server_ts, received_ts, depth)
       VALUES (nextval('events_stream_seq'), ?, ?, 'm.room.member', ?, ?, '{"membership":"join"}'::jsonb, ?, ?, 0)`,
      [eventId, roomId, user, user, now, now],
    );
    await x("INSERT INTO current_state_events (room_id, type, state_key, event_id, membership) VALUES (?, 'm.room.member', ?, ?, 'join')", [
      roomId,
      user,
      eventId,
    ]);
    await x(
      "INSERT INTO room_memberships (event_id, room_id, user_id, sender, membership, stream_ordering, depth) VALUES (?, ?, ?, ?, 'join', 0, 0)",
      [eventId, roomId, user, user],
    );
  }
  for (const user of o.joinedLocal ?? []) {
    await x("INSERT INTO local_current_membership (room_id, user_id, event_id, membership) VALUES (?, ?, ?, 'join')", [
      roomId,
      user,
      `$lcm_${user}_${roomId}`,
    ]);
  }
  await x("INSERT INTO local_current_membership (room_id, user_id, event_id, membership) VALUES (?, '@gone:test', ?, 'leave')", [
    roomId,
    `$gone_${roomId}`,
  ]);
  if (o.alias) await x('INSERT INTO room_aliases (room_alias, room_id, creator) VALUES (?, ?, ?)', [o.alias, roomId, '@creator:test']);
  await x('INSERT INTO event_forward_extremities (room_id, event_id) VALUES (?, ?)', [roomId, `$fwd_${roomId}`]);
  await x('INSERT INTO event_backward_extremities (room_id, event_id) VALUES (?, ?)', [roomId, `$bwd_${roomId}`]);
  await x(
    "INSERT INTO event_relations (event_id, room_id, relates_to_id, relation_type, sender, stream_ordering) VALUES (?, ?, ?, 'm.annotation', '@creator:test', 0)",
    [`$rel_${roomId}`, roomId, `$${roomId.slice(1, 9)}_1`],
  );
  await x('INSERT INTO room_retention (event_id, room_id, max_lifetime) VALUES (?, ?, 86400000)', [`$ret_${roomId}`, roomId]);
  if (o.blockedBy) await x('INSERT INTO blocked_rooms (room_id, user_id) VALUES (?, ?)', [roomId, o.blockedBy]);
}

/** Rows of the room in each given table. */
export async function countRoomRows(em: Em, roomId: string, tables: readonly string[]): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const t of tables) {
    const rows = await em.execute<{ n: string }[]>(`SELECT count(*) AS n FROM ${t} WHERE room_id = ?`, [roomId]);
    out[t] = Number(rows[0].n);
  }
  return out;
}
