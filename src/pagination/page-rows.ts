/**
 * What a page row carries besides the event, so a whole page is presented from one statement:
 * the content of the state it replaced (`prev_content`), its redaction and the room version (to
 * prune it), and its bundled aggregations (references, latest edit, thread summary), looked up
 * with correlated subqueries that cost one index probe for events nothing relates to. The events
 * a bundle shows (the latest edit, the thread's latest event) come in the same row, as nested
 * rows of the same shape, so presenting a page never needs a second round trip.
 *
 * Bundling follows Synapse: state events, reactions and edits carry no bundle; an event that is
 * itself in a relation cannot be a thread root; edits of redacted events are not bundled;
 * annotations are not bundled at all. Senders the requester ignores (`ignored_users`, read in
 * the same statement, so a changed list applies to the next read) are left out of references and
 * of thread summaries: neither counted nor shown as the latest event, and a thread only they
 * replied to has no summary. Participation still counts every reply, as in Synapse.
 */
import type { Em } from '../infra/orm';
import {
  EVENT_COLUMNS,
  stateAtSelection,
  toStoredEvent,
  type EventRow,
  type PositionSql,
  type StateFilter,
} from '../rooms/event.repository';
import type { Json, StoredEvent } from '../rooms/room.types';
import { sqlPrepared } from '../infra/sql';

export interface AggregationRow {
  /** Ids of the events referencing this one, in stream order. */
  refs: string[] | null;
  /** The latest applicable edit. */
  edit: PageRow | null;
  /** [latest event, count, requester participated] */
  thread: [PageRow, number, boolean] | null;
}

/** The aggregations as selected: nested events are raw rows. */
interface RawAggregationRow {
  refs: string[] | null;
  edit: RawPageRow | null;
  thread: [RawPageRow, number, boolean] | null;
}

export interface PageRow extends StoredEvent {
  prevContent: Json | null;
  prevSender: string | null;
  redaction: StoredEvent | null;
  roomVersion: string | null;
  aggregations: AggregationRow | null;
  /** The room's version when the sender is erased (their events may have to be shown pruned); else null. */
  erasedSenderRoomVersion: string | null;
}

export interface ExtrasOptions {
  /** Also load prev_events/auth_events (only the federation format shows them). */
  dagFields: boolean;
  /** Compute bundled aggregations for this requester (null: none). */
  aggregationsFor: string | null;
}

/** A well-formed `m.relates_to` of the event aliased `x` (rel_type and event_id strings). */
const IS_RELATION = (x: string) =>
  `coalesce(jsonb_typeof(${x}.content -> 'm.relates_to' -> 'rel_type') = 'string' AND jsonb_typeof(${x}.content -> 'm.relates_to' -> 'event_id') = 'string', false)`;

/** The row of the event whose id is `id` (an SQL expression), as JSON of page-row shape without aggregations. */
function nestedRowSql(id: string, dagFields: boolean): string {
  return `(SELECT row_to_json(nr) FROM (SELECT ${pageColumns('n', { dagFields, aggregationsFor: null }, 'np').sql}
      FROM events n ${prevJoin('n', 'np')} WHERE n.event_id = ${id}) nr)`;
}

/** Whether the requester (the statement's `?`) ignores the sender of the relation aliased `r`. */
const IGNORED_SENDER = (r: string) =>
  `EXISTS (SELECT 1 FROM ignored_users i WHERE i.ignorer_user_id = ? AND i.ignored_user_id = ${r}.sender)`;

/**
 * The state event the event aliased `x` replaced, aliased `prev` (its `content` and `sender`),
 * looked up by key for each row. A plain join lets a generic plan hash the whole `events` table
 * when it is small enough (a few thousand events) for a scan to look cheaper than a page of index
 * probes; the `OFFSET 0` keeps the lookup a probe per row.
 */
export const prevJoin = (x: string, prev = 'p') =>
  `LEFT JOIN LATERAL (SELECT ${prev}.content, ${prev}.sender FROM events ${prev} WHERE ${prev}.event_id = ${x}.replaces_state OFFSET 0) ${prev} ON true`;

/** The `events` row of each `key` (an SQL expression of the rows before it), aliased `x`, looked up by key as `prevJoin` does. */
const eventByKey = (key: string, x = 'x') => `CROSS JOIN LATERAL (SELECT * FROM events ${x} WHERE ${x}.event_id = ${key} OFFSET 0) ${x}`;

/** Placeholders of aggregationsSql, each bound to the requester. */
const AGGREGATION_PARAMS = 4;

const BUNDLED_RELATIONS = `('m.reference', 'm.replace', 'm.thread')`;

