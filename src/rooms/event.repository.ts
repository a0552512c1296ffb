/**
 * Reads of events and room state. `EVENT_COLUMNS` + `toStoredEvent` are the one mapping from an
 * `events` row to the domain type; other modules' queries over `events` reuse them.
 */
import type { Em } from '../infra/orm';
import type { Json, StoredEvent } from './room.types';
import { sql, sqlPrepared } from '../infra/sql';

/** Select list for `toStoredEvent` (alias the table `e`). */
export const EVENT_COLUMNS = `e.event_id, e.room_id, e.type, e.state_key, e.sender, e.content, e.origin_server_ts, e.received_ts, e.depth,
  e.stream_ordering, e.prev_events, e.auth_events, e.redacts, e.replaces_state, e.outlier, e.rejected_reason, e.soft_failed,
  e.redacted_by, e.txn_scope, e.txn_id`;

export interface EventRow {
  event_id: string;
  room_id: string;
  type: string;
  state_key: string | null;
  sender: string;
  content: Json;
  origin_server_ts: string | number;
  received_ts: string | number;
  depth: string | number;
  stream_ordering: string | number;
  prev_events: string[];
  auth_events: string[];
  redacts: string | null;
  replaces_state: string | null;
  outlier: boolean;
  rejected_reason: string | null;
  soft_failed: boolean;
  redacted_by: string | null;
  txn_scope: string | null;
  txn_id: string | null;
}

/** Maps a row selected with EVENT_COLUMNS. */
export function toStoredEvent(r: EventRow): StoredEvent {
  return {
    eventId: r.event_id,
    roomId: r.room_id,
    type: r.type,
    stateKey: r.state_key,
    sender: r.sender,
    content: r.content,
    originServerTs: Number(r.origin_server_ts),
    receivedTs: Number(r.received_ts),
    depth: Number(r.depth),
    streamOrdering: Number(r.stream_ordering),
    prevEvents: r.prev_events ?? [],
    authEvents: r.auth_events ?? [],
    redacts: r.redacts,
    replacesState: r.replaces_state,
    outlier: r.outlier,
    rejectedReason: r.rejected_reason,
    softFailed: r.soft_failed,
    redactedBy: r.redacted_by,
    txnScope: r.txn_scope,
    txnId: r.txn_id,
  };
}

/** `types` restricts the types (null = all); `memberKeys` restricts the keys of `m.room.member` only. */
export interface StateFilter {
  types?: string[] | null;
  memberKeys?: string[] | null;
}

/** A stream position given as an SQL expression (one value, computed by the statement) and its parameters. */
export interface PositionSql {
  sql: string;
  params: unknown[];
}

/**
 * The FROM, WHERE and ORDER BY of the state after a stream position over `events e`, for a
 * `SELECT DISTINCT ON (e.type, e.state_key)`: the latest accepted state event of each type and
 * state key at or before the position, as `filter` restricts them. Null when nothing can match.
 */
export function stateAtSelection(
  roomId: string,
  position: number | PositionSql,
  filter: StateFilter,
): { from: string; params: unknown[] } | null {
  const at = typeof position === 'number' ? { sql: '?', params: [position] } : position;
  const where: string[] = ['e.room_id = ?', 'e.state_key IS NOT NULL', `e.stream_ordering <= ${at.sql}`, 'e.rejected_reason IS NULL'];
  const params: unknown[] = [roomId, ...at.params];
  if (filter.types) {
    if (filter.types.length === 0) return null;
    where.push('e.type = ANY(?::text[])');
    params.push(filter.types);
  }
  if (filter.memberKeys) {
    if (filter.memberKeys.length === 0) where.push("e.type <> 'm.room.member'");
    else {
      where.push("(e.type <> 'm.room.member' OR e.state_key = ANY(?::text[]))");
      params.push(filter.memberKeys);
    }
  }
  return { from: `FROM events e WHERE ${where.join(' AND ')} ORDER BY e.type, e.state_key, e.stream_ordering DESC`, params };
}

/**
 * The point lookups and state reads here are prepared statements: their plans are index lookups
 * whatever the values, and the read paths around them (event pages, visibility) are prepared too, so
 * a pooled connection does not switch `plan_cache_mode` (one round trip each time) between them.
 */
export class EventRepository {
  /** One event by id, or null. */
  async getEvent(em: Em, eventId: string): Promise<StoredEvent | null> {
    const rows = await sqlPrepared<EventRow>(em, `SELECT ${EVENT_COLUMNS} FROM events e WHERE e.event_id = ?`, [eventId]);
    return rows[0] ? toStoredEvent(rows[0]) : null;
  }

  /** Events by id (missing ids are skipped), in no particular order. */
  async getEvents(em: Em, eventIds: string[]): Promise<StoredEvent[]> {
    if (eventIds.length === 0) return [];
    const rows = await sqlPrepared<EventRow>(em, `SELECT ${EVENT_COLUMNS} FROM events e WHERE e.event_id = ANY(?::text[])`, [eventIds]);
    return rows.map(toStoredEvent);
  }

  /** Current state events of a room (optionally of one type), ordered by type and state key. */
  async getCurrentState(em: Em, roomId: string, type?: string): Promise<StoredEvent[]> {
    const rows = await sqlPrepared<EventRow>(
      em,
      `SELECT ${EVENT_COLUMNS} FROM current_state_events c JOIN events e ON e.event_id = c.event_id
        WHERE c.room_id = ? ${type === undefined ? '' : 'AND c.type = ?'} ORDER BY c.type, c.state_key`,
      type === undefined ? [roomId] : [roomId, type],
    );
    return rows.map(toStoredEvent);
  }

