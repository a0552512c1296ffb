import type { CreateRoomRequest, MembershipAction, RoomServiceServer, RoomVisibility } from '../../../gen/synapse/admin/v1/rooms';
import { requesterOf, type Requester } from '../../context';
import { presentWithRelations, toClientEvent } from '../../matrix/event-formats';
import { Codes, MatrixError, badJson, badRequest, forbidden } from '../../errors';
import { parseJsonObject } from '../../matrix/json-body';
import type { RoomService } from '../../rooms/room.service';
import type { ClientReadService } from '../../rooms/client-read.service';
import type { OutOfBandMemberships } from '../../rooms/out-of-band';
import type { CreateRoomOptions, MembershipAction as DomainAction } from '../../rooms/room.types';
import { aliasBody, createRoomBody, eventContentBody, membershipBody } from '../../rooms/client.bodies';
import { parseChoiceParam } from '../../matrix/query-params';
import type { CallAdapter } from '../adapter';
import { MEMBERSHIP_ACTION, ROOM_VISIBILITY } from '../contract-words';
import { toEventMessage, toEventMessages } from './event-message';
import { jsonObject, optionalJsonObject } from './json-fields';
import {
  checkEvent,
  checkMembership,
  checkRoomCreation,
  fakeEventId,
  shadowBanPause,
  swallowsEvent,
  swallowsMembership,
  withoutRoomProfile,
} from '../../rooms/restrictions';

function toAction(a: MembershipAction): DomainAction {
  const action = MEMBERSHIP_ACTION.word(a);
  if (!action) throw badRequest('Invalid membership key');
  return action;
}

function toVisibility(v: RoomVisibility): 'public' | 'private' {
  const visibility = ROOM_VISIBILITY.word(v);
  if (!visibility) throw badRequest('visibility must be "public" or "private"');
  return visibility;
}

const STATE_FORMATS = ['content', 'event'] as const;

/** The typed fields of a CreateRoomRequest (gRPC callers), as the rooms service takes them. */
function createRoomOptions(req: CreateRoomRequest): CreateRoomOptions {
  const { creationContentJson, powerLevelContentOverrideJson, bodyJson: _b, ...rest } = req;
  return {
    ...rest,
    creationContent: optionalJsonObject(creationContentJson, 'creation_content_json'),
    powerLevelContentOverride: optionalJsonObject(powerLevelContentOverrideJson, 'power_level_content_override_json'),
    initialState: req.initialState.map((s) => ({
      type: s.type,
      stateKey: s.stateKey,
      content: jsonObject(s.contentJson, 'initial_state.content_json'),
    })),
  };
}

const session = (r: Requester) => ({ deviceId: r.deviceId, tokenId: r.tokenId });
const actor = (r: Requester) => ({ userId: r.userId, isAdmin: r.isAdmin, isGuest: r.isGuest });

export interface RoomsHandlerDeps {
  rooms: RoomService;
  clientReads: ClientReadService;
  outOfBand: OutOfBandMemberships;
}

/** `shadowBanMaxDelayMs`: the longest wait before a shadow-banned user's swallowed request answers. */
/** `{"visibility": "public" | "private"}` as Synapse's body model reads it (default public). */
function visibilityOfBody(raw: Uint8Array): 'public' | 'private' {
  const v = parseJsonObject(raw, false).visibility ?? 'public';
  if (v !== 'public' && v !== 'private') throw badJson("visibility: unexpected value; permitted: 'public', 'private'");
  return v;
}

