/**
 * Purge room (spec §4.3): removes every row of a room from every table of purge-tables.ts except
 * the block and the retention policy.
 *
 * How it works / things to keep in mind:
 * - The purge holds both write locks of the room (`purge_pagination_lock` and
 *   `new_event_during_purge_lock`, taken together) for its whole duration, so no event can be
 *   created, backfilled or history-purged in the room meanwhile; other rooms are not affected.
 * - Rows are deleted in bounded batches, each one statement in its own short transaction, so no
 *   long lock is ever held on a table and a crash loses at most one batch of work. When the purge
 *   runs as a task, every batch commits only if the task's lease is still ours (TaskRun.fenced):
 *   a runner that lost its task can never delete on behalf of the new owner.
 * - Resuming is simply running again: what was deleted stays deleted, the `rooms` row goes last,
 *   and a room that no longer exists is a no-op.
 */
import type { TaskRun } from '../tasks/task.types';
import { NEW_EVENT_DURING_PURGE_LOCK_NAME, PURGE_PAGINATION_LOCK_NAME, type LockManager } from '../infra/locks/lock.types';
import type { Em, Orm } from '../infra/orm';
import type { Logger } from '../logger';
import { badRequest } from '../errors';
import { PURGE_BATCH_ROWS, PURGE_TABLES, ROOM_TABLES_KEPT_BY_PURGE, type PurgeTable } from './purge-tables';
import { RoomPurgeRepository } from './room-purge.repository';

export interface PurgeRoomOptions {
  /** Purge even if local users are still joined. */
  force: boolean;
  /** When the purge runs inside a task: batches are fenced by its lease and progress is published. */
  run?: TaskRun;
  /** Stops the purge between two batches (it can be resumed later). */
  signal?: AbortSignal;
  /** Rows per batch (default PURGE_BATCH_ROWS). */
  batchRows?: number;
  /** Called after every batch that deleted rows (progress of purges run outside a task). */
  onBatch?: (progress: PurgeProgress) => void | Promise<void>;
}

export interface PurgeReport {
  roomId: string;
  eventsDeleted: number;
  rowsDeleted: number;
  ms: number;
}

/** Progress published while purging (seen in delete statuses). */
export interface PurgeProgress {
  phase: 'purging';
  table: string;
  events_total: number;
  events_deleted: number;
  rows_deleted: number;
}

export class RoomPurgeService {
  private readonly repo = new RoomPurgeRepository();

  constructor(
    private readonly orm: Orm,
    private readonly locks: LockManager,
    private readonly log: Logger,
  ) {}

  /**
   * Purges the room under its two write locks. Throws 400 "Users are still joined to this room"
   * when a local user is joined and `force` is false; rethrows LeaseLostError / abort reasons when
   * the task or the lock was lost (nothing is left half-deleted: the next run resumes).
   */
  async purgeRoom(roomId: string, opts: PurgeRoomOptions): Promise<PurgeReport> {
    const keys = [
      { name: PURGE_PAGINATION_LOCK_NAME, key: roomId },
      { name: NEW_EVENT_DURING_PURGE_LOCK_NAME, key: roomId },
    ];
    const signal = anySignal([opts.signal, opts.run?.signal]);
    return this.locks.withMulti(keys, 'write', async (lock) => this.purgeLocked(roomId, opts, anySignal([signal, lock.signal])), {
      signal,
    });
  }

  private async purgeLocked(roomId: string, opts: PurgeRoomOptions, signal: AbortSignal | undefined): Promise<PurgeReport> {
    const started = Date.now();
    const em = this.orm.em.fork();
    if (await this.repo.anyLocalUserJoined(em, roomId)) {
      if (!opts.force) throw badRequest('Users are still joined to this room');
      (opts.run?.log ?? this.log).info({ roomId }, 'force-purging room with some local users still joined');
    }
    const progress: PurgeProgress = {
      phase: 'purging',
      table: PURGE_TABLES[0].table,
      events_total: await this.repo.countEvents(em, roomId),
      events_deleted: 0,
      rows_deleted: 0,
    };
    await opts.run?.reportProgress({ ...progress });
    for (const table of PURGE_TABLES) {
      progress.table = table.table;
      await this.purgeTable(em, roomId, table, opts, signal, progress);
    }
    const report = { roomId, eventsDeleted: progress.events_deleted, rowsDeleted: progress.rows_deleted, ms: Date.now() - started };
    (opts.run?.log ?? this.log).info(report, 'purge complete');
    return report;
  }

  private async purgeTable(
    em: Em,
    roomId: string,
    table: PurgeTable,
    opts: PurgeRoomOptions,
    signal: AbortSignal | undefined,
    progress: PurgeProgress,
  ): Promise<void> {
    const limit = opts.batchRows ?? PURGE_BATCH_ROWS;
    let afterKey: number | null = null;
    for (;;) {
      signal?.throwIfAborted();
      const batch = (e: Em) => this.repo.deleteBatch(e, table, roomId, afterKey, limit);
      const res = opts.run ? await opts.run.fenced(batch) : await em.transactional(batch);
      afterKey = res.lastKey;
      progress.rows_deleted += res.deleted;
      if (table.table === 'events') progress.events_deleted += res.deleted;
      if (res.deleted > 0) {
        await opts.run?.reportProgress({ ...progress });
        await opts.onBatch?.({ ...progress });
      }
      if (res.done) return;
    }
  }

  /**
   * Tables of the live schema with a `room_id` column that the purge neither empties nor keeps on
   * purpose (should always be empty; checked by a test and at start-up).
   */
  async unlistedRoomTables(em: Em): Promise<string[]> {
    const listed = new Set([...PURGE_TABLES.map((t) => t.table), ...ROOM_TABLES_KEPT_BY_PURGE]);
    return (await this.repo.tablesWithRoomId(em)).filter((t) => !listed.has(t));
  }
}

/** A signal aborted when any of the given ones is (undefined when none is given). */
function anySignal(signals: (AbortSignal | undefined)[]): AbortSignal | undefined {
  const present = signals.filter((s): s is AbortSignal => s !== undefined);
  if (present.length <= 1) return present[0];
  return AbortSignal.any(present);
}
