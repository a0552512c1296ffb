/**
 * Message retention (spec §8): the effective policy used to hide expired messages, and the purge
 * jobs that delete them.
 *
 * How it works / things to keep in mind:
 * - Each configured job fires every `interval` on every instance; an exclusive lock per job and a
 *   check for an unfinished run make exactly one `retention_purge` task per firing.
 * - That task walks the job's rooms with at most RETENTION_PURGE_CONCURRENCY history purges at a
 *   time (Synapse starts them all at once), skips rooms with an active delete task, and
 *   checkpoints the rooms it finished so a resumed task carries on where it stopped. The cut-off
 *   time is fixed when the job fires, so a resumed task purges exactly what the first run would.
 * - Each room's purge is the ordinary history purge (pagination write lock, fenced batches) with
 *   local events included; rooms with nothing before the cut-off are skipped without locking.
 * - The allowed lifetime range clamps purges only; visibility uses the room's policy as is.
 */
import type { RetentionConfig, RetentionPurgeJob } from '../config';
import type { LockManager } from '../infra/locks/lock.types';
import { isTransient } from '../infra/transient';
import type { Orm } from '../infra/orm';
import type { Logger } from '../logger';
import type { TaskOutcome, TaskRun, TaskScheduler } from '../tasks/task.types';
import { PurgeHistoryRepository } from './purge-history.repository';
import type { PurgeHistoryService } from './purge-history.service';
import { RetentionRepository } from './retention.repository';
import { historicToken, roomTokenToString } from '../matrix/stream-token';

export const RETENTION_PURGE_ACTION_NAME = 'retention_purge';
/** Delete tasks that make a retention purge skip their room (Synapse's get_delete_tasks_by_room). */
export const DELETE_ACTIONS = ['purge_room', 'shutdown_and_purge_room'];
/** Exclusive lock taken while a job firing checks for and schedules its task. */
const JOB_LOCK_NAME = 'retention_purge_job';

/** Longest delay a Node timer accepts (longer ones fire at once). */
const MAX_TIMER_MS = 2 ** 31 - 1;

/** Calls `fn` every `ms` (any length, e.g. "1y"); returns a function that stops it. */
function every(ms: number, fn: () => void): () => void {
  let timer: NodeJS.Timeout;
  const arm = (left: number) => {
    timer = setTimeout(
      () => {
        if (left > MAX_TIMER_MS) return arm(left - MAX_TIMER_MS);
        fn();
        arm(Math.max(1, ms));
      },
      Math.min(left, MAX_TIMER_MS),
    );
    timer.unref();
  };
  arm(Math.max(1, ms));
  return () => clearTimeout(timer);
}

export interface RetentionPolicy {
  minLifetime: number | null;
  maxLifetime: number | null;
}

interface JobParams {
  job: number;
  shortest_max_lifetime: number | null;
  longest_max_lifetime: number | null;
  now: number;
}

export class RetentionService {
  private readonly rooms = new RetentionRepository();
  private readonly events = new PurgeHistoryRepository();
  private readonly timers: (() => void)[] = [];

  constructor(
    private readonly cfg: RetentionConfig,
    private readonly orm: Orm,
    private readonly locks: LockManager,
    private readonly scheduler: TaskScheduler,
    private readonly purges: PurgeHistoryService,
    readonly now: () => number,
    private readonly log: Logger,
  ) {}

  /**
   * The policy that hides a room's expired messages: nothing when retention is disabled, the
   * default policy for rooms without one, otherwise the room's values with the default's filling
   * the gaps.
   */
  effectivePolicy(room: RetentionPolicy | null): RetentionPolicy {
    if (!this.cfg.enabled) return { minLifetime: null, maxLifetime: null };
    return {
      minLifetime: room?.minLifetime ?? this.cfg.defaultMinLifetimeMs,
      maxLifetime: room?.maxLifetime ?? this.cfg.defaultMaxLifetimeMs,
    };
  }

  /** Oldest origin_server_ts of a message clients may still see, or null when none expire. */
  visibleSince(room: RetentionPolicy | null, now = this.now()): number | null {
    const max = this.effectivePolicy(room).maxLifetime;
    return max === null ? null : now - max;
  }

  register(): void {
    this.scheduler.registerAction(RETENTION_PURGE_ACTION_NAME, (run) => this.runJob(run));
  }

  /** Arms the periodic jobs (only when retention is enabled). */
  start(): void {
    if (!this.cfg.enabled) return;
    this.cfg.purgeJobs.forEach((job, i) => {
      this.timers.push(
        every(
          job.intervalMs,
          () => void this.fireJob(i).catch((err) => this.log.warn({ err, job: i }, '[purge] retention job failed to start')),
        ),
      );
    });
  }

  stop(): void {
    this.timers.splice(0).forEach((cancel) => cancel());
  }

