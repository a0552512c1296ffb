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
      const s = await r.rpc(r.clients.auth, 'registerWithSharedSecret', {
        nonce: '',
        username: '',
        password: '',
        admin: false,
        mac: '',
        bodyJson: r.rawBody,
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
      const s = await r.rpc(r.clients.auth, 'login', { type: '', user: '', password: '', bodyJson: r.rawBody });
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
