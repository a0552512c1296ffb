import type { Route } from '../router';

export const serverRoutes: Route[] = [
  {
    method: 'GET',
    path: '/_matrix/client/versions',
    auth: 'none',
    handler: async (r) => {
      const v = await r.rpc(r.clients.server, 'getClientVersions', {});
      return { body: { versions: v.versions, unstable_features: v.unstableFeatures } };
    },
  },
  {
    method: 'GET',
    path: '/_synapse/admin/v1/server_version',
    auth: 'none',
    handler: async (r) => ({ body: { server_version: (await r.rpc(r.clients.server, 'getServerVersion', {})).serverVersion } }),
  },
];
