/**
 * Bulk import: the events of many rooms in one call, persisted by the one event write path
 * (auth rules, state, memberships, stats, relations, retention, extremities) in one transaction
 * of set-based statements. New rooms start with their m.room.create event; events of existing
 * rooms are appended after their current extremity. Senders may be local or remote users (this
 * is how federated history enters the server), but every event still passes the auth rules.
 */
import { MatrixError, badRequest, echo } from '../errors';
import { domainOf, isValidAlias, isValidRoomId, isValidUserId, randomLetters } from '../matrix/ids';
import type { Em } from '../infra/orm';
import type { EventDraft, EventPersister, RoomBatch } from './event-persister';
import { UnknownRoomError } from './event-persister';
import { KNOWN_ROOM_VERSIONS } from './room-versions';
import { RoomRepository } from './room.repository';
import type { Json } from './room.types';

/** Longest accepted import call, in events (bounded so one call stays one reasonable transaction). */
export const MAX_IMPORT_EVENTS_PER_CALL = 200_000;

export interface ImportedEvent {
  type: string;
  /** Present (possibly "") for state events. */
  stateKey?: string | null;
  sender: string;
  content: Json;
  originServerTs?: number;
  redacts?: string | null;
  /** Keep this id (e.g. a federated event); generated otherwise. */
  eventId?: string;
}

export interface ImportedRoom {
  /** Required for existing rooms; generated (on this server) for new ones when absent. */
  roomId?: string;
  /** New rooms: published in the directory. */
  isPublic?: boolean;
  /** New rooms: local aliases to create, owned by the room creator. */
  aliases?: string[];
  events: ImportedEvent[];
}

export interface ImportedRoomResult {
  roomId: string;
  created: boolean;
  events: number;
  firstStreamOrdering: number;
  lastStreamOrdering: number;
  lastDepth: number;
  /** Every new event id, in order (only when asked). */
  eventIds?: string[];
}

export interface ImportOptions {
  returnEventIds?: boolean;
}

function validateEvent(e: ImportedEvent, where: string): void {
  if (!e || typeof e !== 'object') throw badRequest(`${where}: must be an object`);
  if (typeof e.type !== 'string' || e.type === '') throw badRequest(`${where}: 'type' must be a non-empty string`);
  if (typeof e.sender !== 'string' || !isValidUserId(e.sender)) throw badRequest(`${where}: 'sender' must be a valid user id`);
  if (e.stateKey !== undefined && e.stateKey !== null && typeof e.stateKey !== 'string')
    throw badRequest(`${where}: 'state_key' must be a string`);
  if (!e.content || typeof e.content !== 'object' || Array.isArray(e.content)) throw badRequest(`${where}: 'content' must be an object`);
  if (e.originServerTs !== undefined && (!Number.isSafeInteger(e.originServerTs) || e.originServerTs < 0))
    throw badRequest(`${where}: 'origin_server_ts' must be a non-negative integer`);
  if (e.eventId !== undefined && !/^\$[^\s]{1,254}$/.test(e.eventId)) throw badRequest(`${where}: 'event_id' is not a valid event id`);
}

export class ImportService {
  constructor(
    private readonly serverName: string,
    private readonly persister: EventPersister,
    private readonly rooms = new RoomRepository(),
  ) {}

  /**
   * Imports the rooms' events atomically (all or nothing). Throws 400 for malformed input (with
   * the position of the offending event), the auth rules' 403s prefixed with that position, 404
   * for an unknown room that does not start with m.room.create, 409 when a new room id exists.
   */
  async importRooms(em: Em, rooms: ImportedRoom[], opts: ImportOptions = {}): Promise<ImportedRoomResult[]> {
    const total = rooms.reduce((n, r) => n + (Array.isArray(r?.events) ? r.events.length : 0), 0);
    if (total > MAX_IMPORT_EVENTS_PER_CALL) throw badRequest(`At most ${MAX_IMPORT_EVENTS_PER_CALL} events per import call (got ${total})`);
    const given = rooms.map((r) => r?.roomId).filter((id): id is string => typeof id === 'string');
    if (new Set(given).size !== given.length) throw badRequest('A room may appear only once per import call');
    const existing = await this.rooms.existingRooms(em, given);
    const batches = rooms.map((r, i) => this.toBatch(r, i, existing));
    let results;
    try {
      results = await this.persister.persist(em, batches, { locateErrors: true });
    } catch (err) {
      if (err instanceof UnknownRoomError)
        throw new MatrixError(404, `Unknown room ${echo(err.roomId)}: a new room must start with its m.room.create event`);
      if ((err as { code?: string }).code === '23505')
        throw new MatrixError(409, `A room or event of this import already exists (${echo((err as Error).message.split(' - ').pop())})`);
      throw err;
    }
    return results.map((events, i) => ({
      roomId: batches[i].roomId,
      created: !!batches[i].newRoom,
      events: events.length,
      firstStreamOrdering: events[0]?.streamOrdering ?? 0,
      lastStreamOrdering: events[events.length - 1]?.streamOrdering ?? 0,
      lastDepth: events[events.length - 1]?.depth ?? 0,
      eventIds: opts.returnEventIds ? events.map((e) => e.eventId) : undefined,
    }));
  }

  private toBatch(r: ImportedRoom, i: number, existing: Set<string>): RoomBatch {
    if (!r || typeof r !== 'object' || !Array.isArray(r.events) || r.events.length === 0)
      throw badRequest(`rooms[${i}]: 'events' must be a non-empty list`);
    r.events.forEach((e, j) => validateEvent(e, `rooms[${i}].events[${j}]`));
    const drafts: EventDraft[] = r.events.map((e) => ({
      type: e.type,
      stateKey: e.stateKey ?? null,
      sender: e.sender,
      content: e.content,
      originServerTs: e.originServerTs,
      redacts: e.redacts ?? null,
      eventId: e.eventId,
    }));
    if (r.roomId !== undefined && !isValidRoomId(r.roomId)) throw badRequest(`rooms[${i}]: '${echo(r.roomId)}' is not a legal room ID`);
    if (r.roomId !== undefined && existing.has(r.roomId)) {
      if (r.aliases?.length) throw badRequest(`rooms[${i}]: aliases can only be created with a new room`);
      return { roomId: r.roomId, drafts };
    }
    const create = r.events[0];
    if (create.type !== 'm.room.create' || (create.stateKey ?? null) !== '') {
      if (r.roomId !== undefined)
        throw new MatrixError(404, `Unknown room ${echo(r.roomId)}: a new room must start with its m.room.create event`);
      throw badRequest(`rooms[${i}]: a new room must start with its m.room.create event`);
    }
    const version = typeof create.content.room_version === 'string' ? create.content.room_version : '1';
    if (!KNOWN_ROOM_VERSIONS.has(version)) throw badRequest(`rooms[${i}]: unsupported room version ${echo(version)}`);
    const roomId = r.roomId ?? `!${randomLetters(18)}:${domainOf(create.sender)}`;
    const aliases = (r.aliases ?? []).map((alias) => {
      if (!isValidAlias(alias) || domainOf(alias) !== this.serverName)
        throw badRequest(`rooms[${i}]: '${echo(alias)}' is not a local alias`);
      return { alias, creator: create.sender };
    });
    return { roomId, newRoom: { roomVersion: version, isPublic: r.isPublic ?? false }, drafts, aliases };
  }
}
