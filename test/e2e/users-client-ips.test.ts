/**
 * Client addresses over real HTTP and gRPC: what whois and the admin device routes show after a
 * user's requests (with a custom User-Agent, X-Forwarded-For honoured only with HTTP_X_FORWARDED),
 * the two-minute granularity, the batched writes (and the write on shutdown), the trust of the
 * gateway's metadata, device deletion and pruning.
 */
import { strict as assert } from 'node:assert';
import * as grpc from '@grpc/grpc-js';
import { sharedStack } from '../support/root-hooks';
import { bearer, grpcCall, http, registerUser, startStack, uniq, type Stack, type TestUser } from '../support/stack';
import { enc } from './room-admin.helpers';
import { ClientIpsRepository } from '../../src/users/client-ips.repository';

const WHOAMI = '/_matrix/client/v3/account/whoami';
const whoisUrl = (userId: string) => `/_synapse/admin/v1/whois/${enc(userId)}`;
const devicesUrl = (userId: string) => `/_synapse/admin/v2/users/${enc(userId)}/devices`;

interface Connection {
  ip: string;
  last_seen: number;
  user_agent: string;
}

async function connections(s: Stack, admin: TestUser, userId: string): Promise<Connection[]> {
  const r = await http(s, 'GET', whoisUrl(userId), { token: admin.token });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  assert.deepEqual(Object.keys(r.body.devices), ['']);
  return r.body.devices[''].sessions[0].connections;
}

const stored = (s: Stack, userId: string) =>
  s.app.orm.em
    .getConnection()
    .execute<{ ip: string; user_agent: string; device_id: string | null; last_seen: string }[]>(
      'SELECT ip, user_agent, device_id, last_seen FROM user_ips WHERE user_id = ? ORDER BY ip',
      [userId],
    );

const seen = (s: Stack, token: string, headers: Record<string, string> = {}) =>
  http(s, 'GET', WHOAMI, { token, headers }).then((r) => assert.equal(r.status, 200));

