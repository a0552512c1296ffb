import type { Direction } from '../../../gen/synapse/admin/v1/common';
import type {
  DeleteRoomOptions,
  RoomAdminServiceServer,
  RoomDeleteTask,
  RoomDetails as RoomDetailsMsg,
  RoomOrderBy,
  RoomSummary as RoomSummaryMsg,
  ShutdownResult as ShutdownResultMsg,
} from '../../../gen/synapse/admin/v1/room_admin';
import { requesterOf } from '../../context';
import { Codes, MatrixError } from '../../errors';
import { DIRECTIONS, parseChoiceParam, parseIntParam } from '../../matrix/query-params';
import { toClientEvent } from '../../matrix/event-formats';
import type { RoomAdminService } from '../../admin/room-admin.service';
import type { RoomDeleteService } from '../../admin/room-delete.service';
import type { RoomMembershipAdminService } from '../../admin/room-membership-admin.service';
import type {
  DeleteOptions,
  DeleteTaskView,
  Dir,
  RoomDetails,
  RoomListPage,
  RoomOrderBy as OrderBy,
  RoomSummary,
  ShutdownResult,
} from '../../admin/room-admin.types';
import type { CallAdapter } from '../adapter';
import { ROOM_DELETE_STATUS, ROOM_ORDER_BY, dirWord } from '../contract-words';
import { toEventMessages } from './event-message';
import { blockBody, deleteOptionsBody, joinBody, makeRoomAdminBody, purgeRoomBody, shutdownRoomBody } from '../../admin/room-admin.bodies';

const SERVICE = '/synapse.admin.v1.RoomAdminService/';

export interface RoomAdminHandlerDeps {
  admin: RoomAdminService;
  deletes: RoomDeleteService;
  memberships: RoomMembershipAdminService;
}

const orderByOf = (o: RoomOrderBy): OrderBy | null => ROOM_ORDER_BY.word(o) ?? null;
const dirOf = (d: Direction): Dir => dirWord(d);
const opt = <T>(v: T | null): T | undefined => (v === null ? undefined : v);

const toSummary = (s: RoomSummary): RoomSummaryMsg => ({
  roomId: s.roomId,
  name: opt(s.name),
  canonicalAlias: opt(s.canonicalAlias),
  joinedMembers: s.joinedMembers,
  joinedLocalMembers: s.joinedLocalMembers,
  version: opt(s.version),
  creator: opt(s.creator),
  encryption: opt(s.encryption),
  federatable: s.federatable,
  public: s.public,
  joinRules: opt(s.joinRules),
  guestAccess: opt(s.guestAccess),
  historyVisibility: opt(s.historyVisibility),
  stateEvents: s.stateEvents,
  roomType: opt(s.roomType),
});

const toDetails = (d: RoomDetails): RoomDetailsMsg => ({
  summary: toSummary(d),
  topic: opt(d.topic),
  avatar: opt(d.avatar),
  joinedLocalDevices: d.joinedLocalDevices,
  forgotten: d.forgotten,
  tombstoned: d.tombstoned,
  replacementRoom: opt(d.replacementRoom),
});

const toResult = (r: ShutdownResult): ShutdownResultMsg => ({
  kickedUsers: r.kicked_users,
  failedToKickUsers: r.failed_to_kick_users,
  localAliases: r.local_aliases,
  newRoomId: opt(r.new_room_id),
});

const toTask = (t: DeleteTaskView): RoomDeleteTask => ({
  deleteId: t.deleteId,
  status: ROOM_DELETE_STATUS.value(t.status),
  roomId: t.roomId,
  shutdownRoom: t.shutdownRoom ? toResult(t.shutdownRoom) : undefined,
  progress: opt(t.progress),
  error: opt(t.error),
});

const toOptions = (o: DeleteRoomOptions | undefined): DeleteOptions => ({
  newRoomUserId: o?.newRoomUserId,
  roomName: o?.roomName,
  message: o?.message,
  block: o?.block,
  purge: o?.purge,
  forcePurge: o?.forcePurge,
});

