import { strict as assert } from 'node:assert';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import * as grpc from '@grpc/grpc-js';
import { HealthCheckResponse_ServingStatus } from '../../gen/grpc/health/v1/health';
import { sharedStack } from '../support/root-hooks';
import { registerUser, uniq, type Stack } from '../support/stack';

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
    for (const svc of ['synapse.admin.v1.AuthService', 'synapse.admin.v1.UserAdminService', 'synapse.admin.v1.ServerService', 'grpc.health.v1.Health']) {
      assert.ok(out.includes(svc), `${svc} missing from reflection list:\n${out}`);
    }
  });

  it('describes methods and calls one through reflection alone', async () => {
    const methods = await bufCurl(s, '--list-methods', `http://${s.grpcAddress}`);
    assert.ok(methods.includes('synapse.admin.v1.UserAdminService/GetUser'));
    const admin = await registerUser(s, uniq('refl'), { admin: true });
    const out = await bufCurl(s, '-H', `authorization: Bearer ${admin.token}`, '-d', JSON.stringify({ userId: admin.userId }), `http://${s.grpcAddress}/synapse.admin.v1.UserAdminService/GetUser`);
    assert.equal(JSON.parse(out).user.name, admin.userId);
  });

  it('also answers the v1alpha reflection protocol', async () => {
    const out = await bufCurl(s, '--reflect-protocol', 'grpc-v1alpha', '--list-services', `http://${s.grpcAddress}`);
    assert.ok(out.includes('synapse.admin.v1.AuthService'));
  });

  it('carries the Matrix errcode to reflection clients', async () => {
    const err = await bufCurl(s, '-d', '{}', `http://${s.grpcAddress}/synapse.admin.v1.AuthService/WhoAmI`).catch((e) => e as { stdout: string; stderr: string });
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
      new Promise((ok, ko) => s.clients.server.getServerVersion({}, new grpc.Metadata(), { deadline: Date.now() - 1 }, (e, r) => (e ? ko(e) : ok(r)))),
      (e: grpc.ServiceError) => e.code === grpc.status.DEADLINE_EXCEEDED,
    );
  });
});
