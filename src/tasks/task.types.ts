/**
 * The task scheduler's public types. Glossary:
 * - task: a persisted unit of background work (row of `scheduled_tasks`), named by a 16-letter id.
 * - action: the registered function that runs a task, by name (`purge_history`, `purge_room`,
 *   `shutdown_and_purge_room`, ...). Registered at start-up so a task found after a restart
 *   always finds its function.
 * - lease: the claim an instance holds on a running task. It is renewed while the task runs;
 *   every write the runner makes is fenced by it, so a runner that lost its lease cannot
 *   overwrite the new owner's progress.
 * - checkpoint: a partial `result` persisted with updateResult(); a resumed task starts from it.
 */
import type { Em } from '../infra/orm';
import type { Logger } from '../logger';

export type Json = Record<string, unknown>;

/** Persisted status strings (Synapse's, verbatim). `complete`, `failed`, `cancelled` are terminal. */
export type TaskStatus = 'scheduled' | 'active' | 'complete' | 'failed' | 'cancelled';

export interface ScheduledTask {
  id: string;
  action: string;
  status: TaskStatus;
  /** When scheduled: when to start (ms). Otherwise: time of the last update (ms). */
  timestamp: number;
  resourceId: string | null;
  params: Json | null;
  result: Json | null;
  error: string | null;
  /** Progress reported by the running action (e.g. `{phase, done, total}`), null when none. */
  progress: Json | null;
}

/** What an action returns. Returning `active` asks to be run again (a staged step). */
export interface TaskOutcome {
  status: TaskStatus;
  result?: Json | null;
  error?: string | null;
}

/** Handed to a running action. */
export interface TaskRun {
  readonly task: ScheduledTask;
  /** Aborted when the task is cancelled, its lease is lost, or the instance shuts down. */
  readonly signal: AbortSignal;
  /** The runner's logger: its lines carry the task id, action and the request that scheduled it. */
  readonly log: Logger;
  /** Persists a checkpoint (fenced by the lease; throws LeaseLostError when it was lost). */
  updateResult(result: Json): Promise<void>;
  /** Publishes progress (cheap; fenced; seen by getTask and WatchTask). */
  reportProgress(progress: Json): Promise<void>;
  /**
   * Runs `fn` in one transaction that first verifies (and locks) this run's lease on the task row;
   * the writes of destructive batches go through here so a stale runner can never commit them.
   * Throws LeaseLostError (and rolls back) when the lease is no longer ours.
   */
  fenced<T>(fn: (em: Em) => Promise<T>): Promise<T>;
}

export type TaskAction = (run: TaskRun) => Promise<TaskOutcome>;

export interface ScheduleOptions {
  resourceId?: string | null;
  params?: Json | null;
  /** Start time (ms since epoch); absent or in the past = now. */
  timestamp?: number | null;
  /** The request asking for the task: stored with it, and carried by its runner's log lines. */
  requestId?: string | null;
}

/** Synapse's update_task: only the given fields change; the timestamp defaults to now. */
export interface TaskUpdate {
  /** `scheduled` (with a future timestamp) stages a later step; terminal statuses are refused. */
  status?: TaskStatus | null;
  result?: Json | null;
  error?: string | null;
  timestamp?: number | null;
}

export interface TaskFilter {
  actions?: string[] | null;
  resourceId?: string | null;
  statuses?: TaskStatus[] | null;
  /** Inclusive. */
  maxTimestamp?: number | null;
  limit?: number | null;
}

/** The scheduler used by other modules (implemented in src/tasks/task-scheduler.ts). */
export interface TaskScheduler {
  registerAction(name: string, action: TaskAction): void;
  /** Persists a task and wakes a runner (any instance) when it is due now. Returns its id. */
  scheduleTask(em: Em, action: string, opts?: ScheduleOptions): Promise<string>;
  getTask(em: Em, id: string): Promise<ScheduledTask | null>;
  /** Ordered by timestamp ascending. A list filter (even empty) means "IN list". */
  getTasks(em: Em, filter: TaskFilter): Promise<ScheduledTask[]>;
  /** Cooperatively stops a running task and marks it `cancelled`; no-op for terminal tasks. */
  cancelTask(em: Em, id: string): Promise<ScheduledTask | null>;
  /** Refused (throws) for active tasks. */
  deleteTask(em: Em, id: string): Promise<void>;
  /** Heartbeat/checkpoint outside a run (unfenced); false when the task does not exist. */
  updateTask(em: Em, id: string, update: TaskUpdate): Promise<boolean>;
}

export class LeaseLostError extends Error {
  constructor(taskId: string) {
    super(`lease on task ${taskId} was lost`);
    this.name = 'LeaseLostError';
  }
}
