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
import { EVENT_COLUMNS, toStoredEvent, type EventRow } from '../rooms/event.repository';
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
      FROM events n LEFT JOIN events np ON np.event_id = n.replaces_state WHERE n.event_id = ${id}) nr)`;
}

/** Whether the requester (the statement's `?`) ignores the sender of the relation aliased `r`. */
const IGNORED_SENDER = (r: string) =>
  `EXISTS (SELECT 1 FROM ignored_users i WHERE i.ignorer_user_id = ? AND i.ignored_user_id = ${r}.sender)`;

/** Placeholders of aggregationsSql, each bound to the requester. */
const AGGREGATION_PARAMS = 4;

function aggregationsSql(x: string, dagFields: boolean): string {
  // The index probe comes first: most events have no relation, and then no content is inspected.
  // A scalar subquery with LIMIT stays an index probe (EXISTS may become a hashed scan of the table).
  return `CASE WHEN (SELECT 1 FROM event_relations q WHERE q.relates_to_id = ${x}.event_id AND q.relation_type IN ('m.reference', 'm.replace', 'm.thread') LIMIT 1) IS NOT NULL
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
 * The select list of page rows over an `events` row aliased `x` (the caller joins
 * `events <prev> ON <prev>.event_id = x.replaces_state`), and its parameters (in text order).
 */
export function pageColumns(x: string, opts: ExtrasOptions, prev = 'p'): { sql: string; params: unknown[] } {
  const base = EVENT_COLUMNS.replace(/\be\./g, `${x}.`);
  const cols = opts.dagFields
    ? base
    : base.replace(`${x}.prev_events, ${x}.auth_events`, `'{}'::text[] AS prev_events, '{}'::text[] AS auth_events`);
  const redaction = `CASE WHEN ${x}.redacted_by IS NOT NULL THEN (
      SELECT json_build_object('row', row_to_json(rd), 'room_version', (SELECT room_version FROM rooms WHERE room_id = ${x}.room_id))
        FROM (SELECT ${EVENT_COLUMNS} FROM events e WHERE e.event_id = ${x}.redacted_by) rd) END`;
  const aggs = opts.aggregationsFor === null ? 'NULL' : aggregationsSql(x, opts.dagFields);
  // The emptiness check runs once per statement: while nobody is erased, rows cost no probe.
  const erased = `CASE WHEN (SELECT EXISTS (SELECT 1 FROM erased_users)) AND EXISTS (SELECT 1 FROM erased_users u WHERE u.user_id = ${x}.sender)
    THEN (SELECT room_version FROM rooms WHERE room_id = ${x}.room_id) END`;
  return {
    sql: `${cols}, ${prev}.content AS prev_content, ${prev}.sender AS prev_sender, ${redaction} AS redaction, ${aggs} AS aggs, ${erased} AS erased_room_version`,
    params: opts.aggregationsFor === null ? [] : new Array<string>(AGGREGATION_PARAMS).fill(opts.aggregationsFor),
  };
}

/** Events by id as page rows (missing ids are skipped): what a single-event read presents. */
export async function pageRowsById(em: Em, eventIds: string[], extras: ExtrasOptions): Promise<PageRow[]> {
  if (eventIds.length === 0) return [];
  const cols = pageColumns('x', extras);
  const rows = await sqlPrepared<RawPageRow>(
    em,
    `SELECT ${cols.sql} FROM events x LEFT JOIN events p ON p.event_id = x.replaces_state WHERE x.event_id = ANY(ARRAY[?]::text[])`,
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
  const rows = await sqlPrepared<RawPageRow>(
    em,
    `SELECT ${cols.sql} FROM current_state_events c JOIN events x ON x.event_id = c.event_id
       LEFT JOIN events p ON p.event_id = x.replaces_state
      WHERE c.room_id = (SELECT r.room_id FROM rooms r WHERE r.room_id = ?)${where}
      ORDER BY c.type, c.state_key`,
    params,
  );
  return rows.map(toPageRow);
}