/**
 * Whether some event relates to the event aliased `x` in a way that is bundled. The relations
 * index is probed first: most events have no relation, and then no content is inspected. Given
 * `rowIds` (a subquery of the ids of every row the statement reads), the relations of all rows
 * are looked up once and each row is checked against that set (a hashed subplan); otherwise each
 * row is probed on its own (a scalar subquery with LIMIT stays an index probe, where EXISTS may
 * become a hashed scan of the whole table).
 */
function hasBundledRelation(x: string, rowIds: string | null): string {
  return rowIds
    ? `${x}.event_id IN (SELECT q.relates_to_id FROM event_relations q WHERE q.relates_to_id IN (${rowIds}) AND q.relation_type IN ${BUNDLED_RELATIONS})`
    : `(SELECT 1 FROM event_relations q WHERE q.relates_to_id = ${x}.event_id AND q.relation_type IN ${BUNDLED_RELATIONS} LIMIT 1) IS NOT NULL`;
}

function aggregationsSql(x: string, dagFields: boolean, rowIds: string | null): string {
  return `CASE WHEN ${hasBundledRelation(x, rowIds)}
      AND ${x}.state_key IS NULL AND NOT (${IS_RELATION(x)} AND ${x}.content -> 'm.relates_to' ->> 'rel_type' IN ('m.annotation', 'm.replace'))
    THEN json_build_object(
      'refs', (SELECT json_agg(r.event_id ORDER BY r.stream_ordering) FROM event_relations r
                WHERE r.relates_to_id = ${x}.event_id AND r.relation_type = 'm.reference' AND NOT ${IGNORED_SENDER('r')}),
      'edit', CASE WHEN ${x}.redacted_by IS NULL AND ${x}.type = 'm.room.message' THEN ${nestedRowSql(
        `(
        SELECT r.event_id FROM event_relations r JOIN events ed ON ed.event_id = r.event_id
         WHERE r.relates_to_id = ${x}.event_id AND r.relation_type = 'm.replace' AND ed.type = ${x}.type AND ed.sender = ${x}.sender
           AND ed.room_id = ${x}.room_id AND ed.rejected_reason IS NULL
         ORDER BY ed.origin_server_ts DESC, ed.event_id DESC LIMIT 1)`,
        dagFields,
      )} END,
      'thread', CASE WHEN NOT ${IS_RELATION(x)} THEN (
        SELECT json_build_array(${nestedRowSql('t.latest', dagFields)}, t.count, t.participated) FROM (
          SELECT (array_agg(r.event_id ORDER BY te.depth DESC, te.stream_ordering DESC) FILTER (WHERE NOT g.ignored))[1] AS latest,
                 count(*) FILTER (WHERE NOT g.ignored) AS count, bool_or(r.sender = ?) OR ${x}.sender = ? AS participated
            FROM event_relations r JOIN events te ON te.event_id = r.event_id
            CROSS JOIN LATERAL (SELECT ${IGNORED_SENDER('r')} AS ignored) g
           WHERE r.relates_to_id = ${x}.event_id AND r.relation_type = 'm.thread' AND te.rejected_reason IS NULL AND NOT te.soft_failed
          HAVING count(*) FILTER (WHERE NOT g.ignored) > 0) t) END)
    END`;
}

/**
 * The select list of page rows over an `events` row aliased `x` (the caller adds
 * `prevJoin(x, prev)`), and its parameters (in text order). `rowIds`: a subquery of the ids of
 * every row the statement reads, when it has one (see hasBundledRelation).
 */
export function pageColumns(x: string, opts: ExtrasOptions, prev = 'p', rowIds: string | null = null): { sql: string; params: unknown[] } {
  const base = EVENT_COLUMNS.replace(/\be\./g, `${x}.`);
  const cols = opts.dagFields
    ? base
    : base.replace(`${x}.prev_events, ${x}.auth_events`, `NULL::text[] AS prev_events, NULL::text[] AS auth_events`);
  const redaction = `CASE WHEN ${x}.redacted_by IS NOT NULL THEN (
      SELECT json_build_object('row', row_to_json(rd), 'room_version', (SELECT room_version FROM rooms WHERE room_id = ${x}.room_id))
        FROM (SELECT ${EVENT_COLUMNS} FROM events e WHERE e.event_id = ${x}.redacted_by) rd) END`;
  const aggs = opts.aggregationsFor === null ? 'NULL' : aggregationsSql(x, opts.dagFields, rowIds);
  // The emptiness check runs once per statement: while nobody is erased, rows cost no probe.
  const erased = `CASE WHEN (SELECT EXISTS (SELECT 1 FROM erased_users)) AND EXISTS (SELECT 1 FROM erased_users u WHERE u.user_id = ${x}.sender)
    THEN (SELECT room_version FROM rooms WHERE room_id = ${x}.room_id) END`;
  return {
    sql: `${cols}, ${prev}.content AS prev_content, ${prev}.sender AS prev_sender, ${redaction} AS redaction, ${aggs} AS aggs, ${erased} AS erased_room_version`,
    params: opts.aggregationsFor === null ? [] : new Array<string>(AGGREGATION_PARAMS).fill(opts.aggregationsFor),
  };
}

