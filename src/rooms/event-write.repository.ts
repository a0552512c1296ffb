/**
 * The SQL of the event persister: lock rooms, load what the auth rules need, and write a whole
 * batch (events and every derived row) in one statement of data-modifying CTEs, each fed by one
 * JSON parameter (set-based whatever the batch size).
 */
import type { Em } from '../infra/orm';
import type { Json } from './room.types';
import { sqlPrepared } from '../infra/sql';

export interface LockedRoom {
  roomId: string;
  lastDepth: number;
  roomVersion: string;
}

export interface StateRow {
  room_id: string;
  type: string;
  state_key: string;
  event_id: string;
  membership: string | null;
  sender: string;
  content: Json;
  stream_ordering: string;
  depth: string;
}

export interface TxnRow {
  room_id: string;
  sender: string;
  txn_scope: string;
  txn_id: string;
  event_id: string;
  stream_ordering: string;
  depth: string;
}

export interface BatchContext {
  /** Existing rooms found: their last depth and version. */
  rooms: Map<string, { lastDepth: number; roomVersion: string }>;
  state: StateRow[];
  extremities: { room_id: string; event_id: string }[];
  txns: TxnRow[];
  streams: number[];
}

export interface StateKeyRef {
  room_id: string;
  type: string;
  state_key: string;
}

export interface TxnRef {
  room_id: string;
  sender: string;
  txn_scope: string;
  txn_id: string;
}

/** The rows a batch writes, per table (empty lists are skipped). */
export interface BatchWrite {
  /** Compare-and-set of existing rooms' depth: the whole write happens only if every one holds. */
  guards: { room_id: string; old_depth: number; new_depth: number }[];
  newRooms: Json[];
  newStats: Json[];
  events: Json[];
  currentState: Json[];
  memberships: Json[];
  localMemberships: Json[];
  relations: Json[];
  retention: Json[];
  redactions: { event_id: string; room_id: string; redacted_by: string }[];
  extremities: { room_id: string; event_id: string }[];
  stats: Json[];
  aliases: { room_alias: string; room_id: string; creator: string }[];
}

const EVENT_RECORD = `event_id text, room_id text, type text, state_key text, sender text, content jsonb,
  origin_server_ts bigint, received_ts bigint, depth bigint, stream_ordering bigint, prev_events text[], auth_events text[],
  redacts text, replaces_state text, redacted_by text, txn_scope text, txn_id text, contains_url boolean, labels text[]`;

/** One CTE per table; `?` is that table's JSON parameter. Order matters only for readability. */
/**
 * One CTE per table; its first `?` is the table's JSON rows. UPDATE/DELETE parts also name the
 * target keys as an array (`{IDS}`, matched with `= ANY`), so PostgreSQL probes the primary key
 * for those few rows instead of hash-joining the whole table against a recordset it cannot size.
 */
interface Part {
  key: keyof BatchWrite;
  cte: string;
  ids?: (row: Json) => string;
}

