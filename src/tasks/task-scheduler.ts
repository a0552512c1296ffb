/**
 * Persistent background tasks shared by every instance on one database.
 *
 * How it works / things to keep in mind:
 * - A task is a row of `scheduled_tasks`. Any instance claims due tasks of the actions *it* has
 *   registered, in one `UPDATE ... FOR UPDATE SKIP LOCKED` statement, up to maxConcurrentTasks
 *   actions running at once. A claim gives the task a fresh lease (a `lease_id` from a sequence and
 *   an expiry on the database clock) that this instance renews every leaseRenewMs until the outcome
 *   is recorded.
 * - While actions are short, claims also fill a small prefetch queue (prefetch-queue.ts): a
 *   finishing action's slot goes to a queued task at once, and its outcome is written together
 *   with the claim that refills the queue (outcome-batcher.ts). A queued task is leased like a
 *   running one: renewed, cancellable, handed back on stop(), and handed back when no slot freed
 *   up for it within prefetchHoldMs.
 * - Every write of a run (checkpoint, progress, fenced transaction, outcome) names its lease and
 *   succeeds only while the lease is the task's current one: a runner that was paused or cut off
 *   long enough for another instance to take the task over cannot write anything.
 * - An instance that dies stops renewing; its tasks' leases expire after leaseMs and the next claim
 *   pass anywhere (a notification, a due timer or the pollIntervalMs fallback) resumes them from
 *   their last checkpoint.
 * - Wake-ups: scheduling a task sends NOTIFY; every instance LISTENs on a dedicated connection
 *   and runs a claim pass at once. Future tasks arm a timer on the scheduler's clock for their due
 *   time. Polling every pollIntervalMs covers lost notifications and expired leases.
 * - Cancellation marks the row `cancelled` (voiding the lease) and aborts the run's signal on
 *   whichever instance runs it (NOTIFY).
 * - stop(): no more claims; running actions are aborted with TaskShutdownError, and whatever did
 *   not complete is handed back (active, no lease) so another instance resumes it immediately.
 * - An action that throws a transient error (isTransient: Redis or PostgreSQL out, a conflict)
 *   does not fail its task: the task stays active with its checkpoint, shows `progress.retry`, and
 *   is claimable again after an exponential back-off (retryBaseMs doubling to retryMaxMs, jitter).
 * - Finished tasks are deleted keepTasksForMs after their last update.
 */
import type { Em } from '../infra/orm';
import { FaultLog } from '../logger';
import { currentRequest, outsideRequest, withRequestContext } from '../request-context';
import { startSpan, tracingEnabled, type SpanHandle } from '../tracing/tracing';
import { badRequest, echo, notFound } from '../errors';
import { randomLetters } from '../matrix/ids';
import { DueTimer, systemClock, type Clock } from './clock';
import { withDefaults, type ResolvedOptions, type TaskSchedulerOptions } from './scheduler-options';
import { ActiveRun, RERUN_DELAY_MS, TaskCancelledError, TaskShutdownError, isTerminal, runAction, type Settled } from './task-run';
import { TaskListener } from './task-listener';
import { TaskWatchers } from './task-watch';
import { OutcomeBatcher } from './outcome-batcher';
import { TaskClaimsRepository, type ClaimSpec } from './task-claims.repository';
import { TaskRepository, type NewTask, type TaskRow } from './task.repository';
import { LeaseKeeper } from './lease-keeper';
import { PrefetchQueue } from './prefetch-queue';
import { tasks as taskMetrics } from '../metrics/metrics';
import { sources } from '../metrics/sources';
import {
  LeaseLostError,
  type ScheduleOptions,
  type ScheduledTask,
  type TaskAction,
  type TaskFilter,
  type TaskScheduler,
  type TaskUpdate,
} from './task.types';

/** Bound of the set of notification echoes to ignore (entries whose echo was lost are dropped). */
const MAX_ECHOES = 10_000;

