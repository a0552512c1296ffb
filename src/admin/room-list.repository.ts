/**
 * Read queries behind list rooms, room details and room members. Everything is read from the
 * denormalised `room_stats` row (one per room, kept current by every write), so listing and sorting
 * never touch events; each sort key has a (column, room_id) index and name/alias search has
 * trigram indexes.
 */
import type { Em } from '../infra/orm';
import { pageLimitBound, sqlPrepared } from '../infra/sql';
import type { ListRoomsQuery, RoomDetails, RoomOrderBy, RoomSummary } from './room-admin.types';

/** Column and natural (dir=f) direction of each sort key. */
const ORDER_COLUMNS: Record<RoomOrderBy, { column: string; forward: 'ASC' | 'DESC' }> = {
  alphabetical: { column: 'name', forward: 'ASC' },
  size: { column: 'joined_members', forward: 'DESC' },
  name: { column: 'name', forward: 'ASC' },
  canonical_alias: { column: 'canonical_alias', forward: 'ASC' },
  joined_members: { column: 'joined_members', forward: 'DESC' },
  joined_local_members: { column: 'joined_local_members', forward: 'DESC' },
  version: { column: 'room_version', forward: 'DESC' },
  creator: { column: 'creator', forward: 'ASC' },
  encryption: { column: 'encryption', forward: 'ASC' },
  federatable: { column: 'federatable', forward: 'ASC' },
  public: { column: 'is_public', forward: 'ASC' },
  join_rules: { column: 'join_rules', forward: 'ASC' },
  guest_access: { column: 'guest_access', forward: 'ASC' },
  history_visibility: { column: 'history_visibility', forward: 'ASC' },
  state_events: { column: 'state_events', forward: 'DESC' },
};

const STATS_COLUMNS = `s.name, s.canonical_alias, s.joined_members, s.joined_local_members, s.room_version,
  s.creator, s.encryption, s.federatable, s.is_public, s.join_rules, s.guest_access, s.history_visibility,
  s.state_events, s.room_type`;

/**
 * The same summary as JSON, built by PostgreSQL (Synapse's field names; NULL becomes null). A page
 * rendered this way reaches the client without a per-field value to parse, map and re-encode.
 */
const SUMMARY_JSON = `json_build_object('room_id', s.room_id, 'name', s.name, 'canonical_alias', s.canonical_alias,
  'joined_members', s.joined_members, 'joined_local_members', s.joined_local_members, 'version', s.room_version,
  'creator', s.creator, 'encryption', s.encryption, 'federatable', s.federatable, 'public', s.is_public,
  'join_rules', s.join_rules, 'guest_access', s.guest_access, 'history_visibility', s.history_visibility,
  'state_events', s.state_events, 'room_type', s.room_type)`;

/** How a page's rooms come back: typed summaries, or the JSON array text of them. */
export type PageShape = 'rows' | 'json';

interface SummaryRow {
  room_id: string;
  name: string | null;
  canonical_alias: string | null;
  joined_members: number | null;
  joined_local_members: number | null;
  room_version: string | null;
  creator: string | null;
  encryption: string | null;
  federatable: boolean | null;
  is_public: boolean | null;
  join_rules: string | null;
  guest_access: string | null;
  history_visibility: string | null;
  state_events: number | null;
  room_type: string | null;
}

function toSummary(r: SummaryRow): RoomSummary {
  return {
    roomId: r.room_id,
    name: r.name,
    canonicalAlias: r.canonical_alias,
    joinedMembers: Number(r.joined_members ?? 0),
    joinedLocalMembers: Number(r.joined_local_members ?? 0),
    version: r.room_version,
    creator: r.creator,
    encryption: r.encryption,
    federatable: r.federatable === true,
    public: r.is_public === true,
    joinRules: r.join_rules,
    guestAccess: r.guest_access,
    historyVisibility: r.history_visibility,
    stateEvents: Number(r.state_events ?? 0),
    roomType: r.room_type,
  };
}

/**
 * The WHERE clause of a listing. The search is parenthesised (Synapse's intended semantics: the
 * other filters apply to every branch). The term goes into LIKE patterns as Synapse does, so `%`
 * and `_` act as wildcards; it is always a bound parameter. Its name and alias branches are
 * answered from the trigram indexes of migration 11 (a test checks the planner can use them).
 */
export function whereClause(q: Pick<ListRoomsQuery, 'searchTerm' | 'publicRooms' | 'emptyRooms'>): { sql: string; params: unknown[] } {
  const parts: string[] = [];
  const params: unknown[] = [];
  if (q.searchTerm !== null) {
    const pattern = `%${q.searchTerm.toLowerCase()}%`;
    parts.push('(s.name_lower LIKE ? OR s.canonical_alias_lower LIKE ? OR s.room_id = ?)');
    params.push(pattern, `#${pattern}:%`, q.searchTerm);
  }
  if (q.publicRooms !== null) parts.push(q.publicRooms ? 's.is_public' : 'NOT s.is_public');
  if (q.emptyRooms !== null) parts.push(q.emptyRooms ? 's.joined_members = 0' : 's.joined_members <> 0');
  return { sql: parts.length ? `WHERE ${parts.join(' AND ')}` : '', params };
}