const PARTS: Part[] = [
  {
    key: 'newRooms',
    cte: `INSERT INTO rooms (room_id, room_version, creator, room_type, is_public, created_ts, last_depth)
      SELECT * FROM json_to_recordset(?::json) AS x(room_id text, room_version text, creator text, room_type text, is_public boolean, created_ts bigint, last_depth bigint) WHERE {GATE}`,
  },
  {
    key: 'newStats',
    cte: `INSERT INTO room_stats (room_id, name, canonical_alias, topic, avatar, join_rules, history_visibility, guest_access, encryption,
        federatable, is_public, room_version, creator, room_type, tombstone_successor, joined_members, joined_local_members, invited_members,
        left_members, banned_members, knocked_members, state_events)
      SELECT * FROM json_to_recordset(?::json) AS x(room_id text, name text, canonical_alias text, topic text, avatar text, join_rules text,
        history_visibility text, guest_access text, encryption text, federatable boolean, is_public boolean, room_version text, creator text,
        room_type text, tombstone_successor text, joined_members int, joined_local_members int, invited_members int, left_members int,
        banned_members int, knocked_members int, state_events int) WHERE {GATE}`,
  },
  {
    key: 'events',
    cte: `INSERT INTO events (stream_ordering, event_id, room_id, type, state_key, sender, content, origin_server_ts, received_ts, depth,
        prev_events, auth_events, redacts, replaces_state, redacted_by, txn_scope, txn_id, contains_url, labels)
      SELECT stream_ordering, event_id, room_id, type, state_key, sender, content, origin_server_ts, received_ts, depth,
        prev_events, auth_events, redacts, replaces_state, redacted_by, txn_scope, txn_id, contains_url, labels
      FROM json_to_recordset(?::json) AS x(${EVENT_RECORD}) WHERE {GATE}`,
  },
  {
    key: 'currentState',
    cte: `INSERT INTO current_state_events (room_id, type, state_key, event_id, membership)
      SELECT * FROM json_to_recordset(?::json) AS x(room_id text, type text, state_key text, event_id text, membership text) WHERE {GATE}
      ON CONFLICT (room_id, type, state_key) DO UPDATE SET event_id = EXCLUDED.event_id, membership = EXCLUDED.membership`,
  },
  {
    key: 'memberships',
    cte: `INSERT INTO room_memberships (event_id, room_id, user_id, sender, membership, display_name, avatar_url, stream_ordering, depth,
        received_ts)
      SELECT * FROM json_to_recordset(?::json) AS x(event_id text, room_id text, user_id text, sender text, membership text,
        display_name text, avatar_url text, stream_ordering bigint, depth bigint, received_ts bigint) WHERE {GATE}`,
  },
  {
    key: 'localMemberships',
    cte: `INSERT INTO local_current_membership (room_id, user_id, event_id, membership, forgotten)
      SELECT room_id, user_id, event_id, membership, false FROM json_to_recordset(?::json) AS x(room_id text, user_id text, event_id text, membership text) WHERE {GATE}
      ON CONFLICT (room_id, user_id) DO UPDATE SET event_id = EXCLUDED.event_id, membership = EXCLUDED.membership, forgotten = false`,
  },
  {
    key: 'relations',
    cte: `INSERT INTO event_relations (event_id, room_id, relates_to_id, relation_type, aggregation_key, sender, stream_ordering)
      SELECT * FROM json_to_recordset(?::json) AS x(event_id text, room_id text, relates_to_id text, relation_type text, aggregation_key text,
        sender text, stream_ordering bigint) WHERE {GATE}`,
  },
  {
    key: 'retention',
    cte: `INSERT INTO room_retention (event_id, room_id, min_lifetime, max_lifetime)
      SELECT * FROM json_to_recordset(?::json) AS x(event_id text, room_id text, min_lifetime bigint, max_lifetime bigint) WHERE {GATE}`,
  },
  {
    key: 'redactions',
    cte: `UPDATE events e SET redacted_by = x.redacted_by FROM json_to_recordset(?::json) AS x(event_id text, room_id text, redacted_by text)
      WHERE {GATE} AND e.event_id = ANY({IDS}) AND e.event_id = x.event_id AND e.room_id = x.room_id AND e.redacted_by IS NULL`,
    ids: (r) => r.event_id as string,
  },
  {
    key: 'stats',
    cte: `UPDATE room_stats s SET
        joined_members = s.joined_members + x.dj, joined_local_members = s.joined_local_members + x.djl,
        invited_members = s.invited_members + x.di, left_members = s.left_members + x.dl, banned_members = s.banned_members + x.db,
        knocked_members = s.knocked_members + x.dk, state_events = s.state_events + x.ds,
        name = CASE WHEN x.patch -> 'name' IS NULL THEN s.name ELSE x.patch ->> 'name' END,
        canonical_alias = CASE WHEN x.patch -> 'canonical_alias' IS NULL THEN s.canonical_alias ELSE x.patch ->> 'canonical_alias' END,
        topic = CASE WHEN x.patch -> 'topic' IS NULL THEN s.topic ELSE x.patch ->> 'topic' END,
        avatar = CASE WHEN x.patch -> 'avatar' IS NULL THEN s.avatar ELSE x.patch ->> 'avatar' END,
        join_rules = CASE WHEN x.patch -> 'join_rules' IS NULL THEN s.join_rules ELSE x.patch ->> 'join_rules' END,
        history_visibility = CASE WHEN x.patch -> 'history_visibility' IS NULL THEN s.history_visibility ELSE x.patch ->> 'history_visibility' END,
        guest_access = CASE WHEN x.patch -> 'guest_access' IS NULL THEN s.guest_access ELSE x.patch ->> 'guest_access' END,
        encryption = CASE WHEN x.patch -> 'encryption' IS NULL THEN s.encryption ELSE x.patch ->> 'encryption' END,
        tombstone_successor = CASE WHEN x.patch -> 'tombstone_successor' IS NULL THEN s.tombstone_successor ELSE x.patch ->> 'tombstone_successor' END,
        room_type = CASE WHEN x.patch -> 'room_type' IS NULL THEN s.room_type ELSE x.patch ->> 'room_type' END,
        federatable = CASE WHEN x.patch -> 'federatable' IS NULL THEN s.federatable ELSE (x.patch ->> 'federatable')::boolean END
      FROM json_to_recordset(?::json) AS x(room_id text, dj int, djl int, di int, dl int, db int, dk int, ds int, patch jsonb)
      WHERE {GATE} AND s.room_id = ANY({IDS}) AND s.room_id = x.room_id`,
    ids: (r) => r.room_id as string,
  },
  {
    key: 'aliases',
    cte: `INSERT INTO room_aliases (room_alias, room_id, creator) SELECT * FROM json_to_recordset(?::json) AS x(room_alias text, room_id text, creator text) WHERE {GATE}`,
  },
];

