/**
 * Synapse's user admin reads, devices and password reset (spec §1, §3, §8): query and body parsing
 * with Synapse's errors, one UserAdminService call each.
 */
import type { Device } from '../../../gen/synapse/admin/v1/user_admin_reads';
import { DIRECTION, USER_ORDER_BY } from '../../grpc/contract-words';
import { RawJson, type GatewayRequest, type Route } from '../router';
import { clientPaths } from './auth.routes';

/**
 * The users list, v2 or v3: the query passed on as given, checked by the service after
 * authentication in Synapse's order (the versions differ in `deactivated`).
 */
function listUsers(version: 'v2' | 'v3'): Route {
  return {
    method: 'GET',
    path: `/_synapse/admin/${version}/users`,
    auth: 'admin',
    handler: async (r) => {
      const q = r.query;
      const res = await r.rpc(r.clients.userAdmin, 'listUsers', {
        restVersion: version,
        fromParam: q.string('from'),
        limitParam: q.string('limit'),
        userId: q.string('user_id'),
        name: q.string('name'),
        guestsParam: q.string('guests'),
        deactivatedParam: q.string('deactivated'),
        lockedParam: q.string('locked'),
        adminsParam: q.string('admins'),
        orderByParam: q.string('order_by'),
        dirParam: q.string('dir'),
        notUserTypes: q.strings('not_user_type'),
        suspendedParam: q.string('suspended'),
        userTypes: q.strings('user_type'),
        orderBy: USER_ORDER_BY.value('name'),
        dir: DIRECTION.value('f'),
        asJsonBody: true,
      });
      return { body: new RawJson(res.jsonBody) };
    },
  };
}

const userPath = (suffix: string) => `/_synapse/admin/v1/users/{userId}/${suffix}`;

/** `from_ts` as given: the service checks it after authentication. */
const fromTs = (r: GatewayRequest) => ({ fromTs: 0, queryAsGiven: true, fromTsParam: r.query.string('from_ts') });

const perUserReads: Route[] = [
  {
    method: 'GET',
    path: userPath('joined_rooms'),
    auth: 'admin',
    handler: async (r) => {
      const rooms = (await r.rpc(r.clients.userAdmin, 'listJoinedRooms', { userId: r.params.userId })).joinedRooms;
      return { body: { joined_rooms: rooms, total: rooms.length } };
    },
  },
  {
    method: 'GET',
    path: userPath('memberships'),
    auth: 'admin',
    handler: async (r) => ({
      body: { memberships: (await r.rpc(r.clients.userAdmin, 'listMemberships', { userId: r.params.userId })).memberships },
    }),
  },
  {
    method: 'GET',
    path: userPath('sent_invite_count'),
    auth: 'admin',
    handler: async (r) => ({
      body: {
        invite_count: (await r.rpc(r.clients.userAdmin, 'countSentInvites', { userId: r.params.userId, ...fromTs(r) })).inviteCount,
      },
    }),
  },
  {
    method: 'GET',
    path: userPath('cumulative_joined_room_count'),
    auth: 'admin',
    handler: async (r) => ({
      body: {
        cumulative_joined_room_count: (await r.rpc(r.clients.userAdmin, 'countJoinedRooms', { userId: r.params.userId, ...fromTs(r) }))
          .cumulativeJoinedRoomCount,
      },
    }),
  },
  {
    method: 'GET',
    path: '/_synapse/admin/v1/username_available',
    auth: 'admin',
    handler: async (r) => {
      const res = await r.rpc(r.clients.userAdmin, 'checkUsernameAvailable', {
        username: '',
        queryAsGiven: true,
        usernameParam: r.query.string('username'),
      });
      return { body: { available: res.available } };
    },
  },
];

/** Whois, on the admin path and the client paths; a user may ask about themselves. */
const whois: Omit<Route, 'path'> = {
  method: 'GET',
  auth: 'user',
  handler: async (r) => {
    const res = await r.rpc(r.clients.userAdmin, 'whois', { userId: r.params.userId });
    const connections = res.connections.map((c) => ({ ip: c.ip, last_seen: c.lastSeen, user_agent: c.userAgent }));
    return { body: { user_id: res.userId, devices: { '': { sessions: [{ connections }] } } } };
  },
};

/** Synapse's device JSON: every field present, null when unknown. */
export const deviceJson = (d: Device | undefined) => ({
  device_id: d?.deviceId,
  user_id: d?.userId,
  display_name: d?.displayName ?? null,
  last_seen_ip: d?.lastSeenIp ?? null,
  last_seen_user_agent: d?.lastSeenUserAgent ?? null,
  last_seen_ts: d?.lastSeenTs ?? null,
});

const devicePath = '/_synapse/admin/v2/users/{userId}/devices';

const deviceRoutes: Route[] = [
  {
    method: 'GET',
    path: devicePath,
    auth: 'admin',
    handler: async (r) => {
      const devices = (await r.rpc(r.clients.userAdmin, 'listDevices', { userId: r.params.userId })).devices.map(deviceJson);
      return { body: { devices, total: devices.length } };
    },
  },
  {
    method: 'GET',
    path: `${devicePath}/{deviceId}`,
    auth: 'admin',
    handler: async (r) => ({
      body: deviceJson((await r.rpc(r.clients.userAdmin, 'getDevice', { userId: r.params.userId, deviceId: r.params.deviceId })).device),
    }),
  },
  {
    method: 'PUT',
    path: `${devicePath}/{deviceId}`,
    auth: 'admin',
    handler: async (r) => {
      // The body passed on as received: the service checks the user, then reads it.
      await r.rpc(r.clients.userAdmin, 'updateDevice', { userId: r.params.userId, deviceId: r.params.deviceId, bodyJson: r.rawBody });
      return { body: {} };
    },
  },
  {
    method: 'DELETE',
    path: `${devicePath}/{deviceId}`,
    auth: 'admin',
    handler: async (r) => {
      await r.rpc(r.clients.userAdmin, 'deleteDevices', { userId: r.params.userId, deviceIds: [r.params.deviceId] });
      return { body: {} };
    },
  },
  {
    method: 'POST',
    path: '/_synapse/admin/v2/users/{userId}/delete_devices',
    auth: 'admin',
    handler: async (r) => {
      // The body passed on as received: the service checks the user, then reads it.
      await r.rpc(r.clients.userAdmin, 'deleteDevices', { userId: r.params.userId, deviceIds: [], bodyJson: r.rawBody });
      return { body: {} };
    },
  },
];

const resetPassword: Route = {
  method: 'POST',
  path: '/_synapse/admin/v1/reset_password/{userId}',
  auth: 'admin',
  handler: async (r) => {
    // The body passed on as received: the service checks the user id, then the body.
    await r.rpc(r.clients.userAdmin, 'resetPassword', { userId: r.params.userId, newPassword: '', bodyJson: r.rawBody });
    return { body: {} };
  },
};

export const userAdminRoutes: Route[] = [
  listUsers('v2'),
  listUsers('v3'),
  ...perUserReads,
  { ...whois, path: '/_synapse/admin/v1/whois/{userId}' },
  ...clientPaths('/admin/whois/{userId}', whois),
  ...deviceRoutes,
  resetPassword,
];
