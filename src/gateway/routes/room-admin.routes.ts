import { DIRECTION, ROOM_ORDER_BY } from '../../grpc/contract-words';
import { Codes, MatrixError } from '../../errors';
import { RawJson, type Route } from '../router';
import { deleteTaskJson, roomDetailsJson, shutdownResultJson } from '../presenters/room-admin.presenter';

const toDirection = (d: 'b' | 'f' | undefined) => DIRECTION.value(d ?? 'f');

/** The rooms list: its query passed on as given, checked by the service in Synapse's order after authentication. */
const listRooms: Route = {
  method: 'GET',
  path: '/_synapse/admin/v1/rooms',
  auth: 'admin',
  handler: async (r) => {
    const q = r.query;
    const res = await r.rpc(r.clients.roomAdmin, 'listRooms', {
      from: 0,
      orderBy: ROOM_ORDER_BY.value('name'),
      dir: toDirection('f'),
      fromParam: q.string('from'),
      limitParam: q.string('limit'),
      orderByParam: q.string('order_by'),
      searchTerm: q.string('search_term'),
      publicRoomsParam: q.string('public_rooms'),
      emptyRoomsParam: q.string('empty_rooms'),
      dirParam: q.string('dir'),
      asJsonBody: true,
    });
    if (!res.jsonBody) throw new Error('the room admin service returned a room list without its JSON body');
    return { body: new RawJson(res.jsonBody) };
  },
};

const roomRoutes: Route[] = [
  {
    method: 'GET',
    path: '/_synapse/admin/v1/rooms/{roomId}',
    auth: 'admin',
    handler: async (r) => ({
      body: roomDetailsJson((await r.rpc(r.clients.roomAdmin, 'getRoomDetails', { roomId: r.params.roomId })).room),
    }),
  },
  {
    method: 'DELETE',
    path: '/_synapse/admin/v1/rooms/{roomId}',
    auth: 'admin',
    // A synchronous delete of a big room takes as long as it takes.
    timeoutMs: 24 * 3_600_000,
    handler: async (r) => ({
      body: shutdownResultJson((await r.rpc(r.clients.roomAdmin, 'deleteRoom', { roomId: r.params.roomId, bodyJson: r.rawBody })).result),
    }),
  },
  {
    method: 'GET',
    path: '/_synapse/admin/v1/rooms/{roomId}/members',
    auth: 'admin',
    handler: async (r) => {
      const res = await r.rpc(r.clients.roomAdmin, 'listRoomMembers', { roomId: r.params.roomId });
      return { body: { members: res.members, total: res.total } };
    },
  },
  {
    method: 'GET',
    path: '/_synapse/admin/v1/rooms/{roomId}/state',
    auth: 'admin',
    handler: async (r) => {
      const res = await r.rpc(r.clients.roomAdmin, 'listRoomState', {
        roomId: r.params.roomId,
        type: r.query.string('type'),
        asJsonBody: true,
      });
      if (!res.jsonBody) throw new Error('the room admin service returned a room state without its JSON body');
      return { body: new RawJson(res.jsonBody) };
    },
  },
  {
    method: 'GET',
    path: '/_synapse/admin/v1/rooms/{roomId}/timestamp_to_event',
    auth: 'admin',
    handler: async (r) => {
      const res = await r.rpc(r.clients.roomAdmin, 'timestampToEvent', {
        roomId: r.params.roomId,
        ts: 0,
        dir: toDirection('f'),
        queryAsGiven: true,
        tsParam: r.query.string('ts'),
        dirParam: r.query.string('dir'),
      });
      return { body: { event_id: res.eventId, origin_server_ts: res.originServerTs } };
    },
  },
];

const blockRoutes: Route[] = [
  {
    method: 'PUT',
    path: '/_synapse/admin/v1/rooms/{roomId}/block',
    auth: 'admin',
    handler: async (r) => {
      const res = await r.rpc(r.clients.roomAdmin, 'setRoomBlock', { roomId: r.params.roomId, block: false, bodyJson: r.rawBody });
      return { body: { block: res.block } };
    },
  },
  {
    method: 'GET',
    path: '/_synapse/admin/v1/rooms/{roomId}/block',
    auth: 'admin',
    handler: async (r) => {
      const res = await r.rpc(r.clients.roomAdmin, 'getRoomBlock', { roomId: r.params.roomId });
      return { body: res.block ? { block: true, user_id: res.userId ?? '' } : { block: false } };
    },
  },
];