/**
 * A room's forward extremities, read by a plain index scan in key order. Every write replaces
 * them, so the table and its index hold a dead row per write until vacuum comes by. A plain index
 * scan marks the index entries of dead rows as it passes them, and a full index page then drops
 * them instead of splitting; a bitmap scan (which a generic plan picks for `room_id = ANY(...)`)
 * never marks them, and every read went through all the dead entries again. The LIMIT is a
 * subquery so that the planner takes it for a tenth of the rows and keeps the ordered scan; it
 * limits nothing.
 */
const extremitiesOf = (rooms: string, columns: string) =>
  `SELECT r.room_id, x.* FROM unnest(${rooms}) AS r(room_id) CROSS JOIN LATERAL (SELECT ${columns} FROM event_forward_extremities f
    WHERE f.room_id = r.room_id ORDER BY f.event_id LIMIT (SELECT 2147483647)) x`;
const EXTREMITIES_DELETE = `DELETE FROM event_forward_extremities f WHERE {GATE} AND f.ctid = ANY(ARRAY(SELECT ctid FROM (${extremitiesOf('{IDS}', 'f.ctid')}) d))`;
const EXTREMITIES_INSERT = `INSERT INTO event_forward_extremities (room_id, event_id) SELECT * FROM json_to_recordset(?::json) AS x(room_id text, event_id text) WHERE {GATE}`;

export class EventWriteRepository {
  /**
   * Locks the rows of existing rooms (in room id order, so concurrent multi-room batches cannot
   * deadlock) until the transaction ends. Rooms that do not exist are absent from the result.
   */
  async lockRooms(em: Em, roomIds: string[]): Promise<Map<string, LockedRoom>> {
    const out = new Map<string, LockedRoom>();
    if (roomIds.length === 0) return out;
    const rows = await sqlPrepared<{ room_id: string; last_depth: string; room_version: string }>(
      em,
      'SELECT room_id, last_depth, room_version FROM rooms WHERE room_id = ANY($1::text[]) ORDER BY room_id FOR UPDATE',
      [roomIds],
    );
    for (const r of rows) out.set(r.room_id, { roomId: r.room_id, lastDepth: Number(r.last_depth), roomVersion: r.room_version });
    return out;
  }

