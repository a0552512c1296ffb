/**
 * One execution of a task on this instance: the TaskRun handed to the action (fenced writes
 * under the run's lease) and the recording of what the action returned.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import type { Orm } from '../infra/orm';
import type { Em } from '../infra/orm';
import type { Logger } from '../logger';
import { MatrixError } from '../errors';
import { isTransient } from '../infra/transient';
import { runAsLockOwner } from '../infra/locks/lock-owner';
import type { Clock } from './clock';
import type { OutcomeBatcher } from './outcome-batcher';
import type { LeaseRef, TaskRepository, TaskRow } from './task.repository';
import { LeaseLostError, type Json, type ScheduledTask, type TaskOutcome, type TaskRun, type TaskStatus } from './task.types';

/** Abort reason of runs stopped because this instance shuts down (the task resumes elsewhere). */
export class TaskShutdownError extends Error {
  constructor() {
    super('the instance is shutting down');
    this.name = 'TaskShutdownError';
  }
}

/** Abort reason of runs whose task was cancelled. */
export class TaskCancelledError extends Error {
  constructor(id: string) {
    super(`task ${id} was cancelled`);
    this.name = 'TaskCancelledError';
  }
}

export interface RunDeps {
  orm: Orm;
  repo: TaskRepository;
  clock: Clock;
  log: Logger;
  leaseMs: number;
  /** Back-off of transient failures: the first wait, doubling up to the longest (see retryDelayMs). */
  retryBaseMs: number;
  retryMaxMs: number;
  outcomes: OutcomeBatcher;
  /** Called with the task's new state after each write (for watchers). */
  changed(task: ScheduledTask): void;
}

/** Delay before a task whose action returned `active` runs again (Synapse relaunches after 0.1 s). */
export const RERUN_DELAY_MS = 100;

export type Settled = 'done' | 'rerun' | 'retry' | 'handedBack';

/**
 * What a task waiting to retry after a transient failure shows under `progress.retry`: how many
 * transient failures it has met (the back-off grows with them), when it runs again (ms since
 * epoch) and the last error. Shown until the action reports progress again; the count carries on
 * from one retry to the next.
 */
export interface RetryState {
  retries: number;
  next_retry_at: number;
  last_error: string;
}

/**
 * Wait before retry number `retries` (1, 2, ...): `baseMs` doubling per retry up to `maxMs`, of
 * which a random half is taken off (jitter), so tasks failed by one outage do not come back in
 * step.
 */
export function retryDelayMs(retries: number, baseMs: number, maxMs: number, random: () => number = Math.random): number {
  const ceiling = Math.min(maxMs, baseMs * 2 ** Math.min(30, Math.max(0, retries - 1)));
  return Math.round(ceiling / 2 + (random() * ceiling) / 2);
}

/** An outcome as recorded: a transient failure carries its retry state and wait. */
interface Recorded extends TaskOutcome {
  retry?: RetryState & { delayMs: number };
}

const TERMINAL: TaskStatus[] = ['complete', 'failed', 'cancelled'];
export const isTerminal = (s: TaskStatus) => TERMINAL.includes(s);

/** Synapse records a failed task's exception text; a MatrixError renders as "<code>: <msg>". */
export function errorText(err: unknown): string {
  if (err instanceof MatrixError) return err.toTaskError();
  return err instanceof Error ? err.message : String(err);
}

export class ActiveRun implements TaskRun {
  readonly controller = new AbortController();
  readonly lease: LeaseRef;
  /** Wait before the task is claimable again, once settled as 'retry'. */
  retryInMs = 0;
  /** Transient failures of the task before this run (from its progress when claimed). */
  private readonly priorRetries: number;
  /** Clock time of the last write made by the action (stuck-task warnings). */
  lastUpdate: number;
  warnedAt = 0;
  readonly task: ScheduledTask;
  /** Log lines of this run carry the task id, its action and the request that scheduled it. */
  readonly log: Logger;
  /** The request that scheduled the task, and the `traceparent` of its span (traces exported). */
  readonly requestId: string | null;
  readonly traceParent: string | null;
  /** The due time of a scheduled task this run started (null when resumed or unknown). */
  readonly dueAt: number | null;
  /** Whether an earlier run of the task stopped without an outcome (this run resumes it). */
  readonly resumed: boolean;
  /** The transaction of the fenced() call in progress, if any. */
  private readonly inTx = new AsyncLocalStorage<Em>();

  constructor(
    row: TaskRow,
    private readonly d: RunDeps,
  ) {
    const { leaseId, requestId, traceParent, dueAt, resumed, ...task } = row;
    this.task = task;
    this.requestId = requestId ?? null;
    this.traceParent = traceParent ?? null;
    this.log = d.log;
    this.dueAt = dueAt ?? null;
    this.resumed = resumed === true;
    this.lease = { id: row.id, leaseId: leaseId! };
    this.priorRetries = Number((row.progress?.retry as RetryState | undefined)?.retries ?? 0) || 0;
    this.lastUpdate = d.clock.now();
  }

  get signal(): AbortSignal {
    return this.controller.signal;
  }

