/**
 * Room deletes (spec §2.8–2.10, §4.1–4.3): the synchronous v1 delete, the v2 delete as a
 * `shutdown_and_purge_room` task, the `purge_room` task, their statuses, and the pre-v1.42
 * shutdown/purge calls.
 *
 * Things to keep in mind:
 * - Both task actions are registered when the services are built (src/container.ts), so a task found in the database
 *   after a restart always finds its function; a resumed `shutdown_and_purge_room` passes its last
 *   checkpoint (`task.result`) to the shutdown, which skips what is already done, and the purge
 *   resumes by itself (it only deletes what is left).
 * - "Purge already in progress" is decided under an exclusive lock per room, so two concurrent v2
 *   deletes of one room cannot both be scheduled.
 */
import type { Em, Orm } from '../infra/orm';
import type { LockManager } from '../infra/locks/lock.types';
import type { Logger } from '../logger';
import type { ScheduledTask, TaskRun, TaskScheduler, TaskOutcome } from '../tasks/task.types';
import { badRequest, echo, notFound } from '../errors';
import { domainOf, isValidRoomId } from '../matrix/ids';
import type { RoomPurgeService } from './room-purge.service';
import type { RoomShutdownService } from './room-shutdown.service';
import { notLegalRoomId } from './room-admin.service';
import type { DeleteOptions, DeleteTaskView, ShutdownParams, ShutdownResult } from './room-admin.types';

export const PURGE_ROOM_ACTION_NAME = 'purge_room';
export const SHUTDOWN_AND_PURGE_ROOM_ACTION_NAME = 'shutdown_and_purge_room';
const DELETE_ACTIONS = [PURGE_ROOM_ACTION_NAME, SHUTDOWN_AND_PURGE_ROOM_ACTION_NAME];
/** Finished delete tasks are shown this long after their last update (Synapse: 7 days, as the scheduler keeps them). */
export const DELETE_STATUS_KEPT_FOR_MS = 7 * 24 * 3_600_000;
/** Lock serialising the "already in progress?" check with the scheduling of a delete. */
const DELETE_SCHEDULING_LOCK_NAME = 'room_delete_scheduling';
const DELETE_SCHEDULING_LOCK_TIMEOUT_MS = 10_000;

export interface DeleteServiceDeps {
  orm: Orm;
  scheduler: TaskScheduler;
  locks: LockManager;
  purger: RoomPurgeService;
  shutdown: RoomShutdownService;
  serverName: string;
  log: Logger;
}

/** Synapse's ShutdownRoomParams from the body of a delete. */
export function shutdownParams(o: DeleteOptions, requesterUserId: string): ShutdownParams {
  return {
    new_room_user_id: o.newRoomUserId ?? null,
    new_room_name: o.roomName ?? null,
    message: o.message ?? null,
    requester_user_id: requesterUserId,
    block: o.block ?? false,
    purge: o.purge ?? true,
    force_purge: o.forcePurge ?? false,
  };
}

export class RoomDeleteService {
  constructor(private readonly d: DeleteServiceDeps) {}

  /** Registers `purge_room` and `shutdown_and_purge_room` with the scheduler. */
  registerActions(): void {
    this.d.scheduler.registerAction(PURGE_ROOM_ACTION_NAME, (run) => this.runPurgeRoom(run));
    this.d.scheduler.registerAction(SHUTDOWN_AND_PURGE_ROOM_ACTION_NAME, (run) => this.runShutdownAndPurge(run));
  }

  /**
   * v1: shuts the room down and purges it before answering. Throws the shutdown's errors (400 for
   * an invalid room id or a remote new_room_user_id) and 400 "Users are still joined to this room".
   */
  async deleteNow(em: Em, roomId: string, o: DeleteOptions, requesterUserId: string): Promise<ShutdownResult> {
    const params = shutdownParams(o, requesterUserId);
    const result = await this.d.shutdown.shutdownRoom(em, roomId, params, null, {});
    if (params.purge) await this.d.purger.purgeRoom(roomId, { force: params.force_purge });
    return result;
  }

  /**
   * v2: schedules a `shutdown_and_purge_room` task and returns its id. Throws 400 for an invalid
   * room id, "Purge already in progress for <room_id>" and "User must be our own: <user_id>".
   */
  async startDelete(em: Em, roomId: string, o: DeleteOptions, requesterUserId: string, requestId?: string): Promise<string> {
    if (!isValidRoomId(roomId)) throw notLegalRoomId(roomId);
    const params = shutdownParams(o, requesterUserId);
    const lock = await this.d.locks.acquire(DELETE_SCHEDULING_LOCK_NAME, roomId, { timeoutMs: DELETE_SCHEDULING_LOCK_TIMEOUT_MS });
    try {
      if ((await this.runningDeletes(em, roomId)).length > 0) throw badRequest(`Purge already in progress for ${echo(roomId)}`);
      if (params.new_room_user_id !== null && domainOf(params.new_room_user_id) !== this.d.serverName)
        throw badRequest(`User must be our own: ${echo(params.new_room_user_id)}`);
      const id = await this.d.scheduler.scheduleTask(em, SHUTDOWN_AND_PURGE_ROOM_ACTION_NAME, {
        resourceId: roomId,
        params: { ...params },
        requestId,
      });
      this.d.log.info({ roomId, deleteId: id }, 'starting shutdown');
      return id;
    } finally {
      await lock.release();
    }
  }

