/**
 * Issue 17 §1: a request whose error echoed a huge input stalled the gateway's HTTP/2 connection
 * to the gRPC server, and with it every route (/health and server_version included) until the
 * 60 s gateway deadline. Each reproducer is sent here together with ordinary requests: the bad
 * ones are refused with a 4xx and an errcode, the ordinary ones answer correctly during and after.
 *
 * No timings are asserted. On the old code the ordinary requests hung for the gateway's 60 s
 * deadline, far beyond mocha's timeout, so the test failed by timing out.
 */
import { strict as assert } from 'node:assert';
import * as grpc from '@grpc/grpc-js';
import { http, registerUser, startStack, uniq, type HttpResult, type Stack, type TestUser } from '../support/stack';
import { createRoom, enc } from './room-admin.helpers';

const huge = (n: number, c = 'y') => c.repeat(n);

describe('hardening: no input stalls the gateway', () => {
  let s: Stack;
  let admin: TestUser;
  let user: TestUser;
  let roomId: string;

  before(async () => {
    // A stack of its own: on a regression the stalled connection must not take other tests down.
    s = await startStack();
    admin = await registerUser(s, uniq('admin'), { admin: true });
    user = await registerUser(s, uniq('user'));
    roomId = await createRoom(s, admin.token);
  });

  after(async () => {
    await s?.stop();
  });

  /** The ordinary requests: each must answer correctly whatever else is in flight. */
  async function ordinary(): Promise<void> {
    const [health, version, details] = await Promise.all([
      http(s, 'GET', '/health'),
      http(s, 'GET', '/_synapse/admin/v1/server_version'),
      http(s, 'GET', `/_synapse/admin/v1/rooms/${enc(roomId)}`, { token: admin.token }),
    ]);
    assert.equal(health.status, 200);
    assert.equal(health.body, 'OK');
    assert.equal(version.status, 200);
    assert.equal(typeof version.body.server_version, 'string');
    assert.equal(details.status, 200, JSON.stringify(details.body));
    assert.equal(details.body.room_id, roomId);
  }

  function refused(r: HttpResult, status: number, errcode: string): void {
    assert.equal(r.status, status, JSON.stringify(r.body).slice(0, 300));
    assert.equal(r.body.errcode, errcode);
    // The error text does not grow with the input.
    assert.ok(JSON.stringify(r.body).length < 1000, `error body of ${JSON.stringify(r.body).length} bytes`);
  }

  const reproducers: Array<[string, () => Promise<void>]> = [
    [
      'a 100 KB login type',
      async () =>
        refused(
          await http(s, 'POST', '/_matrix/client/v3/login', { body: { type: huge(100_000), user: 'x', password: 'x' } }),
          400,
          'M_INVALID_PARAM',
        ),
    ],
    [
      'a 100 KB createRoom preset',
      async () =>
        refused(
          await http(s, 'POST', '/_matrix/client/v3/createRoom', { token: user.token, body: { preset: huge(100_000) } }),
          400,
          'M_INVALID_PARAM',
        ),
    ],
    [
      'a 100 KB purge_up_to_event_id',
      async () =>
        refused(
          await http(s, 'POST', `/_synapse/admin/v1/purge_history/${enc(roomId)}`, {
            token: admin.token,
            body: { purge_up_to_event_id: `$${huge(100_000)}` },
          }),
          400,
          'M_INVALID_PARAM',
        ),
    ],
    [
      'a 10 MB gRPC Login string',
      async () => {
        const err = await new Promise<grpc.ServiceError | null>((ok) =>
          s.clients.auth.login({ type: huge(10 * 1024 * 1024), user: 'x', password: 'x' }, new grpc.Metadata(), {}, (e) => ok(e)),
        );
        assert.ok(err, 'the login was refused');
        assert.equal(err.code, grpc.status.INVALID_ARGUMENT);
        assert.equal(err.metadata.get('matrix-errcode')[0], 'M_INVALID_PARAM');
        assert.ok(err.details.length < 1000);
        // Its own connection still answers.
        const r = await new Promise<grpc.ServiceError | null>((ok) =>
          s.clients.server.getServerVersion({}, new grpc.Metadata(), {}, (e) => ok(e)),
        );
        assert.equal(r, null);
      },
    ],
    [
      'a 100 KB gRPC health service name (a handler outside the call adapter)',
      async () => {
        const err = await new Promise<grpc.ServiceError | null>((ok) =>
          s.clients.health.check({ service: huge(100_000) }, new grpc.Metadata(), {}, (e) => ok(e)),
        );
        assert.ok(err, 'the check was refused');
        assert.equal(err.code, grpc.status.NOT_FOUND);
        assert.ok(err.details.length < 2000, `details of ${err.details.length} characters`);
        const r = await new Promise<grpc.ServiceError | null>((ok) =>
          s.clients.health.check({ service: '' }, new grpc.Metadata(), {}, (e) => ok(e)),
        );
        assert.equal(r, null);
      },
    ],
  ];

  for (const [name, send] of reproducers) {
    it(`${name}: refused with a 4xx and an errcode; ordinary requests answer during and after`, async () => {
      await Promise.all([send(), ordinary(), ordinary()]);
      await ordinary();
    });
  }

  it('all of them at once, repeated, alongside ordinary requests', async () => {
    for (let round = 0; round < 2; round += 1) {
      await Promise.all([...reproducers.map(([, send]) => send()), ordinary(), ordinary(), ordinary()]);
    }
    await ordinary();
  });
});