/**
 * What decides whether one event may be shown to a user (rooms/event-visibility.ts), as selected
 * beside it: the user's local membership now, the history visibility and the user's membership in
 * the state after the event (JSON values as stored: the caller checks they are strings), whether
 * the user ignores the sender of a non-state event, and the room's retention `max_lifetime`.
 */
export interface SightRow {
  sight_local: string | null;
  sight_visibility: unknown;
  sight_membership: unknown;
  sight_ignored: boolean;
  sight_max_lifetime: string | null;
}

/** Placeholders of sightColumns, each bound to the user. */
const SIGHT_PARAMS = 3;

/** The latest accepted state event of a type and key at or before the event aliased `x`. */
const stateAfter = (x: string, type: string, stateKey: string, field: string) =>
  `(SELECT s.content -> '${field}' FROM events s
     WHERE s.room_id = ${x}.room_id AND s.type = '${type}' AND s.state_key IS NOT NULL AND s.state_key = ${stateKey}
       AND s.stream_ordering <= ${x}.stream_ordering AND s.rejected_reason IS NULL
     ORDER BY s.stream_ordering DESC LIMIT 1)`;

/** SightRow's columns for the event aliased `x`: one index probe each. */
function sightColumns(x: string, userId: string): { sql: string; params: unknown[] } {
  return {
    sql: `(SELECT l.membership FROM local_current_membership l WHERE l.room_id = ${x}.room_id AND l.user_id = ?) AS sight_local,
      ${stateAfter(x, 'm.room.history_visibility', "''", 'history_visibility')} AS sight_visibility,
      ${stateAfter(x, 'm.room.member', '?', 'membership')} AS sight_membership,
      ${x}.state_key IS NULL AND EXISTS (SELECT 1 FROM ignored_users i WHERE i.ignorer_user_id = ? AND i.ignored_user_id = ${x}.sender) AS sight_ignored,
      (SELECT r.max_lifetime FROM current_state_events c JOIN room_retention r ON r.event_id = c.event_id
        WHERE c.room_id = ${x}.room_id AND c.type = 'm.room.retention' AND c.state_key = '') AS sight_max_lifetime`,
    params: new Array<string>(SIGHT_PARAMS).fill(userId),
  };
}

/**
 * One event as a page row with what decides its visibility to `userId`, in one statement; null
 * when there is no such event.
 */
export async function pageRowWithSight(
  em: Em,
  eventId: string,
  userId: string,
  extras: ExtrasOptions,
): Promise<{ row: PageRow; sight: SightRow } | null> {
  const cols = pageColumns('x', extras);
  const sight = sightColumns('x', userId);
  const [r] = await sqlPrepared<RawPageRow & SightRow>(
    em,
    `SELECT ${cols.sql}, ${sight.sql} FROM events x ${prevJoin('x')} WHERE x.event_id = ?`,
    [...cols.params, ...sight.params, eventId],
  );
  return r ? { row: toPageRow(r), sight: r } : null;
}

/**
 * What decides the visibility of an event to `userId`, with the content of the state it replaced
 * (its previous value counts for history visibility and the user's own membership); null when the
 * event is not stored.
 */
export async function sightOf(em: Em, eventId: string, userId: string): Promise<(SightRow & { prev_content: Json | null }) | null> {
  const sight = sightColumns('x', userId);
  const [r] = await sqlPrepared<SightRow & { prev_content: Json | null }>(
    em,
    `SELECT p.content AS prev_content, ${sight.sql} FROM events x ${prevJoin('x')} WHERE x.event_id = ?`,
    [...sight.params, eventId],
  );
  return r ?? null;
}

/** Events by id as page rows (missing ids are skipped): what a single-event read presents. */
export async function pageRowsById(em: Em, eventIds: string[], extras: ExtrasOptions): Promise<PageRow[]> {
  if (eventIds.length === 0) return [];
  const cols = pageColumns('x', extras);
  const rows = await sqlPrepared<RawPageRow>(
    em,
    `SELECT ${cols.sql} FROM events x ${prevJoin('x')} WHERE x.event_id = ANY(ARRAY[?]::text[])`,
    [...cols.params, eventIds],
  );
  return rows.map(toPageRow);
}

interface RawPageRow extends EventRow {
  prev_content: Json | null;
  prev_sender: string | null;
  redaction: { row: EventRow; room_version: string | null } | null;
  aggs: RawAggregationRow | null;
  erased_room_version: string | null;
}

