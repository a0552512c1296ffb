/** The event_reports table: reports written by users, read and deleted by admins. */
import type { Em } from '../infra/orm';
import type { Json } from '../rooms/room.types';
import { pageLimitBound, sql, sqlPlannedPerCall, sqlPrepared } from '../infra/sql';

export interface EventReportRow {
  id: number;
  receivedTs: number;
  roomId: string;
  eventId: string;
  userId: string;
  reason: string | null;
  score: number | null;
  sender: string | null;
  canonicalAlias: string | null;
  name: string | null;
}

export interface EventReportQuery {
  from: number;
  limit: number;
  forwards: boolean;
  userId: string | null;
  roomId: string | null;
  eventSenderUserId: string | null;
}

interface Row {
  id: string;
  received_ts: string;
  room_id: string;
  event_id: string;
  user_id: string;
  reason: string | null;
  score: unknown;
  sender: string | null;
  canonical_alias: string | null;
  name: string | null;
}

const COLUMNS = `r.id, r.received_ts, r.room_id, r.event_id, r.user_id, r.reason, r.content->'score' AS score, e.sender, s.canonical_alias, s.name`;
// As Synapse: the reported event may be gone (LEFT JOIN), reports of rooms without stats are hidden.
const FROM = 'event_reports r LEFT JOIN events e ON e.event_id = r.event_id JOIN room_stats s ON s.room_id = r.room_id';

/** A LIKE pattern matching `s` anywhere, its wildcards taken literally. */
const containing = (s: string) => `%${s.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;

function toRow(r: Row): EventReportRow {
  return {
    id: Number(r.id),
    receivedTs: Number(r.received_ts),
    roomId: r.room_id,
    eventId: r.event_id,
    userId: r.user_id,
    reason: r.reason,
    // The body's score when it is an integer (MSC4277 servers accept anything there).
    score: typeof r.score === 'number' && Number.isSafeInteger(r.score) ? r.score : null,
    sender: r.sender,
    canonicalAlias: r.canonical_alias,
    name: r.name,
  };
}

/** The statement of a page of reports with the number of matches (`total`, on every row; one row of NULLs when the page is empty). */
export function reportPageStatement(q: EventReportQuery): { text: string; params: unknown[] } {
  const where: string[] = [];
  const params: unknown[] = [];
  if (q.userId) (where.push('r.user_id LIKE ?'), params.push(containing(q.userId)));
  if (q.roomId) (where.push('r.room_id LIKE ?'), params.push(containing(q.roomId)));
  if (q.eventSenderUserId) (where.push('e.sender = ?'), params.push(q.eventSenderUserId));
  const filter = where.length ? `WHERE ${where.join(' AND ')}` : '';
  const dir = q.forwards ? 'ASC' : 'DESC';
  const order = `r.received_ts ${dir}, r.id ${dir}`;
  const text = `WITH page AS (SELECT r.* FROM (SELECT ${COLUMNS} FROM ${FROM} ${filter} ORDER BY ${order} LIMIT ${pageLimitBound(q.limit)} OFFSET ?) r
                ORDER BY ${order} LIMIT ?)
    SELECT (SELECT count(*) FROM ${FROM} ${filter}) AS total, r.*
      FROM (SELECT 1) one LEFT JOIN page r ON true
     ORDER BY ${order}`;
  return { text, params: [...params, q.from, q.limit, ...params] };
}

export class EventReportRepository {
  async insert(
    em: Em,
    report: { roomId: string; eventId: string; userId: string; reason: string | null; content: Json; receivedTs: number },
  ): Promise<number> {
    const rows = await sql<{ id: string }>(
      em,
      'INSERT INTO event_reports (received_ts, room_id, event_id, user_id, reason, content) VALUES (?, ?, ?, ?, ?, ?::jsonb) RETURNING id',
      [report.receivedTs, report.roomId, report.eventId, report.userId, report.reason, JSON.stringify(report.content)],
    );
    return Number(rows[0].id);
  }

  /**
   * One page, newest first unless `forwards` (ties by id, so pages never overlap), and the total,
   * in one statement. Without a user or room filter it is prepared: the constant inner LIMIT tells
   * its generic plan that the page is small (see pageLimitBound), and the bound outer one cuts it
   * to size, in the same order. Those filters are substring matches whose best plan depends on the
   * value: such a statement is planned on every call.
   */
  async list(em: Em, q: EventReportQuery): Promise<{ reports: EventReportRow[]; total: number }> {
    const st = reportPageStatement(q);
    const run = q.userId || q.roomId ? sqlPlannedPerCall : sqlPrepared;
    const rows = await run<Row & { total: string }>(em, st.text, st.params);
    return { reports: rows.filter((r) => r.id !== null).map(toRow), total: Number(rows[0]?.total ?? 0) };
  }

  /** One report, or null (unknown, or its room has no stats). */
  async get(em: Em, id: number): Promise<EventReportRow | null> {
    const rows = await sqlPrepared<Row>(em, `SELECT ${COLUMNS} FROM ${FROM} WHERE r.id = ?`, [id]);
    return rows[0] ? toRow(rows[0]) : null;
  }

  async delete(em: Em, id: number): Promise<boolean> {
    const rows = await sql(em, 'DELETE FROM event_reports WHERE id = ? RETURNING id', [id]);
    return rows.length > 0;
  }
}
