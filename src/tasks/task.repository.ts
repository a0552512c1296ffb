/**
 * Every query on `scheduled_tasks`. Writes made on behalf of a running task name its lease
 * (`lease_id`) and succeed only while that lease is still the task's current one and the task is
 * still active, so a runner whose lease was taken over (or whose task was cancelled) writes
 * nothing. Lease times use the database clock (DB_NOW_MS); task timestamps use the scheduler's
 * clock and arrive as parameters.
 */
import type { Em } from '../infra/orm';
import { sql } from '../infra/sql';
import type { Json, ScheduledTask, TaskFilter, TaskStatus } from './task.types';

export const DB_NOW_MS = '(extract(epoch from clock_timestamp()) * 1000)::bigint';
/** pg_notify channel shared by every instance (payload formats in task-listener.ts). */
export const TASKS_CHANNEL = 'scheduled_tasks';
const COLUMNS = 'id, action, status, "timestamp", resource_id, params, result, error, progress, request_id, trace_parent';

export interface NewTask {
  id: string;
  action: string;
  timestamp: number;
  resourceId: string | null;
  params: Json | null;
  /** The request that scheduled the task (its runner's log lines carry it). */
  requestId?: string | null;
  /** The `traceparent` of that request's span, when traces are exported (its runs link to it). */
  traceParent?: string | null;
}

export interface TaskRow extends ScheduledTask {
  leaseId: number | null;
  requestId?: string | null;
  traceParent?: string | null;
  /** Claims only: the due time before the claim (scheduled tasks), and whether an earlier run stopped without an outcome. */
  dueAt?: number | null;
  resumed?: boolean;
}

export interface LeaseRef {
  id: string;
  leaseId: number;
}

export interface Outcome extends LeaseRef {
  status: TaskStatus;
  result: Json | null;
  error: string | null;
  /** Replaces the task's progress when not null (a transient failure's retry state). */
  progress: Json | null;
  timestamp: number;
  claimableInMs: number;
}

export interface RawRow {
  id: string;
  action: string;
  status: TaskStatus;
  timestamp: string | number;
  resource_id: string | null;
  params: Json | null;
  result: Json | null;
  error: string | null;
  progress: Json | null;
  lease_id?: string | number | null;
  request_id?: string | null;
  trace_parent?: string | null;
  due_at?: string | number | null;
  resumed?: boolean | null;
}

/** Runs SQL with `?` placeholders somewhere (a pooled EntityManager or a dedicated connection). */
export type Exec = <T>(text: string, params: unknown[]) => Promise<T[]>;

export const execOn =
  (em: Em): Exec =>
  (text, params) =>
    sql(em, text, params);

export const json = (v: Json | null | undefined) => (v === undefined || v === null ? null : JSON.stringify(v));

export function toTask(r: RawRow): TaskRow {
  return {
    id: r.id,
    action: r.action,
    status: r.status,
    timestamp: Number(r.timestamp),
    resourceId: r.resource_id,
    params: r.params,
    result: r.result,
    error: r.error,
    progress: r.progress,
    leaseId: r.lease_id === undefined || r.lease_id === null ? null : Number(r.lease_id),
    requestId: r.request_id ?? null,
    traceParent: r.trace_parent ?? null,
    dueAt: r.due_at === undefined || r.due_at === null ? null : Number(r.due_at),
    resumed: r.resumed === true,
  };
}

export class TaskRepository {
  /** Inserts a scheduled task and notifies every instance (delivered at commit). */
  async insert(em: Em, t: NewTask): Promise<void> {
    await sql(
      em,
      `WITH ins AS (INSERT INTO scheduled_tasks (id, action, status, "timestamp", resource_id, params, request_id, trace_parent) VALUES (?, ?, 'scheduled', ?, ?, ?::jsonb, ?, ?) RETURNING id)
       SELECT pg_notify(?, ?) FROM ins`,
      [
        t.id,
        t.action,
        t.timestamp,
        t.resourceId,
        json(t.params),
        t.requestId ?? null,
        t.traceParent ?? null,
        TASKS_CHANNEL,
        `n|${t.timestamp}|${t.id}|${t.action}`,
      ],
    );
  }