/**
 * The FROM clause of a listing page without a search term, and its ORDER BY: the offset is
 * skipped inside a subquery that only needs the (sort column, room_id) index, and the page's rows
 * are looked up by key. Run prepared (generic plans): the constant inner LIMIT tells the planner
 * the page is small (see pageLimitBound), the bound outer one cuts it to the requested size, in
 * the same order.
 */
function pageSql(q: ListRoomsQuery): { from: string; order: string; params: unknown[] } {
  const { column, forward } = ORDER_COLUMNS[q.orderBy];
  const direction = q.dir === 'f' ? forward : forward === 'ASC' ? 'DESC' : 'ASC';
  const order = `s.${column} ${direction}, s.room_id ${direction}`;
  const where = whereClause(q);
  const from = `FROM (SELECT s.room_id FROM (SELECT s.room_id, s.${column} FROM room_stats s ${where.sql}
        ORDER BY ${order} LIMIT ${pageLimitBound(q.limit)} OFFSET ?) s ORDER BY ${order} LIMIT ?) page
      JOIN room_stats s ON s.room_id = page.room_id`;
  return { from, order, params: [...where.params, q.from, q.limit] };
}

/**
 * The statement of a listing page without a search term, and its parameters: the rooms rendered
 * as a JSON array with the number of matches (`total`, `rooms`), or the rooms as rows.
 */
export function roomPageStatement(q: ListRoomsQuery, shape: PageShape): { text: string; params: unknown[] } {
  const p = pageSql(q);
  if (shape === 'rows') return { text: `SELECT s.room_id, ${STATS_COLUMNS} ${p.from} ORDER BY ${p.order}`, params: p.params };
  const c = countSql(q);
  return {
    text: `SELECT ${c.sql} AS total, (SELECT coalesce(json_agg(${SUMMARY_JSON} ORDER BY ${p.order}), '[]')::text ${p.from}) AS rooms`,
    params: [...c.params, ...p.params],
  };
}

/** The number of rooms a listing without a search term matches, as a scalar subquery. */
function countSql(q: Pick<ListRoomsQuery, 'publicRooms' | 'emptyRooms'>): { sql: string; params: unknown[] } {
  const parts: string[] = [];
  const params: unknown[] = [];
  if (q.publicRooms !== null) (parts.push('is_public = ?'), params.push(q.publicRooms));
  if (q.emptyRooms !== null) (parts.push('empty = ?'), params.push(q.emptyRooms));
  return { sql: `(SELECT sum(rooms) FROM room_stats_counts ${parts.length ? `WHERE ${parts.join(' AND ')}` : ''})`, params };
}

/** Read queries over rooms for the admin API. */
export class RoomListRepository {
  /**
   * One page of rooms in the requested order (room id breaks ties, in the same direction). The
   * offset is skipped inside a subquery that only needs the (sort column, room_id) index, so deep
   * pages skip index entries instead of whole rows.
   */
  async listPage(em: Em, q: ListRoomsQuery): Promise<RoomSummary[]> {
    if (q.limit === 0) return [];
    const st = roomPageStatement(q, 'rows');
    return (await sqlPrepared<SummaryRow>(em, st.text, st.params)).map(toSummary);
  }

