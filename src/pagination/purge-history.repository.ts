/**
 * The SQL of history purges (spec §2.16): finding the cut-off event, and purging a room's history
 * before a depth in bounded batches, each one statement.
 */
import type { Em } from '../infra/orm';
import { sql } from '../infra/sql';
import type { Pos } from './visibility';

/**
 * How far past the cut-off depth to look for events whose `prev_events` point into the purged
 * range. Events created here always sit one depth above their newest parent, so only the first
 * depths after the cut-off can reference purged events; the margin covers imported forks.
 */
const BACKWARD_EXTREMITY_SCAN_DEPTHS = 100;

export interface EventPosition extends Pos {
  eventId: string;
}

export interface PurgeBatchResult {
  /** Candidate events handled by this batch (deleted or turned into outliers). */
  examined: number;
  deleted: number;
  /** The last candidate handled, to resume after. */
  last: Pos | null;
}

function escapeLike(s: string): string {
  return s.replace(/[\\%_]/g, (c) => `\\${c}`);
}

export class PurgeHistoryRepository {
  /** An event's room and position, or null (rejected events count as missing, as in Synapse). */
  async eventPosition(em: Em, eventId: string): Promise<(EventPosition & { roomId: string }) | null> {
    const rows = await sql<{ room_id: string; depth: string; stream_ordering: string }>(
      em,
      'SELECT room_id, depth, stream_ordering FROM events WHERE event_id = ? AND rejected_reason IS NULL',
      [eventId],
    );
    return rows[0] ? { roomId: rows[0].room_id, depth: Number(rows[0].depth), stream: Number(rows[0].stream_ordering), eventId } : null;
  }

  /**
   * Where a purge "up to ts" cuts the room: its first timeline event received at or after `ts`
   * (everything received before goes), or its latest event when all are older (the latest event is
   * never purged); null for a room without timeline events.
   *
   * Synapse finds the first event received after `ts` on the whole server and cuts the room at its
   * last event before that stream position, which keeps the room's last expired event whenever
   * the next event after `ts` belongs to another room; looking inside the room is what it intends.
   */
  async cutOffForTs(em: Em, roomId: string, ts: number): Promise<EventPosition | null> {
    const rows = await sql<{ event_id: string; depth: string; stream_ordering: string }>(
      em,
      `SELECT event_id, depth, stream_ordering FROM (
         (SELECT event_id, depth, stream_ordering, 0 AS pref FROM events
           WHERE room_id = ? AND NOT outlier AND rejected_reason IS NULL AND received_ts >= ? ORDER BY stream_ordering LIMIT 1)
         UNION ALL
         (SELECT event_id, depth, stream_ordering, 1 FROM events
           WHERE room_id = ? AND NOT outlier AND rejected_reason IS NULL ORDER BY stream_ordering DESC LIMIT 1)
       ) c ORDER BY pref LIMIT 1`,
      [roomId, ts, roomId],
    );
    return rows[0] ? { eventId: rows[0].event_id, depth: Number(rows[0].depth), stream: Number(rows[0].stream_ordering) } : null;
  }

  /**
   * Synapse's test for "there is no event to be purged" up to `ts`: whether the room has a timeline
   * event at or before the server's first event received at or after `ts` (any event at all when
   * none was received since). False for a `ts` before the room's first event, unless that event is
   * the server's first one after `ts`.
   */
  async hasEventUpToFirstReceivedAfter(em: Em, roomId: string, ts: number): Promise<boolean> {
    const rows = await sql(
      em,
      `SELECT 1 FROM events
        WHERE room_id = ? AND NOT outlier AND rejected_reason IS NULL
          AND stream_ordering <= coalesce(
            (SELECT stream_ordering FROM events WHERE received_ts >= ? ORDER BY received_ts, stream_ordering LIMIT 1),
            9223372036854775807)
        LIMIT 1`,
      [roomId, ts],
    );
    return rows.length > 0;
  }

  /** Greatest depth among the room's forward extremities (null when it has none). */
  async maxExtremityDepth(em: Em, roomId: string): Promise<number | null> {
    const rows = await sql<{ d: string | null }>(
      em,
      `SELECT max(e.depth) AS d FROM event_forward_extremities f JOIN events e ON e.event_id = f.event_id AND e.room_id = f.room_id WHERE f.room_id = ?`,
      [roomId],
    );
    return rows[0].d === null ? null : Number(rows[0].d);
  }

  /**
   * Statements other sessions of this database are running right now (any instance of the
   * service, or anything else connected to it). The purge reads it between batches to tell whether
   * it is alone on the database.
   */
  async otherActiveStatements(em: Em): Promise<number> {
    const rows = await sql<{ n: string }>(
      em,
      `SELECT count(*) AS n FROM pg_stat_activity
        WHERE datname = current_database() AND backend_type = 'client backend' AND state = 'active' AND pid <> pg_backend_pid()`,
      [],
    );
    return Number(rows[0].n);
  }