export function toPageRow(r: RawPageRow): PageRow {
  // Built field by field: spreading the stored event copies through a dictionary-mode object.
  const e = toStoredEvent(r) as PageRow;
  e.prevContent = r.prev_content;
  e.prevSender = r.prev_sender;
  e.redaction = r.redaction ? toStoredEvent(r.redaction.row) : null;
  e.roomVersion = r.redaction?.room_version ?? null;
  const a = r.aggs;
  e.aggregations = a
    ? {
        refs: a.refs,
        edit: a.edit ? toPageRow(a.edit) : null,
        thread: a.thread && a.thread[0] ? [toPageRow(a.thread[0]), Number(a.thread[1]), Boolean(a.thread[2])] : null,
      }
    : null;
  e.erasedSenderRoomVersion = r.erased_room_version;
  return e;
}

export type { RawPageRow };

/**
 * The current state of a room (optionally of one type, and one state key of it) as page rows,
 * ordered by type and state key, in one statement: none when the room is unknown (the rows are
 * read only when `rooms` holds it), so an empty answer alone leaves "unknown room" and "no state"
 * to tell apart.
 */
export async function currentStateRows(
  em: Em,
  roomId: string,
  type: string | null,
  extras: ExtrasOptions,
  stateKey: string | null = null,
): Promise<PageRow[]> {
  const st = currentStateStatement(roomId, type, extras, stateKey);
  return (await sqlPrepared<RawPageRow>(em, st.text, st.params)).map(toPageRow);
}

/** The statement of `currentStateRows`, and its parameters. */
export function currentStateStatement(
  roomId: string,
  type: string | null,
  extras: ExtrasOptions,
  stateKey: string | null = null,
): { text: string; params: unknown[] } {
  const cols = pageColumns('x', extras);
  const params: unknown[] = [...cols.params, roomId];
  let where = '';
  if (type !== null) {
    where += ' AND c.type = ?';
    params.push(type);
    if (stateKey !== null) {
      where += ' AND c.state_key = ?';
      params.push(stateKey);
    }
  }
  return {
    text: `SELECT ${cols.sql} FROM current_state_events c ${eventByKey('c.event_id')} ${prevJoin('x')}
      WHERE c.room_id = (SELECT r.room_id FROM rooms r WHERE r.room_id = ?)${where}
      ORDER BY c.type, c.state_key`,
    params,
  };
}

/**
 * The state of a room after the event at a stream position (the latest accepted event of each
 * type and state key at or before it, as `filter` restricts them) as page rows, ordered by type and
 * state key, in one statement.
 */
export async function stateRowsAt(
  em: Em,
  roomId: string,
  streamOrdering: number,
  filter: StateFilter,
  extras: ExtrasOptions,
): Promise<PageRow[]> {
  const sel = stateAtSelection(roomId, streamOrdering, filter);
  if (!sel) return [];
  const cols = pageColumns('x', extras);
  const rows = await sqlPrepared<RawPageRow>(em, stateRowsSql(cols.sql, sel.from), [...cols.params, ...sel.params]);
  return rows.map(toPageRow);
}

/**
 * As stateRowsAt, at a position the statement computes (`position`, evaluated once), with the
 * position it used (null when it found no state to tell it by).
 */
export async function stateRowsAtComputed(
  em: Em,
  roomId: string,
  position: PositionSql,
  extras: ExtrasOptions,
): Promise<{ rows: PageRow[]; at: number | null }> {
  const st = stateAtComputedStatement(roomId, position, extras);
  const rows = await sqlPrepared<RawPageRow & { read_at: string | null }>(em, st.text, st.params);
  return { rows: rows.map(toPageRow), at: rows.length && rows[0].read_at !== null ? Number(rows[0].read_at) : null };
}

/** The statement of `stateRowsAtComputed`, and its parameters. */
export function stateAtComputedStatement(
  roomId: string,
  position: PositionSql,
  extras: ExtrasOptions,
): { text: string; params: unknown[] } {
  const at = '(SELECT pos FROM at)';
  const sel = stateAtSelection(roomId, { sql: at, params: [] }, {})!;
  const cols = pageColumns('x', extras);
  return {
    text: `WITH at AS MATERIALIZED (SELECT ${position.sql} AS pos) ${stateRowsSql(`${cols.sql}, ${at} AS read_at`, sel.from)}`,
    params: [...position.params, ...cols.params, ...sel.params],
  };
}

const stateRowsSql = (columns: string, from: string) =>
  `SELECT ${columns} FROM (SELECT DISTINCT ON (e.type, e.state_key) e.event_id ${from}) s
       ${eventByKey('s.event_id')} ${prevJoin('x')}
      ORDER BY x.type, x.state_key`;