  /** The current state event for (type, state key), or null. */
  async getStateEvent(em: Em, roomId: string, type: string, stateKey: string): Promise<StoredEvent | null> {
    const rows = await sqlPrepared<EventRow>(
      em,
      `SELECT ${EVENT_COLUMNS} FROM current_state_events c JOIN events e ON e.event_id = c.event_id WHERE c.room_id = ? AND c.type = ? AND c.state_key = ?`,
      [roomId, type, stateKey],
    );
    return rows[0] ? toStoredEvent(rows[0]) : null;
  }

  /**
   * The room state after the event at `streamOrdering` (inclusive): for each (type, state key) the
   * latest accepted state event at or before it, restricted as `filter` says.
   */
  async getStateAt(em: Em, roomId: string, streamOrdering: number, filter: StateFilter = {}): Promise<StoredEvent[]> {
    const sel = stateAtSelection(roomId, streamOrdering, filter);
    if (!sel) return [];
    // Prepared: the plan is the same for every room and position (an index scan of the room's state
    // events up to the position, then a sort), and the reads around it are prepared statements too,
    // so a connection never switches plan_cache_mode between them (one round trip each time).
    const rows = await sqlPrepared<EventRow>(em, `SELECT DISTINCT ON (e.type, e.state_key) ${EVENT_COLUMNS} ${sel.from}`, sel.params);
    return rows.map(toStoredEvent);
  }

  /** Content of events by id (for prev_content and redacted_because), keyed by id. */
  async getContents(em: Em, eventIds: string[]): Promise<Map<string, { content: Json; sender: string }>> {
    const out = new Map<string, { content: Json; sender: string }>();
    if (eventIds.length === 0) return out;
    const rows = await sqlPrepared<{ event_id: string; content: Json; sender: string }>(
      em,
      'SELECT event_id, content, sender FROM events WHERE event_id = ANY(?::text[])',
      [eventIds],
    );
    for (const r of rows) out.set(r.event_id, { content: r.content, sender: r.sender });
    return out;
  }

  /** Room versions of rooms, keyed by room id. */
  async getRoomVersions(em: Em, roomIds: string[]): Promise<Map<string, string>> {
    const out = new Map<string, string>();
    if (roomIds.length === 0) return out;
    const rows = await sqlPrepared<{ room_id: string; room_version: string }>(
      em,
      'SELECT room_id, room_version FROM rooms WHERE room_id = ANY(?::text[])',
      [roomIds],
    );
    for (const r of rows) out.set(r.room_id, r.room_version);
    return out;
  }

  /**
   * The last accepted, non-outlier event of the room at or before a stream position (and, for a
   * historic token, at or before its depth).
   */
  async getLastEventBefore(em: Em, roomId: string, depth: number | null, stream: number): Promise<StoredEvent | null> {
    const rows = await sql<EventRow>(
      em,
      `SELECT ${EVENT_COLUMNS} FROM events e WHERE e.room_id = ? AND e.stream_ordering <= ? ${depth === null ? '' : 'AND e.depth <= ?'}
         AND NOT e.outlier AND e.rejected_reason IS NULL ORDER BY e.stream_ordering DESC LIMIT 1`,
      depth === null ? [roomId, stream] : [roomId, stream, depth],
    );
    return rows[0] ? toStoredEvent(rows[0]) : null;
  }

  /** Whether `sender` already annotated `target` with `key` (same event type). */
  async hasAnnotation(em: Em, target: string, type: string, key: string, sender: string): Promise<boolean> {
    const rows = await sql(
      em,
      `SELECT 1 FROM event_relations r JOIN events e ON e.event_id = r.event_id
        WHERE r.relates_to_id = ? AND r.relation_type = 'm.annotation' AND r.aggregation_key = ? AND r.sender = ? AND e.type = ? AND e.redacted_by IS NULL LIMIT 1`,
      [target, key, sender, type],
    );
    return rows.length > 0;
  }

  /** Whether the event is itself a relation (has an event_relations row). */
  async isRelation(em: Em, eventId: string): Promise<boolean> {
    return (await sqlPrepared(em, 'SELECT 1 FROM event_relations WHERE event_id = ?', [eventId])).length > 0;
  }

  /** Whether some event relates to `eventId`. */
  async isRelationTarget(em: Em, eventId: string): Promise<boolean> {
    return (await sqlPrepared(em, 'SELECT 1 FROM event_relations WHERE relates_to_id = ? LIMIT 1', [eventId])).length > 0;
  }

  /**
   * The room's non-outlier, non-rejected event closest to `ts`: for `b` the latest at or before it,
   * for `f` the earliest at or after it; ties broken by depth then stream ordering (same direction).
   */
  async eventNearTimestamp(
    em: Em,
    roomId: string,
    ts: number,
    dir: 'f' | 'b',
  ): Promise<{ event_id: string; origin_server_ts: number } | null> {
    const [cmp, order] = dir === 'b' ? ['<=', 'DESC'] : ['>=', 'ASC'];
    const rows = await sql<{ event_id: string; origin_server_ts: string }>(
      em,
      `SELECT event_id, origin_server_ts FROM events
        WHERE room_id = ? AND origin_server_ts ${cmp} ? AND NOT outlier AND rejected_reason IS NULL
        ORDER BY origin_server_ts ${order}, depth ${order}, stream_ordering ${order} LIMIT 1`,
      [roomId, ts],
    );
    const r = rows[0];
    return r ? { event_id: r.event_id, origin_server_ts: Number(r.origin_server_ts) } : null;
  }
}
