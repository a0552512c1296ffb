/**
 * The Matrix client API subset that creates rooms and events: createRoom, send, state, event,
 * redact, membership, joined rooms/members, members, aliases and the room directory. Each route
 * parses the request (Synapse's parse errors), makes one RoomService call and renders JSON.
 */
import type { InitialStateEvent, MembershipAction } from '../../../gen/synapse/admin/v1/rooms';
import { MEMBERSHIP_ACTION, ROOM_VISIBILITY } from '../../grpc/contract-words';
import { Codes, MatrixError, badJson, badRequest, missingParams } from '../../errors';
import { decodeEvent, toClientEvent } from '../../matrix/event-formats';
import { RawJson, type Body, type GatewayRequest, type Route } from '../router';
import { clientPaths } from './auth.routes';

type Json = Record<string, unknown>;

function initialState(b: Body): InitialStateEvent[] {
  const v = b.json.initial_state;
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) throw badJson("Param 'initial_state' must be a list of state events");
  return v.map((s: unknown) => {
    if (!s || typeof s !== 'object' || Array.isArray(s)) throw badJson("Param 'initial_state' must be a list of state events");
    const e = s as Json;
    if (typeof e.type !== 'string') throw badJson("'type' of an initial state event must be a string");
    if (e.state_key !== undefined && typeof e.state_key !== 'string')
      throw badJson("'state_key' of an initial state event must be a string");
    if (!e.content || typeof e.content !== 'object' || Array.isArray(e.content))
      throw badJson("'content' of an initial state event must be an object");
    return { type: e.type, stateKey: e.state_key as string | undefined, contentJson: JSON.stringify(e.content) };
  });
}

async function createRoom(r: GatewayRequest) {
  const b = r.body();
  const res = await r.rpc(r.clients.rooms, 'createRoom', {
    preset: b.string('preset', "Param 'preset' must be a string"),
    visibility: b.string('visibility', "Param 'visibility' must be a string"),
    name: b.string('name', "Param 'name' must be a string"),
    topic: b.string('topic', "Param 'topic' must be a string"),
    roomAliasName: b.string('room_alias_name', "Param 'room_alias_name' must be a string"),
    invite: b.stringList('invite', "Param 'invite' must be a list of user ids") ?? [],
    initialState: initialState(b),
    creationContentJson: jsonText(b.object('creation_content', "Param 'creation_content' must be an object")),
    powerLevelContentOverrideJson: jsonText(
      b.object('power_level_content_override', "Param 'power_level_content_override' must be an object"),
    ),
    roomVersion: b.string('room_version', 'room_version must be a string'),
    isDirect: b.truthy('is_direct'),
  });
  return { body: { room_id: res.roomId } };
}

/** The request body, checked to be a JSON object, passed on as the JSON text it is. */
function bodyText(r: GatewayRequest): string {
  r.body();
  return r.rawBody.toString('utf8');
}

const jsonText = (v: Json | undefined) => (v === undefined ? undefined : JSON.stringify(v));

async function sendEvent(r: GatewayRequest) {
  const res = await r.rpc(r.clients.rooms, 'sendEvent', {
    roomId: r.params.roomId,
    type: r.params.eventType,
    contentJson: bodyText(r),
    txnId: r.params.txnId,
  });
  return { body: { event_id: res.eventId } };
}

async function putState(r: GatewayRequest) {
  const content = r.body().json;
  const type = r.params.eventType;
  if (type === 'm.room.member' && typeof content.membership !== 'string') throw badRequest('Invalid membership (must be a string)');
  const res = await r.rpc(r.clients.rooms, 'sendEvent', {
    roomId: r.params.roomId,
    type,
    stateKey: r.params.stateKey ?? '',
    contentJson: r.rawBody.toString('utf8'),
  });
  return { body: { event_id: res.eventId } };
}

async function getState(r: GatewayRequest) {
  const format = r.query.choice('format', ['content', 'event'] as const) ?? 'content';
  const res = await r.rpc(r.clients.rooms, 'getStateEvent', {
    roomId: r.params.roomId,
    type: r.params.eventType,
    stateKey: r.params.stateKey ?? '',
  });
  if (!res.event) throw new MatrixError(404, 'Event not found.', Codes.NOT_FOUND);
  return { body: format === 'event' ? toClientEvent(res.event, { legacy: false }) : decodeEvent(res.event).content };
}

async function redact(r: GatewayRequest) {
  const res = await r.rpc(r.clients.rooms, 'redactEvent', {
    roomId: r.params.roomId,
    eventId: r.params.eventId,
    contentJson: bodyText(r),
    txnId: r.params.txnId,
  });
  return { body: { event_id: res.eventId } };
}

/** The membership changes that name their target in `user_id`. */
const TARGETED = new Set(['invite', 'kick', 'ban', 'unban']);
const JOIN = MEMBERSHIP_ACTION.value('join');

