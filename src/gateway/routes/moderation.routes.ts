/**
 * Moderation and the room directory: admin event lookup, event reports, room sizes, the
 * redaction of a user's events, and /publicRooms. Each route passes its parameters and body on as
 * received (the service reads them with Synapse's errors), makes one ModerationService /
 * RoomDirectoryService call and renders Synapse's JSON.
 */
import type { EventReport, ListPublicRoomsRequest, PublicRoom } from '../../../gen/synapse/admin/v1/moderation';
import { toFederationEvent } from '../../matrix/event-formats';
import type { GatewayRequest, Route } from '../router';
import { clientPaths } from './auth.routes';

type Json = Record<string, unknown>;
const A = '/_synapse/admin/v1';

function reportJson(r: EventReport): Json {
  return {
    id: r.id,
    received_ts: r.receivedTs,
    room_id: r.roomId,
    name: r.name ?? null,
    event_id: r.eventId,
    user_id: r.userId,
    reason: r.reason ?? null,
    score: r.score ?? null,
    sender: r.sender ?? null,
    canonical_alias: r.canonicalAlias ?? null,
  };
}

/** A report: the body passed on as received; the service reads it after refusing guests. */
async function report(r: GatewayRequest) {
  await r.rpc(r.clients.moderation, 'reportEvent', {
    roomId: r.params.roomId,
    eventId: r.params.eventId,
    contentJson: '',
    bodyJson: r.rawBody,
  });
  return { body: {} };
}

/** A user redaction: the body passed on as received; the service reads it after the user id. */
async function redactUser(r: GatewayRequest) {
  const res = await r.rpc(r.clients.moderation, 'redactUserEvents', { userId: r.params.userId, rooms: [], bodyJson: r.rawBody });
  return { body: { redact_id: res.redactId } };
}

async function redactStatus(r: GatewayRequest) {
  const res = await r.rpc(r.clients.moderation, 'getRedactStatus', { redactId: r.params.redactId });
  if (res.status === 'complete') return { body: { status: res.status, failed_redactions: res.failedRedactions } };
  if (res.status === 'failed') return { body: { status: res.status, error: res.error ?? null } };
  return { body: { status: res.status } };
}

function publicRoomJson(p: PublicRoom): Json {
  const entry: Json = {
    room_id: p.roomId,
    name: p.name,
    topic: p.topic,
    canonical_alias: p.canonicalAlias,
    num_joined_members: p.numJoinedMembers,
    avatar_url: p.avatarUrl,
    world_readable: p.worldReadable,
    guest_can_join: p.guestCanJoin,
    join_rule: p.joinRule,
    room_type: p.roomType,
  };
  // Synapse leaves out the keys whose value is null.
  return Object.fromEntries(Object.entries(entry).filter(([, v]) => v !== undefined));
}

async function publicRooms(r: GatewayRequest, req: ListPublicRoomsRequest) {
  const res = await r.rpc(r.clients.directory, 'listPublicRooms', req);
  const body: Json = { chunk: res.chunk.map(publicRoomJson), total_room_count_estimate: res.totalRoomCountEstimate };
  if (res.nextBatch !== undefined) body.next_batch = res.nextBatch;
  if (res.prevBatch !== undefined) body.prev_batch = res.prevBatch;
  return { body };
}

const EMPTY_PUBLIC_ROOMS: ListPublicRoomsRequest = {
  roomTypes: [],
  hasNullRoomType: false,
  filterRoomTypes: false,
  includeAllNetworks: false,
};

/** `limit` as given: the service reads it after authentication. */
async function getPublicRooms(r: GatewayRequest) {
  return publicRooms(r, {
    ...EMPTY_PUBLIC_ROOMS,
    server: r.query.string('server'),
    limitParam: r.query.string('limit'),
    since: r.query.string('since'),
  });
}

/** The body as received: the service reads it after authentication. */
async function postPublicRooms(r: GatewayRequest) {
  return publicRooms(r, { ...EMPTY_PUBLIC_ROOMS, server: r.query.string('server'), bodyJson: r.rawBody });
}

export const moderationRoutes: Route[] = [
  {
    method: 'GET',
    path: `${A}/fetch_event/{eventId}`,
    auth: 'admin',
    handler: async (r) => {
      const res = await r.rpc(r.clients.moderation, 'fetchEvent', { eventId: r.params.eventId });
      return { body: { event: toFederationEvent(res.event!) } };
    },
  },
  ...clientPaths('/rooms/{roomId}/report/{eventId}', { method: 'POST', auth: 'user', handler: report }),
  {
    method: 'GET',
    path: `${A}/event_reports`,
    auth: 'admin',
    handler: async (r) => {
      const q = r.query;
      // Passed on as given: the service checks them after authentication.
      const res = await r.rpc(r.clients.moderation, 'listEventReports', {
        from: 0,
        forwards: false,
        fromParam: q.string('from'),
        limitParam: q.string('limit'),
        dirParam: q.string('dir'),
        userId: q.string('user_id'),
        roomId: q.string('room_id'),
        eventSenderUserId: q.string('event_sender_user_id'),
      });
      const body: Json = { event_reports: res.eventReports.map(reportJson), total: res.total };
      if (res.nextToken !== undefined) body.next_token = res.nextToken;
      return { body };
    },
  },
  {
    method: 'GET',
    path: `${A}/event_reports/{reportId}`,
    auth: 'admin',
    handler: async (r) => {
      const res = await r.rpc(r.clients.moderation, 'getEventReport', { reportId: 0, reportIdParam: r.params.reportId });
      // The PDU as stored: Synapse's event_json has no event_id (it is the PDU's hash).
      const { event_id: _id, ...eventJson } = toFederationEvent(res.event!);
      return { body: { ...reportJson(res.report!), event_json: eventJson } };
    },
  },
  {
    method: 'DELETE',
    path: `${A}/event_reports/{reportId}`,
    auth: 'admin',
    handler: async (r) => {
      await r.rpc(r.clients.moderation, 'deleteEventReport', { reportId: 0, reportIdParam: r.params.reportId });
      return { body: {} };
    },
  },
  {
    method: 'GET',
    path: `${A}/statistics/database/rooms`,
    auth: 'admin',
    handler: async (r) => {
      const res = await r.rpc(r.clients.moderation, 'listLargestRooms', {});
      return { body: { rooms: res.rooms.map((x) => ({ room_id: x.roomId, estimated_size: x.estimatedSize })) } };
    },
  },
  { method: 'POST', path: `${A}/user/{userId}/redact`, auth: 'admin', handler: redactUser },
  { method: 'GET', path: `${A}/user/redact_status/{redactId}`, auth: 'admin', handler: redactStatus },
  ...clientPaths('/publicRooms', { method: 'GET', auth: 'user', handler: getPublicRooms }),
  ...clientPaths('/publicRooms', { method: 'POST', auth: 'user', handler: postPublicRooms }),
];