export class PgTaskScheduler implements TaskScheduler {
  readonly clock: Clock;
  private readonly repo = new TaskRepository();
  private readonly claims = new TaskClaimsRepository();
  private readonly outcomes: OutcomeBatcher;
  private readonly actions = new Map<string, TaskAction>();
  /** Started runs, until their outcome is recorded. */
  private readonly running = new Map<string, { run: ActiveRun; done: Promise<void> }>();
  /** Actions executing now (at most maxConcurrentTasks). */
  private busy = 0;
  private readonly queue: PrefetchQueue;
  private holdTimer: NodeJS.Timeout | null = null;
  /** The claim pass in progress, if any (stop() waits for it). */
  private passDone: Promise<void> | null = null;
  /** Hand-backs in progress (stop() waits for them). */
  private readonly handingBack = new Set<Promise<void>>();
  private readonly watchers = new TaskWatchers();
  private readonly listener: TaskListener;
  private readonly leases: LeaseKeeper;
  private readonly o: ResolvedOptions;
  private started = false;
  private stopping = false;
  private passing = false;
  private again = false;
  private lookAhead = false;
  /** Ids of tasks scheduled and claimed for here, whose own notification is to be ignored. */
  private readonly echoes = new Set<string>();
  /** Slots held by claims in flight. */
  private reserved = 0;
  private timers: NodeJS.Timeout[] = [];
  private readonly due: DueTimer;
  private cancelCleanup: (() => void) | null = null;
  /** Failing claim passes (database down): logged when they start, summarised, and when they end. */
  private readonly claimFault: FaultLog;
  private unregisterMetrics: (() => void) | null = null;

  constructor(opts: TaskSchedulerOptions) {
    this.clock = opts.clock ?? systemClock;
    this.o = withDefaults(opts);
    this.claimFault = new FaultLog(
      opts.log,
      'task claims',
      {},
      {
        messages: {
          down: 'task claim pass failed; retrying on the next poll',
          still: 'task claim passes still failing',
          up: 'task claim passes work again',
        },
      },
    );
    this.queue = new PrefetchQueue(this.o.prefetch, this.o.prefetchHoldMs);
    this.due = new DueTimer(this.clock, () => this.kick());
    this.outcomes = new OutcomeBatcher(opts.orm, this.claims, {
      claimFor: () => (this.started && !this.stopping ? this.reserve() : null),
      claimed: (spec, rows) => this.claimed(spec, rows),
    });
    this.listener = new TaskListener(
      opts.connectionString,
      {
        onNew: (action, at, id) => this.onNew(action, at, id),
        onCancel: (id) => this.leased(id)?.abort(new TaskCancelledError(id)),
        onConnected: () => this.kick(true),
      },
      opts.log,
    );
    this.leases = new LeaseKeeper({
      orm: opts.orm,
      repo: this.repo,
      listener: this.listener,
      log: opts.log,
      clock: this.clock,
      leaseMs: this.o.leaseMs,
      warnAfterMs: this.o.warnAfterMs,
    });
  }

  /** Registers the function of an action; call before start() so resumed tasks find it. */
  registerAction(name: string, action: TaskAction): void {
    this.actions.set(name, action);
    if (this.started) this.kick();
  }

  /**
   * Persists a task and wakes a runner on any instance. A timestamp absent or in the past means
   * now. A task due now that this instance has a free slot for is claimed in the same statement
   * (it is `active` at once, as in Synapse 1.114); otherwise it is `scheduled` and notified.
   * Throws when the action is not registered.
   */
  async scheduleTask(em: Em, action: string, opts: ScheduleOptions = {}): Promise<string> {
    if (!this.actions.has(action)) throw new Error(`No function associated with action ${action}`);
    const now = this.clock.now();
    // A task scheduled while a request is served names that request (and its span) by default.
    const request = currentRequest();
    const t: NewTask = {
      id: randomLetters(16),
      action,
      timestamp: now,
      resourceId: opts.resourceId ?? null,
      params: opts.params ?? null,
      requestId: opts.requestId ?? request?.requestId ?? null,
      traceParent: request?.span?.traceparent ?? null,
    };
    if (opts.timestamp !== undefined && opts.timestamp !== null && opts.timestamp >= now) t.timestamp = opts.timestamp;
    // Inside a transaction the row stays invisible until commit: the notification (sent at
    // commit) is the wake-up.
    const committed = !em.isInTransaction();
    const spec = committed && t.timestamp <= now && this.started && !this.stopping ? this.reserve(1, false) : null;
    if (spec) {
      let rows: TaskRow[] = [];
      try {
        rows = [await this.repo.insertClaimed(em, t, spec)];
      } finally {
        this.claimed(spec, rows);
      }
      return t.id;
    }
    await this.repo.insert(em, t);
    if (t.timestamp > now) this.due.arm(t.timestamp);
    else if (committed) {
      // Claim now (no free slot: a finishing run will), and ignore the notification's echo.
      this.kick();
      if (this.echoes.size >= MAX_ECHOES) this.echoes.clear();
      this.echoes.add(t.id);
    }
    return t.id;
  }

  private onNew(action: string, at: number, id: string): void {
    if (this.echoes.delete(id) || !this.actions.has(action)) return;
    if (at <= this.clock.now()) this.kick();
    else this.due.arm(at);
  }