export function roomsHandler(
  a: CallAdapter,
  { rooms, clientReads, outOfBand }: RoomsHandlerDeps,
  shadowBanMaxDelayMs = 0,
): RoomServiceServer {
  const pause = (ctx: { signal: AbortSignal }) => shadowBanPause(shadowBanMaxDelayMs, ctx.signal);
  /** Values read from a `body_json` field, bounded as the typed fields of the request they stand for. */
  const checked = <T>(method: string, values: T): T => a.checkRequest(`/synapse.admin.v1.RoomService/${method}`, values);
  return {
    createRoom: a.unary('user', async (req, ctx) => {
      const r = requesterOf(ctx);
      const options = req.bodyJson !== undefined ? checked('CreateRoom', createRoomBody(req.bodyJson)) : createRoomOptions(req);
      checkRoomCreation(r);
      // A shadow-banned creator's invites are dropped (after the wait); the room is created.
      const dropInvites = swallowsMembership(r, 'invite') && (options.invite?.length ?? 0) > 0;
      if (dropInvites) await pause(ctx);
      const res = await rooms.createRoom(ctx.em, r.userId, { ...options, invite: dropInvites ? [] : options.invite });
      return { roomId: res.roomId, roomAlias: res.roomAlias };
    }),
    sendEvent: a.unary('user', async (req, ctx) => {
      const r = requesterOf(ctx);
      const memberState = req.type === 'm.room.member' && req.stateKey !== undefined;
      let content = req.bodyJson !== undefined ? eventContentBody(req.bodyJson, memberState) : jsonObject(req.contentJson, 'content_json');
      if (memberState) {
        const membership = String(content.membership);
        checkMembership(r, membership);
        if (swallowsMembership(r, membership)) return pause(ctx).then(() => ({ eventId: fakeEventId() }));
        content = withoutRoomProfile(r, content);
      } else {
        checkEvent(r, req.type);
        if (swallowsEvent(r)) return pause(ctx).then(() => ({ eventId: fakeEventId() }));
      }
      const res = await rooms.sendEvent(ctx.em, r.userId, req.roomId, {
        type: req.type,
        stateKey: req.stateKey ?? null,
        content,
        txnId: req.txnId ?? null,
        onlyOwnRedactions: r.suspended,
        ...session(r),
      });
      return { eventId: res.eventId };
    }),
    redactEvent: a.unary('user', async (req, ctx) => {
      const r = requesterOf(ctx);
      const content = req.bodyJson !== undefined ? eventContentBody(req.bodyJson) : jsonObject(req.contentJson, 'content_json');
      if (swallowsEvent(r)) return pause(ctx).then(() => ({ eventId: fakeEventId() }));
      const res = await rooms.redactEvent(ctx.em, r.userId, req.roomId, req.eventId, {
        content,
        txnId: req.txnId ?? null,
        onlyOwnRedactions: r.suspended,
        ...session(r),
      });
      return { eventId: res.eventId };
    }),
    getEvent: a.unary('user', async (req, ctx) => {
      const event = await clientReads.getEvent(ctx.em, requesterOf(ctx), req.roomId, req.eventId);
      if (req.asJsonBody) return { jsonBody: Buffer.from(JSON.stringify(presentWithRelations(event, 'client'))) };
      return { event: toEventMessage(event) };
    }),
    getRoomState: a.unary('user', async (req, ctx) => {
      // The client body never shows prev_events and auth_events: they are read for typed answers only.
      const state = await clientReads.getRoomState(ctx.em, requesterOf(ctx), req.roomId, !req.asJsonBody);
      if (req.asJsonBody) return { events: [], jsonBody: Buffer.from(JSON.stringify(state.map((e) => toClientEvent(e)))) };
      return { events: toEventMessages(state) };
    }),
    findEventAtTimestamp: a.unary('user', (req, ctx) =>
      clientReads.timestampToEvent(ctx.em, requesterOf(ctx), req.roomId, req.tsParam ?? null, req.dirParam ?? null),
    ),
    getStateEvent: a.unary('user', async (req, ctx) => {
      const r = requesterOf(ctx);
      if (req.formatParam !== undefined) parseChoiceParam('format', req.formatParam, STATE_FORMATS);
      return { event: toEventMessage(await clientReads.getStateEvent(ctx.em, r, req.roomId, req.type, req.stateKey)) };
    }),
    updateMembership: a.unary('user', async (req, ctx) => {
      const r = requesterOf(ctx);
      const action = toAction(req.action);
      const byIdOrAlias = req.room?.$case === 'roomIdOrAlias';
      // Synapse refuses a guest's knock at authentication, and a guest's invite, kick, ban or unban
      // before reading the body; the rooms service checks both again for typed callers.
      if (r.isGuest && action === 'knock') throw new MatrixError(403, 'Guest access not allowed', Codes.GUEST_ACCESS_FORBIDDEN);
      if (r.isGuest && action !== 'join' && action !== 'leave') throw forbidden('Guest access not allowed');
      const given =
        req.bodyJson !== undefined
          ? checked('UpdateMembership', membershipBody(req.bodyJson, action, byIdOrAlias))
          : { userId: req.userId, reason: req.reason, content: optionalJsonObject(req.contentJson, 'content_json') };
      checkMembership(r, action);
      const opts = {
        reason: given.reason,
        txnId: req.txnId ?? null,
        content: withoutRoomProfile(r, given.content),
        isGuest: r.isGuest,
        ...session(r),
      };
      const target = given.userId ?? r.userId;
      if (req.room?.$case === 'roomIdOrAlias') {
        const res = await rooms.updateMembershipByIdOrAlias(ctx.em, r.userId, target, req.room.value, action, opts);
        return { roomId: res.roomId, eventId: res.eventId };
      }
      const roomId = req.room?.value ?? '';
      if (swallowsMembership(r, action)) return pause(ctx).then(() => ({ roomId, eventId: fakeEventId() }));
      const res = await rooms.updateMembership(ctx.em, r.userId, target, roomId, action, opts);
      return { roomId, eventId: res.eventId };
    }),
    forgetRoom: a.unary('user', async (req, ctx) => {
      await rooms.forgetRoom(ctx.em, requesterOf(ctx).userId, req.roomId, { scheduleForgottenPurge: true });
      return {};
    }),
    getJoinedRooms: a.unary('user', async (_req, ctx) => ({ roomIds: await rooms.getJoinedRooms(ctx.em, requesterOf(ctx).userId) })),
    getJoinedMembers: a.unary('user', async (req, ctx) => ({
      members: (await clientReads.getJoinedMembers(ctx.em, requesterOf(ctx), req.roomId)).map((m) => ({
        userId: m.userId,
        displayName: m.displayName ?? undefined,
        avatarUrl: m.avatarUrl ?? undefined,
      })),
    })),
    getMembers: a.unary('user', async (req, ctx) => {
      const query = { at: req.at, membership: req.membership, notMembership: req.notMembership };
      const members = await clientReads.getMembers(ctx.em, requesterOf(ctx), req.roomId, query, !req.asJsonBody);
      if (req.asJsonBody) return { events: [], jsonBody: Buffer.from(JSON.stringify({ chunk: members.map((e) => toClientEvent(e)) })) };
      return { events: toEventMessages(members) };
    }),
    getRoomAliases: a.unary('user', async (req, ctx) => ({ aliases: await clientReads.getAliases(ctx.em, requesterOf(ctx), req.roomId) })),
    resolveRoomAlias: a.unary('none', async (req, ctx) => rooms.resolveAlias(ctx.em, req.roomAlias)),
    setRoomAlias: a.unary('user', async (req, ctx) => {
      const r = requesterOf(ctx);
      const roomId = req.bodyJson !== undefined ? checked('SetRoomAlias', { roomId: aliasBody(req.bodyJson) }).roomId : req.roomId;
      await rooms.setAlias(ctx.em, actor(r), req.roomAlias, roomId);
      return {};
    }),
    deleteRoomAlias: a.unary('user', async (req, ctx) => {
      await rooms.deleteAlias(ctx.em, actor(requesterOf(ctx)), req.roomAlias);
      return {};
    }),
    getRoomVisibility: a.unary('none', async (req, ctx) => ({
      visibility: ROOM_VISIBILITY.value((await rooms.getVisibility(ctx.em, req.roomId)) === 'public' ? 'public' : 'private'),
    })),
    setRoomVisibility: a.unary('user', async (req, ctx) => {
      const visibility = req.bodyJson !== undefined ? visibilityOfBody(req.bodyJson) : toVisibility(req.visibility);
      await rooms.setVisibility(ctx.em, actor(requesterOf(ctx)), req.roomId, visibility);
      return {};
    }),
    importRooms: a.unary('admin', async (req, ctx) => {
      const imported = req.rooms.map((r) => ({
        roomId: r.roomId,
        isPublic: r.isPublic,
        aliases: r.aliases,
        events: r.events.map((e) => ({
          type: e.type,
          stateKey: e.stateKey ?? null,
          sender: e.sender,
          content: jsonObject(e.contentJson, 'events.content_json'),
          originServerTs: e.originServerTs,
          redacts: e.redacts,
          eventId: e.eventId,
        })),
      }));
      const res = await rooms.importRooms(ctx.em, imported, { returnEventIds: req.returnEventIds });
      return { rooms: res.map((r) => ({ ...r, eventIds: r.eventIds ?? [] })) };
    }),
    receiveInvite: a.unary('admin', async (req, ctx) => {
      const res = await outOfBand.receiveInvite(ctx.em, {
        origin: req.origin,
        roomVersion: req.roomVersion,
        roomId: req.roomId,
        type: req.type,
        stateKey: req.stateKey ?? null,
        sender: req.sender,
        content: jsonObject(req.contentJson, 'content_json'),
        originServerTs: req.originServerTs,
        depth: req.depth,
        prevEvents: req.prevEvents,
        authEvents: req.authEvents,
        eventId: req.eventId,
      });
      return { eventId: res.eventId, streamOrdering: res.streamOrdering, deduplicated: res.deduplicated };
    }),
  };
}