function reasonOf(b: Body): string | undefined {
  return b.string('reason', "Param 'reason' must be a string");
}

/** `POST /rooms/{roomId}/<action>`: invite/kick/ban/unban name their target in `user_id`. */
function membershipRoute(name: 'join' | 'leave' | 'invite' | 'kick' | 'ban' | 'unban'): (r: GatewayRequest) => Promise<{ body: Json }> {
  return async (r) => {
    const b = r.body(true);
    let userId: string | undefined;
    if (TARGETED.has(name)) {
      if (!('user_id' in b.json)) throw missingParams(['user_id']);
      userId = b.string('user_id', "Param 'user_id' must be a string");
    }
    const action = MEMBERSHIP_ACTION.value(name);
    const res = await r.rpc(r.clients.rooms, 'updateMembership', {
      room: { $case: 'roomId', value: r.params.roomId },
      action,
      userId,
      reason: reasonOf(b),
      txnId: r.params.txnId,
    });
    return { body: name === 'join' ? { room_id: res.roomId } : {} };
  };
}

/** `POST /join/{roomIdOrAlias}` (empty body allowed) and `POST /knock/{roomIdOrAlias}` (body required). */
function byIdOrAlias(action: MembershipAction): (r: GatewayRequest) => Promise<{ body: Json }> {
  return async (r) => {
    const b = r.body(action === JOIN);
    const content = action === JOIN ? b.json : undefined;
    const res = await r.rpc(r.clients.rooms, 'updateMembership', {
      room: { $case: 'roomIdOrAlias', value: r.params.roomIdOrAlias },
      action,
      reason: reasonOf(b),
      txnId: r.params.txnId,
      contentJson: jsonText(content ? stripReserved(content) : undefined),
    });
    return { body: { room_id: res.roomId } };
  };
}

/** Keys of a join body that are not member event content. */
function stripReserved(content: Json): Json {
  const { reason: _r, third_party_signed: _t, membership: _m, ...rest } = content;
  return rest;
}

async function forget(r: GatewayRequest) {
  await r.rpc(r.clients.rooms, 'forgetRoom', { roomId: r.params.roomId });
  return { body: {} };
}

async function joinedMembers(r: GatewayRequest) {
  const res = await r.rpc(r.clients.rooms, 'getJoinedMembers', { roomId: r.params.roomId });
  const joined: Json = {};
  for (const m of res.members) joined[m.userId] = { avatar_url: m.avatarUrl ?? null, display_name: m.displayName ?? null };
  return { body: { joined } };
}

async function members(r: GatewayRequest) {
  const res = await r.rpc(r.clients.rooms, 'getMembers', {
    roomId: r.params.roomId,
    at: r.query.string('at'),
    membership: r.query.string('membership'),
    notMembership: r.query.string('not_membership'),
    asJsonBody: true,
  });
  if (!res.jsonBody) throw new Error('the rooms service returned members without their JSON body');
  return { body: new RawJson(res.jsonBody) };
}

async function putAlias(r: GatewayRequest) {
  const b = r.body();
  if (!('room_id' in b.json)) {
    // Synapse's body model: a missing field alone is M_MISSING_PARAM, together with another
    // error (a bad `servers`) the catch-all M_BAD_JSON.
    b.stringList('servers', 'room_id: field required');
    throw new MatrixError(400, 'room_id: field required', Codes.MISSING_PARAM);
  }
  if (b.json.room_id === null) throw badJson('room_id: none is not an allowed value');
  const roomId = b.string('room_id', 'room_id: str type expected');
  b.stringList('servers', 'servers: value is not a valid list');
  await r.rpc(r.clients.rooms, 'setRoomAlias', { roomAlias: r.params.roomAlias, roomId: roomId ?? '' });
  return { body: {} };
}

/** The body passed on as received: the service reads it before checking the room and the caller's rights. */
async function putVisibility(r: GatewayRequest) {
  await r.rpc(r.clients.rooms, 'setRoomVisibility', {
    roomId: r.params.roomId,
    visibility: ROOM_VISIBILITY.value('public'),
    bodyJson: r.rawBody,
  });
  return { body: {} };
}

const aliasList: Omit<Route, 'path'> = {
  method: 'GET',
  auth: 'user',
  handler: async (r) => ({ body: { aliases: (await r.rpc(r.clients.rooms, 'getRoomAliases', { roomId: r.params.roomId })).aliases } }),
};

/** POST `<path>` and PUT `<path>/{txnId}`, as Synapse's register_txn_path. */
function txnPaths(suffix: string, handler: Route['handler']): Route[] {
  return [
    ...clientPaths(suffix, { method: 'POST', auth: 'user', handler }),
    ...clientPaths(`${suffix}/{txnId}`, { method: 'PUT', auth: 'user', handler }),
  ];
}

