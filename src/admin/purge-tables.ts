/**
 * THE list of tables a room purge empties, in the order it empties them. Every table with a
 * `room_id` column must appear either here or in ROOM_TABLES_KEPT_BY_PURGE; a test compares both
 * lists with the live schema, so a module adding a room table cannot be forgotten.
 *
 * Order: the room disappears from listings first (stats), then membership and state, then the big
 * per-event tables, and the `rooms` row last (every other table references it, and a purge that is
 * interrupted must find the room again to resume).
 */

export interface PurgeTable {
  table: string;
  /**
   * A unique integer column with a (room_id, key) index to walk in key order: each batch is one
   * key range (found in the index, then deleted by an index range scan), seeking past the entries
   * the previous batches deleted. Without one the table is deleted in batches of physical row ids.
   */
  walkKey?: string;
}

export const PURGE_TABLES: readonly PurgeTable[] = [
  { table: 'room_stats' },
  { table: 'local_current_membership' },
  { table: 'current_state_events' },
  { table: 'room_aliases' },
  { table: 'room_account_data' },
  { table: 'event_forward_extremities' },
  { table: 'event_backward_extremities' },
  { table: 'room_memberships' },
  { table: 'event_relations' },
  { table: 'event_reports' },
  { table: 'events', walkKey: 'stream_ordering' },
  { table: 'rooms' },
];

/**
 * Room tables a purge deliberately keeps: the block (so a purged room cannot be re-joined) and the
 * retention policy rows (Synapse keeps them too).
 */
export const ROOM_TABLES_KEPT_BY_PURGE: readonly string[] = ['blocked_rooms', 'room_retention'];

/** Rows deleted per statement (each batch is its own short transaction). */
export const PURGE_BATCH_ROWS = 20_000;
