/**
 * The SQL of `/messages` and event context: one round trip for everything the membership gate and
 * the visibility computation need, then the page itself — an index range scan over
 * events(room_id, depth, stream_ordering) per visible range, never a scan of invisible history.
 */
import type { Em } from '../infra/orm';
import { EVENT_COLUMNS, toStoredEvent, type EventRow, type PositionSql } from '../rooms/event.repository';
import { pageColumns, pageRowsById, prevJoin, toPageRow, type ExtrasOptions, type PageRow, type RawPageRow } from './page-rows';
import type { StoredEvent } from '../rooms/room.types';
import { sql, sqlPrepared } from '../infra/sql';
import { filterToSql, type RoomEventFilter } from './event-filter';
import { maxStreamPos, type RoomStreamToken } from '../matrix/stream-token';
import { EVERYTHING, comparePos, type Bound, type Change, type Pos, type Range } from './visibility';

/** Event types never sent to clients (spec §5.7 step 2). */
const HIDDEN_FROM_CLIENTS = ['org.matrix.dummy_event', 'm.room.aliases'];
/** Visible ranges per statement; more are read by further statements only when needed. */
const RANGES_PER_QUERY = 16;
/** Row counts a page statement is written for (a page of `limit` is capped at the next bucket up). */
const LIMIT_BUCKETS = [1, 10, 20, 50, 100, 200, 500, 1000];

export interface RoomView {
  exists: boolean;
  /** Greatest depth of any event of the room (0 when none). */
  maxDepth: number;
  /** Greatest stream ordering on the server (0 when none). */
  maxStream: number;
  /** The requester's current membership, when they have one. */
  membership: { membership: string; eventId: string; forgotten: boolean } | null;
  /** `history_visibility` of the current state (null when unset). */
  currentVisibility: string | null;
  /** The room's current retention policy row (null when the room has none). */
  retention: { minLifetime: number | null; maxLifetime: number | null } | null;
  /** History-visibility events and the requester's member events (only loaded for a requester). */
  changes: Change[];
  /** Users whose non-state events the requester ignores (`m.ignored_user_list`), sorted. */
  ignored: string[];
}

export type Dir = 'f' | 'b';

export interface PageQuery {
  roomId: string;
  dir: Dir;
  from: RoomStreamToken;
  to: RoomStreamToken | null;
  limit: number;
  filter: RoomEventFilter | null;
  /** The visible parts of the timeline, ascending; null = all of it (admin). */
  ranges: readonly Range[] | null;
  /** Client-only conditions: null for the admin API. */
  client: { minOriginTs: number | null; ignoredSenders: readonly string[] } | null;
}

interface ViewRow {
  exists: boolean;
  max_depth: string | null;
  max_stream: string | null;
  membership: string | null;
  member_event_id: string | null;
  forgotten: boolean | null;
  visibility: string | null;
  retention: { min: number | null; max: number | null } | null;
  changes: [string, number, number, string, string | null][] | null;
  ignored: string[] | null;
}

