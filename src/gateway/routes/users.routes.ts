import type { User } from '../../../gen/synapse/admin/v1/user_admin';
import { RawJson, type Route } from '../router';
import { clientPaths } from './auth.routes';

/** Synapse's user admin JSON. */
export function userJson(u: User | undefined): Record<string, unknown> {
  if (!u) return {};
  return {
    name: u.name,
    displayname: u.displayname ?? null,
    admin: u.admin,
    deactivated: u.deactivated,
    is_guest: u.isGuest,
    creation_ts: u.creationTs,
    user_type: u.userType ?? null,
    erased: u.erased,
    locked: false,
    shadow_banned: false,
    threepids: [],
    external_ids: [],
  };
}

/** Account data, global and per room: the body goes to the service as received (it checks ownership before the body). */
const accountDataRoutes: Route[] = [
  ...clientPaths('/user/{userId}/account_data/{type}', {
    method: 'PUT',
    auth: 'user',
    handler: async (r) => {
      await r.rpc(r.clients.accountData, 'setAccountData', { userId: r.params.userId, type: r.params.type, contentJson: r.rawBody.toString('utf8') });
      return { body: {} };
    },
  }),
  ...clientPaths('/user/{userId}/account_data/{type}', {
    method: 'GET',
    auth: 'user',
    handler: async (r) => ({ body: new RawJson((await r.rpc(r.clients.accountData, 'getAccountData', { userId: r.params.userId, type: r.params.type })).contentJson) }),
  }),
  ...clientPaths('/user/{userId}/rooms/{roomId}/account_data/{type}', {
    method: 'PUT',
    auth: 'user',
    handler: async (r) => {
      const { userId, roomId, type } = r.params;
      await r.rpc(r.clients.accountData, 'setRoomAccountData', { userId, roomId, type, contentJson: r.rawBody.toString('utf8') });
      return { body: {} };
    },
  }),
  ...clientPaths('/user/{userId}/rooms/{roomId}/account_data/{type}', {
    method: 'GET',
    auth: 'user',
    handler: async (r) => ({ body: new RawJson((await r.rpc(r.clients.accountData, 'getRoomAccountData', { userId: r.params.userId, roomId: r.params.roomId, type: r.params.type })).contentJson) }),
  }),
];

export const userRoutes: Route[] = [
  ...accountDataRoutes,
  {
    method: 'PUT',
    path: '/_synapse/admin/v2/users/{userId}',
    auth: 'admin',
    handler: async (r) => {
      const b = r.body();
      const res = await r.rpc(r.clients.userAdmin, 'upsertUser', {
        userId: r.params.userId,
        password: b.string('password', 'Invalid password'),
        admin: b.bool('admin', "'admin' parameter is not of type boolean"),
        deactivated: b.bool('deactivated', "'deactivated' parameter is not of type boolean"),
        displayname: b.string('displayname', 'Invalid displayname'),
        logoutDevices: b.bool('logout_devices', "'logout_devices' parameter is not of type boolean"),
      });
      return { status: res.created ? 201 : 200, body: userJson(res.user) };
    },
  },
  {
    method: 'GET',
    path: '/_synapse/admin/v2/users/{userId}',
    auth: 'admin',
    handler: async (r) => ({ body: userJson((await r.rpc(r.clients.userAdmin, 'getUser', { userId: r.params.userId })).user) }),
  },
  {
    method: 'POST',
    path: '/_synapse/admin/v1/deactivate/{userId}',
    auth: 'admin',
    handler: async (r) => {
      let erase: boolean;
      try {
        erase = r.body(true).bool('erase') ?? false;
      } catch (err) {
        // Synapse checks the user (valid, local, known) before it reads the body.
        await r.rpc(r.clients.userAdmin, 'deactivateUser', { userId: r.params.userId, validateOnly: true });
        throw err;
      }
      const res = await r.rpc(r.clients.userAdmin, 'deactivateUser', { userId: r.params.userId, erase });
      return { body: { id_server_unbind_result: res.idServerUnbindResult } };
    },
  },
  {
    method: 'POST',
    path: '/_synapse/admin/v1/users/{userId}/login',
    auth: 'admin',
    handler: async (r) => {
      const b = r.body(true);
      const res = await r.rpc(r.clients.userAdmin, 'loginAsUser', { userId: r.params.userId, validUntilMs: b.int('valid_until_ms', "'valid_until_ms' parameter must be an int") });
      return { body: { access_token: res.accessToken } };
    },
  },
];
