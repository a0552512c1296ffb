/**
 * Admin device routes through the gateway: ports of Synapse's DeviceRestTestCase,
 * DevicesRestTestCase and DeleteDevicesRestTestCase (tests/rest/admin/test_device.py), with bad
 * input per route,
 * token revocation (the token cache must not keep a deleted device's token alive) and the same
 * calls over gRPC.
 */
import { strict as assert } from 'node:assert';
import { sharedStack } from '../support/root-hooks';
import { bearer, grpcCall, http, registerUser, uniq, type Stack, type TestUser } from '../support/stack';
import { enc } from './room-admin.helpers';

const WHOAMI = '/_matrix/client/v3/account/whoami';
const devicesUrl = (userId: string) => `/_synapse/admin/v2/users/${enc(userId)}/devices`;

async function login(s: Stack, user: string, password = 'pass'): Promise<{ token: string; deviceId: string }> {
  const r = await http(s, 'POST', '/_matrix/client/v3/login', { body: { type: 'm.login.password', user, password } });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  return { token: r.body.access_token, deviceId: r.body.device_id };
}

const whoamiStatus = (s: Stack, token: string) => http(s, 'GET', WHOAMI, { token }).then((r) => r.status);

describe('DeviceRestTestCase', () => {
  let s: Stack;
  let admin: TestUser;
  let other: TestUser;
  let url: string;

  before(async () => {
    s = await sharedStack();
    admin = await registerUser(s, uniq('devadmin'), { admin: true });
  });
  beforeEach(async () => {
    other = await registerUser(s, uniq('devuser'));
    url = `${devicesUrl(other.userId)}/${enc(other.deviceId)}`;
  });

  const call = (method: string, path: string, opts: { body?: unknown; rawBody?: string; token?: string } = {}) =>
    http(s, method, path, { token: admin.token, ...opts });

  for (const method of ['GET', 'PUT', 'DELETE']) {
    it(`test_user_does_not_exist (${method})`, async () => {
      const r = await call(method, `${devicesUrl('@unknown_person:test')}/unknown_device`);
      assert.deepEqual([r.status, r.body], [404, { errcode: 'M_NOT_FOUND', error: 'Unknown user' }]);
    });

    it(`test_user_is_not_local (${method})`, async () => {
      const r = await call(method, `${devicesUrl('@unknown_person:unknown_domain')}/unknown_device`);
      assert.deepEqual([r.status, r.body], [400, { errcode: 'M_UNKNOWN', error: 'Can only lookup local users' }]);
    });

    it(`refuses a malformed user id (${method})`, async () => {
      const r = await call(method, `${devicesUrl('garbage')}/unknown_device`);
      assert.deepEqual([r.status, r.body], [400, { errcode: 'M_INVALID_PARAM', error: "Expected UserID string to start with '@'" }]);
    });
  }

  it('test_unknown_device', async () => {
    const unknown = `${devicesUrl(other.userId)}/unknown_device`;
    const get = await call('GET', unknown);
    assert.deepEqual([get.status, get.body], [404, { errcode: 'M_NOT_FOUND', error: 'Not found' }]);
    assert.equal((await call('PUT', unknown)).status, 200);
    assert.equal((await call('DELETE', unknown)).status, 200);
    const rename = await call('PUT', unknown, { body: { display_name: 'x' } });
    assert.deepEqual([rename.status, rename.body], [404, { errcode: 'M_NOT_FOUND', error: 'Not found' }]);
  });

  it('test_update_device_too_long_display_name', async () => {
    assert.equal((await call('PUT', url, { body: { display_name: 'new display' } })).status, 200);
    const r = await call('PUT', url, { body: { display_name: 'a'.repeat(101) } });
    assert.deepEqual([r.status, r.body], [400, { errcode: 'M_TOO_LARGE', error: 'Device display name is too long (max 100)' }]);
    assert.equal((await call('GET', url)).body.display_name, 'new display');
    // 100 characters (not bytes) are allowed.
    assert.equal((await call('PUT', url, { body: { display_name: 'é'.repeat(100) } })).status, 200);
  });

  it('test_update_no_display_name', async () => {
    assert.equal((await call('PUT', url, { body: { display_name: 'new display' } })).status, 200);
    const r = await call('PUT', url);
    assert.deepEqual([r.status, r.body], [200, {}]);
    assert.equal((await call('GET', url)).body.display_name, 'new display');
  });

  it('test_update_display_name', async () => {
    assert.deepEqual((await call('PUT', url, { body: { display_name: 'new displayname' } })).body, {});
    assert.equal((await call('GET', url)).body.display_name, 'new displayname');
    // An empty name is a name.
    assert.equal((await call('PUT', url, { body: { display_name: '' } })).status, 200);
    assert.equal((await call('GET', url)).body.display_name, '');
  });

  it('refuses a bad PUT body, after the user checks', async () => {
    const cases: [string, number, Record<string, string>][] = [
      ['{not json', 400, { errcode: 'M_NOT_JSON', error: 'Content not JSON.' }],
      ['[]', 400, { errcode: 'M_BAD_JSON', error: 'Content must be a JSON object.' }],
      ['{"display_name": 5}', 400, { errcode: 'M_BAD_JSON', error: "Param 'display_name' must be a string" }],
    ];
    for (const [rawBody, status, body] of cases) {
      const r = await call('PUT', url, { rawBody });
      assert.deepEqual([r.status, r.body], [status, body], rawBody);
    }
    const unknownUser = await call('PUT', `${devicesUrl('@unknown_person:test')}/x`, { rawBody: '{not json' });
    assert.deepEqual([unknownUser.status, unknownUser.body.error], [404, 'Unknown user']);
    // Authentication before both.
    assert.equal((await http(s, 'PUT', url, { token: other.token, rawBody: '{not json' })).status, 403);
    assert.equal((await http(s, 'PUT', url, { rawBody: '{not json' })).status, 401);
  });

  it('test_get_device', async () => {
    const r = await call('GET', url);
    assert.equal(r.status, 200);
    assert.equal(r.body.user_id, other.userId);
    assert.deepEqual(Object.keys(r.body).sort(), [
      'device_id',
      'display_name',
      'last_seen_ip',
      'last_seen_ts',
      'last_seen_user_agent',
      'user_id',
    ]);
    assert.equal(r.body.device_id, other.deviceId);
    assert.equal(r.body.display_name, null);
  });

  it('test_delete_device', async () => {
    const second = await login(s, other.userId);
    assert.equal((await call('GET', devicesUrl(other.userId))).body.total, 2);
    assert.equal(await whoamiStatus(s, other.token), 200);
    const r = await call('DELETE', url);
    assert.deepEqual([r.status, r.body], [200, {}]);
    assert.deepEqual(
      (await call('GET', devicesUrl(other.userId))).body.devices.map((d: { device_id: string }) => d.device_id),
      [second.deviceId],
    );
    // The device's token is revoked at once (it was cached by the whoami above); the other device's is not.
    assert.equal(await whoamiStatus(s, other.token), 401);
    assert.equal(await whoamiStatus(s, second.token), 200);
  });

  it('answers the same over gRPC', async () => {
    const md = bearer(admin.token);
    const c = s.clients.userAdmin;
    const got = await grpcCall(c, c.getDevice, { userId: other.userId, deviceId: other.deviceId }, md);
    assert.equal(got.device?.deviceId, other.deviceId);
    await grpcCall(c, c.updateDevice, { userId: other.userId, deviceId: other.deviceId, displayName: 'via grpc' }, md);
    const listed = await grpcCall(c, c.listDevices, { userId: other.userId }, md);
    assert.deepEqual(
      listed.devices.map((d) => d.displayName),
      ['via grpc'],
    );
    await grpcCall(c, c.deleteDevices, { userId: other.userId, deviceIds: [other.deviceId] }, md);
    assert.equal((await grpcCall(c, c.listDevices, { userId: other.userId }, md)).devices.length, 0);
    await assert.rejects(grpcCall(c, c.getDevice, { userId: '@nobody:test', deviceId: 'x' }, md), (e: { code: number }) => e.code === 5);
    await assert.rejects(
      grpcCall(c, c.listDevices, { userId: other.userId }, bearer(other.token)),
      (e: { code: number }) => e.code === 16 || e.code === 7,
    );
  });
});

