/**
 * POST /_synapse/admin/v1/reset_password/<user_id> through the gateway and over gRPC (spec §8):
 * the new password, the logout of every session (the requester's own kept only when resetting
 * their own password), token revocation through the cache, and bad input.
 */
import { strict as assert } from 'node:assert';
import { sharedStack } from '../support/root-hooks';
import { bearer, grpcCall, http, registerUser, uniq, type Stack, type TestUser } from '../support/stack';
import { enc } from './room-admin.helpers';

const WHOAMI = '/_matrix/client/v3/account/whoami';
const devicesUrl = (userId: string) => `/_synapse/admin/v2/users/${enc(userId)}/devices`;
const whoamiStatus = (s: Stack, token: string) => http(s, 'GET', WHOAMI, { token }).then((r) => r.status);

async function login(s: Stack, user: string, password: string): Promise<{ token: string; deviceId: string }> {
  const r = await http(s, 'POST', '/_matrix/client/v3/login', { body: { type: 'm.login.password', user, password } });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  return { token: r.body.access_token, deviceId: r.body.device_id };
}

describe('ResetPasswordTestCase', () => {
  let s: Stack;
  let admin: TestUser;

  before(async () => {
    s = await sharedStack();
    admin = await registerUser(s, uniq('rpadmin'), { admin: true });
  });

  const reset = (userId: string, opts: { body?: unknown; rawBody?: string; token?: string }) =>
    http(s, 'POST', `/_synapse/admin/v1/reset_password/${enc(userId)}`, { token: admin.token, ...opts });

  it('sets the password and logs every device out by default', async () => {
    const user = await registerUser(s, uniq('rpuser'), { password: 'old' });
    const second = await login(s, user.userId, 'old');
    assert.equal(await whoamiStatus(s, user.token), 200);
    const r = await reset(user.userId, { body: { new_password: 'new' } });
    assert.deepEqual([r.status, r.body], [200, {}]);
    assert.equal(await whoamiStatus(s, user.token), 401);
    assert.equal(await whoamiStatus(s, second.token), 401);
    assert.equal((await http(s, 'GET', devicesUrl(user.userId), { token: admin.token })).body.total, 0);
    const oldLogin = await http(s, 'POST', '/_matrix/client/v3/login', {
      body: { type: 'm.login.password', user: user.userId, password: 'old' },
    });
    assert.equal(oldLogin.status, 403);
    await login(s, user.userId, 'new');
  });

  it('keeps the sessions with logout_devices false', async () => {
    const user = await registerUser(s, uniq('rpkeep'), { password: 'old' });
    const r = await reset(user.userId, { body: { new_password: 'new', logout_devices: false } });
    assert.equal(r.status, 200);
    assert.equal(await whoamiStatus(s, user.token), 200);
    await login(s, user.userId, 'new');
  });

  it("spares the admin's own session only when the admin resets their own password", async () => {
    const self = await registerUser(s, uniq('rpself'), { admin: true, password: 'old' });
    const otherSession = await login(s, self.userId, 'old');
    assert.equal((await reset(self.userId, { body: { new_password: 'new' }, token: self.token })).status, 200);
    assert.equal(await whoamiStatus(s, self.token), 200);
    assert.equal(await whoamiStatus(s, otherSession.token), 401);
    const devices = (await http(s, 'GET', devicesUrl(self.userId), { token: self.token })).body.devices.map(
      (d: { device_id: string }) => d.device_id,
    );
    assert.deepEqual(devices, [self.deviceId]);
    // Resetting another user's password logs out every device of theirs, whatever the admin's device id.
    const target = await registerUser(s, uniq('rptarget'), { password: 'old' });
    await s.app.orm.em.fork().execute('INSERT INTO devices (user_id, device_id) VALUES (?, ?)', [target.userId, admin.deviceId]);
    assert.equal((await reset(target.userId, { body: { new_password: 'new' } })).status, 200);
    assert.equal((await http(s, 'GET', devicesUrl(target.userId), { token: admin.token })).body.total, 0);
  });

  it('refuses bad input', async () => {
    const user = await registerUser(s, uniq('rpbad'));
    const c0 = () => s.clients.userAdmin;
    const cases: [string, { body?: unknown; rawBody?: string }, number, Record<string, string>][] = [
      [user.userId, { body: {} }, 400, { errcode: 'M_MISSING_PARAM', error: "Missing params: ['new_password']" }],
      [user.userId, { rawBody: '{x' }, 400, { errcode: 'M_NOT_JSON', error: 'Content not JSON.' }],
      [user.userId, { rawBody: '[]' }, 400, { errcode: 'M_BAD_JSON', error: 'Content must be a JSON object.' }],
      [user.userId, { body: { new_password: 5 } }, 400, { errcode: 'M_INVALID_PARAM', error: 'Invalid password' }],
      [user.userId, { body: { new_password: 'x'.repeat(513) } }, 400, { errcode: 'M_INVALID_PARAM', error: 'Invalid password' }],
      [
        user.userId,
        { body: { new_password: 'x', logout_devices: 'no' } },
        400,
        { errcode: 'M_BAD_JSON', error: "'logout_devices' parameter is not of type boolean" },
      ],
      ['@nobody:test', { body: { new_password: 'x' } }, 404, { errcode: 'M_NOT_FOUND', error: 'Unknown user' }],
      ['@nobody:elsewhere.org', { body: { new_password: 'x' } }, 404, { errcode: 'M_NOT_FOUND', error: 'Unknown user' }],
      ['garbage', { body: { new_password: 'x' } }, 400, { errcode: 'M_INVALID_PARAM', error: "Expected UserID string to start with '@'" }],
      // The id is checked before the body, its existence after.
      ['garbage', { body: {} }, 400, { errcode: 'M_INVALID_PARAM', error: "Expected UserID string to start with '@'" }],
      ['@nobody:test', { body: {} }, 400, { errcode: 'M_MISSING_PARAM', error: "Missing params: ['new_password']" }],
    ];
    for (const [userId, opts, status, body] of cases) {
      const r = await reset(userId, opts);
      assert.deepEqual([r.status, r.body], [status, body], `${userId} ${JSON.stringify(opts)}`);
      // Authentication first: the same request from a non-admin or with no credential.
      const path = `/_synapse/admin/v1/reset_password/${encodeURIComponent(userId)}`;
      assert.equal((await http(s, 'POST', path, { token: user.token, ...opts })).status, 403);
      assert.equal((await http(s, 'POST', path, opts)).status, 401);
    }
    // A gRPC caller can pass the body as received too.
    await assert.rejects(
      grpcCall(c0(), c0().resetPassword, { userId: user.userId, newPassword: '', bodyJson: Buffer.from('{}') }, bearer(admin.token)),
      (e: { details?: string }) => /Missing params/.test(e.details ?? ''),
    );
    assert.equal(await whoamiStatus(s, user.token), 200);
    const c = s.clients.userAdmin;
    await grpcCall(c, c.resetPassword, { userId: user.userId, newPassword: 'grpc', logoutDevices: true }, bearer(admin.token));
    assert.equal(await whoamiStatus(s, user.token), 401);
    await login(s, user.userId, 'grpc');
  });
});