  /** Inserts a task due now already claimed by `owner` (who has a free slot for it). */
  async insertClaimed(em: Em, t: NewTask, claim: { owner: string; leaseMs: number }): Promise<TaskRow> {
    const rows = await sql<RawRow>(
      em,
      `INSERT INTO scheduled_tasks (id, action, status, "timestamp", resource_id, params, request_id, trace_parent, lease_owner, lease_id, lease_expires_at, attempts)
       VALUES (?, ?, 'active', ?, ?, ?::jsonb, ?, ?, ?, nextval('scheduled_tasks_lease_seq'), ${DB_NOW_MS} + ?, 1)
       RETURNING ${COLUMNS}, lease_id, "timestamp" AS due_at`,
      [t.id, t.action, t.timestamp, t.resourceId, json(t.params), t.requestId ?? null, t.traceParent ?? null, claim.owner, claim.leaseMs],
    );
    return toTask(rows[0]);
  }

  async notify(em: Em, payload: string): Promise<void> {
    await sql(em, 'SELECT pg_notify(?, ?)', [TASKS_CHANNEL, payload]);
  }

  async get(em: Em, id: string): Promise<TaskRow | null> {
    const rows = await sql<RawRow>(em, `SELECT ${COLUMNS}, lease_id FROM scheduled_tasks WHERE id = ?`, [id]);
    return rows.length ? toTask(rows[0]) : null;
  }

  /** Synapse's get_tasks filters; a list filter (even empty) means "IN list". */
  async list(em: Em, f: TaskFilter): Promise<TaskRow[]> {
    if ((f.actions && f.actions.length === 0) || (f.statuses && f.statuses.length === 0)) return [];
    const where: string[] = [];
    const params: unknown[] = [];
    if (f.actions) where.push('action IN (?)') && params.push(f.actions);
    if (f.resourceId) where.push('resource_id = ?') && params.push(f.resourceId);
    if (f.statuses) where.push('status IN (?)') && params.push(f.statuses);
    if (f.maxTimestamp !== undefined && f.maxTimestamp !== null) where.push('"timestamp" <= ?') && params.push(f.maxTimestamp);
    let text = `SELECT ${COLUMNS}, lease_id FROM scheduled_tasks${where.length ? ` WHERE ${where.join(' AND ')}` : ''} ORDER BY "timestamp", id`;
    if (f.limit !== undefined && f.limit !== null) text += ` LIMIT ${Math.max(0, Math.floor(f.limit))}`;
    return (await sql<RawRow>(em, text, params)).map(toTask);
  }

  /**
   * Renews the leases still held and returns the ids of those that are still ours. A row locked
   * by its own run's fenced transaction is skipped rather than waited for (that transaction
   * renews it itself), so one slow batch never delays the renewal of the others.
   */
  async renew(exec: Exec, leases: LeaseRef[], leaseMs: number): Promise<Set<string>> {
    if (leases.length === 0) return new Set();
    const rows = await exec<{ id: string }>(
      `WITH l AS (SELECT * FROM jsonb_to_recordset(?::jsonb) AS l(id text, "leaseId" bigint)),
       mine AS (SELECT t.id FROM scheduled_tasks t JOIN l ON t.id = l.id AND t.lease_id = l."leaseId" WHERE t.status = 'active'),
       free AS (SELECT t.id FROM scheduled_tasks t JOIN l ON t.id = l.id AND t.lease_id = l."leaseId" WHERE t.status = 'active' FOR UPDATE OF t SKIP LOCKED),
       renewed AS (UPDATE scheduled_tasks t SET lease_expires_at = ${DB_NOW_MS} + ? FROM free WHERE t.id = free.id RETURNING t.id)
       SELECT id FROM mine`,
      [JSON.stringify(leases), leaseMs],
    );
    return new Set(rows.map((r) => r.id));
  }

  /**
   * Opens a fenced transaction: verifies the lease (locking the row until the transaction ends),
   * renews it, and limits the transaction's idle time to the lease, so a runner frozen inside it
   * cannot keep the row locked (and so the task unclaimable) past its lease. False when the lease
   * is no longer the task's.
   */
  async lockLease(em: Em, lease: LeaseRef, leaseMs: number): Promise<boolean> {
    const rows = await sql(
      em,
      `WITH l AS (UPDATE scheduled_tasks SET lease_expires_at = ${DB_NOW_MS} + ? WHERE id = ? AND lease_id = ? AND status = 'active' RETURNING id)
       SELECT id, set_config('idle_in_transaction_session_timeout', ?, true) FROM l`,
      [leaseMs, lease.id, lease.leaseId, String(Math.max(1, Math.floor(leaseMs)))],
    );
    return rows.length === 1;
  }

