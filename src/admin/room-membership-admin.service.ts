/**
 * Admin calls that change memberships or power levels through RoomService: make room admin
 * (spec §2.11) and admin join (spec §2.14).
 */
import { Codes, MatrixError, badRequest } from '../errors';
import { domainOf } from '../matrix/ids';
import type { Em } from '../infra/orm';
import type { RoomService } from '../rooms/room.service';
import type { StoredEvent } from '../rooms/room.types';
import type { UserService } from '../users/user.service';
import type { RoomAdminService } from './room-admin.service';

/** Power level given when the chosen admin has no entry of its own (Synapse's later default). */
const DEFAULT_ADMIN_POWER_LEVEL = 100;

export class RoomMembershipAdminService {
  constructor(
    private readonly rooms: RoomService,
    private readonly admin: RoomAdminService,
    private readonly users: UserService,
    private readonly serverName: string,
  ) {}

  private isLocal = (userId: string) => domainOf(userId) === this.serverName;

  /**
   * Gives `userId` (default: the caller) the power level of the room's most powerful joined local
   * user, then invites them when needed. Throws 400 "Server not in room", "No local admin user in
   * room", "No local admin user in room with power to update power levels.", and the room
   * resolution errors.
   */
  async makeRoomAdmin(em: Em, requesterUserId: string, roomIdOrAlias: string, userId: string | null): Promise<void> {
    const roomId = await this.admin.resolveRoom(em, roomIdOrAlias);
    const target = userId ?? requesterUserId;
    const [create, pl, joinRules, member] = await Promise.all([
      this.rooms.getStateEvent(em, roomId, 'm.room.create'),
      this.rooms.getStateEvent(em, roomId, 'm.room.power_levels'),
      this.rooms.getStateEvent(em, roomId, 'm.room.join_rules'),
      this.rooms.getStateEvent(em, roomId, 'm.room.member', target),
    ]);
    if (!create) throw badRequest('Server not in room');
    const adminUserId = pl ? await this.mostPowerfulJoinedLocal(em, roomId, pl) : create.sender;
    if (!adminUserId || !this.isLocal(adminUserId)) throw badRequest('No local admin user in room');
    const content = pl ? { ...pl.content } : {};
    const users = { ...((content.users as Record<string, unknown> | undefined) ?? {}) };
    users[target] = users[adminUserId] ?? DEFAULT_ADMIN_POWER_LEVEL;
    content.users = users;
    try {
      await this.rooms.sendEvent(em, adminUserId, roomId, { type: 'm.room.power_levels', stateKey: '', content });
    } catch (err) {
      if (err instanceof MatrixError && err.httpStatus === 403)
        throw badRequest('No local admin user in room with power to update power levels.');
      throw err;
    }
    const membership = member?.content.membership;
    if (membership === 'join' || membership === 'invite') return;
    if (joinRules?.content.join_rule === 'public') return;
    await this.rooms.updateMembership(em, adminUserId, target, roomId, 'invite');
  }

  /** The local users of the power levels' `users` map, highest level first, the first one joined. */
  private async mostPowerfulJoinedLocal(em: Em, roomId: string, pl: StoredEvent): Promise<string | null> {
    const levels = (pl.content.users as Record<string, unknown> | undefined) ?? {};
    const locals = Object.keys(levels).filter(this.isLocal);
    // Synapse sorts ascending (stably) and walks the list backwards.
    locals.sort((a, b) => Number(levels[a]) - Number(levels[b]));
    for (const userId of locals.reverse()) {
      if ((await this.rooms.getLocalMembership(em, roomId, userId))?.membership === 'join') return userId;
    }
    throw badRequest('No local admin user in room');
  }

  /**
   * Joins a local, registered user to a room, the caller inviting them first when the room's join
   * rule is not public. Throws 400 M_INVALID_PARAM for a malformed user id, 400 "This endpoint can
   * only be used with local users", 404 "User not found", the room resolution errors, and the
   * membership errors (403 when the admin may not invite, 404 for rooms this server is not in).
   */
  async joinUser(em: Em, requesterUserId: string, roomIdOrAlias: string, userId: string): Promise<string> {
    if (!userId.startsWith('@')) throw new MatrixError(400, "Expected UserID string to start with '@'", Codes.INVALID_PARAM);
    if (!userId.includes(':')) throw new MatrixError(400, "Expected UserID of the form '@localname:domain'", Codes.INVALID_PARAM);
    if (!this.isLocal(userId)) throw badRequest('This endpoint can only be used with local users');
    await this.users.getUser(em, userId);
    const roomId = await this.admin.resolveRoom(em, roomIdOrAlias);
    const joinRules = await this.rooms.getStateEvent(em, roomId, 'm.room.join_rules');
    if (joinRules && joinRules.content.join_rule !== 'public') {
      await this.rooms.updateMembership(em, requesterUserId, userId, roomId, 'invite');
    }
    await this.rooms.updateMembership(em, userId, userId, roomId, 'join');
    return roomId;
  }
}