export function roomAdminHandler(a: CallAdapter, d: RoomAdminHandlerDeps): RoomAdminServiceServer {
  /** A delete's options: from `body_json` when set (checked as Synapse reads the body), else `options`. */
  const deleteOptionsOf = (method: string, req: { roomId: string; options?: DeleteRoomOptions; bodyJson?: Uint8Array }) => {
    if (req.bodyJson === undefined) return toOptions(req.options);
    const options = deleteOptionsBody(req.bodyJson);
    a.checkRequest(`${SERVICE}${method}`, { roomId: req.roomId, options });
    return options;
  };
  return {
    listRooms: a.unary('admin', async (req, ctx) => {
      const input = {
        from: req.from,
        limit: req.limit,
        orderBy: orderByOf(req.orderBy),
        dir: dirOf(req.dir),
        searchTerm: req.searchTerm,
        publicRooms: req.publicRooms,
        emptyRooms: req.emptyRooms,
        params: {
          from: req.fromParam,
          limit: req.limitParam,
          orderBy: req.orderByParam,
          publicRooms: req.publicRoomsParam,
          emptyRooms: req.emptyRoomsParam,
          dir: req.dirParam,
        },
      };
      const counts = (p: Omit<RoomListPage, 'rooms'>) => ({
        offset: p.offset,
        totalRooms: p.totalRooms,
        nextBatch: p.nextBatch,
        prevBatch: p.prevBatch,
      });
      if (req.asJsonBody) {
        const { json, page } = await d.admin.listRoomsJson(ctx.em, input);
        return { rooms: [], ...counts(page), jsonBody: Buffer.from(json) };
      }
      const page = await d.admin.listRooms(ctx.em, input);
      return { rooms: page.rooms.map(toSummary), ...counts(page) };
    }),
    getRoomDetails: a.unary('admin', async (req, ctx) => ({ room: toDetails(await d.admin.roomDetails(ctx.em, req.roomId)) })),
    listRoomMembers: a.unary('admin', async (req, ctx) => {
      const members = await d.admin.joinedMembers(ctx.em, req.roomId);
      return { members, total: members.length };
    }),
    listRoomState: a.unary('admin', async (req, ctx) => {
      if (req.asJsonBody) {
        const state = await d.admin.currentState(ctx.em, req.roomId, req.type ?? null, false);
        return { state: [], jsonBody: Buffer.from(JSON.stringify({ state: state.map((e) => toClientEvent(e)) })) };
      }
      return { state: toEventMessages(await d.admin.currentState(ctx.em, req.roomId, req.type ?? null)) };
    }),
    setRoomBlock: a.unary('admin', async (req, ctx) => {
      const block = req.bodyJson === undefined ? req.block : blockBody(req.roomId, req.bodyJson);
      return { block: await d.admin.setBlocked(ctx.em, req.roomId, block, requesterOf(ctx).userId) };
    }),
    getRoomBlock: a.unary('admin', async (req, ctx) => d.admin.blockStatus(ctx.em, req.roomId)),
    deleteRoom: a.unary('admin', async (req, ctx) => ({
      result: toResult(await d.deletes.deleteNow(ctx.em, req.roomId, deleteOptionsOf('DeleteRoom', req), requesterOf(ctx).userId)),
    })),
    startDeleteRoom: a.unary('admin', async (req, ctx) => ({
      deleteId: await d.deletes.startDelete(
        ctx.em,
        req.roomId,
        deleteOptionsOf('StartDeleteRoom', req),
        requesterOf(ctx).userId,
        ctx.requestId,
      ),
    })),
    listDeleteStatuses: a.unary('admin', async (req, ctx) => ({
      results: (await d.deletes.statusesByRoom(ctx.em, req.roomId)).map(toTask),
    })),
    getDeleteStatus: a.unary('admin', async (req, ctx) => ({ task: toTask(await d.deletes.statusById(ctx.em, req.deleteId)) })),
    shutdownRoom: a.unary('admin', async (req, ctx) => {
      let options = { newRoomUserId: req.newRoomUserId, roomName: req.roomName, message: req.message };
      if (req.bodyJson !== undefined) {
        options = shutdownRoomBody(req.bodyJson);
        a.checkRequest(`${SERVICE}ShutdownRoom`, { roomId: req.roomId, ...options });
      }
      return { result: toResult(await d.deletes.legacyShutdown(ctx.em, req.roomId, options, requesterOf(ctx).userId)) };
    }),
    purgeRoom: a.unary('admin', async (req) => {
      let roomId = req.roomId;
      if (req.bodyJson !== undefined) {
        roomId = purgeRoomBody(req.bodyJson);
        a.checkRequest(`${SERVICE}PurgeRoom`, { roomId });
      }
      await d.deletes.legacyPurge(roomId);
      return {};
    }),
    makeRoomAdmin: a.unary('admin', async (req, ctx) => {
      let userId = req.userId;
      if (req.bodyJson !== undefined) {
        userId = makeRoomAdminBody(req.bodyJson);
        a.checkRequest(`${SERVICE}MakeRoomAdmin`, { roomIdOrAlias: req.roomIdOrAlias, userId });
      }
      await d.memberships.makeRoomAdmin(ctx.em, requesterOf(ctx).userId, req.roomIdOrAlias, userId ?? null);
      return {};
    }),
    getForwardExtremities: a.unary('admin', async (req, ctx) => {
      const results = await d.admin.forwardExtremities(ctx.em, req.roomIdOrAlias);
      return { count: results.length, results: results.map((e) => ({ ...e, stateGroup: opt(e.stateGroup) })) };
    }),
    deleteForwardExtremities: a.unary('admin', async (req, ctx) => ({
      deleted: await d.admin.deleteForwardExtremities(ctx.em, req.roomIdOrAlias),
    })),
    adminJoinRoom: a.unary('admin', async (req, ctx) => {
      let userId = req.userId;
      if (req.bodyJson !== undefined) {
        userId = joinBody(req.bodyJson);
        a.checkRequest(`${SERVICE}AdminJoinRoom`, { roomIdOrAlias: req.roomIdOrAlias, userId, serverNames: req.serverNames });
      }
      return { roomId: await d.memberships.joinUser(ctx.em, requesterOf(ctx).userId, req.roomIdOrAlias, userId) };
    }),
    timestampToEvent: a.unary('admin', async (req, ctx) => {
      if (!req.queryAsGiven) return d.admin.timestampToEvent(ctx.em, req.roomId, req.ts, dirOf(req.dir));
      if (req.tsParam === undefined) throw new MatrixError(400, 'Missing required integer query parameter ts', Codes.MISSING_PARAM);
      const ts = parseIntParam('ts', req.tsParam);
      const dir = req.dirParam === undefined ? 'f' : parseChoiceParam('dir', req.dirParam, DIRECTIONS);
      return d.admin.timestampToEvent(ctx.em, req.roomId, ts, dir);
    }),
  };
}
