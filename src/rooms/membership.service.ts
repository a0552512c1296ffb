/**
 * Membership changes (Synapse's RoomMemberHandler.update_membership) and forgetting rooms. The
 * rules that depend on the target's current membership run under the room lock (as prechecks of
 * the persisted draft); the event auth rules then apply as for any event.
 */
import { Codes, MatrixError, badRequest, echo, forbidden } from '../errors';
import type { Em } from '../infra/orm';
import type { Config } from '../config';
import type { TaskScheduler } from '../tasks/task.types';
import { stateMapKey, type StateMap } from './event-auth';
import { type EventPersister, type EventDraft, UnknownRoomError } from './event-persister';
import { RoomRepository } from './room.repository';
import type { Json, Membership, MembershipAction, MembershipOptions, SendEventResult } from './room.types';
import { txnOf } from './txn';
import { isLocalUser } from './room-creation';
import type { OutOfBandMemberships } from './out-of-band';
import type { StoredEvent } from './room.types';
import { loadProfiles, withProfile } from './profile';

const ACTIONS: readonly MembershipAction[] = ['join', 'leave', 'invite', 'kick', 'ban', 'unban', 'knock'];
/** Synapse's limits on per-room profile fields. */
export const MAX_DISPLAYNAME_LEN = 256;
export const MAX_AVATAR_URL_LEN = 1000;
/** Membership types whose events carry the target's profile (Synapse's default, with invites). */
const PROFILE_MEMBERSHIPS = new Set<string>(['join', 'invite', 'knock']);

export const BLOCKED_ROOM_MESSAGE = 'This room has been blocked on this server';
export const NO_KNOWN_SERVERS_JOIN = "Can't join remote room because no servers that are in the room have been provided.";

export interface MembershipDeps {
  serverName: string;
  config: Config;
  persister: EventPersister;
  outOfBand: OutOfBandMemberships;
  /** Schedules the forgotten-room purge; null where no scheduler runs (the seed tool, some tests). */
  scheduler: TaskScheduler | null;
  repo?: RoomRepository;
}

export class MembershipService {
  private readonly repo: RoomRepository;

  constructor(private readonly d: MembershipDeps) {
    this.repo = d.repo ?? new RoomRepository();
  }

  /**
   * Changes `target`'s membership of `roomId` on behalf of `actor`. Returns the new member event
   * (or the identical current one). Throws 400 for a bad action or profile, 403 for blocked rooms
   * and auth rule violations (with Synapse's texts), 404 for unknown rooms (join/leave/knock).
   */
  async update(
    em: Em,
    actor: string,
    target: string,
    roomId: string,
    action: MembershipAction,
    opts: MembershipOptions = {},
  ): Promise<SendEventResult> {
    if (!ACTIONS.includes(action)) throw badRequest('Invalid membership key');
    if (opts.isGuest && action === 'knock') throw new MatrixError(403, 'Guest access not allowed', Codes.GUEST_ACCESS_FORBIDDEN);
    if (opts.isGuest && action !== 'join' && action !== 'leave') throw forbidden('Guest access not allowed');
    checkUserId(target);
    const membership: Membership = action === 'kick' || action === 'unban' ? 'leave' : action;
    let content: Json = { ...(opts.content ?? {}) };
    delete content.join_authorised_via_users_server;
    if (opts.reason !== undefined) content.reason = opts.reason;
    checkProfileLengths(content);
    if (PROFILE_MEMBERSHIPS.has(membership) && isLocalUser(target, this.d.serverName)) {
      content = withProfile(content, (await loadProfiles(em, [target])).get(target));
    }
    if (membership !== 'leave' && membership !== 'ban' && !opts.ignoreBlock && (await this.repo.getBlock(em, roomId)).blocked) {
      throw new MatrixError(403, BLOCKED_ROOM_MESSAGE, Codes.UNKNOWN);
    }
    const outOfBand = await this.checkHostInRoom(em, roomId, target, membership);
    // Rejecting an invite from a remote server while this server is not in the room: a local
    // out-of-band leave, as Synapse writes when the inviting server cannot be reached.
    if (outOfBand && action === 'leave') return this.d.outOfBand.leave(em, outOfBand, content, txnOf(opts));
    content.membership = membership;
    const draft: EventDraft = {
      type: 'm.room.member',
      stateKey: target,
      sender: actor,
      content,
      txn: txnOf(opts),
      dedupeState: true,
      needsState: opts.isGuest ? [['m.room.guest_access', '']] : undefined,
      precheck: (state) => {
        checkTransition(state, target, action);
        if (
          membership === 'join' &&
          opts.isGuest &&
          state.get(stateMapKey('m.room.guest_access', ''))?.content.guest_access !== 'can_join'
        ) {
          throw forbidden('Guest access not allowed');
        }
      },
    };
    try {
      const [[res]] = await this.d.persister.persist(em, [{ roomId, drafts: [draft] }]);
      return res;
    } catch (err) {
      if (err instanceof UnknownRoomError) throw unknownRoomError(membership);
      throw err;
    }
  }

