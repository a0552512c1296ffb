/**
 * Redaction of a user's events (spec users-moderation §5), as a scheduled task `redact_all_events`
 * on the TaskScheduler, resource = the user id.
 *
 * In each room, in the order asked: the user's m.room.member (joins only), m.room.message and
 * m.room.encrypted events within the time bounds, newest received first, at most `limit`. Each
 * redaction is sent, and the checkpoint recorded, in one transaction fenced by the task's lease:
 * a runner that lost its lease commits neither, and a resumed task (after a crash or kill -9)
 * starts at the checkpoint's room, skipping events already redacted and those recorded as failed.
 * A failure on one event is recorded in `failed_redactions` (event id → error) and the task goes
 * on.
 */
import { MatrixError, badRequest, notFound } from '../errors';
import { isLocalUser } from '../rooms/room-creation';
import type { Em, Orm } from '../infra/orm';
import type { Logger } from '../logger';
import type { RoomService } from '../rooms/room.service';
import { sql } from '../infra/sql';
import type { ScheduledTask, TaskOutcome, TaskRun, TaskScheduler } from '../tasks/task.types';

export const REDACT_ACTION_NAME = 'redact_all_events';
/** Events per room when no limit (or 0) is given, as Synapse. */
export const DEFAULT_REDACT_LIMIT = 1000;
const REDACTED_TYPES = ['m.room.member', 'm.room.message', 'm.room.encrypted'];
const UNKNOWN_ERROR = 'Unknown error, please check the logs for more information.';

export interface RedactRequest {
  userId: string;
  rooms: string[];
  reason: string | null;
  limit: number | null;
  useAdmin: boolean;
  beforeTs: number | null;
  afterTs: number | null;
}

interface RedactParams {
  user_id: string;
  rooms: string[];
  requester: string;
  reason: string | null;
  limit: number;
  use_admin: boolean;
  before_ts: number | null;
  after_ts: number | null;
}

/** The task's checkpoint: the room being worked on, what failed, how many were sent. */
interface RedactCheckpoint {
  room_index: number;
  failed_redactions: Record<string, string>;
  redacted: number;
}

export interface RedactStatus {
  status: 'scheduled' | 'active' | 'complete' | 'failed';
  failedRedactions: Record<string, string>;
  error: string | null;
  roomsDone: number;
  roomsTotal: number;
  redacted: number;
}

export class UserRedactionService {
  constructor(private readonly d: { orm: Orm; scheduler: TaskScheduler; rooms: RoomService; serverName: string; log: Logger }) {}

  registerActions(): void {
    this.d.scheduler.registerAction(REDACT_ACTION_NAME, (run) => this.run(run));
  }

  /** Schedules the task; 400 while one for the same user is active. Returns the task id. */
  async start(em: Em, requester: string, req: RedactRequest): Promise<string> {
    if (req.limit !== null && req.limit < 0) throw badRequest('If limit is provided it must be a non-negative integer greater than 0.');
    const active = await this.d.scheduler.getTasks(em, { actions: [REDACT_ACTION_NAME], resourceId: req.userId, statuses: ['active'] });
    if (active.length > 0) throw badRequest(`Redact already in progress for user ${req.userId}`);
    // No rooms: those the user is joined to or banned from now.
    const rooms = req.rooms.length > 0 ? req.rooms : await this.joinedOrBanned(em, req.userId);
    const params: RedactParams = {
      user_id: req.userId,
      rooms,
      requester,
      reason: req.reason,
      limit: req.limit || DEFAULT_REDACT_LIMIT,
      use_admin: req.useAdmin,
      // A bound of 0 is no bound, as in Synapse.
      before_ts: req.beforeTs || null,
      after_ts: req.afterTs || null,
    };
    return this.d.scheduler.scheduleTask(em, REDACT_ACTION_NAME, { resourceId: req.userId, params: { ...params } });
  }

  async status(em: Em, redactId: string): Promise<RedactStatus> {
    const task = await this.d.scheduler.getTask(em, redactId);
    if (!task || task.action !== REDACT_ACTION_NAME) throw notFound(`redact id '${redactId}' not found`);
    return toStatus(task);
  }

  private async joinedOrBanned(em: Em, userId: string): Promise<string[]> {
    const rows = await sql<{ room_id: string }>(
      em,
      "SELECT room_id FROM current_state_events WHERE type = 'm.room.member' AND state_key = ? AND membership IN ('join', 'ban') ORDER BY room_id",
      [userId],
    );
    return rows.map((r) => r.room_id);
  }

