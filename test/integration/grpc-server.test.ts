import { strict as assert } from 'node:assert';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import * as grpc from '@grpc/grpc-js';
import { HealthCheckResponse_ServingStatus } from '../../gen/grpc/health/v1/health';
import { sharedStack } from '../support/root-hooks';
import { bearer, grpcCall, http, registerUser, uniq, type Stack } from '../support/stack';
import { C, enc } from '../support/client';

const exec = promisify(execFile);
const BUF = 'node_modules/.bin/buf';

/** A real reflection client (the same Go protodesc validation grpcurl uses). */
async function bufCurl(stack: Stack, ...args: string[]): Promise<string> {
  const { stdout } = await exec(BUF, ['curl', '--protocol', 'grpc', '--http2-prior-knowledge', ...args], { timeout: 30_000 });
  return stdout;
}

describe('gRPC server: reflection, health, error mapping', () => {
  let s: Stack;
  before(async () => {
    s = await sharedStack();
  });

  it('lists every service through reflection', async () => {
    const out = await bufCurl(s, '--list-services', `http://${s.grpcAddress}`);
    for (const svc of [
      'synapse.admin.v1.AuthService',
      'synapse.admin.v1.UserAdminService',
      'synapse.admin.v1.ServerService',
      'grpc.health.v1.Health',
    ]) {
      assert.ok(out.includes(svc), `${svc} missing from reflection list:\n${out}`);
    }
  });

  it('describes methods and calls one through reflection alone', async () => {
    const methods = await bufCurl(s, '--list-methods', `http://${s.grpcAddress}`);
    assert.ok(methods.includes('synapse.admin.v1.UserAdminService/GetUser'));
    const admin = await registerUser(s, uniq('refl'), { admin: true });
    const out = await bufCurl(
      s,
      '-H',
      `authorization: Bearer ${admin.token}`,
      '-d',
      JSON.stringify({ userId: admin.userId }),
      `http://${s.grpcAddress}/synapse.admin.v1.UserAdminService/GetUser`,
    );
    assert.equal(JSON.parse(out).user.name, admin.userId);
  });

  it('also answers the v1alpha reflection protocol', async () => {
    const out = await bufCurl(s, '--reflect-protocol', 'grpc-v1alpha', '--list-services', `http://${s.grpcAddress}`);
    assert.ok(out.includes('synapse.admin.v1.AuthService'));
  });

  it('carries the Matrix errcode to reflection clients', async () => {
    const err = await bufCurl(s, '-d', '{}', `http://${s.grpcAddress}/synapse.admin.v1.AuthService/WhoAmI`).catch(
      (e) => e as { stdout: string; stderr: string },
    );
    assert.match(String((err as { stderr: string }).stderr ?? err), /unauthenticated/i);
  });

  it('reports SERVING for the server and each service', async () => {
    for (const service of ['', 'synapse.admin.v1.AuthService']) {
      const res = await new Promise<number>((ok, ko) => s.clients.health.check({ service }, (e, r) => (e ? ko(e) : ok(r.status))));
      assert.equal(res, HealthCheckResponse_ServingStatus.SERVING);
    }
    await assert.rejects(
      new Promise((ok, ko) => s.clients.health.check({ service: 'no.such.Service' }, (e, r) => (e ? ko(e) : ok(r)))),
      (e: grpc.ServiceError) => e.code === grpc.status.NOT_FOUND,
    );
  });

  it('honours deadlines', async () => {
    await assert.rejects(
      new Promise((ok, ko) =>
        s.clients.server.getServerVersion({}, new grpc.Metadata(), { deadline: Date.now() - 1 }, (e, r) => (e ? ko(e) : ok(r))),
      ),
      (e: grpc.ServiceError) => e.code === grpc.status.DEADLINE_EXCEEDED,
    );
  });

  it('refuses U+0000 in any request string with a 400 before any work, over gRPC and REST', async () => {
    const user = await registerUser(s, uniq('nul'));
    const room = await http(s, 'POST', `${C}/createRoom`, { token: user.token, body: {} });
    const roomId: string = room.body.room_id;
    const r = s.clients.rooms;
    const refused = (e: grpc.ServiceError) =>
      e.code === grpc.status.INVALID_ARGUMENT && e.metadata.get('matrix-errcode')[0] === 'M_INVALID_PARAM';
    await assert.rejects(grpcCall(r, r.sendEvent, { roomId, type: 'm.x\0', contentJson: '{}', txnId: 'a' }, bearer(user.token)), refused);
    await assert.rejects(grpcCall(r, r.getJoinedMembers, { roomId: `${roomId}\0` }, bearer(user.token)), refused);
    // Authentication still comes first.
    await assert.rejects(
      grpcCall(r, r.getJoinedMembers, { roomId: '\0' }),
      (e: grpc.ServiceError) => e.code === grpc.status.UNAUTHENTICATED,
    );
    for (const [method, path] of [
      ['PUT', `${C}/rooms/${enc(roomId)}/send/m.x%00/t1`],
      ['PUT', `${C}/rooms/${enc(roomId)}/send/m.x/t%00`],
      ['PUT', `${C}/rooms/${enc(roomId)}/state/m.x/a%00b`],
      ['GET', `${C}/rooms/%00/messages`],
      ['PUT', `${C}/user/${enc(user.userId)}/account_data/a%00`],
    ]) {
      const res = await http(s, method, path, { token: user.token, body: method === 'PUT' ? { msgtype: 'm.text', body: 'x' } : undefined });
      assert.deepEqual([res.status, res.body.errcode, path], [400, 'M_INVALID_PARAM', path]);
    }
    // Nothing was written: the room still holds only its creation events.
    const state = await http(s, 'GET', `${C}/rooms/${enc(roomId)}/state`, { token: user.token });
    assert.ok(state.body.every((e: { type: string }) => e.type !== 'm.x'));
  });
});