  /** The task, or null (also once cleaned up). */
  async getTask(em: Em, id: string): Promise<ScheduledTask | null> {
    const row = await this.repo.get(em, id);
    return row && publicTask(row);
  }

  /** Tasks matching Synapse's get_tasks filters, oldest first. */
  async getTasks(em: Em, filter: TaskFilter): Promise<ScheduledTask[]> {
    return (await this.repo.list(em, filter)).map(publicTask);
  }

  /**
   * Synapse's update_task (unfenced; runners use TaskRun.updateResult). Every update refreshes
   * the timestamp unless one is given. Throws 400 for terminal statuses; false when missing.
   */
  async updateTask(em: Em, id: string, u: TaskUpdate): Promise<boolean> {
    if (u.status && isTerminal(u.status)) throw badRequest(`Cannot set the status of task ${echo(id)} to ${echo(u.status)}`);
    const ok = await this.repo.update(em, id, {
      status: u.status ?? undefined,
      result: u.result ?? undefined,
      error: u.error ?? undefined,
      timestamp: u.timestamp ?? this.clock.now(),
    });
    if (ok && u.status === 'scheduled') this.kick();
    return ok;
  }

  /**
   * Marks a scheduled or active task `cancelled` and aborts its run wherever it runs. Terminal
   * tasks are returned unchanged; null when the task does not exist.
   */
  async cancelTask(em: Em, id: string): Promise<ScheduledTask | null> {
    const row = await this.repo.cancel(em, id, this.clock.now());
    if (!row) return this.getTask(em, id);
    await this.repo.notify(em, `c|${id}`);
    this.leased(id)?.abort(new TaskCancelledError(id));
    const task = publicTask(row);
    this.watchers.changed(task);
    return task;
  }

  /** Deletes a task. Throws 404 when missing and 400 when it is active. */
  async deleteTask(em: Em, id: string): Promise<void> {
    const res = await this.repo.delete(em, id);
    if (res === 'missing') throw notFound('Task not found');
    if (res === 'active') throw badRequest('Cannot delete an active task');
  }

  /**
   * Yields the task now and after every change (local changes at once, others within
   * WATCH_POLL_MS) until it is finished, deleted, or `signal` aborts.
   */
  watchTask(em: Em, id: string, signal: AbortSignal): AsyncGenerator<ScheduledTask> {
    return this.watchers.watch(id, () => this.getTask(em.fork(), id), signal);
  }

  /** Starts claiming: LISTEN, timers, then a first pass (which resumes orphaned tasks). */
  async start(): Promise<void> {
    if (this.started) return;
    this.started = true;
    await this.listener.start();
    this.timers.push(setInterval(() => this.kick(true), this.o.pollIntervalMs));
    this.timers.push(
      setInterval(
        () => void this.leases.renew([...[...this.running.values()].map((e) => e.run), ...this.queue.runs()]),
        this.o.leaseRenewMs,
      ),
    );
    this.timers.forEach((t) => t.unref());
    this.scheduleCleanup();
    this.unregisterMetrics = sources.scheduler({ running: () => this.busy, claimedAhead: () => this.queue.size });
    this.kick(true);
  }

