import type {
  EventReport,
  ListPublicRoomsRequest,
  ModerationServiceServer,
  PublicRoom,
  RoomDirectoryServiceServer,
} from '../../../gen/synapse/admin/v1/moderation';
import { requesterOf } from '../../context';
import { Codes, MatrixError, badJson, invalidParam, notFound } from '../../errors';
import { parseJsonObject, type Json } from '../../matrix/json-body';
import { isValidUserId } from '../../matrix/ids';
import { DIRECTIONS, parseChoiceParam, parseIntParam } from '../../matrix/query-params';
import type { EventReportRow } from '../../moderation/event-reports.repository';
import type { EventReportService } from '../../moderation/event-reports.service';
import type { PublicRoomEntry, PublicRoomsQuery, PublicRoomsService } from '../../moderation/public-rooms.service';
import { publicRoomsBody } from '../../moderation/public-rooms.body';
import type { RoomSizeRepository } from '../../moderation/room-sizes.repository';
import type { UserRedactionService } from '../../moderation/user-redaction.service';
import type { RoomService } from '../../rooms/room.service';
import type { EventSerializer } from '../../rooms/event.serializer';
import type { StoredEvent } from '../../rooms/room.types';
import type { CallAdapter } from '../adapter';
import { toEventMessage } from './event-message';
import { jsonObject } from './json-fields';

/** The typed fields of a ListPublicRoomsRequest (and the REST `limit` as given), all but `server`. */
function publicRoomsQuery(req: ListPublicRoomsRequest): Omit<PublicRoomsQuery, 'server'> {
  const limit = req.limitParam !== undefined ? parseIntParam('limit', req.limitParam) : (req.limit ?? null);
  if (limit !== null && limit < 0) throw invalidParam('Query parameter limit must be a positive integer.');
  return {
    limit: limit || null,
    since: req.since || null,
    searchTerm: req.genericSearchTerm || null,
    roomTypes: req.filterRoomTypes ? [...req.roomTypes, ...(req.hasNullRoomType ? [null] : [])] : null,
    includeAllNetworks: req.includeAllNetworks,
    thirdPartyInstanceId: req.thirdPartyInstanceId ?? null,
  };
}

const toReport = (r: EventReportRow): EventReport => ({
  id: r.id,
  receivedTs: r.receivedTs,
  roomId: r.roomId,
  eventId: r.eventId,
  userId: r.userId,
  score: r.score ?? undefined,
  reason: r.reason ?? undefined,
  sender: r.sender ?? undefined,
  canonicalAlias: r.canonicalAlias ?? undefined,
  name: r.name ?? undefined,
});

const toPublicRoom = (r: PublicRoomEntry): PublicRoom => ({
  roomId: r.roomId,
  name: r.name ?? undefined,
  topic: r.topic ?? undefined,
  canonicalAlias: r.canonicalAlias ?? undefined,
  numJoinedMembers: r.numJoinedMembers,
  avatarUrl: r.avatarUrl ?? undefined,
  worldReadable: r.worldReadable,
  guestCanJoin: r.guestCanJoin,
  joinRule: r.joinRule ?? undefined,
  roomType: r.roomType ?? undefined,
});

/** An event exactly as stored: original content even when redacted, `unsigned` with its age. */
function asStored(serializer: EventSerializer, e: StoredEvent) {
  const view = serializer.view(e, Date.now(), null);
  if (e.redactedBy) view.unsigned.redacted_by = e.redactedBy;
  return toEventMessage(view);
}

/** A report id of the request: a non-negative integer. */
const BAD_REPORT_ID = 'The report_id parameter must be a string representing a positive integer.';

/** A report id, typed or as given in the REST path (Python's int() of the segment, as Synapse). */
function reportId(n: number, given: string | undefined): number {
  if (given !== undefined) {
    if (!/^\s*[+-]?\d+\s*$/.test(given) || Number(given) < 0) throw invalidParam(BAD_REPORT_ID);
    // Larger ids than any safe integer name no report (ids are issued from 1 up): 404 follows.
    return Math.min(Number(given), Number.MAX_SAFE_INTEGER);
  }
  if (!Number.isInteger(n) || n < 0) throw invalidParam(BAD_REPORT_ID);
  return n;
}

/** Synapse's strict body model: a present key of the wrong type is 400 M_BAD_JSON. */
function strictOptional<T>(json: Json, key: string, ok: (v: unknown) => v is T, what: string): T | undefined {
  const v = json[key];
  if (v === undefined || v === null) return undefined;
  if (!ok(v)) throw badJson(`${key}: ${what}`);
  return v;
}
const isSafeInt = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v);
const isString = (v: unknown): v is string => typeof v === 'string';
const isBool = (v: unknown): v is boolean => typeof v === 'boolean';

/** A user redaction's body as received, read with Synapse's model and errors. */
function redactBody(raw: Uint8Array) {
  const json = parseJsonObject(raw, false);
  const rooms = json.rooms;
  if (!('rooms' in json)) throw new MatrixError(400, 'rooms: field required', Codes.MISSING_PARAM);
  if (!Array.isArray(rooms) || rooms.some((x) => typeof x !== 'string')) throw badJson('rooms: value is not a valid list of strings');
  return {
    rooms: rooms as string[],
    reason: strictOptional(json, 'reason', isString, 'str type expected'),
    limit: strictOptional(json, 'limit', isSafeInt, 'value is not a valid integer'),
    useAdmin: strictOptional(json, 'use_admin', isBool, 'value is not a valid boolean'),
    beforeTs: strictOptional(json, 'before_ts', isSafeInt, 'value is not a valid integer'),
    afterTs: strictOptional(json, 'after_ts', isSafeInt, 'value is not a valid integer'),
  };
}