export class PaginationRepository {
  /** Room facts, the requester's membership and the visibility change points, in one statement. */
  async loadRoomView(em: Em, roomId: string, userId: string | null): Promise<RoomView> {
    const changes = userId
      ? `(SELECT json_agg(json_build_array(e.type, e.depth, e.stream_ordering, e.event_id,
            CASE WHEN e.type = 'm.room.member' THEN e.content ->> 'membership' ELSE e.content ->> 'history_visibility' END))
          FROM events e WHERE e.room_id = ? AND e.state_key IS NOT NULL AND e.rejected_reason IS NULL AND NOT e.soft_failed
           AND ((e.type = 'm.room.history_visibility' AND e.state_key = '') OR (e.type = 'm.room.member' AND e.state_key = ?)))`
      : 'NULL';
    const rows = await sqlPrepared<ViewRow>(
      em,
      `SELECT EXISTS (SELECT 1 FROM rooms WHERE room_id = ?) AS exists,
         (SELECT max(depth) FROM events WHERE room_id = ?) AS max_depth,
         (SELECT max(stream_ordering) FROM events) AS max_stream,
         m.membership, m.event_id AS member_event_id,
         (SELECT forgotten FROM local_current_membership WHERE room_id = ? AND user_id = ?) AS forgotten,
         (SELECT v.content ->> 'history_visibility' FROM current_state_events c JOIN events v ON v.event_id = c.event_id
           WHERE c.room_id = ? AND c.type = 'm.room.history_visibility' AND c.state_key = '') AS visibility,
         (SELECT json_build_object('min', rr.min_lifetime, 'max', rr.max_lifetime) FROM current_state_events c
            JOIN room_retention rr ON rr.event_id = c.event_id WHERE c.room_id = ? AND c.type = 'm.room.retention' AND c.state_key = '') AS retention,
         ${changes} AS changes,
         ${userId ? '(SELECT array_agg(ignored_user_id ORDER BY ignored_user_id) FROM ignored_users WHERE ignorer_user_id = ?)' : 'NULL::text[]'} AS ignored
       FROM (SELECT 1) AS one
       LEFT JOIN LATERAL (
         SELECT c.membership, c.event_id FROM current_state_events c WHERE c.room_id = ? AND c.type = 'm.room.member' AND c.state_key = ?
         UNION ALL
         -- A room the server has left has no current state: the user's local membership stands
         -- in (as Synapse reads it), unless it is out of band.
         SELECT l.membership, l.event_id FROM local_current_membership l JOIN events e ON e.event_id = l.event_id AND NOT e.outlier
          WHERE l.room_id = ? AND l.user_id = ? AND NOT EXISTS (SELECT 1 FROM current_state_events c WHERE c.room_id = ?)
         LIMIT 1) m ON true`,
      [
        roomId,
        roomId,
        roomId,
        userId ?? '',
        roomId,
        roomId,
        ...(userId ? [roomId, userId, userId] : []),
        roomId,
        userId ?? '',
        roomId,
        userId ?? '',
        roomId,
      ],
    );
    const r = rows[0];
    return {
      exists: r.exists,
      maxDepth: Number(r.max_depth ?? 0),
      maxStream: Number(r.max_stream ?? 0),
      membership:
        r.membership && r.member_event_id
          ? { membership: r.membership, eventId: r.member_event_id, forgotten: r.forgotten ?? false }
          : null,
      currentVisibility: r.visibility,
      retention: r.retention ? { minLifetime: r.retention.min, maxLifetime: r.retention.max } : null,
      changes: (r.changes ?? []).map(([type, depth, stream, eventId, value]) => ({
        kind: type === 'm.room.member' ? 'membership' : 'visibility',
        depth: Number(depth),
        stream: Number(stream),
        eventId,
        value,
      })),
      ignored: r.ignored ?? [],
    };
  }

  /**
   * One page of the room's timeline in pagination order (at most `limit` events), restricted to
   * the visible ranges: each range is an index range scan, and ranges are read in pagination
   * order only until the page is full. Rows carry what presenting them needs (see page-rows.ts).
   */
  async page(em: Em, q: PageQuery, extras: ExtrasOptions): Promise<PageRow[]> {
    if (q.limit <= 0) return [];
    const ranges = orderedRanges(q);
    const out: PageRow[] = [];
    for (let i = 0; i < ranges.length && out.length < q.limit; i += RANGES_PER_QUERY) {
      out.push(...(await this.rangePage(em, q, ranges.slice(i, i + RANGES_PER_QUERY), q.limit - out.length, extras)));
    }
    return out;
  }

  private async rangePage(em: Em, q: PageQuery, ranges: Range[], limit: number, extras: ExtrasOptions): Promise<PageRow[]> {
    const st = rangePageStatement(q, ranges, limit, extras);
    const rows = await sqlPrepared<RawPageRow>(em, st.text, st.params);
    const sign = q.dir === 'b' ? -1 : 1;
    return rows
      .map(toPageRow)
      .sort((a, b) => sign * comparePos(posOf(a), posOf(b)))
      .slice(0, limit);
  }

  /** Events by id with the page extras (missing ids are skipped). */
  eventsById(em: Em, eventIds: string[], extras: ExtrasOptions): Promise<PageRow[]> {
    return pageRowsById(em, eventIds, extras);
  }

  /** Smallest depth of a room event at or after a stream position (else the latest event's depth). */
  async depthAtStream(em: Em, roomId: string, stream: number): Promise<number> {
    const rows = await sql<{ depth: string | null }>(
      em,
      `SELECT coalesce(
         (SELECT min(depth) FROM events WHERE room_id = ? AND stream_ordering >= least(?, (SELECT max(stream_ordering) FROM events WHERE room_id = ?))),
         0) AS depth`,
      [roomId, stream, roomId],
    );
    return Number(rows[0].depth ?? 0);
  }

  /** The member events of `userIds` in the state after position `at` (lazy-loaded members). */
  async membersAt(em: Em, roomId: string, userIds: string[], at: Pos): Promise<StoredEvent[]> {
    if (userIds.length === 0) return [];
    const rows = await sql<EventRow>(
      em,
      `SELECT m.* FROM unnest(ARRAY[?]::text[]) AS u(user_id)
       CROSS JOIN LATERAL (
         SELECT ${EVENT_COLUMNS} FROM events e
          WHERE e.room_id = ? AND e.type = 'm.room.member' AND e.state_key = u.user_id AND e.stream_ordering <= ?
            AND (e.depth, e.stream_ordering) <= (?, ?) AND e.rejected_reason IS NULL AND NOT e.soft_failed
          ORDER BY e.stream_ordering DESC LIMIT 1) m`,
      [userIds, roomId, at.stream, at.depth, at.stream],
    );
    return rows.map(toStoredEvent);
  }
}