  /** Whether the room still has timeline events below `depth`. */
  async hasCandidates(em: Em, roomId: string, depth: number): Promise<boolean> {
    const rows = await sql(em, 'SELECT 1 FROM events WHERE room_id = ? AND depth < ? AND NOT outlier LIMIT 1', [roomId, depth]);
    return rows.length > 0;
  }

  /**
   * About how many timeline events lie below `depth` (for progress): the depth span from the
   * first of them, one index probe instead of counting a million rows. Depths of a room's events
   * are consecutive, so this is exact for rooms without forks.
   */
  async estimateCandidates(em: Em, roomId: string, depth: number): Promise<number> {
    const rows = await sql<{ d: string | null }>(em, 'SELECT min(depth) AS d FROM events WHERE room_id = ? AND depth < ? AND NOT outlier', [
      roomId,
      depth,
    ]);
    return rows[0].d === null ? 0 : depth - Number(rows[0].d);
  }

  /**
   * Purges up to `limit` events of the room below `depth`, after position `after`, in one
   * statement: non-state events are deleted (with their relations and extremity rows), except
   * local ones when `keepLocalOf` names our server; state events and kept local events become
   * outliers (out of the timeline, still part of the room state).
   */
  async purgeBatch(
    em: Em,
    roomId: string,
    depth: number,
    after: Pos | null,
    keepLocalOf: string | null,
    limit: number,
  ): Promise<PurgeBatchResult> {
    const deletable = keepLocalOf === null ? 'e.state_key IS NULL' : "e.state_key IS NULL AND e.sender NOT LIKE ? ESCAPE '\\'";
    const localParam = keepLocalOf === null ? [] : [`%:${escapeLike(keepLocalOf)}`];
    const rows = await sql<{ examined: string; deleted: string; last_depth: string | null; last_stream: string | null }>(
      em,
      `WITH batch AS (
         SELECT e.stream_ordering, e.event_id, e.depth, (${deletable}) AS del FROM events e
          WHERE e.room_id = ? AND e.depth < ? AND (e.depth, e.stream_ordering) > (?, ?) AND (NOT e.outlier OR (${deletable}))
          ORDER BY e.depth, e.stream_ordering LIMIT ?
       ), rels AS MATERIALIZED (
         -- A relation row carries its event's stream ordering: one index range scan over the
         -- batch's stream range finds its candidates, a hash join with the batch picks them.
         SELECT r.ctid AS rid, r.event_id FROM event_relations r
          WHERE r.room_id = ? AND r.stream_ordering >= (SELECT min(stream_ordering) FROM batch) AND r.stream_ordering <= (SELECT max(stream_ordering) FROM batch)
       ), rel AS (
         DELETE FROM event_relations r USING rels x JOIN batch b ON b.event_id = x.event_id AND b.del WHERE r.ctid = x.rid
       ), fwd AS (
         DELETE FROM event_forward_extremities f USING batch b WHERE b.del AND f.room_id = ? AND f.event_id = b.event_id
       ), del AS (
         DELETE FROM events e USING batch b WHERE b.del AND e.stream_ordering = b.stream_ordering RETURNING 1
       ), outl AS (
         UPDATE events e SET outlier = true FROM batch b WHERE NOT b.del AND e.stream_ordering = b.stream_ordering AND NOT e.outlier
       ), last AS (
         SELECT depth, stream_ordering FROM batch ORDER BY depth DESC, stream_ordering DESC LIMIT 1
       )
       SELECT (SELECT count(*) FROM batch) AS examined, (SELECT count(*) FROM del) AS deleted,
              (SELECT depth FROM last) AS last_depth, (SELECT stream_ordering FROM last) AS last_stream`,
      [...localParam, roomId, depth, after?.depth ?? -1, after?.stream ?? -1, ...localParam, limit, roomId, roomId],
    );
    const r = rows[0];
    return {
      examined: Number(r.examined),
      deleted: Number(r.deleted),
      last: r.last_depth === null ? after : { depth: Number(r.last_depth), stream: Number(r.last_stream) },
    };
  }

  /**
   * Replaces the room's backward extremities with the purged events that remaining timeline
   * events point to (where the room's history now starts).
   */
  async resetBackwardExtremities(em: Em, roomId: string, depth: number): Promise<void> {
    await sql(
      em,
      `WITH refs AS (
         SELECT DISTINCT p.prev AS event_id FROM events e CROSS JOIN LATERAL unnest(e.prev_events) AS p(prev)
          WHERE e.room_id = ? AND e.depth >= ? AND e.depth < ? AND NOT e.outlier
       ), purged AS (
         SELECT r.event_id FROM refs r LEFT JOIN events x ON x.event_id = r.event_id
          WHERE x.event_id IS NULL OR (x.room_id = ? AND x.outlier AND x.depth < ?)
       ), cleared AS (
         DELETE FROM event_backward_extremities WHERE room_id = ?
       )
       INSERT INTO event_backward_extremities (room_id, event_id) SELECT ?, event_id FROM purged ON CONFLICT DO NOTHING`,
      [roomId, depth, depth + BACKWARD_EXTREMITY_SCAN_DEPTHS, roomId, depth, roomId, roomId],
    );
  }
}
