import { badRequest, Codes } from '../../errors';
import type { Route } from '../router';

const CLIENT_PREFIXES = ['/_matrix/client/r0', '/_matrix/client/v3'];

/** Registers `suffix` under every client API prefix Synapse serves it on. */
export function clientPaths(suffix: string, route: Omit<Route, 'path'>): Route[] {
  return CLIENT_PREFIXES.map((p) => ({ ...route, path: `${p}${suffix}` }));
}

export const authRoutes: Route[] = [
  {
    method: 'GET',
    path: '/_synapse/admin/v1/register',
    auth: 'none',
    handler: async (r) => ({ body: { nonce: (await r.rpc(r.clients.auth, 'getRegistrationNonce', {})).nonce } }),
  },
  {
    method: 'POST',
    path: '/_synapse/admin/v1/register',
    auth: 'none',
    handler: async (r) => {
      const b = r.body();
      const j = b.json;
      // Type problems are reported with Synapse's messages; the RPC re-checks every value.
      if (j.username !== undefined && typeof j.username !== 'string') throw badRequest('Invalid username');
      if (j.password !== undefined && typeof j.password !== 'string') throw badRequest('Invalid password');
      if (j.user_type !== undefined && j.user_type !== null && typeof j.user_type !== 'string') throw badRequest('Invalid user type');
      const s = await r.rpc(r.clients.auth, 'registerWithSharedSecret', {
        nonce: b.string('nonce', 'nonce must be specified') ?? '',
        username: (j.username as string | undefined) ?? '',
        password: (j.password as string | undefined) ?? '',
        admin: b.truthy('admin'),
        userType: (j.user_type as string | null | undefined) ?? undefined,
        displayname: b.string('displayname') ?? undefined,
        mac: b.string('mac', 'mac must be specified') ?? '',
      });
      return { body: { user_id: s.userId, access_token: s.accessToken, home_server: s.homeServer, device_id: s.deviceId } };
    },
  },
  ...clientPaths('/login', {
    method: 'GET',
    auth: 'none',
    handler: async (r) => ({ body: { flows: (await r.rpc(r.clients.auth, 'getLoginFlows', {})).flowTypes.map((type) => ({ type })) } }),
  }),
  ...clientPaths('/login', {
    method: 'POST',
    auth: 'none',
    handler: async (r) => {
      const b = r.body();
      const type = b.string('type') ?? '';
      const identifier = b.object('identifier');
      let user: string | undefined;
      if (identifier) {
        if (identifier.type !== 'm.id.user') throw badRequest('Unknown login identifier type', Codes.UNKNOWN);
        if (typeof identifier.user !== 'string') throw badRequest("User identifier is missing 'user' key", Codes.INVALID_PARAM);
        user = identifier.user;
      } else user = b.string('user');
      if (user === undefined) throw badRequest('Invalid login submission', Codes.INVALID_PARAM);
      const s = await r.rpc(r.clients.auth, 'login', {
        type,
        user,
        password: b.string('password') ?? '',
        deviceId: b.string('device_id'),
        initialDeviceDisplayName: b.string('initial_device_display_name'),
      });
      return { body: { user_id: s.userId, access_token: s.accessToken, home_server: s.homeServer, device_id: s.deviceId } };
    },
  }),
  ...clientPaths('/account/whoami', {
    method: 'GET',
    auth: 'user',
    handler: async (r) => {
      const w = await r.rpc(r.clients.auth, 'whoAmI', {});
      return { body: { user_id: w.userId, ...(w.deviceId ? { device_id: w.deviceId } : {}), is_guest: w.isGuest } };
    },
  }),
  ...clientPaths('/logout', {
    method: 'POST',
    auth: 'user',
    handler: async (r) => {
      await r.rpc(r.clients.auth, 'logout', {});
      return { body: {} };
    },
  }),
];