describe('client addresses (user_ips)', () => {
  let s: Stack;
  let admin: TestUser;

  before(async () => {
    s = await sharedStack();
    admin = await registerUser(s, uniq('ipadmin'), { admin: true });
  });

  it('whois lists the address and user agent of a request at once, before the batch is written', async () => {
    const user = await registerUser(s, uniq('ipuser'));
    const before = Date.now();
    await seen(s, user.token, { 'user-agent': 'TestClient/1.0 (whois)', 'x-forwarded-for': '203.0.113.9' });
    const [c, ...rest] = await connections(s, admin, user.userId);
    assert.deepEqual(rest, []);
    // X-Forwarded-For is not honoured without HTTP_X_FORWARDED: the TCP peer is recorded.
    assert.equal(c.ip, '127.0.0.1');
    assert.equal(c.user_agent, 'TestClient/1.0 (whois)');
    assert.ok(c.last_seen >= before && c.last_seen <= Date.now(), String(c.last_seen));
    // The user may ask about themselves.
    const self = await http(s, 'GET', whoisUrl(user.userId), { token: user.token });
    assert.deepEqual(self.body.devices[''].sessions[0].connections, [c]);
  });

  it('the device routes show the last address, user agent and time of the device', async () => {
    const user = await registerUser(s, uniq('ipdev'));
    await seen(s, user.token, { 'user-agent': 'DeviceClient/2' });
    const list = await http(s, 'GET', devicesUrl(user.userId), { token: admin.token });
    const device = list.body.devices.find((d: { device_id: string }) => d.device_id === user.deviceId);
    assert.equal(device.last_seen_ip, '127.0.0.1');
    assert.equal(device.last_seen_user_agent, 'DeviceClient/2');
    assert.equal(typeof device.last_seen_ts, 'number');
    // Written: the same from the database.
    await s.app.services.users.clientIps!.flush();
    const one = await http(s, 'GET', `${devicesUrl(user.userId)}/${enc(user.deviceId)}`, { token: admin.token });
    assert.deepEqual(one.body, { ...device });
    const rows = await stored(s, user.userId);
    assert.deepEqual(
      rows.map((r) => [r.ip, r.user_agent, r.device_id, Number(r.last_seen)]),
      [['127.0.0.1', 'DeviceClient/2', user.deviceId, device.last_seen_ts]],
    );
  });

  it('a repeat within two minutes (LAST_SEEN_GRANULARITY) is not recorded again', async () => {
    const user = await registerUser(s, uniq('iprepeat'));
    await seen(s, user.token, { 'user-agent': 'First/1' });
    const [first] = await connections(s, admin, user.userId);
    await s.app.services.users.clientIps!.flush();
    await seen(s, user.token, { 'user-agent': 'Second/1' });
    assert.deepEqual(await connections(s, admin, user.userId), [first]);
    assert.equal((await stored(s, user.userId)).length, 1);
  });

  it('one connection per access token and address', async () => {
    const user = await registerUser(s, uniq('iptokens'), { password: 'pass' });
    const login = await http(s, 'POST', '/_matrix/client/v3/login', {
      body: { type: 'm.login.password', user: user.userId, password: 'pass' },
    });
    assert.equal(login.status, 200, JSON.stringify(login.body));
    await seen(s, user.token, { 'user-agent': 'A/1' });
    await seen(s, login.body.access_token, { 'user-agent': 'B/1' });
    const list = await connections(s, admin, user.userId);
    assert.deepEqual(list.map((c) => c.user_agent).sort(), ['A/1', 'B/1']);
    await s.app.services.users.clientIps!.flush();
    assert.deepEqual((await connections(s, admin, user.userId)).map((c) => c.user_agent).sort(), ['A/1', 'B/1']);
  });

  it('a token used to act as a user (login as) is recorded for the admin using it', async () => {
    const other = await registerUser(s, uniq('ippuppeteer'), { admin: true });
    const target = await registerUser(s, uniq('ippuppet'));
    const login = await http(s, 'POST', `/_synapse/admin/v1/users/${enc(target.userId)}/login`, { token: other.token, body: {} });
    assert.equal(login.status, 200);
    await seen(s, login.body.access_token, { 'user-agent': 'Puppet/1' });
    assert.deepEqual(await connections(s, admin, target.userId), []);
    assert.ok((await connections(s, admin, other.userId)).some((c) => c.user_agent === 'Puppet/1'));
  });

  it('a refused request (unknown token, locked user) is not recorded', async () => {
    const user = await registerUser(s, uniq('iplocked'));
    assert.equal(
      (await http(s, 'PUT', `/_synapse/admin/v2/users/${enc(user.userId)}`, { token: admin.token, body: { locked: true } })).status,
      200,
    );
    assert.equal((await http(s, 'GET', WHOAMI, { token: user.token, headers: { 'user-agent': 'Locked/1' } })).status, 401);
    assert.deepEqual(await connections(s, admin, user.userId), []);
  });

  it('deleting a device removes its last-seen columns with it; the user_ips rows stay (as in Synapse)', async () => {
    const user = await registerUser(s, uniq('ipdelete'));
    await seen(s, user.token, { 'user-agent': 'Gone/1' });
    await s.app.services.users.clientIps!.flush();
    assert.equal((await http(s, 'DELETE', `${devicesUrl(user.userId)}/${enc(user.deviceId)}`, { token: admin.token })).status, 200);
    assert.equal((await http(s, 'GET', `${devicesUrl(user.userId)}/${enc(user.deviceId)}`, { token: admin.token })).status, 404);
    assert.deepEqual(
      (await connections(s, admin, user.userId)).map((c) => c.user_agent),
      ['Gone/1'],
    );
  });

  it('a gRPC caller is recorded with its peer address and gRPC user agent', async () => {
    const user = await registerUser(s, uniq('ipgrpc'));
    await grpcCall(s.clients.auth, s.clients.auth.whoAmI, {}, bearer(user.token));
    const [c] = await connections(s, admin, user.userId);
    assert.equal(c.ip, '127.0.0.1');
    assert.match(c.user_agent, /grpc-node-js/);
  });

  it('old rows are pruned, the oldest first, in slices', async () => {
    const user = await registerUser(s, uniq('ipprune'));
    const em = s.app.orm.em.fork();
    await em.getConnection().execute(
      `INSERT INTO user_ips (user_id, access_token_id, ip, user_agent, device_id, last_seen)
       SELECT ?, n, '10.0.0.' || n, 'Old/1', NULL, n FROM generate_series(1, 3) AS n`,
      [user.userId],
    );
    const repo = new ClientIpsRepository();
    assert.equal(await repo.prune(em, 2, 1), 1);
    assert.deepEqual(
      (await stored(s, user.userId)).map((r) => r.ip),
      ['10.0.0.2', '10.0.0.3'],
    );
    assert.equal(await repo.prune(em, 2, 10), 1);
    assert.deepEqual(
      (await stored(s, user.userId)).map((r) => r.ip),
      ['10.0.0.3'],
    );
  });
});