export const roomRoutes: Route[] = [
  ...clientPaths('/createRoom', { method: 'POST', auth: 'user', handler: createRoom }),
  ...txnPaths('/rooms/{roomId}/send/{eventType}', sendEvent),
  ...clientPaths('/rooms/{roomId}/state/{eventType}/{stateKey}', { method: 'PUT', auth: 'user', handler: putState }),
  ...clientPaths('/rooms/{roomId}/state/{eventType}', { method: 'PUT', auth: 'user', handler: putState }),
  ...clientPaths('/rooms/{roomId}/state/{eventType}/{stateKey}', { method: 'GET', auth: 'user', handler: getState }),
  ...clientPaths('/rooms/{roomId}/state/{eventType}', { method: 'GET', auth: 'user', handler: getState }),
  ...clientPaths('/rooms/{roomId}/state', {
    method: 'GET',
    auth: 'user',
    handler: async (r) => {
      const res = await r.rpc(r.clients.rooms, 'getRoomState', { roomId: r.params.roomId, asJsonBody: true });
      if (!res.jsonBody) throw new Error('the rooms service returned a room state without its JSON body');
      return { body: new RawJson(res.jsonBody) };
    },
  }),
  {
    method: 'GET',
    path: '/_matrix/client/v1/rooms/{roomId}/timestamp_to_event',
    auth: 'user',
    handler: async (r) => {
      const res = await r.rpc(r.clients.rooms, 'findEventAtTimestamp', {
        roomId: r.params.roomId,
        tsParam: r.query.string('ts'),
        dirParam: r.query.string('dir'),
      });
      return { body: { event_id: res.eventId, origin_server_ts: res.originServerTs } };
    },
  },
  ...clientPaths('/rooms/{roomId}/event/{eventId}', {
    method: 'GET',
    auth: 'user',
    handler: async (r) => {
      const res = await r.rpc(r.clients.rooms, 'getEvent', { roomId: r.params.roomId, eventId: r.params.eventId, asJsonBody: true });
      if (!res.jsonBody) throw new Error('the rooms service returned an event without its JSON body');
      return { body: new RawJson(res.jsonBody) };
    },
  }),
  ...txnPaths('/rooms/{roomId}/redact/{eventId}', redact),
  ...txnPaths('/join/{roomIdOrAlias}', byIdOrAlias(JOIN)),
  ...txnPaths('/knock/{roomIdOrAlias}', byIdOrAlias(MEMBERSHIP_ACTION.value('knock'))),
  ...(['join', 'leave', 'invite', 'kick', 'ban', 'unban'] as const).flatMap((a) => txnPaths(`/rooms/{roomId}/${a}`, membershipRoute(a))),
  ...txnPaths('/rooms/{roomId}/forget', forget),
  ...clientPaths('/joined_rooms', {
    method: 'GET',
    auth: 'user',
    handler: async (r) => ({ body: { joined_rooms: (await r.rpc(r.clients.rooms, 'getJoinedRooms', {})).roomIds } }),
  }),
  ...clientPaths('/rooms/{roomId}/joined_members', { method: 'GET', auth: 'user', handler: joinedMembers }),
  ...clientPaths('/rooms/{roomId}/members', { method: 'GET', auth: 'user', handler: members }),
  ...[
    ...clientPaths('/rooms/{roomId}/aliases', aliasList),
    { ...aliasList, path: '/_matrix/client/unstable/org.matrix.msc2432/rooms/{roomId}/aliases' },
  ],
  ...clientPaths('/directory/room/{roomAlias}', {
    method: 'GET',
    auth: 'none',
    handler: async (r) => {
      const res = await r.rpc(r.clients.rooms, 'resolveRoomAlias', { roomAlias: r.params.roomAlias });
      return { body: { room_id: res.roomId, servers: res.servers } };
    },
  }),
  ...clientPaths('/directory/room/{roomAlias}', { method: 'PUT', auth: 'user', handler: putAlias }),
  ...clientPaths('/directory/room/{roomAlias}', {
    method: 'DELETE',
    auth: 'user',
    handler: async (r) => {
      await r.rpc(r.clients.rooms, 'deleteRoomAlias', { roomAlias: r.params.roomAlias });
      return { body: {} };
    },
  }),
  ...clientPaths('/directory/list/room/{roomId}', {
    method: 'GET',
    auth: 'none',
    handler: async (r) => {
      const res = await r.rpc(r.clients.rooms, 'getRoomVisibility', { roomId: r.params.roomId });
      return { body: { visibility: ROOM_VISIBILITY.word(res.visibility) === 'public' ? 'public' : 'private' } };
    },
  }),
  ...clientPaths('/directory/list/room/{roomId}', { method: 'PUT', auth: 'user', handler: putVisibility }),
];