  /**
   * Delete tasks of the room (active, complete, failed, cancelled), oldest update first. Throws 400
   * for an invalid room id and 404 when there is none.
   */
  async statusesByRoom(em: Em, roomId: string): Promise<DeleteTaskView[]> {
    if (!isValidRoomId(roomId)) throw notLegalRoomId(roomId);
    const all = await this.d.scheduler.getTasks(em, {
      actions: DELETE_ACTIONS,
      resourceId: roomId,
      statuses: ['active', 'complete', 'failed', 'cancelled'],
    });
    const tasks = all.filter((t) => !expired(t));
    if (tasks.length === 0) throw notFound(`No delete task for room_id '${echo(roomId)}' found`);
    return tasks.map(toView);
  }

  /** One delete task, whatever its status. Throws 404 "delete id '<id>' not found". */
  async statusById(em: Em, deleteId: string): Promise<DeleteTaskView> {
    const task = await this.d.scheduler.getTask(em, deleteId);
    if (!task || !DELETE_ACTIONS.includes(task.action) || expired(task)) throw notFound(`delete id '${echo(deleteId)}' not found`);
    return toView(task);
  }

  /**
   * The pre-v1.42 shutdown: blocks, moves the joined local users to a new room, never purges.
   * Throws 400 for an invalid id or a remote user, 404 "Unknown room id <id>" for an unknown room.
   */
  async legacyShutdown(
    em: Em,
    roomId: string,
    o: { newRoomUserId: string; roomName?: string | null; message?: string | null },
    requesterUserId: string,
  ): Promise<ShutdownResult> {
    const params = shutdownParams(
      { newRoomUserId: o.newRoomUserId, roomName: o.roomName, message: o.message, block: true, purge: false },
      requesterUserId,
    );
    return this.d.shutdown.shutdownRoom(em, roomId, params, null, {}, { legacy: true });
  }

  /** The pre-v1.42 purge: refuses with 400 while local users are joined. */
  async legacyPurge(roomId: string): Promise<void> {
    await this.d.purger.purgeRoom(roomId, { force: false });
  }

  /**
   * Delete tasks of the room that are running or due to run now. Synapse only counts ACTIVE ones;
   * a task scheduled for now that no runner has claimed yet is just as much in progress.
   */
  private async runningDeletes(em: Em, roomId: string): Promise<ScheduledTask[]> {
    const tasks = await this.d.scheduler.getTasks(em, { actions: DELETE_ACTIONS, resourceId: roomId, statuses: ['active', 'scheduled'] });
    const now = Date.now();
    return tasks.filter((t) => t.status === 'active' || t.timestamp <= now);
  }

  private async runPurgeRoom(run: TaskRun): Promise<TaskOutcome> {
    const roomId = run.task.resourceId;
    if (!roomId) throw new Error('No room id passed to purge_room task');
    await this.d.purger.purgeRoom(roomId, { force: run.task.params?.force === true, run });
    return { status: 'complete', result: null };
  }

  private async runShutdownAndPurge(run: TaskRun): Promise<TaskOutcome> {
    const roomId = run.task.resourceId;
    const params = run.task.params as unknown as ShutdownParams | null;
    if (!roomId || !params) throw new Error('No room id and/or no parameters passed to shutdown_and_purge_room task');
    const previous = (run.task.result as unknown as ShutdownResult | null) ?? null;
    const result = await this.d.shutdown.shutdownRoom(this.d.orm.em.fork(), roomId, params, previous, {
      update: (r) => run.updateResult({ ...r }),
      progress: (p) => run.reportProgress(p),
      signal: run.signal,
      fenced: (fn) => run.fenced(fn),
    });
    if (params.purge) await this.d.purger.purgeRoom(roomId, { force: params.force_purge === true, run });
    return { status: 'complete', result: { ...result } };
  }
}

/**
 * Finished tasks are shown for DELETE_STATUS_KEPT_FOR_MS after their last update, to the
 * millisecond (the scheduler's periodic cleanup deletes them up to a cleanup period later).
 */
function expired(t: ScheduledTask): boolean {
  return t.status !== 'active' && t.status !== 'scheduled' && t.timestamp <= Date.now() - DELETE_STATUS_KEPT_FOR_MS;
}

function toView(t: ScheduledTask): DeleteTaskView {
  return {
    deleteId: t.id,
    status: t.status,
    roomId: t.resourceId ?? '',
    shutdownRoom: t.action === SHUTDOWN_AND_PURGE_ROOM_ACTION_NAME && t.result ? (t.result as unknown as ShutdownResult) : null,
    progress: t.status === 'active' ? t.progress : null,
    error: t.status === 'failed' ? t.error : null,
  };
}
