/**
 * gRPC auth table of UserAdminService and ProfileService: every UserAdminService RPC × {no token,
 * unknown token, non-admin} → UNAUTHENTICATED / UNAUTHENTICATED / PERMISSION_DENIED (Whois: a
 * non-admin asking about someone else), before any validation; ProfileService.GetProfile needs
 * no credential. The REST side of every route is covered by auth-table.test.ts.
 */
import { strict as assert } from 'node:assert';
import * as grpc from '@grpc/grpc-js';
import * as adminMessages from '../../gen/synapse/admin/v1/user_admin';
import * as readMessages from '../../gen/synapse/admin/v1/user_admin_reads';
import { UserAdminServiceService } from '../../gen/synapse/admin/v1/user_admin';
import { sharedStack } from '../support/root-hooks';
import { adminAuthFailures } from '../support/grpc-auth-table';
import { bearer, grpcCall, registerUser, uniq, type Stack, type TestUser } from '../support/stack';

const MESSAGES = { ...adminMessages, ...readMessages } as Record<string, unknown>;

describe('user admin gRPC auth table', () => {
  let s: Stack;
  let user: TestUser;

  before(async () => {
    s = await sharedStack();
    user = await registerUser(s, uniq('uaauth'));
  });

  it('covers every UserAdminService RPC with UNAUTHENTICATED / UNAUTHENTICATED / PERMISSION_DENIED', async () => {
    assert.ok(Object.values(UserAdminServiceService).length >= 16);
    // Whois lets users ask about themselves: ask about someone else.
    const failures = await adminAuthFailures(s.grpcAddress, UserAdminServiceService, MESSAGES, user.token, (name) =>
      name === 'Whois' ? { userId: '@someone_else:test' } : {},
    );
    assert.deepEqual(failures, []);
  });

  it('lets anyone read a profile over gRPC, with or without a token', async () => {
    const c = s.clients.profile;
    for (const md of [new grpc.Metadata(), bearer(user.token)]) {
      const p = await grpcCall(c, c.getProfile, { userId: user.userId }, md);
      assert.equal(p.displayname, user.userId.slice(1, user.userId.indexOf(':')));
    }
  });
});