  /**
   * Stops claiming, hands queued tasks back, aborts running actions (TaskShutdownError) and hands
   * back, after at most stopGraceMs, every task that did not finish so another instance resumes it
   * at once.
   */
  async stop(): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    this.timers.forEach((t) => clearInterval(t));
    if (this.holdTimer) clearTimeout(this.holdTimer);
    this.due.disarm();
    this.cancelCleanup?.();
    this.claimFault.close();
    this.leases.close();
    this.unregisterMetrics?.();
    await this.listener.stop();
    const queued = this.queue.takeAll();
    queued.forEach((r) => r.abort(new TaskShutdownError()));
    this.handBack(queued);
    // A claim in flight hands its tasks back when it returns (see claimed()).
    await this.passDone;
    const entries = [...this.running.values()];
    entries.forEach((e) => e.run.abort(new TaskShutdownError()));
    let grace: NodeJS.Timeout | undefined;
    await Promise.race([Promise.allSettled(entries.map((e) => e.done)), new Promise((r) => (grace = setTimeout(r, this.o.stopGraceMs)))]);
    clearTimeout(grace);
    this.handBack([...this.running.values()].map((e) => e.run));
    await Promise.all([...this.handingBack]);
  }

  /**
   * Gives the leases of `runs` back (their tasks stay active, claimable at once by any instance)
   * and announces them. A failure is logged: the leases then expire.
   */
  private handBack(runs: ActiveRun[]): void {
    if (runs.length === 0) return;
    const em = this.o.orm.em.fork();
    const p: Promise<void> = this.repo
      .release(
        em,
        runs.map((r) => r.lease),
      )
      .then(() => this.announce([...new Set(runs.map((r) => r.task.action))]))
      .catch((err: Error) => this.o.log.warn({ err: err.message }, 'could not hand tasks back; their leases will expire'))
      .finally(() => this.handingBack.delete(p));
    this.handingBack.add(p);
  }

  /** The run of a task leased by this instance (running or queued), if any. */
  private leased(id: string): ActiveRun | undefined {
    return this.running.get(id)?.run ?? this.queue.get(id);
  }

  /** Ids of the tasks running on this instance. */
  runningTaskIds(): string[] {
    return [...this.running.keys()];
  }

  /** Ids of the tasks this instance claimed ahead of a free slot (leased, not started yet). */
  queuedTaskIds(): string[] {
    return this.queue
      .runs()
      .filter((r) => !r.signal.aborted)
      .map((r) => r.task.id);
  }

  /**
   * Runs a claim pass now (or right after the one in progress). `lookAhead` also finds the next
   * future due time (start-up, polls, reconnects: tasks this instance was not told about).
   */
  kick(lookAhead = false): void {
    if (!this.started || this.stopping) return;
    this.lookAhead ||= lookAhead;
    if (this.passing) {
      this.again = true;
      return;
    }
    this.passing = true;
    this.passDone = this.pass().finally(() => {
      this.passing = false;
      this.passDone = null;
    });
  }

  private async pass(): Promise<void> {
    do {
      this.again = false;
      if (this.stopping) return;
      const lookAhead = this.lookAhead;
      this.lookAhead = false;
      const spec = this.reserve();
      if (!spec) return;
      try {
        const em = this.o.orm.em.fork();
        let rows: TaskRow[] = [];
        try {
          rows = await this.claims.claim(em, spec);
          this.claimFault.ok();
        } finally {
          // Launched (and so renewed) at once: a claimed task must not wait for anything else.
          this.claimed(spec, rows);
        }
        if (lookAhead && rows.length < spec.limit) {
          const at = await this.repo.nextDue(em, spec.actions);
          if (at !== null && at > this.clock.now()) this.due.arm(at);
        }
      } catch (err) {
        this.claimFault.failed(err);
        return;
      }
    } while (this.again);
  }

  /**
   * Reserves the room a claim may fill (at most `cap`): free slots not promised to queued tasks,
   * plus, with `queue` and while prefetching is on, free places in the prefetch queue.
   * Reservations keep concurrent claims from overfilling the instance.
   */
  private reserve(cap = Infinity, queue = true): ClaimSpec | null {
    const room = this.o.maxConcurrentTasks + (queue ? this.queue.capacity() : 0) - this.busy - this.queue.size - this.reserved;
    const limit = Math.min(cap, room);
    if (limit <= 0) return null;
    this.reserved += limit;
    return { owner: this.o.instanceName, actions: [...this.actions.keys()], now: this.clock.now(), limit, leaseMs: this.o.leaseMs };
  }

  /** Ends the reservation of `spec` and queues the claimed tasks, starting those that have a slot. */
  private claimed(spec: ClaimSpec | null, rows: TaskRow[]): void {
    if (spec) this.reserved -= spec.limit;
    if (rows.length === 0) return;
    const runs = rows.map((row) => this.prepare(row));
    // Claimed while stopping (a claim that was in flight): straight back.
    if (this.stopping) return this.handBack(runs);
    runs.forEach((run) => this.queue.push(run));
    this.pump();
    this.armHold();
  }

  /** Starts queued tasks while slots are free (none once stopping: they are handed back). */
  private pump(): void {
    while (!this.stopping && this.busy < this.o.maxConcurrentTasks) {
      const run = this.queue.next();
      if (!run) return;
      this.begin(run);
    }
  }

  /** Hands back queued tasks that waited prefetchHoldMs for a slot, when the oldest one may have. */
  private armHold(): void {
    if (this.holdTimer || this.stopping) return;
    const ms = this.queue.untilStale();
    if (ms === null) return;
    this.holdTimer = setTimeout(() => {
      this.holdTimer = null;
      if (this.stopping) return;
      this.handBack(this.queue.takeStale().filter((r) => !r.signal.aborted));
      this.armHold();
    }, ms + 1);
    this.holdTimer.unref();
  }

  /** The run of a claimed task (leased from now on, started later by pump()). */
  private prepare(row: TaskRow): ActiveRun {
    // The request id comes from the run's request context (see begin()).
    const log = this.o.log.child({ taskId: row.id, action: row.action });
    if (this.clock.now() > row.timestamp + this.o.warnAfterMs)
      inTaskContext(row, null, () => log.warn('task has had no update for a long time; it may be stuck'));
    const run = new ActiveRun(row, {
      orm: this.o.orm,
      repo: this.repo,
      clock: this.clock,
      log,
      leaseMs: this.o.leaseMs,
      retryBaseMs: this.o.retryBaseMs,
      retryMaxMs: this.o.retryMaxMs,
      outcomes: this.outcomes,
      changed: (t) => this.watchers.changed(t),
    });
    this.watchers.changed({ ...run.task });
    return run;
  }

  /** Runs a leased task's action in a slot; the slot is free again as soon as the action returns. */
  private begin(run: ActiveRun): void {
    const action = this.actions.get(run.task.action)!;
    this.busy += 1;
    const startedAt = performance.now();
    taskMetrics.started(run.task.action, run.dueAt, this.clock.now(), run.resumed);
    const returned = () => {
      this.busy -= 1;
      const ms = performance.now() - startedAt;
      this.queue.ran(ms);
      taskMetrics.ran(run.task.action, ms);
      this.pump();
    };
    // Every line the run logs carries the id of the request that scheduled the task; with traces
    // exported, the run is a span linked to that request's span.
    const span = tracingEnabled()
      ? startSpan(`task ${run.task.action}`, {
          kind: 'internal',
          links: [run.traceParent],
          attributes: { 'task.id': run.task.id, 'task.action': run.task.action, 'task.resumed': run.resumed, 'request.id': run.requestId },
        })
      : null;
    const done = inTaskContext({ requestId: run.requestId }, span, () => this.execute(run, action, returned)).finally(() => {
      this.running.delete(run.task.id);
      span?.setAttributes({ 'task.status': run.task.status });
      span?.end(run.task.status === 'failed' ? (run.task.error ?? 'failed') : undefined);
      outsideRequest(() => this.kick());
    });
    this.running.set(run.task.id, { run, done });
  }

  private async execute(run: ActiveRun, action: TaskAction, returned: () => void): Promise<void> {
    try {
      const settled = await runAction(run, action, returned);
      taskMetrics.ended(run.task.action, outcomeOf(run, settled));
      if (settled === 'handedBack') await this.announce([run.task.action]);
      if (settled === 'rerun') setTimeout(() => this.kick(), RERUN_DELAY_MS + 1).unref();
      if (settled === 'retry') setTimeout(() => this.kick(), run.retryInMs + 1).unref();
    } catch (err) {
      run.log.error({ err }, 'could not record the outcome of a task; it will be resumed');
    }
  }

  /** Tells every instance that tasks of these actions are claimable now. */
  private async announce(actions: string[]): Promise<void> {
    const em = this.o.orm.em.fork();
    for (const a of actions) await this.repo.notify(em, `n|0||${a}`).catch(() => undefined);
  }

  private scheduleCleanup(): void {
    this.cancelCleanup = this.clock.setTimer(this.o.cleanupIntervalMs, () => {
      if (this.stopping) return;
      this.scheduleCleanup();
      this.repo
        .cleanup(this.o.orm.em.fork(), this.clock.now() - this.o.keepTasksForMs)
        .catch((err: Error) => this.o.log.warn({ err: err.message }, 'task cleanup failed'));
    });
  }
}

/**
 * Runs `fn` as work for the request that scheduled the task (none: for no request, even when a
 * request's work started the run), with the run's span, if any, as the current span.
 */
function inTaskContext<T>(row: { requestId?: string | null }, span: SpanHandle | null, fn: () => T): T {
  if (!row.requestId) return span ? withRequestContext({ requestId: '', traceId: span.traceId, span }, fn) : outsideRequest(fn);
  return withRequestContext({ requestId: row.requestId, traceId: span?.traceId ?? null, span }, fn);
}

function publicTask(row: TaskRow): ScheduledTask {
  const { leaseId: _lease, requestId: _request, traceParent: _trace, dueAt: _due, resumed: _resumed, ...task } = row;
  return task;
}

/** The outcome label of a finished run (metrics). */
function outcomeOf(run: ActiveRun, settled: Settled): string {
  const reason = run.signal.reason;
  if (reason instanceof LeaseLostError) return 'lease_lost';
  if (reason instanceof TaskCancelledError) return 'cancelled';
  if (settled === 'handedBack') return 'handed_back';
  if (settled === 'rerun') return 'rerun';
  return run.task.status;
}

export { TASK_LEASE_MS, type TaskSchedulerOptions } from './scheduler-options';