describe('DevicesRestTestCase', () => {
  let s: Stack;
  let admin: TestUser;

  before(async () => {
    s = await sharedStack();
    admin = await registerUser(s, uniq('devsadmin'), { admin: true });
  });

  it('test_user_does_not_exist', async () => {
    const r = await http(s, 'GET', devicesUrl('@unknown_person:test'), { token: admin.token });
    assert.deepEqual([r.status, r.body.errcode], [404, 'M_NOT_FOUND']);
  });

  it('test_user_is_not_local', async () => {
    const r = await http(s, 'GET', devicesUrl('@unknown_person:unknown_domain'), { token: admin.token });
    assert.deepEqual([r.status, r.body.error], [400, 'Can only lookup local users']);
  });

  it('test_user_has_no_devices', async () => {
    const user = await registerUser(s, uniq('nodev'));
    await http(s, 'POST', '/_matrix/client/v3/logout', { token: user.token, body: {} });
    const r = await http(s, 'GET', devicesUrl(user.userId), { token: admin.token });
    assert.deepEqual([r.status, r.body], [200, { devices: [], total: 0 }]);
  });

  it('test_get_devices', async () => {
    const user = await registerUser(s, uniq('fivedev'));
    await http(s, 'POST', '/_matrix/client/v3/logout', { token: user.token, body: {} });
    for (let i = 0; i < 5; i++) await login(s, user.userId);
    // A hidden device is not listed.
    await s.app.orm.em.fork().execute('INSERT INTO devices (user_id, device_id, hidden) VALUES (?, ?, true)', [user.userId, 'HIDDEN']);
    const r = await http(s, 'GET', devicesUrl(user.userId), { token: admin.token });
    assert.equal(r.status, 200);
    assert.equal(r.body.total, 5);
    assert.equal(r.body.devices.length, 5);
    for (const d of r.body.devices) {
      assert.equal(d.user_id, user.userId);
      for (const key of ['user_id', 'device_id', 'display_name', 'last_seen_ip', 'last_seen_ts', 'last_seen_user_agent'])
        assert.ok(key in d, key);
      assert.ok(!('dehydrated' in d));
    }
    const hidden = await http(s, 'GET', `${devicesUrl(user.userId)}/HIDDEN`, { token: admin.token });
    assert.equal(hidden.status, 404);
  });
});

