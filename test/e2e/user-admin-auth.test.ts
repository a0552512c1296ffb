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
import { bearer, grpcCall, registerUser, uniq, type Stack, type TestUser } from '../support/stack';

type MessageType = { fromPartial(o: object): object };
const MESSAGES = { ...adminMessages, ...readMessages } as unknown as Record<string, MessageType>;

describe('user admin gRPC auth table', () => {
  let s: Stack;
  let user: TestUser;

  before(async () => {
    s = await sharedStack();
    user = await registerUser(s, uniq('uaauth'));
  });

  it('covers every UserAdminService RPC with UNAUTHENTICATED / UNAUTHENTICATED / PERMISSION_DENIED', async () => {
    const client = new grpc.Client(s.grpcAddress, grpc.credentials.createInsecure());
    const call = (path: string, md: grpc.Metadata) =>
      new Promise<grpc.ServiceError>((ok) => {
        const def = Object.values(UserAdminServiceService).find((m) => m.path === path) as unknown as { requestSerialize(v: object): Buffer; responseDeserialize(b: Buffer): object };
        const name = path.split('/').pop()!;
        // Whois lets users ask about themselves: ask about someone else. Otherwise an empty request.
        const req = MESSAGES[`${name}Request`].fromPartial(name === 'Whois' ? { userId: '@someone_else:test' } : {});
        client.makeUnaryRequest(path, def.requestSerialize, def.responseDeserialize, req, md, (err) => ok(err as grpc.ServiceError));
      });
    const methods = Object.values(UserAdminServiceService);
    assert.ok(methods.length >= 16);
    const failures: string[] = [];
    for (const m of methods) {
      const cases: [grpc.Metadata, grpc.status, string][] = [
        [new grpc.Metadata(), grpc.status.UNAUTHENTICATED, 'M_MISSING_TOKEN'],
        [bearer('syt_not_a_token'), grpc.status.UNAUTHENTICATED, 'M_UNKNOWN_TOKEN'],
        [bearer(user.token), grpc.status.PERMISSION_DENIED, 'M_FORBIDDEN'],
      ];
      for (const [md, code, errcode] of cases) {
        const err = await call(m.path, md);
        if (!err || err.code !== code || err.metadata.get('matrix-errcode')[0] !== errcode) failures.push(`${m.path} → ${err?.code} ${err?.metadata?.get('matrix-errcode')}`);
      }
    }
    client.close();
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