  /** The user's events of one room to redact, newest received first, at most `limit`. */
  private async candidates(em: Em, p: RedactParams, roomId: string): Promise<{ eventId: string; skip: boolean }[]> {
    const where = ['room_id = ?', 'sender = ?', 'type IN (?)'];
    const params: unknown[] = [roomId, p.user_id, REDACTED_TYPES];
    if (p.before_ts !== null) (where.push('origin_server_ts <= ?'), params.push(p.before_ts));
    if (p.after_ts !== null) (where.push('origin_server_ts >= ?'), params.push(p.after_ts));
    const rows = await sql<{ event_id: string; type: string; membership: string | null; redacted_by: string | null }>(
      em,
      `SELECT event_id, type, content->>'membership' AS membership, redacted_by FROM events
       WHERE ${where.join(' AND ')} ORDER BY received_ts DESC, stream_ordering DESC LIMIT ?`,
      [...params, p.limit],
    );
    // Only joins among memberships; never an event already redacted.
    return rows.map((r) => ({
      eventId: r.event_id,
      skip: r.redacted_by !== null || (r.type === 'm.room.member' && r.membership !== 'join'),
    }));
  }

  private async run(run: TaskRun): Promise<TaskOutcome> {
    const p = run.task.params as unknown as RedactParams | null;
    if (!p || typeof p.user_id !== 'string' || !Array.isArray(p.rooms))
      return { status: 'failed', error: 'Not enough parameters passed to redact_all_events' };
    const cp: RedactCheckpoint = {
      room_index: 0,
      failed_redactions: {},
      redacted: 0,
      ...((run.task.result as Partial<RedactCheckpoint> | null) ?? {}),
    };
    // The user redacts their own events when local (puppeted), unless the admin is asked to.
    const sender = isLocalUser(p.user_id, this.d.serverName) && !p.use_admin ? p.user_id : p.requester;
    const progress = () => run.reportProgress({ rooms_done: cp.room_index, rooms_total: p.rooms.length, redacted: cp.redacted });
    const em = this.d.orm.em.fork();
    try {
      for (; cp.room_index < p.rooms.length; cp.room_index++) {
        const roomId = p.rooms[cp.room_index];
        await progress();
        for (const c of await this.candidates(em, p, roomId)) {
          if (c.skip || c.eventId in cp.failed_redactions) continue;
          run.signal.throwIfAborted();
          try {
            await run.fenced(async (tx) => {
              await this.d.rooms.redactEvent(tx, sender, roomId, c.eventId, p.reason !== null ? { reason: p.reason } : {});
              await run.updateResult({ ...cp, redacted: cp.redacted + 1 });
            });
            cp.redacted += 1;
          } catch (err) {
            if (run.signal.aborted || !(err instanceof MatrixError)) throw err;
            cp.failed_redactions[c.eventId] = err.message;
            await run.updateResult({ ...cp });
          }
        }
        await run.updateResult({ ...cp, room_index: cp.room_index + 1 });
      }
      await progress();
      return { status: 'complete', result: { ...cp } };
    } catch (err) {
      if (run.signal.aborted) throw err;
      this.d.log.warn({ err, userId: p.user_id }, '[redact] failed');
      return { status: 'failed', error: err instanceof MatrixError ? err.toTaskError() : err instanceof Error ? err.message : String(err) };
    }
  }
}

function toStatus(task: ScheduledTask): RedactStatus {
  const result = (task.result ?? {}) as Partial<RedactCheckpoint>;
  const params = (task.params ?? {}) as Partial<RedactParams>;
  const progress = (task.progress ?? {}) as { rooms_done?: number };
  const base = {
    failedRedactions: {},
    error: null,
    roomsDone: result.room_index ?? progress.rooms_done ?? 0,
    roomsTotal: params.rooms?.length ?? 0,
    redacted: result.redacted ?? 0,
  };
  switch (task.status) {
    case 'scheduled':
    case 'active':
      return { ...base, status: task.status };
    case 'complete':
      return { ...base, status: 'complete', failedRedactions: result.failed_redactions ?? {} };
    default:
      return { ...base, status: 'failed', error: task.error || UNKNOWN_ERROR };
  }
}