const deleteV2Routes: Route[] = [
  {
    method: 'DELETE',
    path: '/_synapse/admin/v2/rooms/{roomId}',
    auth: 'admin',
    handler: async (r) => ({
      body: {
        delete_id: (await r.rpc(r.clients.roomAdmin, 'startDeleteRoom', { roomId: r.params.roomId, bodyJson: r.rawBody })).deleteId,
      },
    }),
  },
  {
    method: 'GET',
    path: '/_synapse/admin/v2/rooms/{roomId}/delete_status',
    auth: 'admin',
    handler: async (r) => ({
      body: { results: (await r.rpc(r.clients.roomAdmin, 'listDeleteStatuses', { roomId: r.params.roomId })).results.map(deleteTaskJson) },
    }),
  },
  {
    method: 'GET',
    path: '/_synapse/admin/v2/rooms/delete_status/{deleteId}',
    auth: 'admin',
    handler: async (r) => ({
      body: deleteTaskJson((await r.rpc(r.clients.roomAdmin, 'getDeleteStatus', { deleteId: r.params.deleteId })).task),
    }),
  },
];

const membershipRoutes: Route[] = [
  {
    method: 'POST',
    path: '/_synapse/admin/v1/rooms/{roomIdOrAlias}/make_room_admin',
    auth: 'admin',
    handler: async (r) => {
      await r.rpc(r.clients.roomAdmin, 'makeRoomAdmin', { roomIdOrAlias: r.params.roomIdOrAlias, bodyJson: r.rawBody });
      return { body: {} };
    },
  },
  {
    method: 'POST',
    path: '/_synapse/admin/v1/join/{roomIdOrAlias}',
    auth: 'admin',
    handler: async (r) => {
      const res = await r.rpc(r.clients.roomAdmin, 'adminJoinRoom', {
        roomIdOrAlias: r.params.roomIdOrAlias,
        userId: '',
        bodyJson: r.rawBody,
        serverNames: r.query.strings('server_name'),
      });
      return { body: { room_id: res.roomId } };
    },
  },
];

const extremityRoutes: Route[] = [
  {
    method: 'GET',
    path: '/_synapse/admin/v1/rooms/{roomIdOrAlias}/forward_extremities',
    auth: 'admin',
    handler: async (r) => {
      const res = await r.rpc(r.clients.roomAdmin, 'getForwardExtremities', { roomIdOrAlias: r.params.roomIdOrAlias });
      return {
        body: {
          count: res.count,
          results: res.results.map((e) => ({
            event_id: e.eventId,
            state_group: e.stateGroup ?? null,
            depth: e.depth,
            received_ts: e.receivedTs,
          })),
        },
      };
    },
  },
  {
    method: 'DELETE',
    path: '/_synapse/admin/v1/rooms/{roomIdOrAlias}/forward_extremities',
    auth: 'admin',
    handler: async (r) => ({
      body: { deleted: (await r.rpc(r.clients.roomAdmin, 'deleteForwardExtremities', { roomIdOrAlias: r.params.roomIdOrAlias })).deleted },
    }),
  },
];

/** The endpoints removed in Synapse v1.42, answered as v1.41 did. */
const deprecatedRoutes: Route[] = [
  {
    method: 'POST',
    path: '/_synapse/admin/v1/shutdown_room/{roomId}',
    auth: 'admin',
    timeoutMs: 24 * 3_600_000,
    handler: async (r) => {
      // Synapse's pattern needs a non-empty room id segment.
      if (r.params.roomId === '') throw new MatrixError(404, 'Unrecognized request', Codes.UNRECOGNIZED);
      const res = await r.rpc(r.clients.roomAdmin, 'shutdownRoom', { roomId: r.params.roomId, newRoomUserId: '', bodyJson: r.rawBody });
      return { body: shutdownResultJson(res.result) };
    },
  },
  {
    method: 'POST',
    path: '/_synapse/admin/v1/purge_room',
    auth: 'admin',
    timeoutMs: 24 * 3_600_000,
    handler: async (r) => {
      await r.rpc(r.clients.roomAdmin, 'purgeRoom', { roomId: '', bodyJson: r.rawBody });
      return { body: {} };
    },
  },
];

/**
 * The room admin REST API (Synapse's paths). The admin `/messages` and `/context` paths belong to
 * the pagination routes.
 */
export const roomAdminRoutes: Route[] = [
  listRooms,
  ...roomRoutes,
  ...blockRoutes,
  ...deleteV2Routes,
  ...membershipRoutes,
  ...extremityRoutes,
  ...deprecatedRoutes,
];
