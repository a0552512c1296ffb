/**
 * The Matrix client API subset that creates rooms and events: createRoom, send, state, event,
 * redact, membership, joined rooms/members, members, aliases and the room directory. Each route
 * passes the path, query and body on as received (the service reads them, after authentication,
 * with Synapse's errors), makes one RoomService call and renders JSON.
 */
import type { MembershipAction } from '../../../gen/synapse/admin/v1/rooms';
import { MEMBERSHIP_ACTION, ROOM_VISIBILITY } from '../../grpc/contract-words';
import { decodeEvent, toClientEvent } from '../../matrix/event-formats';
import { RawJson, type GatewayRequest, type Route } from '../router';
import { clientPaths } from './auth.routes';

type Json = Record<string, unknown>;

async function createRoom(r: GatewayRequest) {
  const res = await r.rpc(r.clients.rooms, 'createRoom', { invite: [], initialState: [], isDirect: false, bodyJson: r.rawBody });
  return { body: { room_id: res.roomId } };
}

async function sendEvent(r: GatewayRequest) {
  const res = await r.rpc(r.clients.rooms, 'sendEvent', {
    roomId: r.params.roomId,
    type: r.params.eventType,
    contentJson: '',
    bodyJson: r.rawBody,
    txnId: r.params.txnId,
  });
  return { body: { event_id: res.eventId } };
}

async function putState(r: GatewayRequest) {
  const res = await r.rpc(r.clients.rooms, 'sendEvent', {
    roomId: r.params.roomId,
    type: r.params.eventType,
    stateKey: r.params.stateKey ?? '',
    contentJson: '',
    bodyJson: r.rawBody,
  });
  return { body: { event_id: res.eventId } };
}

async function getState(r: GatewayRequest) {
  const format = r.query.string('format');
  const res = await r.rpc(r.clients.rooms, 'getStateEvent', {
    roomId: r.params.roomId,
    type: r.params.eventType,
    stateKey: r.params.stateKey ?? '',
    formatParam: format,
  });
  if (!res.event) throw new Error('the rooms service returned no state event');
  // The service accepted `format`: "content" or "event".
  return { body: format === 'event' ? toClientEvent(res.event, { legacy: false }) : decodeEvent(res.event).content };
}

async function redact(r: GatewayRequest) {
  const res = await r.rpc(r.clients.rooms, 'redactEvent', {
    roomId: r.params.roomId,
    eventId: r.params.eventId,
    contentJson: '',
    bodyJson: r.rawBody,
    txnId: r.params.txnId,
  });
  return { body: { event_id: res.eventId } };
}

/** `POST /rooms/{roomId}/<action>`: the service reads `user_id` (invite/kick/ban/unban) and `reason` from the body. */
function membershipRoute(name: 'join' | 'leave' | 'invite' | 'kick' | 'ban' | 'unban'): (r: GatewayRequest) => Promise<{ body: Json }> {
  return async (r) => {
    const res = await r.rpc(r.clients.rooms, 'updateMembership', {
      room: { $case: 'roomId', value: r.params.roomId },
      action: MEMBERSHIP_ACTION.value(name),
      txnId: r.params.txnId,
      bodyJson: r.rawBody,
    });
    return { body: name === 'join' ? { room_id: res.roomId } : {} };
  };
}

/** `POST /join/{roomIdOrAlias}` (empty body allowed) and `POST /knock/{roomIdOrAlias}` (body required). */
function byIdOrAlias(action: MembershipAction): (r: GatewayRequest) => Promise<{ body: Json }> {
  return async (r) => {
    const res = await r.rpc(r.clients.rooms, 'updateMembership', {
      room: { $case: 'roomIdOrAlias', value: r.params.roomIdOrAlias },
      action,
      txnId: r.params.txnId,
      bodyJson: r.rawBody,
    });
    return { body: { room_id: res.roomId } };
  };
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

/** The body passed on as received: the service reads `room_id` after authentication. */
async function putAlias(r: GatewayRequest) {
  await r.rpc(r.clients.rooms, 'setRoomAlias', { roomAlias: r.params.roomAlias, roomId: '', bodyJson: r.rawBody });
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
  ...txnPaths('/join/{roomIdOrAlias}', byIdOrAlias(MEMBERSHIP_ACTION.value('join'))),
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
