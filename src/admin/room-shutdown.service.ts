/**
 * The room shutdown procedure (spec §3): block, optional replacement room, every local
 * joined/invited/knocking user out (and the joined ones into the replacement room), a notice, the
 * local aliases moved.
 *
 * How it works / things to keep in mind:
 * - Members are moved in chunks of KICK_BATCH_USERS: one transaction writes all the leaves of a
 *   chunk into the old room, the joins into the new room (one call of the event write path, so a
 *   few statements per chunk instead of a round trip per member) and the forgotten flags. When a
 *   chunk is refused, its users are retried one by one so one bad member cannot fail the others.
 * - Resumable from the checkpointed result: a created replacement room is reused, users who
 *   already left are not selected again, the notice is an idempotent send, aliases are re-read.
 *   A chunk's users are recorded as kicked just before the chunk is written (write-ahead): after
 *   a crash they are either done or still members (and redone), never silently lost.
 */
import { badRequest, echo, notFound } from '../errors';
import { domainOf, isValidRoomId } from '../matrix/ids';
import type { Em } from '../infra/orm';
import type { Logger } from '../logger';
import type { RoomService } from '../rooms/room.service';
import type { OutOfBandMemberships } from '../rooms/out-of-band';
import type { EventDraft, RoomBatch } from '../rooms/event-persister';
import { MatrixError } from '../errors';
import { loadProfiles, withProfile } from '../rooms/profile';
import { notLegalRoomId } from './room-admin.service';
import { RoomShutdownRepository, type LocalMember } from './room-shutdown.repository';
import { emptyShutdownResult, type ShutdownParams, type ShutdownResult } from './room-admin.types';

export const DEFAULT_ROOM_NAME = 'Content Violation Notification';
export const DEFAULT_MESSAGE = 'Sharing illegal content on this server is not permitted and rooms in violation will be blocked.';
/** Members moved per transaction. */
export const KICK_BATCH_USERS = 500;
/** Key of the replacement room's create event naming the room it replaces (makes creation resumable). */
export const REPLACES_ROOM_KEY = 'org.matrix.room_admin.replaces_room';
/** Power level of users joining the replacement room (they cannot speak). */
const NEW_ROOM_USERS_DEFAULT = -10;

export interface ShutdownHooks {
  /** Persists an intermediate result (the resume point). */
  update?: (result: ShutdownResult) => Promise<void>;
  progress?: (progress: Record<string, unknown>) => Promise<void>;
  /** Checked between chunks. */
  signal?: AbortSignal;
  /**
   * Runs a chunk's writes in one transaction (inside a task: TaskRun.fenced, so a runner whose
   * lease was taken over commits no kick into the room its successor purges). Default: a plain one.
   */
  fenced?: <T>(fn: (em: Em) => Promise<T>) => Promise<T>;
}

export interface ShutdownVariant {
  /** Synapse ≤ 1.41: unknown rooms are a 404 before blocking, and only joined users are moved. */
  legacy?: boolean;
}

export class RoomShutdownService {
  private readonly repo = new RoomShutdownRepository();

  constructor(
    private readonly rooms: RoomService,
    private readonly outOfBand: OutOfBandMemberships,
    private readonly serverName: string,
    private readonly log: Logger,
  ) {}

  /**
   * Shuts the room down, resuming from `previous` when given. Throws 400 "<id> is not a legal room
   * ID", 400 "User must be our own: <id>", and (legacy variant) 404 "Unknown room id <id>".
   */
  async shutdownRoom(
    em: Em,
    roomId: string,
    params: ShutdownParams,
    previous: ShutdownResult | null,
    hooks: ShutdownHooks,
    variant: ShutdownVariant = {},
  ): Promise<ShutdownResult> {
    if (!isValidRoomId(roomId)) throw notLegalRoomId(roomId);
    const result = previous ? normalise(previous) : emptyShutdownResult();
    if (variant.legacy && !(await this.rooms.getRoom(em, roomId))) throw notFound(`Unknown room id ${echo(roomId)}`);
    if (params.block) {
      if (!params.requester_user_id) throw new Error('Cannot block a room without a requester');
      await this.rooms.blockRoom(em, roomId, params.requester_user_id);
    }
    if (!(await this.rooms.getRoom(em, roomId))) return result;
    const newRoomUser = params.new_room_user_id;
    if (newRoomUser && !result.new_room_id) {
      if (domainOf(newRoomUser) !== this.serverName) throw badRequest(`User must be our own: ${echo(newRoomUser)}`);
      result.new_room_id = await this.replacementRoom(em, roomId, newRoomUser, params.new_room_name || DEFAULT_ROOM_NAME);
      await hooks.update?.(result);
    }
    await this.moveMembers(em, roomId, result, hooks, variant.legacy ? ['join'] : ['join', 'invite', 'knock']);
    if (!newRoomUser || !result.new_room_id) {
      result.local_aliases = [];
      return result;
    }
    await this.rooms.sendEvent(em, newRoomUser, result.new_room_id, {
      type: 'm.room.message',
      content: { msgtype: 'm.text', body: params.message || DEFAULT_MESSAGE },
      // An idempotent send: a resumed shutdown does not post the notice twice.
      deviceId: `shutdown:${roomId}`,
      txnId: 'notice',
    });
    const aliases = await this.repo.localAliases(em, roomId, this.serverName);
    result.local_aliases = [...new Set([...result.local_aliases, ...aliases])];
    await this.repo.moveAliases(em, aliases, roomId, result.new_room_id, params.requester_user_id ?? newRoomUser);
    await hooks.update?.(result);
    return result;
  }

