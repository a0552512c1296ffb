/**
 * Room aliases and the room directory flag (Synapse's DirectoryHandler), with its texts.
 */
import { Codes, MatrixError, badRequest, echo, forbidden, notFound } from '../errors';
import { domainOf, isValidAlias, isValidRoomId } from '../matrix/ids';
import type { Em } from '../infra/orm';
import { EventRepository } from './event.repository';
import { sendLevel, stateMapKey, userPowerLevel, type StateMap } from './event-auth';
import { roomVersionOf } from './room-versions';
import { RoomRepository } from './room.repository';
import type { AliasInfo } from './room.types';
import { MAX_ALIAS_LENGTH } from './event-validator';

/** Who edits the directory: the user, and whether they are a server admin or a guest. */
export interface DirectoryActor {
  userId: string;
  isAdmin: boolean;
  isGuest: boolean;
}

export class DirectoryService {
  constructor(
    private readonly serverName: string,
    private readonly rooms = new RoomRepository(),
    private readonly events = new EventRepository(),
  ) {}

  /** Resolves an alias; 404 M_NOT_FOUND "Room alias <alias> not found" when unknown. */
  async resolveAlias(em: Em, alias: string): Promise<AliasInfo> {
    if (!isValidAlias(alias)) throw new MatrixError(400, 'Room alias invalid', Codes.INVALID_PARAM);
    const hit = await this.rooms.resolveAlias(em, alias);
    if (!hit) throw new MatrixError(404, `Room alias ${echo(alias)} not found`, Codes.NOT_FOUND);
    // This server first, then the others in name order.
    const servers = new Set<string>([this.serverName, ...hit.servers.sort()]);
    return { roomId: hit.roomId, servers: [...servers] };
  }

  /**
   * A room id as is, or the room an alias points to. Throws 404 "Room alias <a> not found" and
   * 400 "<x> was not legal room ID or room alias".
   */
  async resolveRoomIdOrAlias(em: Em, roomIdOrAlias: string): Promise<string> {
    if (isValidRoomId(roomIdOrAlias)) return roomIdOrAlias;
    if (isValidAlias(roomIdOrAlias)) {
      // Only the room is needed: the alias row alone, not the servers resolveAlias lists.
      const hit = await this.rooms.getAlias(em, roomIdOrAlias);
      if (!hit) throw new MatrixError(404, `Room alias ${echo(roomIdOrAlias)} not found`, Codes.NOT_FOUND);
      return hit.roomId;
    }
    throw badRequest(`${echo(roomIdOrAlias)} was not legal room ID or room alias`);
  }

  /**
   * Creates a local alias for a room the actor is joined to. Throws 400 (bad alias, unknown room,
   * not local), 403 (not in the room), 409 (alias taken).
   */
  async setAlias(em: Em, actor: DirectoryActor, alias: string, roomId: string): Promise<void> {
    if (!isValidAlias(alias)) throw new MatrixError(400, 'Room alias invalid', Codes.INVALID_PARAM);
    if (!(await this.rooms.getRoom(em, roomId))) throw badRequest('Room does not exist');
    if (alias.length > MAX_ALIAS_LENGTH)
      throw new MatrixError(400, `Can't create aliases longer than ${MAX_ALIAS_LENGTH} characters`, Codes.INVALID_PARAM);
    const m = await this.rooms.getMembership(em, roomId, actor.userId);
    if (m?.membership !== 'join') throw forbidden('You must be in the room to create an alias for it');
    const local = alias.slice(1, alias.indexOf(':'));
    if (/\s/.test(local)) throw badRequest('Invalid characters in room alias');
    if (domainOf(alias) !== this.serverName) throw badRequest('Room alias must be local');
    if (!(await this.rooms.insertAlias(em, alias, roomId, actor.userId)))
      throw new MatrixError(409, `Room alias ${echo(alias)} already exists`);
  }

  /**
   * Deletes an alias the actor created (or may change, as server admin or holder of the
   * canonical-alias power level). Returns the room it pointed to. Throws 404 / 403 / 400.
   */
  async deleteAlias(em: Em, actor: DirectoryActor, alias: string): Promise<string> {
    if (!isValidAlias(alias)) throw new MatrixError(400, 'Room alias invalid', Codes.INVALID_PARAM);
    const hit = await this.rooms.getAlias(em, alias);
    if (!hit) throw notFound('Unknown room alias');
    if (hit.creator !== actor.userId && !actor.isAdmin && !(await this.canChangeRoomList(em, actor, hit.roomId, false))) {
      throw forbidden("You don't have permission to delete the alias.");
    }
    if (domainOf(alias) !== this.serverName) throw badRequest('Room alias must be local');
    const roomId = await this.rooms.deleteAlias(em, alias);
    if (!roomId) throw notFound('Unknown room alias');
    return roomId;
  }

  /** Aliases pointing at a room, sorted. */
  getAliases(em: Em, roomId: string): Promise<string[]> {
    return this.rooms.getAliasesForRoom(em, roomId);
  }

  /** The room's directory visibility; 404 "Unknown room" when the room is unknown. */
  async getVisibility(em: Em, roomId: string): Promise<'public' | 'private'> {
    const room = await this.rooms.getRoom(em, roomId);
    if (!room) throw notFound('Unknown room');
    return room.isPublic ? 'public' : 'private';
  }

  /**
   * Publishes or unpublishes a room. Throws 403 for guests and non-moderators, 400 "Unknown room".
   */
  async setVisibility(em: Em, actor: DirectoryActor, roomId: string, visibility: 'public' | 'private'): Promise<void> {
    if (actor.isGuest) throw forbidden('Guests cannot edit the published room list');
    if (!(await this.rooms.getRoom(em, roomId))) throw badRequest('Unknown room');
    if (!(await this.canChangeRoomList(em, actor, roomId, true))) {
      throw forbidden('This server requires you to be a moderator in the room to edit its room list entry');
    }
    await this.rooms.setPublic(em, roomId, visibility === 'public');
  }

  /** Server admins, or joined users who may send m.room.canonical_alias. */
  private async canChangeRoomList(em: Em, actor: DirectoryActor, roomId: string, requireJoined: boolean): Promise<boolean> {
    if (actor.isAdmin) return true;
    const m = await this.rooms.getMembership(em, roomId, actor.userId);
    if (m?.membership !== 'join') {
      if (requireJoined) throw forbidden(`User ${echo(actor.userId)} not in room ${echo(roomId)}`);
      return false;
    }
    const room = await this.rooms.getRoom(em, roomId);
    const state: StateMap = new Map();
    for (const e of [
      await this.events.getStateEvent(em, roomId, 'm.room.power_levels', ''),
      await this.events.getStateEvent(em, roomId, 'm.room.create', ''),
    ]) {
      if (e)
        state.set(stateMapKey(e.type, e.stateKey ?? ''), {
          eventId: e.eventId,
          type: e.type,
          stateKey: e.stateKey ?? '',
          sender: e.sender,
          content: e.content,
          membership: null,
        });
    }
    const version = roomVersionOf(room?.roomVersion ?? '10');
    return userPowerLevel(version, actor.userId, state) >= sendLevel(state, 'm.room.canonical_alias', true);
  }
}