  async updateResult(result: Json): Promise<void> {
    await this.write({ result });
    this.task.result = result;
    this.d.changed({ ...this.task });
  }

  async reportProgress(progress: Json): Promise<void> {
    await this.write({ progress });
    this.task.progress = progress;
    this.d.changed({ ...this.task });
  }

  fenced<T>(fn: (em: Em) => Promise<T>): Promise<T> {
    // Nested calls join the outer transaction (a second one would wait for the row it locked).
    const outer = this.inTx.getStore();
    if (outer) return fn(outer);
    return this.d.orm.em.fork().transactional(async (tx) => {
      if (!(await this.d.repo.lockLease(tx, this.lease, this.d.leaseMs))) throw this.lost();
      return this.inTx.run(tx, () => fn(tx));
    });
  }

  /** Aborts the run (once) with `reason`. */
  abort(reason: Error): void {
    if (!this.controller.signal.aborted) this.controller.abort(reason);
  }

  private async write(patch: { result?: Json; progress?: Json }): Promise<void> {
    const now = this.d.clock.now();
    // Inside fenced() the write joins its transaction: the row is locked by it, so a write on
    // another connection would wait for it forever.
    const em = this.inTx.getStore() ?? this.d.orm.em.fork();
    if (!(await this.d.repo.fencedUpdate(em, this.lease, { ...patch, timestamp: now }))) throw this.lost();
    this.lastUpdate = now;
    this.task.timestamp = now;
  }

  private lost(): LeaseLostError {
    const err = new LeaseLostError(this.task.id);
    this.abort(err);
    return err;
  }

  /**
   * Records the action's outcome under the lease. A run stopped by shutdown that did not finish
   * keeps its checkpoint and is handed back (active, no lease) for another instance to resume at
   * once; an action that returned `active` ("run me again") is claimable after RERUN_DELAY_MS.
   */
  async settle(outcome: Recorded): Promise<Settled> {
    const reason = this.controller.signal.reason;
    if (reason instanceof TaskCancelledError || reason instanceof LeaseLostError) return 'done';
    let o = outcome;
    const handBack = reason instanceof TaskShutdownError && o.status !== 'complete';
    if (handBack) o = { status: 'active', result: o.result ?? null };
    const status: TaskStatus = o.status;
    const retry = o.retry ? { retries: o.retry.retries, next_retry_at: o.retry.next_retry_at, last_error: o.retry.last_error } : null;
    const progress = retry ? { ...(this.task.progress ?? {}), retry } : null;
    const written = await this.d.outcomes.record({
      ...this.lease,
      status,
      result: o.result ?? null,
      error: status === 'failed' ? (o.error ?? null) : null,
      progress,
      timestamp: this.d.clock.now(),
      claimableInMs: handBack ? 0 : o.retry ? o.retry.delayMs : RERUN_DELAY_MS,
    });
    if (!written) {
      this.d.log.warn('task lease was lost before its outcome could be recorded');
      return 'done';
    }
    this.task.status = status;
    if (o.result) this.task.result = o.result;
    if (status === 'failed' && o.error) this.task.error = o.error;
    if (progress) this.task.progress = progress;
    this.d.changed({ ...this.task });
    if (handBack) return 'handedBack';
    if (o.retry) {
      this.retryInMs = o.retry.delayMs;
      this.d.log.warn(
        { taskId: this.task.id, action: this.task.action, retries: o.retry.retries, inMs: o.retry.delayMs, err: o.retry.last_error },
        'task met a transient error; it will retry',
      );
      return 'retry';
    }
    return status === 'active' ? 'rerun' : 'done';
  }

  /**
   * The outcome of a transient failure: the task stays active with its checkpoint and is claimable
   * again (by any instance) after a back-off that grows with the retries so far.
   */
  retryOutcome(err: unknown): Recorded {
    const retries = this.priorRetries + 1;
    const delayMs = retryDelayMs(retries, this.d.retryBaseMs, this.d.retryMaxMs);
    return {
      status: 'active',
      result: null,
      retry: { retries, next_retry_at: this.d.clock.now() + delayMs, last_error: errorText(err), delayMs },
    };
  }
}

/**
 * Runs the action and records its outcome. A thrown error is the outcome `failed`, unless it is
 * transient (a dependency outage or conflict, see isTransient): then the task waits and retries
 * with back-off, for every action alike. `returned` is called as soon as the action has returned,
 * before the outcome is written (its slot is free).
 */
export async function runAction(run: ActiveRun, action: (run: ActiveRun) => Promise<TaskOutcome>, returned?: () => void): Promise<Settled> {
  let outcome: Recorded;
  try {
    // Locks the action takes name the task and this lease (a later lease may take them over).
    outcome = await runAsLockOwner({ taskId: run.task.id, leaseId: run.lease.leaseId }, () => action(run));
  } catch (err) {
    if (err instanceof LeaseLostError) run.abort(err);
    outcome = isTransient(err) ? run.retryOutcome(err) : { status: 'failed', error: errorText(err) };
  } finally {
    returned?.();
  }
  return run.settle(outcome);
}