describe('DeleteDevicesRestTestCase', () => {
  let s: Stack;
  let admin: TestUser;
  let other: TestUser;

  before(async () => {
    s = await sharedStack();
    admin = await registerUser(s, uniq('deldadmin'), { admin: true });
  });
  beforeEach(async () => {
    other = await registerUser(s, uniq('delduser'));
  });

  const post = (userId: string, opts: { body?: unknown; rawBody?: string }) =>
    http(s, 'POST', `/_synapse/admin/v2/users/${enc(userId)}/delete_devices`, { token: admin.token, ...opts });

  it('test_user_does_not_exist', async () => {
    const r = await post('@unknown_person:test', { body: { devices: [] } });
    assert.deepEqual([r.status, r.body.errcode], [404, 'M_NOT_FOUND']);
  });

  it('test_user_is_not_local', async () => {
    const r = await post('@unknown_person:unknown_domain', { body: { devices: [] } });
    assert.deepEqual([r.status, r.body.error], [400, 'Can only lookup local users']);
  });

  it('test_unknown_devices', async () => {
    const r = await post(other.userId, { body: { devices: ['unknown_device1', 'unknown_device2'] } });
    assert.deepEqual([r.status, r.body], [200, {}]);
  });

  it('test_delete_devices', async () => {
    const sessions = [{ token: other.token, deviceId: other.deviceId }];
    for (let i = 0; i < 4; i++) sessions.push(await login(s, other.userId));
    for (const t of sessions) assert.equal(await whoamiStatus(s, t.token), 200);
    const r = await post(other.userId, { body: { devices: sessions.map((t) => t.deviceId) } });
    assert.deepEqual([r.status, r.body], [200, {}]);
    assert.equal((await http(s, 'GET', devicesUrl(other.userId), { token: admin.token })).body.total, 0);
    for (const t of sessions) assert.equal(await whoamiStatus(s, t.token), 401);
  });

  it('refuses a bad body, after the user checks', async () => {
    const cases: [{ body?: unknown; rawBody?: string }, number, Record<string, string>][] = [
      [{ body: {} }, 400, { errcode: 'M_MISSING_PARAM', error: "Missing params: ['devices']" }],
      [{ rawBody: '' }, 400, { errcode: 'M_NOT_JSON', error: 'Content not JSON.' }],
      [{ rawBody: '{"devices":' }, 400, { errcode: 'M_NOT_JSON', error: 'Content not JSON.' }],
      [{ body: { devices: 'abc' } }, 400, { errcode: 'M_BAD_JSON', error: "Param 'devices' must be a list of strings" }],
      [{ body: { devices: [1] } }, 400, { errcode: 'M_BAD_JSON', error: "Param 'devices' must be a list of strings" }],
    ];
    for (const [opts, status, body] of cases) {
      const r = await post(other.userId, opts);
      assert.deepEqual([r.status, r.body], [status, body], JSON.stringify(opts));
    }
    const unknownUser = await post('@unknown_person:test', { body: {} });
    assert.deepEqual([unknownUser.status, unknownUser.body.error], [404, 'Unknown user']);
    const path = `/_synapse/admin/v2/users/${encodeURIComponent(other.userId)}/delete_devices`;
    assert.equal((await http(s, 'POST', path, { token: other.token, rawBody: '' })).status, 403);
    assert.equal((await http(s, 'POST', path, { rawBody: '' })).status, 401);
    assert.equal(await whoamiStatus(s, other.token), 200);
  });
});