  /** The replacement room: the one an interrupted attempt already created, or a new one. */
  private async replacementRoom(em: Em, roomId: string, creator: string, name: string): Promise<string> {
    const existing = await this.repo.replacementRoom(em, roomId, creator, REPLACES_ROOM_KEY);
    if (existing) return existing;
    const created = await this.rooms.createRoom(em, creator, {
      preset: 'public_chat',
      name,
      creationContent: { [REPLACES_ROOM_KEY]: roomId },
      powerLevelContentOverride: { users_default: NEW_ROOM_USERS_DEFAULT },
    });
    return created.roomId;
  }

  /** Moves every selected local member out of the room, chunk by chunk. */
  private async moveMembers(em: Em, roomId: string, result: ShutdownResult, hooks: ShutdownHooks, memberships: string[]): Promise<void> {
    const total = await this.repo.countLocalMembers(em, roomId, memberships);
    let done = 0;
    let after: string | null = null;
    await hooks.progress?.({ phase: 'shutting_down', users_total: total, users_done: 0 });
    for (;;) {
      hooks.signal?.throwIfAborted();
      const chunk = await this.repo.localMembers(em, roomId, memberships, after, KICK_BATCH_USERS);
      if (chunk.length === 0) return;
      after = chunk[chunk.length - 1].userId;
      record(
        result,
        chunk.map((m) => m.userId),
        [],
      );
      await hooks.update?.(result);
      const failed = await this.kickChunk(em, roomId, result.new_room_id, chunk, hooks);
      if (failed.length > 0) {
        record(result, [], failed);
        await hooks.update?.(result);
      }
      done += chunk.length;
      await hooks.progress?.({ phase: 'shutting_down', users_total: Math.max(total, done), users_done: done });
    }
  }

  /** Kicks a chunk in one transaction; when refused, user by user. Returns the users that failed. */
  private async kickChunk(em: Em, roomId: string, newRoomId: string | null, chunk: LocalMember[], hooks: ShutdownHooks): Promise<string[]> {
    try {
      await this.kick(em, roomId, newRoomId, chunk, hooks);
      return [];
    } catch (err) {
      if (!isUserLevelFailure(err)) throw err;
      if (chunk.length === 1) {
        this.log.warn({ roomId, userId: chunk[0].userId, err: (err as Error).message }, 'failed to kick user from room');
        return [chunk[0].userId];
      }
    }
    const failed: string[] = [];
    for (const member of chunk) failed.push(...(await this.kickChunk(em, roomId, newRoomId, [member], hooks)));
    return failed;
  }

  private async kick(em: Em, roomId: string, newRoomId: string | null, members: LocalMember[], hooks: ShutdownHooks): Promise<void> {
    const joiners = newRoomId ? members.filter((m) => m.membership === 'join').map((m) => m.userId) : [];
    const profiles = await loadProfiles(em, joiners);
    // Invites from other servers, and memberships of a room this server has left (its state is
    // gone), are rejected out of band.
    const inRoom = members.filter((m) => m.outOfBandEventId === null);
    const outOfBand = members.filter((m) => m.outOfBandEventId !== null);
    const batches: RoomBatch[] =
      inRoom.length > 0 ? [{ roomId, drafts: inRoom.map((m) => memberDraft(m.userId, { membership: 'leave' })) }] : [];
    if (newRoomId && joiners.length > 0) {
      batches.push({ roomId: newRoomId, drafts: joiners.map((u) => memberDraft(u, withProfile({ membership: 'join' }, profiles.get(u)))) });
    }
    const transaction = hooks.fenced ?? (<T>(fn: (tem: Em) => Promise<T>) => em.transactional(fn));
    await transaction(async (tem) => {
      if (batches.length > 0) await this.rooms.persistBatches(tem, batches);
      for (const m of outOfBand) {
        const previous = await this.outOfBand.membershipEvent(tem, m.outOfBandEventId as string);
        if (previous) await this.outOfBand.leave(tem, previous, {}, null);
      }
      await this.repo.forget(
        tem,
        roomId,
        members.map((m) => m.userId),
      );
    });
  }
}

/** A member event sent by the user about themselves; an identical current event is reused. */
function memberDraft(userId: string, content: Record<string, unknown>): EventDraft {
  return { type: 'm.room.member', stateKey: userId, sender: userId, content, dedupeState: true };
}

/** Rule violations concern the user; infrastructure errors (5xx, driver errors) stop the shutdown. */
function isUserLevelFailure(err: unknown): boolean {
  return err instanceof MatrixError && err.httpStatus < 500;
}

/** Moves users between the two lists (a user is in at most one of them). */
function record(result: ShutdownResult, kicked: string[], failed: string[]): void {
  const k = new Set(result.kicked_users);
  const f = new Set(result.failed_to_kick_users);
  for (const u of kicked) (k.add(u), f.delete(u));
  for (const u of failed) (f.add(u), k.delete(u));
  result.kicked_users = [...k];
  result.failed_to_kick_users = [...f];
}

function normalise(r: Partial<ShutdownResult>): ShutdownResult {
  return {
    kicked_users: [...(r.kicked_users ?? [])],
    failed_to_kick_users: [...(r.failed_to_kick_users ?? [])],
    local_aliases: [...(r.local_aliases ?? [])],
    new_room_id: r.new_room_id ?? null,
  };
}