describe('client addresses behind a proxy, from untrusted gateways, and on shutdown', () => {
  let base: Stack;
  let admin: TestUser;

  before(async () => {
    base = await sharedStack();
    admin = await registerUser(base, uniq('ipadmin2'), { admin: true });
  });

  it('HTTP_X_FORWARDED=true records the first X-Forwarded-For address; the rows are written on shutdown', async () => {
    const proxied = await startStack({ HTTP_X_FORWARDED: 'true' }, { shareDatabaseWith: base });
    const user = await registerUser(proxied, uniq('ipproxied'));
    try {
      await seen(proxied, user.token, { 'user-agent': 'Proxied/1', 'x-forwarded-for': '203.0.113.7, 10.0.0.1' });
      const [c] = await connections(proxied, admin, user.userId);
      assert.equal(c.ip, '203.0.113.7');
      assert.deepEqual(await stored(base, user.userId), []);
    } finally {
      await proxied.stop();
    }
    // The stop wrote the batch.
    assert.deepEqual(
      (await stored(base, user.userId)).map((r) => [r.ip, r.user_agent]),
      [['203.0.113.7', 'Proxied/1']],
    );
  });

  it('client-address metadata from a peer not in GRPC_TRUSTED_GATEWAYS is ignored', async () => {
    const strict = await startStack({ GRPC_TRUSTED_GATEWAYS: '192.0.2.1' }, { shareDatabaseWith: base });
    const user = await registerUser(strict, uniq('ipforged'));
    try {
      const md = bearer(user.token);
      md.set('x-client-ip', '198.51.100.1');
      md.set('x-client-user-agent', 'Forged/1');
      await grpcCall(strict.clients.auth, strict.clients.auth.whoAmI, {}, md);
      // Its own gateway is not trusted either: the REST request is recorded with the gateway's address and agent.
      await seen(strict, user.token, { 'user-agent': 'Rest/1' });
      const list = await connections(strict, admin, user.userId);
      assert.deepEqual(
        list.map((c) => c.ip),
        ['127.0.0.1'],
      );
      assert.match(list[0].user_agent, /grpc-node-js/);
    } finally {
      await strict.stop();
    }
  });

  it('trusted gateway metadata is believed from loopback by default', async () => {
    const user = await registerUser(base, uniq('iptrusted'));
    const md = bearer(user.token);
    md.set('x-client-ip', '198.51.100.2');
    md.set('x-client-user-agent', 'Gateway/1');
    await grpcCall(base.clients.auth, base.clients.auth.whoAmI, {}, md as grpc.Metadata);
    assert.deepEqual(
      (await connections(base, admin, user.userId)).map((c) => [c.ip, c.user_agent]),
      [['198.51.100.2', 'Gateway/1']],
    );
  });
});
