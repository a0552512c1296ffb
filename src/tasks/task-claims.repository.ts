/**
 * The runner-cycle queries: claiming runnable tasks and recording outcomes, separately or in one
 * statement (the outcomes of finished runs and the claims that refill their slots share one
 * commit, which is what bounds throughput on PostgreSQL).
 *
 * A claim takes, oldest first, active tasks whose lease expired or was given back, then due
 * scheduled tasks, skipping rows locked by other claimers (FOR UPDATE SKIP LOCKED). Each claimed
 * row gets a fresh lease id from a sequence and a lease expiry on the database clock.
 */
import type { Em } from '../infra/orm';
import { sql } from '../infra/sql';
import { DB_NOW_MS, toTask, type Outcome, type RawRow, type TaskRow } from './task.repository';

export interface ClaimSpec {
  owner: string;
  actions: string[];
  now: number;
  limit: number;
  leaseMs: number;
}

const TASK_RETURNING =
  't.id, t.action, t.status, t."timestamp", t.resource_id, t.params, t.result, t.error, t.progress, t.request_id, t.trace_parent, t.lease_id, picked.due_at, picked.resumed';

/** CTEs `now`, `orphaned`, `due`, `picked`, `claimed` (excluding the ids of CTE `f`, if any). */
function claimCtes(c: ClaimSpec, excludeOutcomes: boolean): { text: string; params: unknown[] } {
  const exclude = excludeOutcomes ? 'AND id NOT IN (SELECT id FROM f)' : '';
  return {
    text: `now AS (SELECT ${DB_NOW_MS} AS ms),
       orphaned AS (
         SELECT id, 0 AS rank, "timestamp" FROM scheduled_tasks
         WHERE status = 'active' AND action IN (?) AND (lease_expires_at IS NULL OR lease_expires_at < (SELECT ms FROM now)) ${exclude}
         ORDER BY "timestamp", id LIMIT ? FOR UPDATE SKIP LOCKED),
       due AS (
         SELECT id, 1 AS rank, "timestamp" FROM scheduled_tasks
         WHERE status = 'scheduled' AND action IN (?) AND "timestamp" <= ?
         ORDER BY "timestamp", id LIMIT ? FOR UPDATE SKIP LOCKED),
       picked AS (SELECT id, CASE WHEN rank = 1 THEN "timestamp" END AS due_at, rank = 0 AS resumed
         FROM (SELECT * FROM orphaned UNION ALL SELECT * FROM due) c ORDER BY rank, "timestamp", id LIMIT ?),
       claimed AS (
         UPDATE scheduled_tasks t
         SET status = 'active', lease_owner = ?, lease_id = nextval('scheduled_tasks_lease_seq'),
             lease_expires_at = (SELECT ms FROM now) + ?, attempts = t.attempts + 1,
             "timestamp" = CASE WHEN t.status = 'scheduled' THEN ? ELSE t."timestamp" END
         FROM picked WHERE t.id = picked.id
         RETURNING ${TASK_RETURNING})`,
    params: [c.actions, c.limit, c.actions, c.now, c.limit, c.limit, c.owner, c.leaseMs, c.now],
  };
}

const OUTCOMES_CTE = `f AS (SELECT * FROM jsonb_to_recordset(?::jsonb)
         AS f(id text, "leaseId" bigint, status text, "timestamp" bigint, result jsonb, error text, progress jsonb, "claimableInMs" bigint))`;
const FINISH_CTE = `fin AS (
         UPDATE scheduled_tasks t SET status = f.status, "timestamp" = f."timestamp", result = COALESCE(f.result, t.result), error = COALESCE(f.error, t.error),
           progress = COALESCE(f.progress, t.progress),
           lease_owner = NULL, lease_id = NULL, lease_expires_at = CASE WHEN f.status = 'active' THEN ${DB_NOW_MS} + f."claimableInMs" END
         FROM f WHERE t.id = f.id AND t.lease_id = f."leaseId" AND t.status = 'active'
         RETURNING t.id)`;

const claimable = (c: ClaimSpec | null): c is ClaimSpec => c !== null && c.actions.length > 0 && c.limit > 0;

export class TaskClaimsRepository {
  /** Claims up to `limit` runnable tasks of the given actions (one statement). */
  async claim(em: Em, c: ClaimSpec): Promise<TaskRow[]> {
    if (!claimable(c)) return [];
    const q = claimCtes(c, false);
    return (await sql<RawRow>(em, `WITH ${q.text} SELECT * FROM claimed`, q.params)).map(toTask);
  }

  /**
   * Records outcomes (giving their leases up; a null result keeps the last checkpoint, a null
   * progress the last progress; a task
   * left active becomes claimable after `claimableInMs`) and, when `claim` is given, claims tasks
   * for the freed slots, in one statement. Returns the ids written (a run whose lease was lost
   * is not) and the claimed tasks.
   */
  async finishAndClaim(em: Em, outcomes: Outcome[], claim: ClaimSpec | null): Promise<{ finished: Set<string>; claimed: TaskRow[] }> {
    if (outcomes.length === 0) return { finished: new Set(), claimed: claim ? await this.claim(em, claim) : [] };
    const withClaim = claimable(claim);
    const q = withClaim ? claimCtes(claim, true) : { text: '', params: [] };
    const rows = await sql<RawRow & { kind: string }>(
      em,
      `WITH ${OUTCOMES_CTE}, ${FINISH_CTE}${withClaim ? `, ${q.text}` : ''}
       SELECT 'finished' AS kind, id, NULL::text AS action, NULL::text AS status, NULL::bigint AS "timestamp", NULL::text AS resource_id,
              NULL::jsonb AS params, NULL::jsonb AS result, NULL::text AS error, NULL::jsonb AS progress, NULL::text AS request_id, NULL::text AS trace_parent,
              NULL::bigint AS lease_id, NULL::bigint AS due_at, NULL::boolean AS resumed FROM fin
       ${withClaim ? `UNION ALL SELECT 'claimed' AS kind, * FROM claimed` : ''}`,
      [JSON.stringify(outcomes), ...q.params],
    );
    return {
      finished: new Set(rows.filter((r) => r.kind === 'finished').map((r) => r.id)),
      claimed: rows.filter((r) => r.kind === 'claimed').map(toTask),
    };
  }
}
