/**
 * History purges (spec §2.16, §4.1): the admin request that resolves the cut-off and schedules a
 * `purge_history` task, the task action, and the purge routine retention jobs reuse.
 *
 * How it works / things to keep in mind:
 * - The purge holds the write side of `purge_pagination_lock` for the room for its whole
 *   duration, so two purges of one room (history or whole-room) never interleave. New events can
 *   still be sent meanwhile: they land above the cut-off, which a purge never touches.
 * - Events below the cut-off depth are handled in bounded batches, each one statement in its own
 *   short transaction. Inside a task every batch commits only while the task's lease is ours
 *   (TaskRun.fenced), and the position reached is checkpointed, so a purge interrupted by a crash
 *   resumes where it stopped; re-running a finished batch is harmless.
 * - State events are never deleted: they become outliers (out of the timeline, still the room's
 *   state). Local users' events are kept the same way unless delete_local_events is set.
 * - The purge refuses to run when every forward extremity is below the cut-off (the room would be
 *   left with no latest event to build on).
 */
import { PURGE_PAGINATION_LOCK_NAME, type LockManager } from '../infra/locks/lock.types';
import { isTransient } from '../infra/transient';
import type { Em, Orm } from '../infra/orm';
import type { Logger } from '../logger';
import { MatrixError, badJson, badRequest, echo, notFound } from '../errors';
import type { Json, ScheduledTask, TaskOutcome, TaskRun, TaskScheduler } from '../tasks/task.types';
import { PurgeHistoryRepository } from './purge-history.repository';
import { InvalidTokenError, parseRoomToken, roomTokenToString, historicToken } from '../matrix/stream-token';
import type { Pos } from './visibility';

export const PURGE_HISTORY_ACTION_NAME = 'purge_history';
/** Events handled per purge statement (each its own short transaction). */
export const PURGE_HISTORY_BATCH_EVENTS = 5_000;
/**
 * After each batch the purge pauses for a fraction of the batch's duration. Alone on the database
 * it barely pauses; while other statements run (other rooms' reads and writes, from any
 * instance), it pauses as long as the batch took, leaving them half of the database's time.
 */
export const PURGE_PAUSE_RATIO_ALONE = 0.1;
export const PURGE_PAUSE_RATIO_SHARED = 1.0;
/**
 * Other statements are sampled once per batch and once per pause; the purge counts as sharing
 * the database until this many samples in a row have seen none (a request spends only part of
 * its time in the database, so one empty sample does not mean it is alone).
 */
export const PURGE_SHARED_SAMPLES = 16;

export interface PurgeHistoryInput {
  roomId: string;
  eventId: string | null;
  upToTs: number | null;
  deleteLocalEvents: boolean;
  /** The request asking for the purge (stored with its task for the runner's log lines). */
  requestId?: string;
}

export type PurgeStatusName = 'active' | 'complete' | 'failed' | 'cancelled';

export interface PurgeStatus {
  status: PurgeStatusName;
  error: string | null;
  progress: Json | null;
}

/** Progress published while a purge runs. */
export interface PurgeProgress {
  phase: 'purging';
  /** Estimated (see PurgeHistoryRepository.estimateCandidates). */
  events_total: number;
  events_purged: number;
  events_deleted: number;
  /** Whether the purge is yielding to other statements (pausing as long as each batch takes). */
  yielding: boolean;
}

/** Where a purge stopped: resumes after `after`; counts are cumulative. */
export interface PurgeCheckpoint {
  after: Pos | null;
  purged: number;
  deleted: number;
}

export interface PurgeRunOptions {
  /** Runs each batch in one transaction (inside a task: TaskRun.fenced, so a stale runner cannot commit). */
  fenced?: <T>(fn: (em: Em) => Promise<T>) => Promise<T>;
  /** Where the purge logs (inside a task: the run's logger, which names the task and its request). */
  log?: Logger;
  /** Resume point from an earlier, interrupted run. */
  resumeFrom?: PurgeCheckpoint | null;
  /**
   * Called inside every batch's transaction that handled events, with the checkpoint and progress
   * the batch reaches: what it writes commits with the batch or not at all (a task's checkpoint).
   */
  record?: (cp: PurgeCheckpoint, progress: PurgeProgress) => Promise<void>;
  /** Called after every committed batch that handled events. */
  onBatch?: (cp: PurgeCheckpoint, progress: PurgeProgress) => Promise<void>;
  signal?: AbortSignal;
  batchEvents?: number;
  /** A fixed pause ratio instead of PURGE_PAUSE_RATIO_ALONE / _SHARED. */
  pauseRatio?: number;
}

