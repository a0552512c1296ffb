/**
 * The gateway's upstream channel survives a broken connection (issue 17 §1). The upstream here is
 * a bare grpc-js server that answers one call with a 100 KB status message, as the service did
 * before it bounded its errors: the client's HTTP/2 session ends on a COMPRESSION_ERROR without
 * telling anyone, and every call on the connection used to hang until its deadline. Keepalive
 * pings find the dead connection and the calls after it go on a new one.
 */
import { strict as assert } from 'node:assert';
import * as grpc from '@grpc/grpc-js';
import { ServerServiceService, type GetServerVersionResponse } from '../../gen/synapse/admin/v1/server';
import { createClients, neverReachedServer, unary, type Clients } from '../../src/gateway/grpc-clients';

/** Far above a normal call, far below a hang: a stalled connection would never answer. */
const CALL_DEADLINE_MS = 15_000;

describe('gateway upstream connection', () => {
  let server: grpc.Server;
  let clients: Clients;

  before(async () => {
    server = new grpc.Server();
    server.addService(ServerServiceService, {
      getServerVersion: (
        call: grpc.ServerUnaryCall<unknown, GetServerVersionResponse>,
        cb: grpc.sendUnaryData<GetServerVersionResponse>,
      ) => {
        if (call.metadata.get('x-break').length > 0) cb({ code: grpc.status.INVALID_ARGUMENT, details: 'y'.repeat(100_000) });
        else cb(null, { serverVersion: 'test' });
      },
      getClientVersions: (_call: unknown, cb: grpc.sendUnaryData<unknown>) => cb({ code: grpc.status.UNIMPLEMENTED }),
    });
    const port = await new Promise<number>((ok, ko) =>
      server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (e, p) => (e ? ko(e) : ok(p))),
    );
    clients = createClients(`127.0.0.1:${port}`, true, { keepaliveTimeMs: 200, keepaliveTimeoutMs: 500 });
  });

  after(() => {
    clients?.close();
    server?.forceShutdown();
  });

  const version = (md = new grpc.Metadata()) =>
    unary(
      clients.server,
      clients.server.getServerVersion as Parameters<typeof unary<object, GetServerVersionResponse>>[1],
      {},
      md,
      CALL_DEADLINE_MS,
    );

  it('a connection that dies silently is replaced, and later calls answer', async () => {
    assert.equal((await version()).serverVersion, 'test');
    const breaking = new grpc.Metadata();
    breaking.set('x-break', '1');
    const broken = await version(breaking).then(
      () => null,
      (e: grpc.ServiceError) => e,
    );
    assert.ok(broken, 'the call whose answer broke the connection fails');
    assert.notEqual(broken.code, grpc.status.DEADLINE_EXCEEDED, broken.details);
    for (let i = 0; i < 3; i += 1) assert.equal((await version()).serverVersion, 'test');
  });
});

describe('gateway upstream retries', () => {
  const err = (code: grpc.status, details: string) =>
    Object.assign(new Error(details), { code, details, metadata: new grpc.Metadata() }) as grpc.ServiceError;

  /** A method that fails its first calls with the given errors, then answers. */
  function flaky(errors: grpc.ServiceError[]) {
    let calls = 0;
    const method = (
      _req: object,
      _md: grpc.Metadata,
      _opts: Partial<grpc.CallOptions>,
      cb: (e: grpc.ServiceError | null, r: string) => void,
    ) => {
      const e = errors[calls++];
      setImmediate(() => (e ? cb(e, '') : cb(null, 'ok')));
      return {} as grpc.ClientUnaryCall;
    };
    return { method, calls: () => calls };
  }
  const client = {} as grpc.Client;

  it('a call that never left the client is sent again, one the server may have run is not', async () => {
    const f = flaky([
      err(grpc.status.INTERNAL, 'Failed to start HTTP/2 stream with error: The session has been destroyed'),
      err(grpc.status.UNAVAILABLE, 'Stream refused by server'),
    ]);
    assert.equal(await unary(client, f.method, {}, new grpc.Metadata(), 5000), 'ok');
    assert.equal(f.calls(), 3);
    // A call the server may have run is not.
    for (const e of [
      err(grpc.status.UNAVAILABLE, 'Connection dropped'),
      err(grpc.status.INTERNAL, 'Internal server error'),
      err(grpc.status.DEADLINE_EXCEEDED, 'Deadline exceeded'),
    ]) {
      assert.equal(neverReachedServer(e), false);
      const f = flaky([e]);
      await assert.rejects(unary(client, f.method, {}, new grpc.Metadata(), 5000), (x: grpc.ServiceError) => x === e);
      assert.equal(f.calls(), 1);
    }
  });
});