function userIdOf(userId: string): string {
  if (!userId.startsWith('@')) throw invalidParam("Expected UserID string to start with '@'");
  if (!isValidUserId(userId)) throw invalidParam("Expected UserID of the form '@localname:domain'");
  return userId;
}

const int = (v: number | undefined) => (v === undefined ? null : v);

export interface ModerationServices {
  rooms: RoomService;
  serializer: EventSerializer;
  reports: EventReportService;
  sizes: RoomSizeRepository;
  redactions: UserRedactionService;
}

export function moderationHandler(a: CallAdapter, s: ModerationServices): ModerationServiceServer {
  return {
    fetchEvent: a.unary('admin', async (req, ctx) => {
      const e = await s.rooms.getEvent(ctx.em, req.eventId);
      if (!e) throw notFound('Event not found');
      return { event: asStored(s.serializer, e) };
    }),
    reportEvent: a.unary('user', async (req, ctx) => {
      const given =
        req.bodyJson !== undefined
          ? { body: req.bodyJson }
          : { reason: req.reason ?? null, content: jsonObject(req.contentJson, 'content_json') ?? {} };
      await s.reports.report(ctx.em, requesterOf(ctx), req.roomId, req.eventId, given);
      return {};
    }),
    listEventReports: a.unary('admin', async (req, ctx) => {
      const from = req.fromParam !== undefined ? parseIntParam('from', req.fromParam) : req.from;
      const limit = req.limitParam !== undefined ? parseIntParam('limit', req.limitParam) : (req.limit ?? 100);
      const forwards = req.dirParam !== undefined ? parseChoiceParam('dir', req.dirParam, DIRECTIONS) === 'f' : req.forwards;
      if (from < 0) throw invalidParam('Query parameter from must be a positive integer.');
      if (limit < 0) throw invalidParam('Query parameter limit must be a positive integer.');
      const { reports, total } = await s.reports.list(ctx.em, {
        from,
        limit,
        forwards,
        userId: req.userId || null,
        roomId: req.roomId || null,
        eventSenderUserId: req.eventSenderUserId || null,
      });
      // As Synapse: the offset of the next page while reports remain after this one.
      const nextToken = from + limit < total ? from + reports.length : undefined;
      return { eventReports: reports.map(toReport), total, nextToken };
    }),
    getEventReport: a.unary('admin', async (req, ctx) => {
      const { report, event } = await s.reports.get(ctx.em, reportId(req.reportId, req.reportIdParam));
      return { report: toReport(report), event: asStored(s.serializer, event) };
    }),
    deleteEventReport: a.unary('admin', async (req, ctx) => {
      await s.reports.delete(ctx.em, reportId(req.reportId, req.reportIdParam));
      return {};
    }),
    listLargestRooms: a.unary('admin', async (_req, ctx) => ({
      rooms: (await s.sizes.largestShared(ctx.em)).map((r) => ({ roomId: r.roomId, estimatedSize: r.estimatedSize })),
    })),
    redactUserEvents: a.unary('admin', async (req, ctx) => {
      const userId = userIdOf(req.userId);
      const b =
        req.bodyJson !== undefined ? a.checkRequest('/synapse.admin.v1.ModerationService/RedactUserEvents', redactBody(req.bodyJson)) : req;
      const redactId = await s.redactions.start(ctx.em, requesterOf(ctx).userId, {
        userId,
        rooms: b.rooms,
        reason: b.reason ?? null,
        limit: int(b.limit),
        useAdmin: b.useAdmin ?? false,
        beforeTs: int(b.beforeTs),
        afterTs: int(b.afterTs),
      });
      return { redactId };
    }),
    getRedactStatus: a.unary('admin', async (req, ctx) => {
      const st = await s.redactions.status(ctx.em, req.redactId);
      return {
        status: st.status,
        failedRedactions: st.failedRedactions,
        error: st.error ?? undefined,
        roomsDone: st.roomsDone,
        roomsTotal: st.roomsTotal,
        redacted: st.redacted,
      };
    }),
  };
}

export function roomDirectoryHandler(a: CallAdapter, publicRooms: PublicRoomsService): RoomDirectoryServiceServer {
  return {
    listPublicRooms: a.unary('user', async (req, ctx) => {
      const server = req.server ?? null;
      let query: Omit<PublicRoomsQuery, 'server'>;
      if (req.bodyJson !== undefined) {
        query = publicRoomsBody(req.bodyJson);
        // Bounded as the typed fields they stand for.
        a.checkRequest('/synapse.admin.v1.RoomDirectoryService/ListPublicRooms', {
          since: query.since,
          genericSearchTerm: query.searchTerm,
          roomTypes: query.roomTypes?.filter((t) => t !== null),
          thirdPartyInstanceId: query.thirdPartyInstanceId,
        });
      } else query = publicRoomsQuery(req);
      const page = await publicRooms.list(ctx.em, { server, ...query });
      return {
        chunk: page.chunk.map(toPublicRoom),
        nextBatch: page.nextBatch ?? undefined,
        prevBatch: page.prevBatch ?? undefined,
        totalRoomCountEstimate: page.total,
      };
    }),
  };
}