export class PurgeHistoryService {
  private readonly repo = new PurgeHistoryRepository();

  constructor(
    private readonly orm: Orm,
    private readonly locks: LockManager,
    private readonly scheduler: TaskScheduler,
    private readonly serverName: string,
    private readonly log: Logger,
  ) {}

  /** Registers the `purge_history` action (when the services are built, before the scheduler starts). */
  register(): void {
    this.scheduler.registerAction(PURGE_HISTORY_ACTION_NAME, (run) => this.runTask(run));
  }

  /**
   * Resolves the cut-off token and schedules the purge; returns the purge id. Throws 404 "Could
   * not find event <id>", 400 "Event is for wrong room.", 404 "there is no event to be purged",
   * 400 M_BAD_JSON "must specify purge_up_to_event_id or purge_up_to_ts".
   */
  async startPurge(em: Em, input: PurgeHistoryInput): Promise<string> {
    const token = await this.cutOffToken(em, input);
    return this.scheduler.scheduleTask(em, PURGE_HISTORY_ACTION_NAME, {
      resourceId: input.roomId,
      params: { token, delete_local_events: input.deleteLocalEvents },
      requestId: input.requestId,
    });
  }

  private async cutOffToken(em: Em, input: PurgeHistoryInput): Promise<string> {
    if (input.eventId !== null) {
      const ev = await this.repo.eventPosition(em, input.eventId);
      if (!ev) throw notFound(`Could not find event ${echo(input.eventId)}`);
      if (ev.roomId !== input.roomId) throw badRequest('Event is for wrong room.');
      return roomTokenToString(historicToken(ev.depth, ev.stream));
    }
    if (input.upToTs !== null) {
      // Whether there is anything to purge is Synapse's question; where to cut is ours (see the repository).
      const ev = await this.cutOffForTs(em, input.roomId, input.upToTs);
      if (!ev || !(await this.repo.hasEventUpToFirstReceivedAfter(em, input.roomId, input.upToTs)))
        throw notFound('there is no event to be purged');
      return roomTokenToString(historicToken(ev.depth, ev.stream));
    }
    throw badJson('must specify purge_up_to_event_id or purge_up_to_ts');
  }

  /** Where a purge up to `ts` cuts the room (see PurgeHistoryRepository.cutOffForTs). */
  cutOffForTs(em: Em, roomId: string, ts: number): Promise<Pos | null> {
    return this.repo.cutOffForTs(em, roomId, ts);
  }

  /** A purge's status; 404 "purge id '<id>' not found" for unknown ids and other actions. */
  async getStatus(em: Em, purgeId: string): Promise<PurgeStatus> {
    const task: ScheduledTask | null = await this.scheduler.getTask(em, purgeId);
    if (!task || task.action !== PURGE_HISTORY_ACTION_NAME) throw notFound(`purge id '${echo(purgeId)}' not found`);
    const status: PurgeStatusName = task.status === 'scheduled' ? 'active' : task.status;
    return { status, error: task.error || null, progress: status === 'active' ? task.progress : null };
  }

  /** The `purge_history` action: failures become FAILED with Synapse's error text. */
  private async runTask(run: TaskRun): Promise<TaskOutcome> {
    const { resourceId, params } = run.task;
    if (!resourceId || !params || typeof params.token !== 'string' || !('delete_local_events' in params)) {
      return { status: 'failed', error: 'Not enough parameters passed to _purge_history' };
    }
    try {
      await this.purgeHistory(resourceId, params.token, Boolean(params.delete_local_events), {
        fenced: (fn) => run.fenced(fn),
        log: run.log,
        resumeFrom: (run.task.result as PurgeCheckpoint | null) ?? null,
        signal: run.signal,
        // The checkpoint and progress are written in the batch's own transaction: one commit per
        // batch, and a checkpoint that never runs ahead of, or behind, what was deleted.
        record: async (cp, progress) => {
          await run.updateResult({ ...cp });
          await run.reportProgress({ ...progress });
        },
      });
      return { status: 'complete' };
    } catch (err) {
      // Cancellation, shutdown, a lost lease and transient errors (retried with back-off) are the
      // scheduler's business, not a failure.
      if (run.signal.aborted || isTransient(err)) throw err;
      run.log.warn({ err, roomId: resourceId }, '[purge] failed');
      return { status: 'failed', error: err instanceof MatrixError ? err.toTaskError() : err instanceof Error ? err.message : String(err) };
    }
  }

