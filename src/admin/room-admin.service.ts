/**
 * Room admin reads and simple writes: list rooms, details, members, blocking, forward extremities
 * and timestamp lookups (spec §2.1–2.4, 2.6, 2.7, 2.12). Deletes live in room-delete.service.ts,
 * membership-changing calls in room-membership-admin.service.ts.
 */
import type { Em } from '../infra/orm';
import { badRequest, echo, invalidParam, notFound } from '../errors';
import { isValidRoomId } from '../matrix/ids';
import type { RoomService } from '../rooms/room.service';
import { EventSerializer, type EventView } from '../rooms/event.serializer';
import { PagePresenter } from '../pagination/page-presenter';
import { currentStateRows } from '../pagination/page-rows';
import { findEventAtTimestamp } from '../rooms/timestamp-lookup';
import { RoomAdminRepository } from './room-admin.repository';
import { RoomListRepository, type PageShape } from './room-list.repository';
import { DIRECTIONS, ifGiven, parseBoolParam, parseChoiceParam, parseIntParam } from '../matrix/query-params';
import { ROOM_ORDER_BY } from './room-admin.types';
import type {
  BlockStatus,
  Dir,
  EventAtTimestamp,
  ForwardExtremity,
  ListRoomsQuery,
  RoomDetails,
  RoomListPage,
  RoomOrderBy,
  RoomSummary,
} from './room-admin.types';

/** Default page size of the room list (Synapse's). */
export const DEFAULT_ROOMS_PER_PAGE = 100;
/**
 * Largest page the room list returns: a larger `limit` is served as this many rooms, with
 * `next_batch` computed from what was returned so clients following it still see every room.
 * Keeps one answer within the gRPC message limit whatever the number of rooms.
 */
export const MAX_ROOMS_PER_PAGE = 10_000;

export interface ListRoomsInput {
  from?: number | null;
  limit?: number | null;
  orderBy?: RoomOrderBy | null;
  dir?: Dir | null;
  searchTerm?: string | null;
  publicRooms?: boolean | null;
  emptyRooms?: boolean | null;
  /**
   * Query parameters as given; each one present replaces its typed field and is checked in
   * Synapse's order: from, limit, order_by, search_term, public_rooms, empty_rooms, dir.
   */
  params?: {
    from?: string | null;
    limit?: string | null;
    orderBy?: string | null;
    publicRooms?: string | null;
    emptyRooms?: string | null;
    dir?: string | null;
  };
}

/** The typed input with its given parameters parsed, in Synapse's order (see ListRoomsInput.params). */
function parsedInput(input: ListRoomsInput): ListRoomsInput {
  const p = input.params;
  if (!p) return input;
  const from = ifGiven('from', p.from, parseIntParam) ?? input.from;
  const limit = ifGiven('limit', p.limit, parseIntParam) ?? input.limit;
  const orderBy = ifGiven('order_by', p.orderBy, (n, v) => parseChoiceParam(n, v, ROOM_ORDER_BY)) ?? input.orderBy;
  if (input.searchTerm === '') throw invalidParam('search_term cannot be an empty string');
  const publicRooms = ifGiven('public_rooms', p.publicRooms, parseBoolParam) ?? input.publicRooms;
  const emptyRooms = ifGiven('empty_rooms', p.emptyRooms, parseBoolParam) ?? input.emptyRooms;
  const dir = ifGiven('dir', p.dir, (n, v) => parseChoiceParam(n, v, DIRECTIONS)) ?? input.dir;
  return { from, limit, orderBy, dir, searchTerm: input.searchTerm, publicRooms, emptyRooms };
}

/** Synapse's offset, total and the offsets of the neighbouring pages. */
function batches(q: ListRoomsQuery, total: number): Omit<RoomListPage, 'rooms'> {
  const page: Omit<RoomListPage, 'rooms'> = { offset: q.from, totalRooms: total };
  if (q.from + q.limit < total) page.nextBatch = q.from + q.limit;
  if (q.from > 0) page.prevBatch = q.from > q.limit ? q.from - q.limit : 0;
  return page;
}

export const notLegalRoomId = (roomId: string) => badRequest(`${echo(roomId)} is not a legal room ID`);

/** Presents state rows; it keeps no state of its own (the serializer's repository is never used here). */
const statePresenter = new PagePresenter(new EventSerializer());

export class RoomAdminService {
  readonly list = new RoomListRepository();
  readonly repo = new RoomAdminRepository();

  constructor(private readonly rooms: RoomService) {}

  /** One page of rooms with Synapse's offset/total/next_batch/prev_batch. Throws 400 M_INVALID_PARAM for bad input. */
  async listRooms(em: Em, input: ListRoomsInput): Promise<RoomListPage> {
    const q = this.listQuery(input);
    const { rooms, total } = await this.pageOf(em, q, 'rows');
    return { rooms, ...batches(q, total) };
  }

  /**
   * The same page with its rooms rendered by the database, and `json` the text of Synapse's
   * response body (`offset`, `rooms`, `total_rooms`, then `next_batch`/`prev_batch` when present).
   */
  async listRoomsJson(em: Em, input: ListRoomsInput): Promise<{ json: string; page: Omit<RoomListPage, 'rooms'> }> {
    const q = this.listQuery(input);
    const { rooms, total } = await this.pageOf(em, q, 'json');
    const b = batches(q, total);
    const json = `{"offset":${b.offset},"rooms":${rooms},"total_rooms":${b.totalRooms}${b.nextBatch !== undefined ? `,"next_batch":${b.nextBatch}` : ''}${b.prevBatch !== undefined ? `,"prev_batch":${b.prevBatch}` : ''}}`;
    return { json, page: b };
  }