  /**
   * A room the server has no local joined member in cannot be joined or knocked locally (Synapse
   * would need another server), and a leave needs a local membership to act on. Returns that
   * membership's event: the room's state is not known here (an invite received from another
   * server, or a room the server has left and whose current state is gone), so the leave is
   * written out of band, as Synapse rejects locally what it cannot send to the room.
   */
  private async checkHostInRoom(em: Em, roomId: string, target: string, membership: Membership): Promise<StoredEvent | null> {
    if (membership !== 'join' && membership !== 'knock' && membership !== 'leave') return null;
    if (await this.repo.hasLocalJoinedMember(em, roomId)) return null;
    if (membership === 'leave') {
      const local = await this.repo.getLocalMembership(em, roomId, target);
      if (!local) throw new MatrixError(404, 'Not a known room');
      return this.d.outOfBand.membershipEvent(em, local.eventId);
    }
    throw unknownRoomError(membership);
  }

  /**
   * Marks the room forgotten for `userId` (who must have left or been banned: 400 otherwise).
   * When FORGOTTEN_ROOM_RETENTION_PERIOD is set, `scheduleForgottenPurge` is true and no local
   * membership of the room remains un-forgotten, schedules a `purge_room` task for now + period.
   */
  async forget(em: Em, userId: string, roomId: string, opts: { scheduleForgottenPurge: boolean }): Promise<void> {
    const current = await this.repo.getMembership(em, roomId, userId);
    if (current && current.membership !== 'leave' && current.membership !== 'ban')
      throw badRequest(`User ${echo(userId)} in room ${echo(roomId)}`);
    await this.repo.forget(em, roomId, userId);
    const period = this.d.config.forgottenRoomRetentionPeriodMs;
    if (!opts.scheduleForgottenPurge || period === null) return;
    if (!(await this.repo.isLocallyForgotten(em, roomId))) return;
    const scheduler = this.d.scheduler;
    if (!scheduler) throw new MatrixError(503, 'The task scheduler is not available');
    await scheduler.scheduleTask(em, 'purge_room', { resourceId: roomId, timestamp: Date.now() + period });
  }
}

/** Synapse's UserID.from_string errors. */
function checkUserId(userId: string): void {
  if (!userId.startsWith('@')) throw new MatrixError(400, "Expected UserID string to start with '@'", Codes.INVALID_PARAM);
  if (!userId.slice(1).includes(':')) throw new MatrixError(400, "Expected UserID of the form '@localname:domain'", Codes.INVALID_PARAM);
}

function unknownRoomError(membership: Membership): MatrixError {
  if (membership === 'join') return new MatrixError(404, NO_KNOWN_SERVERS_JOIN);
  if (membership === 'knock') return new MatrixError(404, 'No known servers');
  if (membership === 'leave') return new MatrixError(404, 'Not a known room');
  return forbidden('Unknown room');
}

function checkProfileLengths(content: Json): void {
  const dn = content.displayname;
  if (typeof dn === 'string' && dn.length > MAX_DISPLAYNAME_LEN)
    throw new MatrixError(400, `Displayname is too long (max ${MAX_DISPLAYNAME_LEN})`, Codes.BAD_JSON);
  const av = content.avatar_url;
  if (typeof av === 'string' && av.length > MAX_AVATAR_URL_LEN)
    throw new MatrixError(400, `Avatar URL is too long (max ${MAX_AVATAR_URL_LEN})`, Codes.BAD_JSON);
}

/** Synapse's transition rules on the target's current membership (checked under the room lock). */
function checkTransition(state: StateMap, target: string, action: MembershipAction): void {
  const old = state.get(stateMapKey('m.room.member', target));
  const oldMembership = old?.membership ?? null;
  if (action === 'unban' && oldMembership !== 'ban') {
    throw new MatrixError(403, `Cannot unban user who was not banned (membership=${oldMembership ?? 'None'})`, 'M_BAD_STATE');
  }
  if (oldMembership === 'ban' && action !== 'ban' && action !== 'unban' && action !== 'leave') {
    throw new MatrixError(403, `Cannot ${action} user who was banned`, 'M_BAD_STATE');
  }
  if (action === 'kick' && (oldMembership === null || oldMembership === 'ban' || oldMembership === 'leave')) {
    throw forbidden('The target user is not in the room');
  }
}