  /**
   * A page of a search and the number of matches, in one statement. The matches (with their sort
   * key) are gathered once through the trigram/primary-key indexes, then counted and sorted: an
   * ordered walk of the sort index would read every row sorting before the first match (a term
   * matching names that sort late, e.g. "Hidden …" by name, read a third of the table). Prepared:
   * estimating a trigram condition reads the index, so planning cost milliseconds on every call;
   * the plan's shape does not depend on the term (the matches are always gathered first).
   */
  searchPage(em: Em, q: ListRoomsQuery, shape: 'rows'): Promise<{ rooms: RoomSummary[]; total: number }>;
  searchPage(em: Em, q: ListRoomsQuery, shape: 'json'): Promise<{ rooms: string; total: number }>;
  searchPage(em: Em, q: ListRoomsQuery, shape: PageShape): Promise<{ rooms: RoomSummary[] | string; total: number }>;
  async searchPage(em: Em, q: ListRoomsQuery, shape: PageShape): Promise<{ rooms: RoomSummary[] | string; total: number }> {
    const { column, forward } = ORDER_COLUMNS[q.orderBy];
    const direction = q.dir === 'f' ? forward : forward === 'ASC' ? 'DESC' : 'ASC';
    const order = `page.k ${direction}, page.room_id ${direction}`;
    const where = whereClause(q);
    const matches = `WITH m AS MATERIALIZED (SELECT s.room_id, s.${column} AS k FROM room_stats s ${where.sql}),
            page AS (SELECT room_id, k FROM (SELECT room_id, k FROM m page ORDER BY ${order} LIMIT ${pageLimitBound(q.limit)} OFFSET ?) page
                     ORDER BY ${order} LIMIT ?)`;
    // The constant inner LIMIT tells the generic plan the page is small (see pageLimitBound).
    const params = [...where.params, q.from, q.limit];
    if (shape === 'json') {
      const rows = await sqlPrepared<{ total: string; rooms: string }>(
        em,
        `${matches}
         SELECT (SELECT count(*) FROM m) AS total,
                (SELECT coalesce(json_agg(${SUMMARY_JSON} ORDER BY ${order}), '[]')::text FROM page JOIN room_stats s ON s.room_id = page.room_id) AS rooms`,
        params,
      );
      return { rooms: rows[0].rooms, total: Number(rows[0].total) };
    }
    const rows = await sqlPrepared<SummaryRow & { total: string }>(
      em,
      `${matches}
       SELECT (SELECT count(*) FROM m) AS total, s.room_id, ${STATS_COLUMNS}
         FROM (SELECT 1) one LEFT JOIN page ON true LEFT JOIN room_stats s ON s.room_id = page.room_id
        ORDER BY ${order}`,
      params,
    );
    return { rooms: rows.filter((r) => r.room_id !== null).map(toSummary), total: Number(rows[0]?.total ?? 0) };
  }

  /**
   * Number of rooms matching the filters of a listing without a search term (a search counts its
   * matches in `searchPage`): a sum over the trigger-maintained buckets of `room_stats_counts`.
   */
  async count(em: Em, q: Pick<ListRoomsQuery, 'publicRooms' | 'emptyRooms'>): Promise<number> {
    const c = countSql(q);
    const rows = await sqlPrepared<{ n: string | null }>(em, `SELECT ${c.sql} AS n`, c.params);
    return Number(rows[0].n ?? 0);
  }

  /**
   * A page of a listing without a search term rendered as JSON, and the number of matching
   * rooms, in one statement: one round trip and one pool connection per request.
   */
  async listPageJsonWithCount(em: Em, q: ListRoomsQuery): Promise<{ rooms: string; total: number }> {
    if (q.limit === 0) return { rooms: '[]', total: await this.count(em, q) };
    const st = roomPageStatement(q, 'json');
    const rows = await sqlPrepared<{ total: string | null; rooms: string }>(em, st.text, st.params);
    return { rooms: rows[0].rooms, total: Number(rows[0].total ?? 0) };
  }

  /** Details of a known room (null when the rooms table has no row for it). */
  async details(em: Em, roomId: string): Promise<RoomDetails | null> {
    const rows = await sqlPrepared<
      SummaryRow & {
        topic: string | null;
        avatar: string | null;
        tombstone_successor: string | null;
        devices: string;
        forgotten: boolean;
        tombstoned: boolean;
      }
    >(
      em,
      `SELECT r.room_id, ${STATS_COLUMNS}, s.topic, s.avatar, s.tombstone_successor,
         (SELECT count(*) FROM local_current_membership m JOIN devices d ON d.user_id = m.user_id
           WHERE m.room_id = r.room_id AND m.membership = 'join' AND NOT d.hidden) AS devices,
         NOT EXISTS (SELECT 1 FROM local_current_membership m WHERE m.room_id = r.room_id AND NOT m.forgotten) AS forgotten,
         EXISTS (SELECT 1 FROM current_state_events c WHERE c.room_id = r.room_id AND c.type = 'm.room.tombstone' AND c.state_key = '') AS tombstoned
       FROM rooms r LEFT JOIN room_stats s ON s.room_id = r.room_id
       WHERE r.room_id = ?`,
      [roomId],
    );
    const r = rows[0];
    if (!r) return null;
    return {
      ...toSummary(r),
      topic: r.topic,
      avatar: r.avatar,
      joinedLocalDevices: Number(r.devices),
      forgotten: r.forgotten,
      tombstoned: r.tombstoned,
      replacementRoom: r.tombstone_successor,
    };
  }

  async roomExists(em: Em, roomId: string): Promise<boolean> {
    const rows = await sqlPrepared(em, 'SELECT 1 FROM rooms WHERE room_id = ?', [roomId]);
    return rows.length > 0;
  }

  /** Users (local and remote) whose current membership is `join`. */
  async joinedMembers(em: Em, roomId: string): Promise<string[]> {
    const rows = await sqlPrepared<{ state_key: string }>(
      em,
      "SELECT state_key FROM current_state_events WHERE room_id = ? AND type = 'm.room.member' AND membership = 'join' ORDER BY state_key",
      [roomId],
    );
    return rows.map((r) => r.state_key);
  }
}