  /**
   * One firing of purge job `i`: schedules its `retention_purge` task unless one is unfinished;
   * returns the task id (null when skipped). `now` fixes the cut-off time.
   */
  async fireJob(i: number, now = this.now()): Promise<string | null> {
    const job: RetentionPurgeJob = this.cfg.purgeJobs[i];
    const lock = await this.locks.tryAcquire(JOB_LOCK_NAME, String(i));
    if (!lock) return null;
    try {
      const em = this.orm.em.fork();
      const resourceId = `retention_job_${i}`;
      const unfinished = await this.scheduler.getTasks(em, {
        actions: [RETENTION_PURGE_ACTION_NAME],
        resourceId,
        statuses: ['scheduled', 'active'],
      });
      if (unfinished.length > 0) return null;
      const params: JobParams = {
        job: i,
        shortest_max_lifetime: job.shortestMaxLifetimeMs,
        longest_max_lifetime: job.longestMaxLifetimeMs,
        now,
      };
      return await this.scheduler.scheduleTask(em, RETENTION_PURGE_ACTION_NAME, { resourceId, params: { ...params } });
    } finally {
      await lock.release();
    }
  }

  /** The `retention_purge` action. */
  private async runJob(run: TaskRun): Promise<TaskOutcome> {
    const p = run.task.params as unknown as JobParams;
    const em = this.orm.em.fork();
    const rooms = await this.rooms.roomsInRange(
      em,
      p.shortest_max_lifetime,
      p.longest_max_lifetime,
      this.includeNull(p.shortest_max_lifetime, p.longest_max_lifetime),
    );
    const done = new Set<string>((run.task.result?.done as string[] | undefined) ?? []);
    const todo = rooms.filter((r) => !done.has(r.roomId));
    let purged = 0;
    let next = 0;
    let stopped = false;
    const worker = async () => {
      while (next < todo.length && !stopped) {
        run.signal.throwIfAborted();
        const room = todo[next++];
        purged += await this.purgeRoom(run, room.roomId, room.maxLifetime, p.now).catch((err) => {
          // One room's failure must not stop the others; a stopped task, and a transient error
          // (the whole job retries with back-off, rooms done are skipped), are the scheduler's business.
          if (run.signal.aborted || isTransient(err)) throw err;
          this.log.warn({ err, roomId: room.roomId }, '[purge] retention purge of a room failed');
          return 0;
        });
        done.add(room.roomId);
        await run.updateResult({ done: [...done] });
        await run.reportProgress({ rooms_total: rooms.length, rooms_done: done.size, events_purged: purged });
      }
    };
    // A worker that throws (the task stopped, or a transient error it retries for) stops the others
    // after their current room, and the run ends once none is left running.
    const settled = await Promise.allSettled(
      Array.from({ length: this.cfg.purgeConcurrency }, () => worker().catch((err) => ((stopped = true), Promise.reject(err)))),
    );
    const failed = settled.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;
    return { status: 'complete', result: { done: [...done], rooms: rooms.length, events_purged: purged } };
  }

  /** Whether a job also covers rooms without their own max_lifetime (through the default policy). */
  private includeNull(minMs: number | null, maxMs: number | null): boolean {
    const def = this.cfg.defaultMaxLifetimeMs;
    if (def === null) return false;
    return !(minMs !== null && minMs >= def) && !(maxMs !== null && maxMs < def);
  }

  /** Purges one room's expired history; returns the events purged (0 when skipped). */
  private async purgeRoom(run: TaskRun, roomId: string, roomMax: number | null, now: number): Promise<number> {
    const em = this.orm.em.fork();
    const deletes = await this.scheduler.getTasks(em, { actions: DELETE_ACTIONS, resourceId: roomId, statuses: ['active'] });
    if (deletes.length > 0) {
      this.log.warn({ roomId }, "[purge] not purging room for retention as there's an ongoing delete");
      return 0;
    }
    let maxLifetime = roomMax || this.cfg.defaultMaxLifetimeMs;
    if (maxLifetime === null) return 0;
    if (this.cfg.allowedLifetimeMinMs !== null) maxLifetime = Math.max(this.cfg.allowedLifetimeMinMs, maxLifetime);
    if (this.cfg.allowedLifetimeMaxMs !== null) maxLifetime = Math.min(maxLifetime, this.cfg.allowedLifetimeMaxMs);
    const cutOff = await this.purges.cutOffForTs(em, roomId, now - maxLifetime);
    if (!cutOff || !(await this.events.hasCandidates(em, roomId, cutOff.depth))) return 0;
    const token = roomTokenToString(historicToken(cutOff.depth, cutOff.stream));
    const res = await this.purges.purgeHistory(roomId, token, true, { fenced: (fn) => run.fenced(fn), signal: run.signal });
    return res.purged;
  }
}