  /**
   * Purges the room's history before the token's depth under the room's pagination write lock.
   * Throws 400 "topological_ordering is greater than forward extremities" (nothing purged),
   * InvalidTokenError for a token without a depth, and the abort reason when stopped.
   */
  async purgeHistory(
    roomId: string,
    token: string,
    deleteLocalEvents: boolean,
    opts: PurgeRunOptions = {},
  ): Promise<{ purged: number; deleted: number }> {
    const room = parseRoomToken(token);
    if (room.topological === null) throw new InvalidTokenError(token);
    const depth = room.topological;
    return this.locks.withReadWrite(
      PURGE_PAGINATION_LOCK_NAME,
      roomId,
      'write',
      (lock) => this.purgeLocked(roomId, depth, deleteLocalEvents, opts, anySignal([opts.signal, lock.signal])),
      {
        signal: opts.signal,
      },
    );
  }

  private async purgeLocked(roomId: string, depth: number, deleteLocal: boolean, opts: PurgeRunOptions, signal: AbortSignal | undefined) {
    const em = this.orm.em.fork();
    const fenced = opts.fenced ?? (<T>(fn: (e: Em) => Promise<T>) => this.orm.em.fork().transactional(fn));
    const maxExtremity = await this.repo.maxExtremityDepth(em, roomId);
    if (maxExtremity !== null && maxExtremity < depth) throw badRequest('topological_ordering is greater than forward extremities');
    const cp: PurgeCheckpoint = {
      after: opts.resumeFrom?.after ?? null,
      purged: opts.resumeFrom?.purged ?? 0,
      deleted: opts.resumeFrom?.deleted ?? 0,
    };
    const total = cp.purged + (await this.repo.estimateCandidates(em, roomId, depth));
    const limit = opts.batchEvents ?? PURGE_HISTORY_BATCH_EVENTS;
    const load = new LoadSampler(() => this.repo.otherActiveStatements(em));
    const progressOf = (c: PurgeCheckpoint): PurgeProgress => ({
      phase: 'purging',
      events_total: total,
      events_purged: c.purged,
      events_deleted: c.deleted,
      yielding: load.shared,
    });
    await load.sample();
    for (;;) {
      signal?.throwIfAborted();
      const started = performance.now();
      const { res, next } = await fenced(async (e) => {
        const batch = await this.repo.purgeBatch(e, roomId, depth, cp.after, deleteLocal ? null : this.serverName, limit);
        const reached: PurgeCheckpoint = { after: batch.last, purged: cp.purged + batch.examined, deleted: cp.deleted + batch.deleted };
        if (batch.examined > 0) await opts.record?.({ ...reached }, progressOf(reached));
        return { res: batch, next: reached };
      });
      Object.assign(cp, next);
      if (res.examined > 0) await opts.onBatch?.({ ...cp }, progressOf(cp));
      if (res.examined < limit) break;
      await load.sample();
      const ratio = opts.pauseRatio ?? (load.shared ? PURGE_PAUSE_RATIO_SHARED : PURGE_PAUSE_RATIO_ALONE);
      if (ratio > 0) await pause((performance.now() - started) * ratio, signal);
      await load.sample();
    }
    await fenced((e) => this.repo.resetBackwardExtremities(e, roomId, depth));
    (opts.log ?? this.log).info({ roomId, depth, purged: cp.purged, deleted: cp.deleted }, '[purge] complete');
    return { purged: cp.purged, deleted: cp.deleted };
  }
}

/** Whether other statements have been seen on the database within the last PURGE_SHARED_SAMPLES samples. */
export class LoadSampler {
  private sinceSeen = Infinity;

  constructor(private readonly count: () => Promise<number>) {}

  get shared(): boolean {
    return this.sinceSeen < PURGE_SHARED_SAMPLES;
  }

  async sample(): Promise<void> {
    this.sinceSeen = (await this.count()) > 0 ? 0 : this.sinceSeen + 1;
  }
}

/** Waits `ms`, or rejects with the signal's reason when it aborts first. */
function pause(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/** A signal aborted when any of the given ones is (undefined when none is given). */
export function anySignal(signals: (AbortSignal | undefined)[]): AbortSignal | undefined {
  const present = signals.filter((s): s is AbortSignal => s !== undefined);
  if (present.length <= 1) return present[0];
  return AbortSignal.any(present);
}
