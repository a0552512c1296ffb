/**
 * Auth table of the room admin API: every route × {no token, unknown token, non-admin} → 401 /
 * 401 / 403, with otherwise valid input (so the answer can only come from the credential check),
 * and every RoomAdminService RPC × the same three credentials over gRPC.
 */
import { strict as assert } from 'node:assert';
import * as messages from '../../gen/synapse/admin/v1/room_admin';
import { RoomAdminServiceService } from '../../gen/synapse/admin/v1/room_admin';
import { roomAdminRoutes } from '../../src/gateway/routes/room-admin.routes';
import { sharedStack } from '../support/root-hooks';
import { http, registerUser, uniq, type Stack, type TestUser } from '../support/stack';
import { createRoom } from './room-admin.helpers';
import { adminAuthFailures } from '../support/grpc-auth-table';

/** A valid body for each method/path that takes one. */
function validBody(method: string, path: string, user: TestUser): unknown {
  if (method === 'GET') return undefined;
  if (path.endsWith('/block')) return { block: true };
  if (path.includes('/join/')) return { user_id: user.userId };
  if (path.includes('/shutdown_room/')) return { new_room_user_id: user.userId };
  if (path.endsWith('/purge_room')) return { room_id: '!x:test' };
  return {};
}

describe('room admin auth table', () => {
  let s: Stack;
  let user: TestUser;
  let roomId: string;

  before(async () => {
    s = await sharedStack();
    user = await registerUser(s, uniq('authuser'));
    roomId = await createRoom(s, user.token);
  });

  const pathOf = (template: string) =>
    template.replace(/\{(\w+)\}/g, (_m, name: string) => encodeURIComponent(name === 'deleteId' ? 'abcdefghijklmnop' : roomId));

  it('covers every REST route with 401 / 401 / 403 before any validation or work', async () => {
    assert.equal(roomAdminRoutes.length, 17);
    const failures: string[] = [];
    for (const route of roomAdminRoutes) {
      const path = pathOf(route.path);
      const body = validBody(route.method, route.path, user);
      const cases: [string | undefined, number, string, string | null][] = [
        [undefined, 401, 'M_MISSING_TOKEN', 'Missing access token'],
        ['syt_not_a_token', 401, 'M_UNKNOWN_TOKEN', 'Invalid access token passed.'],
        [user.token, 403, 'M_FORBIDDEN', 'You are not a server admin'],
      ];
      for (const [token, status, errcode, error] of cases) {
        const r = await http(s, route.method, path, { token, body });
        if (r.status !== status || r.body.errcode !== errcode || r.body.error !== error)
          failures.push(`${route.method} ${route.path} (${token ? 'token' : 'none'}) → ${r.status} ${JSON.stringify(r.body)}`);
      }
    }
    assert.deepEqual(failures, []);
    // Nothing was done on the non-admin's behalf.
    const blocked = await s.app.orm.em.fork().execute('SELECT 1 FROM blocked_rooms WHERE room_id = ?', [roomId]);
    assert.equal(blocked.length, 0);
  });

  it('covers every RoomAdminService RPC with UNAUTHENTICATED / UNAUTHENTICATED / PERMISSION_DENIED', async () => {
    assert.equal(Object.values(RoomAdminServiceService).length, 17);
    assert.deepEqual(await adminAuthFailures(s.grpcAddress, RoomAdminServiceService, messages as Record<string, unknown>, user.token), []);
  });
});