  /** The page's rooms and the number of matches: one statement for a search or a JSON page, else two independent ones on two pool connections. */
  private pageOf(em: Em, q: ListRoomsQuery, shape: 'rows'): Promise<{ rooms: RoomSummary[]; total: number }>;
  private pageOf(em: Em, q: ListRoomsQuery, shape: 'json'): Promise<{ rooms: string; total: number }>;
  private async pageOf(em: Em, q: ListRoomsQuery, shape: PageShape): Promise<{ rooms: RoomSummary[] | string; total: number }> {
    if (q.searchTerm !== null) return this.list.searchPage(em, q, shape);
    if (shape === 'json') return this.list.listPageJsonWithCount(em, q);
    const [rooms, total] = await Promise.all([this.list.listPage(em, q), this.list.count(em, q)]);
    return { rooms, total };
  }

  private listQuery(given: ListRoomsInput): ListRoomsQuery {
    const input = parsedInput(given);
    const from = input.from ?? 0;
    const requested = input.limit ?? DEFAULT_ROOMS_PER_PAGE;
    if (!Number.isSafeInteger(from) || from < 0) throw invalidParam('Query parameter from must be a positive integer.');
    if (!Number.isSafeInteger(requested) || requested < 0) throw invalidParam('Query parameter limit must be a positive integer.');
    if (input.searchTerm === '') throw invalidParam('search_term cannot be an empty string');
    return {
      from,
      limit: Math.min(requested, MAX_ROOMS_PER_PAGE),
      orderBy: input.orderBy ?? 'name',
      dir: input.dir ?? 'f',
      searchTerm: input.searchTerm ?? null,
      publicRooms: input.publicRooms ?? null,
      emptyRooms: input.emptyRooms ?? null,
    };
  }

  /** Throws 404 "Room not found" for a room the server does not know. */
  async roomDetails(em: Em, roomId: string): Promise<RoomDetails> {
    const details = await this.list.details(em, roomId);
    if (!details) throw notFound('Room not found');
    return details;
  }

  /** Currently joined members (local and remote). Throws 404 "Room not found". */
  async joinedMembers(em: Em, roomId: string): Promise<string[]> {
    if (!(await this.list.roomExists(em, roomId))) throw notFound('Room not found');
    return this.list.joinedMembers(em, roomId);
  }

  /**
   * The room's current state (only events of `type` when it is non-empty), serialised with
   * `unsigned` computed now. Throws 404 "Room not found".
   */
  /**
   * The room's current state (optionally of one type), `unsigned` computed as EventSerializer does
   * (age, replaces_state, prev_content/prev_sender, redacted_because with the content pruned), from
   * one statement; a second one only tells an unknown room (404) from a room without such state.
   * `dagFields`: also load prev_events/auth_events (the client format does not show them).
   */
  async currentState(em: Em, roomId: string, type: string | null, dagFields = true): Promise<EventView[]> {
    const rows = await currentStateRows(em, roomId, type || null, { dagFields, aggregationsFor: null });
    if (rows.length === 0 && !(await this.list.roomExists(em, roomId))) throw notFound('Room not found');
    const now = Date.now();
    return rows.map((r) => statePresenter.view(r, now, null));
  }

  /** Blocks (keeping an existing blocker) or unblocks a room, known or not. Throws 400 for an invalid room id. */
  async setBlocked(em: Em, roomId: string, block: boolean, requesterUserId: string): Promise<boolean> {
    if (!isValidRoomId(roomId)) throw notLegalRoomId(roomId);
    if (block) await this.rooms.blockRoom(em, roomId, requesterUserId);
    else await this.rooms.unblockRoom(em, roomId);
    return block;
  }

  /** Who blocked the room, or null. Throws 400 for an invalid room id. */
  async blockStatus(em: Em, roomId: string): Promise<BlockStatus> {
    if (!isValidRoomId(roomId)) throw notLegalRoomId(roomId);
    const b = await this.rooms.isBlocked(em, roomId);
    return b.blocked ? { block: true, userId: b.userId ?? undefined } : { block: false };
  }

  /**
   * A room id as-is, or the room a local alias points at. Throws 404 "Room alias <a> not found" and
   * 400 "<x> was not legal room ID or room alias".
   */
  resolveRoom(em: Em, roomIdOrAlias: string): Promise<string> {
    return this.rooms.resolveRoomIdOrAlias(em, roomIdOrAlias);
  }

  async forwardExtremities(em: Em, roomIdOrAlias: string): Promise<ForwardExtremity[]> {
    return this.repo.forwardExtremities(em, await this.resolveRoom(em, roomIdOrAlias));
  }

  /** Keeps only the newest forward extremity. Throws 400 when the room has none (Synapse: 500). */
  async deleteForwardExtremities(em: Em, roomIdOrAlias: string): Promise<number> {
    const roomId = await this.resolveRoom(em, roomIdOrAlias);
    const deleted = await this.repo.deleteOlderForwardExtremities(em, roomId);
    if (deleted === null) throw badRequest(`No forward extremity event found for room ${echo(roomId)}`);
    return deleted;
  }

  /** The closest event to `ts` in direction `dir`. Throws 404 "Unable to find event from <ts> in direction <dir>". */
  async timestampToEvent(em: Em, roomId: string, ts: number, dir: Dir): Promise<EventAtTimestamp> {
    if (!Number.isSafeInteger(ts) || ts < 0) throw invalidParam('Query parameter ts must be a positive integer.');
    return findEventAtTimestamp(em, roomId, ts, dir);
  }
}