  /**
   * One round trip for everything a batch needs: the requested current state entries (with their
   * events' sender and content), the forward extremities of `rooms`, earlier sends with the same
   * transaction ids, and `streams` fresh stream orderings.
   */
  async loadContext(em: Em, keys: StateKeyRef[], rooms: string[], txns: TxnRef[], streams: number): Promise<BatchContext> {
    const parts: string[] = [];
    const params: unknown[] = [];
    if (keys.length > 0) {
      // LIMIT 1 keeps each LATERAL a per-key index probe (a plain join would be planned as a hash join
      // over the whole table: the recordset's size is unknown to the planner).
      parts.push(`SELECT 's' AS kind, c.room_id, c.type, c.state_key, c.event_id, c.membership, e.sender, e.content, e.stream_ordering, e.depth, NULL AS txn_scope, NULL AS txn_id
        FROM json_to_recordset(?::json) AS k(room_id text, type text, state_key text)
        CROSS JOIN LATERAL (SELECT * FROM current_state_events c WHERE c.room_id = k.room_id AND c.type = k.type AND c.state_key = k.state_key LIMIT 1) c
        CROSS JOIN LATERAL (SELECT * FROM events e WHERE e.event_id = c.event_id LIMIT 1) e`);
      params.push(JSON.stringify(keys));
    }
    if (rooms.length > 0) {
      parts.push(`SELECT 'r' AS kind, room_id, NULL AS type, NULL AS state_key, NULL AS event_id, room_version AS membership, NULL AS sender, NULL::jsonb AS content,
        NULL::bigint AS stream_ordering, last_depth AS depth, NULL AS txn_scope, NULL AS txn_id FROM rooms WHERE room_id = ANY(?::text[])`);
      params.push(rooms);
      parts.push(`SELECT 'x' AS kind, room_id, NULL AS type, NULL AS state_key, event_id, NULL AS membership, NULL AS sender, NULL::jsonb AS content,
        NULL::bigint AS stream_ordering, NULL::bigint AS depth, NULL AS txn_scope, NULL AS txn_id FROM (${extremitiesOf('?::text[]', 'f.event_id')}) x`);
      params.push(rooms);
    }
    if (txns.length > 0) {
      parts.push(`SELECT 't' AS kind, e.room_id, NULL AS type, NULL AS state_key, e.event_id, NULL AS membership, e.sender, NULL::jsonb AS content,
        e.stream_ordering, e.depth, e.txn_scope, e.txn_id
        FROM json_to_recordset(?::json) AS t(room_id text, sender text, txn_scope text, txn_id text)
        CROSS JOIN LATERAL (SELECT * FROM events e WHERE e.room_id = t.room_id AND e.sender = t.sender AND e.txn_scope = t.txn_scope AND e.txn_id = t.txn_id AND e.txn_id IS NOT NULL LIMIT 1) e`);
      params.push(JSON.stringify(txns));
    }
    if (streams > 0) {
      parts.push(`SELECT 'n' AS kind, NULL AS room_id, NULL AS type, NULL AS state_key, NULL AS event_id, NULL AS membership, NULL AS sender,
        NULL::jsonb AS content, nextval('events_stream_seq') AS stream_ordering, NULL::bigint AS depth, NULL AS txn_scope, NULL AS txn_id FROM generate_series(1, ?::int)`);
      params.push(streams);
    }
    const ctx: BatchContext = { rooms: new Map(), state: [], extremities: [], txns: [], streams: [] };
    if (parts.length === 0) return ctx;
    const rows = await sqlPrepared<StateRow & { kind: string; txn_scope: string; txn_id: string }>(em, parts.join('\nUNION ALL\n'), params);
    for (const r of rows) {
      if (r.kind === 's') ctx.state.push(r);
      else if (r.kind === 'r') ctx.rooms.set(r.room_id, { lastDepth: Number(r.depth), roomVersion: r.membership as string });
      else if (r.kind === 'x') ctx.extremities.push({ room_id: r.room_id, event_id: r.event_id });
      else if (r.kind === 't') ctx.txns.push(r);
      else ctx.streams.push(Number(r.stream_ordering));
    }
    ctx.streams.sort((a, b) => a - b);
    return ctx;
  }