export function posOf(e: { depth: number; streamOrdering: number }): Pos {
  return { depth: e.depth, stream: e.streamOrdering };
}

/**
 * The statement reading up to `limit` page rows of `ranges` (at most RANGES_PER_QUERY of them, in
 * pagination order), and its parameters; `ranges` defaults to the first ones of the query's.
 */
export function rangePageStatement(
  q: PageQuery,
  ranges: Range[] = orderedRanges(q).slice(0, RANGES_PER_QUERY),
  limit = q.limit,
  extras: ExtrasOptions = { dagFields: false, aggregationsFor: null },
): { text: string; params: unknown[] } {
  const { page, params } = pageSelection(q, ranges, limit);
  const cols = pageColumns('x', extras, 'p', 'SELECT event_id FROM page');
  return { text: `WITH page AS (${page}) SELECT ${cols.sql} FROM page x ${prevJoin('x')}`, params: [...params, ...cols.params] };
}

/**
 * The stream ordering of the last event of the page `q` reads, or `whenEmpty` when it reads none,
 * as an SQL expression, for a statement that needs that position without waiting for the page:
 * what `page` would return as its last row. Null when the page may take more than one statement
 * to read (more visible ranges than one statement reads).
 */
export function lastPagePosition(q: PageQuery, whenEmpty: number): PositionSql | null {
  const ranges = orderedRanges(q);
  if (ranges.length > RANGES_PER_QUERY) return null;
  if (q.limit <= 0 || ranges.length === 0) return { sql: '?::bigint', params: [whenEmpty] };
  const { page, params } = pageSelection(q, ranges, q.limit);
  const [first, last] = q.dir === 'b' ? ['DESC', 'ASC'] : ['ASC', 'DESC'];
  return {
    sql: `coalesce((SELECT l.stream_ordering FROM (SELECT r.depth, r.stream_ordering FROM (${page}) r
        ORDER BY r.depth ${first}, r.stream_ordering ${first} LIMIT ?) l ORDER BY l.depth ${last}, l.stream_ordering ${last} LIMIT 1), ?::bigint)`,
    params: [...params, q.limit, whenEmpty],
  };
}

/**
 * The SQL of a page's events (EVENT_COLUMNS, at most `limit` rows of each range and the limit's
 * bucket in all, in pagination order) and its parameters.
 *
 * Each range is walked in index order, and the walk stops once the page has its rows, however big
 * the room. A generic plan does not know the room: it estimates the room's rows as the table's
 * average (rows / rooms), less each condition's share. With a literal LIMIT above that estimate,
 * a bitmap scan of the room's index entries plus a sort looks cheaper than the walk, and that
 * plan reads the whole room (or the whole visible range) for every page. So, per range:
 * - the walk's LIMIT is a parameter (the page's own limit, so no row past it is read), which the
 *   planner takes as a tenth of the rows: reading the first rows in index order is then clearly
 *   cheaper than reading them all and sorting. That holds while the estimate is ten rows or more;
 *   conditions that shrink it further (a filter, retention, ignored users) can still tip a small
 *   database's plan to the sort;
 * - the walk is a MATERIALIZED CTE, so that no LIMIT around it is pushed into its planning.
 * The literal LIMIT around the walks caps the row estimate the rest of the statement is planned
 * for: a tenth of a big room would be thousands of rows, and the per-row lookups of the page
 * would then be planned as hash joins over whole tables.
 */
function pageSelection(q: PageQuery, ranges: Range[], limit: number): { page: string; params: unknown[] } {
  const base = baseConditions(q);
  const order = q.dir === 'b' ? 'DESC' : 'ASC';
  const bucket = LIMIT_BUCKETS.find((b) => b >= limit) ?? limit;
  const params: unknown[] = [];
  const walks = ranges.map((range, i) => {
    const conds = [...base.conds];
    params.push(...base.params);
    conds.push(...rangeConditions(range, params));
    params.push(limit);
    return `w${i} AS MATERIALIZED (SELECT ${EVENT_COLUMNS} FROM events e WHERE ${conds.join(' AND ')}
      ORDER BY e.depth ${order}, e.stream_ordering ${order} LIMIT ?::int)`;
  });
  // Ranges are disjoint and listed in pagination order: the first rows in position order are
  // the page. Each range reads at most a page by itself.
  const all =
    walks.length === 1
      ? 'w0'
      : `(${walks.map((_, i) => `SELECT * FROM w${i}`).join(' UNION ALL ')}) u ORDER BY depth ${order}, stream_ordering ${order}`;
  return { page: `WITH ${walks.join(', ')} SELECT * FROM ${all} LIMIT ${bucket}`, params };
}

