/** The scheduler's limits (named, with their units) and its options. */
import type { Orm } from '../infra/orm';
import type { Logger } from '../logger';
import type { Clock } from './clock';

/** A run's lease lasts this long (database clock) unless renewed. */
export const TASK_LEASE_MS = 5_000;
/** Renewal period of the leases of running tasks. */
export const LEASE_RENEW_INTERVAL_MS = 1_000;
/** Fallback claim pass period (lost notifications, expired leases of dead instances). */
export const POLL_INTERVAL_MS = 1_000;
/** Finished tasks are kept this long after their last update (Synapse: 7 days). */
export const KEEP_TASKS_FOR_MS = 7 * 24 * 3_600_000;
/** Period of the cleanup of finished tasks (Synapse: every minute). */
export const CLEANUP_INTERVAL_MS = 60_000;
/** A running task without any update for this long is reported as possibly stuck (Synapse: 24 h). */
export const LAST_UPDATE_BEFORE_WARNING_MS = 24 * 3_600_000;
/** How long stop() lets aborted actions checkpoint before handing their tasks back anyway. */
export const STOP_GRACE_MS = 5_000;
/**
 * Tasks claimed ahead of free slots, per slot: the claim that refills them rides along with the
 * outcomes of the runs they replace, so the queue bounds how many tasks one commit carries.
 */
export const PREFETCH_PER_SLOT = 3;
/** Upper bound of the default prefetch depth, whatever the number of slots. */
export const MAX_PREFETCH = 100;
/** A task claimed ahead of a free slot is handed back when no slot freed up for it within this long. */
export const PREFETCH_HOLD_MS = 200;
/**
 * Back-off of a task whose action met a transient error (Redis or PostgreSQL out, a conflict):
 * the first retry waits about RETRY_BASE_MS, each next one twice as long, never more than
 * RETRY_MAX_MS, with a random half taken off. Retries are not capped in number: an outage can
 * last any time, a waiting task holds no lease, lock or connection, and it can be cancelled.
 */
export const RETRY_BASE_MS = 1_000;
export const RETRY_MAX_MS = 60_000;

export interface TaskSchedulerOptions {
  orm: Orm;
  log: Logger;
  /** Recorded as the lease owner. */
  instanceName: string;
  /** Connection string for the dedicated LISTEN connection. */
  connectionString: string;
  maxConcurrentTasks: number;
  /** Tasks claimed ahead of free slots (see prefetch-queue.ts); default PREFETCH_PER_SLOT per slot (at most MAX_PREFETCH), 0 disables. */
  prefetch?: number;
  prefetchHoldMs?: number;
  clock?: Clock;
  leaseMs?: number;
  leaseRenewMs?: number;
  pollIntervalMs?: number;
  keepTasksForMs?: number;
  cleanupIntervalMs?: number;
  warnAfterMs?: number;
  stopGraceMs?: number;
  retryBaseMs?: number;
  retryMaxMs?: number;
}

export type ResolvedOptions = Required<Omit<TaskSchedulerOptions, 'clock'>>;

/** The options with every unset limit at its default. */
export function withDefaults(opts: TaskSchedulerOptions): ResolvedOptions {
  return {
    leaseMs: TASK_LEASE_MS,
    leaseRenewMs: LEASE_RENEW_INTERVAL_MS,
    pollIntervalMs: POLL_INTERVAL_MS,
    keepTasksForMs: KEEP_TASKS_FOR_MS,
    cleanupIntervalMs: CLEANUP_INTERVAL_MS,
    warnAfterMs: LAST_UPDATE_BEFORE_WARNING_MS,
    stopGraceMs: STOP_GRACE_MS,
    prefetch: Math.min(MAX_PREFETCH, PREFETCH_PER_SLOT * opts.maxConcurrentTasks),
    prefetchHoldMs: PREFETCH_HOLD_MS,
    retryBaseMs: RETRY_BASE_MS,
    retryMaxMs: RETRY_MAX_MS,
    ...opts,
  } as ResolvedOptions;
}