  /**
   * Writes a batch in one statement. With guards, every part is conditional on all of them
   * holding, and a statement in which only some held fails as a whole; returns how many held
   * (fewer than asked = nothing was written).
   */
  async write(em: Em, w: BatchWrite): Promise<number> {
    const ctes: string[] = [];
    const params: unknown[] = [];
    // Every part is gated on all guards holding: a lost race writes nothing. The guard count is a
    // parameter so the statement text (and its prepared plan) depends only on the batch's shape.
    const add = (sql: string, rows: Json[] | null, ids?: (row: Json) => string, sourceRows: Json[] = rows ?? []) => {
      const text = sql.replace(/\?|\{GATE\}|\{IDS\}/g, (token) => {
        if (token === '?') params.push(JSON.stringify(rows));
        else if (token === '{IDS}') params.push([...new Set(sourceRows.map(ids as (row: Json) => string))]);
        else if (w.guards.length === 0) return 'TRUE';
        else params.push(w.guards.length);
        return token === '?' ? '?' : token === '{IDS}' ? '?::text[]' : '(SELECT count(*) FROM w0) = ?::int';
      });
      ctes.push(`w${ctes.length} AS (${text})`);
    };
    if (w.guards.length > 0) add(w.guards.length === 1 ? GUARD : GUARD_IN_ROOM_ORDER, w.guards, (g) => g.room_id as string);
    for (const p of PARTS) {
      const rows = w[p.key] as Json[];
      if (rows.length > 0) add(p.cte, rows, p.ids);
    }
    if (w.extremities.length > 0) {
      // The DELETE sees only the pre-statement rows, never the new extremity inserted beside it.
      add(EXTREMITIES_DELETE, null, (x) => x.room_id as string, w.extremities);
      add(EXTREMITIES_INSERT, w.extremities);
    }
    if (ctes.length === 0) return 0;
    let result = '0';
    if (w.guards.length > 0) {
      // Raises (the statement then writes nothing at all) if only some of the rooms' guards held.
      result = 'CASE WHEN event_write_guards_hold((SELECT count(*) FROM w0), ?::int) THEN (SELECT count(*) FROM w0) ELSE 0 END';
      params.push(w.guards.length);
    }
    try {
      const rows = await sqlPrepared<{ guarded: string }>(em, `WITH ${ctes.join(',\n')} SELECT ${result} AS guarded`, params);
      return Number(rows[0]?.guarded ?? 0);
    } catch (err) {
      // Outside a transaction, a partly held guard is a lost race like any other: nothing was
      // written and the caller retries with the rooms locked.
      if (!em.getTransactionContext() && (err as { code?: string }).code === PARTIAL_GUARD) return 0;
      throw err;
    }
  }
}

/** SQLSTATE raised by event_write_guards_hold (migration 0009). */
const PARTIAL_GUARD = 'SR001';

const GUARD = `UPDATE rooms r SET last_depth = x.new_depth FROM json_to_recordset(?::json) AS x(room_id text, old_depth bigint, new_depth bigint)
  WHERE r.room_id = ANY({IDS}) AND r.room_id = x.room_id AND r.last_depth = x.old_depth RETURNING r.room_id`;
/**
 * The guard of several rooms. Their rows are locked in room id order first, as the locking pass
 * (lockRooms) does: the UPDATE alone would lock them in whatever order its plan visits them, and
 * an optimistic write and a locking transaction over the same rooms could then deadlock. Every
 * row the UPDATE changes has been locked by the ordered subquery before.
 */
const GUARD_IN_ROOM_ORDER = `UPDATE rooms r SET last_depth = x.new_depth FROM json_to_recordset(?::json) AS x(room_id text, old_depth bigint, new_depth bigint),
    (SELECT room_id FROM rooms WHERE room_id = ANY({IDS}) ORDER BY room_id FOR UPDATE) l
  WHERE r.room_id = l.room_id AND r.room_id = x.room_id AND r.last_depth = x.old_depth RETURNING r.room_id`;