function baseConditions(q: PageQuery): { conds: string[]; params: unknown[] } {
  const conds = ['e.room_id = ?', 'NOT e.outlier', 'e.rejected_reason IS NULL'];
  const params: unknown[] = [q.roomId];
  if (q.client) {
    // The hidden types are written into the text, so the planner estimates the condition from the
    // column's statistics (nearly every row passes) rather than guessing for an unknown list.
    conds.push('NOT e.soft_failed', `e.type <> ALL('{${HIDDEN_FROM_CLIENTS.join(',')}}'::text[])`);
    if (q.client.minOriginTs !== null) {
      // Retention hides expired messages, never state (MSC1763).
      conds.push('(e.state_key IS NOT NULL OR e.origin_server_ts >= ?)');
      params.push(q.client.minOriginTs);
    }
    if (q.client.ignoredSenders.length > 0) {
      // Ignored users' state events stay visible (spec §5.7 step 2).
      conds.push('(e.state_key IS NOT NULL OR e.sender <> ALL(ARRAY[?]::text[]))');
      params.push(q.client.ignoredSenders);
    }
  }
  conds.push(...liveTokenBounds(q, params));
  const f = filterToSql(q.filter);
  if (f.sql) {
    conds.push(f.sql);
    params.push(...f.params);
  }
  return { conds, params };
}

/**
 * The token bounds (spec §5.3): backwards = at or before `from` and after `to`; forwards = after
 * `from` and at or before `to`. Historic tokens bound (depth, stream ordering) and are returned
 * as a range, to be merged with each visible range; live tokens bound the stream ordering only.
 */
function tokenRange(q: PageQuery): Range {
  const pos = (t: RoomStreamToken) => ({ depth: t.topological as number, stream: t.stream });
  const r: Range = { lo: null, hi: null };
  const [upper, lower] = q.dir === 'b' ? [q.from, q.to] : [q.to, q.from];
  if (upper && upper.topological !== null) r.hi = { pos: pos(upper), inclusive: true };
  if (lower && lower.topological !== null) r.lo = { pos: pos(lower), inclusive: false };
  return r;
}

function liveTokenBounds(q: PageQuery, params: unknown[]): string[] {
  const out: string[] = [];
  const bound = (t: RoomStreamToken | null, op: string, stream: (t: RoomStreamToken) => number) => {
    if (!t || t.topological !== null) return;
    out.push(`e.stream_ordering ${op} ?`);
    params.push(stream(t));
  };
  if (q.dir === 'b') {
    bound(q.from, '<=', maxStreamPos);
    bound(q.to, '>', (t) => t.stream);
  } else {
    bound(q.from, '>', (t) => t.stream);
    bound(q.to, '<=', maxStreamPos);
  }
  return out;
}

/** The tighter of two bounds of the same side (`sign` 1 for lower bounds, -1 for upper ones). */
function tighter(a: Bound | null, b: Bound | null, sign: 1 | -1): Bound | null {
  if (!a || !b) return a ?? b;
  const c = comparePos(a.pos, b.pos) * sign;
  if (c !== 0) return c > 0 ? a : b;
  return a.inclusive ? b : a;
}

/**
 * The part of `a` inside `b`, or null when empty. Merging the bounds here keeps one bound per
 * side in SQL: with two row comparisons on one side PostgreSQL may start the index scan at the
 * looser one and walk everything in between.
 */
function intersect(a: Range, b: Range): Range | null {
  const lo = tighter(a.lo, b.lo, 1);
  const hi = tighter(a.hi, b.hi, -1);
  if (lo && hi) {
    const c = comparePos(lo.pos, hi.pos);
    if (c > 0 || (c === 0 && !(lo.inclusive && hi.inclusive))) return null;
  }
  return { lo, hi };
}

function rangeConditions(r: Range, params: unknown[]): string[] {
  const out: string[] = [];
  const push = (b: Bound, op: string) => {
    out.push(`(e.depth, e.stream_ordering) ${op} (?, ?)`);
    params.push(b.pos.depth, b.pos.stream);
  };
  if (r.lo) push(r.lo, r.lo.inclusive ? '>=' : '>');
  if (r.hi) push(r.hi, r.hi.inclusive ? '<=' : '<');
  return out;
}

/** The parts of the timeline to read, each within the token bounds, in pagination order. */
function orderedRanges(q: PageQuery): Range[] {
  const tokens = tokenRange(q);
  const kept = (q.ranges ?? EVERYTHING).map((r) => intersect(r, tokens)).filter((r): r is Range => r !== null);
  return q.dir === 'b' ? kept.reverse() : kept;
}
