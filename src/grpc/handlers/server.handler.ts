import type { ServerServiceServer } from '../../../gen/synapse/admin/v1/server';
import type { CallAdapter } from '../adapter';
import { CLIENT_VERSIONS, SERVER_VERSION, UNSTABLE_FEATURES } from '../../version';

export function serverHandler(a: CallAdapter): ServerServiceServer {
  return {
    getClientVersions: a.unary('none', async () => ({ versions: CLIENT_VERSIONS, unstableFeatures: UNSTABLE_FEATURES })),
    getServerVersion: a.unary('none', async () => ({ serverVersion: SERVER_VERSION })),
  };
}