  /** A runner's checkpoint or progress write; false when the lease was lost. */
  async fencedUpdate(em: Em, lease: LeaseRef, patch: { result?: Json; progress?: Json; timestamp: number }): Promise<boolean> {
    const rows = await sql(
      em,
      `UPDATE scheduled_tasks SET "timestamp" = ?, result = COALESCE(?::jsonb, result), progress = COALESCE(?::jsonb, progress)
       WHERE id = ? AND lease_id = ? AND status = 'active' RETURNING id`,
      [patch.timestamp, json(patch.result), json(patch.progress), lease.id, lease.leaseId],
    );
    return rows.length === 1;
  }

  /** Gives leases back without finishing the tasks (shutdown): they are claimable at once. */
  async release(em: Em, leases: LeaseRef[]): Promise<number> {
    if (leases.length === 0) return 0;
    const rows = await sql(
      em,
      `UPDATE scheduled_tasks t SET lease_owner = NULL, lease_id = NULL, lease_expires_at = NULL
       FROM jsonb_to_recordset(?::jsonb) AS l(id text, "leaseId" bigint)
       WHERE t.id = l.id AND t.lease_id = l."leaseId" AND t.status = 'active' RETURNING t.id`,
      [JSON.stringify(leases)],
    );
    return rows.length;
  }

  /** Synapse's update_task (not fenced): only the given fields change. */
  async update(em: Em, id: string, u: { status?: TaskStatus; result?: Json; error?: string; timestamp: number }): Promise<boolean> {
    const rows = await sql(
      em,
      `UPDATE scheduled_tasks SET "timestamp" = ?, status = COALESCE(?, status), result = COALESCE(?::jsonb, result), error = COALESCE(?, error)
       WHERE id = ? RETURNING id`,
      [u.timestamp, u.status ?? null, json(u.result), u.error ?? null, id],
    );
    return rows.length === 1;
  }

  /** Marks a scheduled or active task cancelled (which voids its lease); null when it was neither. */
  async cancel(em: Em, id: string, now: number): Promise<TaskRow | null> {
    const rows = await sql<RawRow>(
      em,
      `UPDATE scheduled_tasks SET status = 'cancelled', "timestamp" = ?, lease_owner = NULL, lease_id = NULL, lease_expires_at = NULL
       WHERE id = ? AND status IN ('scheduled', 'active') RETURNING ${COLUMNS}`,
      [now, id],
    );
    return rows.length ? toTask(rows[0]) : null;
  }

  /** Deletes a task unless it is active. */
  async delete(em: Em, id: string): Promise<'deleted' | 'missing' | 'active'> {
    const rows = await sql<{ status: string; deleted: boolean }>(
      em,
      `WITH d AS (DELETE FROM scheduled_tasks WHERE id = ? AND status <> 'active' RETURNING id)
       SELECT 'deleted' AS status FROM d UNION ALL SELECT status FROM scheduled_tasks WHERE id = ? AND NOT EXISTS (SELECT 1 FROM d)`,
      [id, id],
    );
    if (rows.length === 0) return 'missing';
    return rows[0].status === 'deleted' ? 'deleted' : 'active';
  }

  /** Deletes finished tasks last updated at or before `before`. */
  async cleanup(em: Em, before: number): Promise<number> {
    const rows = await sql(
      em,
      `DELETE FROM scheduled_tasks WHERE status IN ('complete', 'failed', 'cancelled') AND "timestamp" <= ? RETURNING id`,
      [before],
    );
    return rows.length;
  }

  /** Due time of the next scheduled task of these actions, or null. */
  async nextDue(em: Em, actions: string[]): Promise<number | null> {
    if (actions.length === 0) return null;
    const rows = await sql<{ at: string | null }>(
      em,
      `SELECT min("timestamp") AS at FROM scheduled_tasks WHERE status = 'scheduled' AND action IN (?)`,
      [actions],
    );
    return rows[0]?.at === null || rows[0]?.at === undefined ? null : Number(rows[0].at);
  }
}
