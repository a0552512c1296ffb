import { strict as assert } from 'node:assert';
import { createHmac } from 'node:crypto';
import * as grpc from '@grpc/grpc-js';
import { sharedStack } from '../support/root-hooks';
import { SHARED_SECRET, bearer, grpcCall, grpcRefusal, http, registerUser, uniq, type Stack, type TestUser } from '../support/stack';
import { checkAccessCalls } from '../support/metrics';

describe('foundation: registration, login, tokens, errors, CORS', () => {
  let s: Stack;
  let admin: TestUser;
  let user: TestUser;

  before(async () => {
    s = await sharedStack();
    admin = await registerUser(s, uniq('admin'), { admin: true });
    user = await registerUser(s, uniq('user'));
  });

  async function nonce(): Promise<string> {
    return (await http(s, 'GET', '/_synapse/admin/v1/register')).body.nonce;
  }
  const macFor = (n: string, u: string, p: string, admin: boolean) =>
    createHmac('sha1', SHARED_SECRET)
      .update(`${n}\0${u}\0${p}\0${admin ? 'admin' : 'notadmin'}`)
      .digest('hex');

  describe('shared-secret registration', () => {
    it('registers with a good MAC and returns a working token', async () => {
      const n = await nonce();
      const name = uniq('reg');
      const res = await http(s, 'POST', '/_synapse/admin/v1/register', {
        body: { nonce: n, username: name, password: 'pw', admin: false, mac: macFor(n, name, 'pw', false) },
      });
      assert.equal(res.status, 200);
      assert.equal(res.body.user_id, `@${name}:test`);
      assert.equal(res.body.home_server, 'test');
      assert.ok(res.body.device_id);
      const who = await http(s, 'GET', '/_matrix/client/v3/account/whoami', { token: res.body.access_token });
      assert.deepEqual(who.body, { user_id: `@${name}:test`, device_id: res.body.device_id, is_guest: false });
    });

    it('rejects a bad MAC with 403 HMAC incorrect and consumes the nonce', async () => {
      const n = await nonce();
      const name = uniq('bad');
      const bad = await http(s, 'POST', '/_synapse/admin/v1/register', {
        body: { nonce: n, username: name, password: 'pw', mac: macFor(n, name, 'pw', true) },
      });
      assert.equal(bad.status, 403);
      assert.deepEqual(bad.body, { errcode: 'M_FORBIDDEN', error: 'HMAC incorrect' });
      const retry = await http(s, 'POST', '/_synapse/admin/v1/register', {
        body: { nonce: n, username: name, password: 'pw', mac: macFor(n, name, 'pw', false) },
      });
      assert.equal(retry.status, 400);
      assert.equal(retry.body.error, 'unrecognised nonce');
    });

    it('refuses a reused nonce', async () => {
      const n = await nonce();
      const name = uniq('once');
      const ok = await http(s, 'POST', '/_synapse/admin/v1/register', {
        body: { nonce: n, username: name, password: 'pw', mac: macFor(n, name, 'pw', false) },
      });
      assert.equal(ok.status, 200);
      const again = await http(s, 'POST', '/_synapse/admin/v1/register', {
        body: { nonce: n, username: `${name}x`, password: 'pw', mac: macFor(n, `${name}x`, 'pw', false) },
      });
      assert.equal(again.status, 400);
      assert.deepEqual(again.body, { errcode: 'M_UNKNOWN', error: 'unrecognised nonce' });
    });

    it('refuses a taken user id, bad localparts and missing fields', async () => {
      const n1 = await nonce();
      const taken = admin.userId.slice(1, admin.userId.indexOf(':'));
      const r1 = await http(s, 'POST', '/_synapse/admin/v1/register', {
        body: { nonce: n1, username: taken, password: 'pw', mac: macFor(n1, taken, 'pw', false) },
      });
      assert.equal(r1.status, 400);
      assert.equal(r1.body.errcode, 'M_USER_IN_USE');
      const n2 = await nonce();
      const r2 = await http(s, 'POST', '/_synapse/admin/v1/register', {
        body: { nonce: n2, username: 'bad name!', password: 'pw', mac: macFor(n2, 'bad name!', 'pw', false) },
      });
      assert.equal(r2.body.errcode, 'M_INVALID_USERNAME');
      const r3 = await http(s, 'POST', '/_synapse/admin/v1/register', { body: { username: 'x' } });
      assert.deepEqual(r3.body, { errcode: 'M_BAD_JSON', error: 'nonce must be specified' });
      const r4 = await http(s, 'POST', '/_synapse/admin/v1/register', { rawBody: 'not json' });
      assert.deepEqual([r4.status, r4.body.errcode], [400, 'M_NOT_JSON']);
      const r5 = await http(s, 'POST', '/_synapse/admin/v1/register', { body: [1] });
      assert.deepEqual([r5.status, r5.body.errcode], [400, 'M_BAD_JSON']);
    });
  });

  describe('login, whoami, logout', () => {
    it('logs in with m.login.password + m.id.user and creates a device', async () => {
      const name = uniq('login');
      await registerUser(s, name, { password: 'secret1' });
      const res = await http(s, 'POST', '/_matrix/client/v3/login', {
        body: {
          type: 'm.login.password',
          identifier: { type: 'm.id.user', user: name },
          password: 'secret1',
          initial_device_display_name: 'laptop',
        },
      });
      assert.equal(res.status, 200);
      assert.equal(res.body.user_id, `@${name}:test`);
      const who = await http(s, 'GET', '/_matrix/client/r0/account/whoami', { token: res.body.access_token });
      assert.equal(who.body.device_id, res.body.device_id);
      const out = await http(s, 'POST', '/_matrix/client/v3/logout', { token: res.body.access_token, body: {} });
      assert.equal(out.status, 200);
      const after = await http(s, 'GET', '/_matrix/client/v3/account/whoami', { token: res.body.access_token });
      assert.equal(after.status, 401);
      assert.deepEqual(after.body, { errcode: 'M_UNKNOWN_TOKEN', error: 'Invalid access token passed.', soft_logout: false });
    });

    it('refuses a wrong password and unknown login types', async () => {
      const bad = await http(s, 'POST', '/_matrix/client/v3/login', {
        body: { type: 'm.login.password', identifier: { type: 'm.id.user', user: user.userId }, password: 'nope' },
      });
      assert.deepEqual([bad.status, bad.body.errcode, bad.body.error], [403, 'M_FORBIDDEN', 'Invalid username or password']);
      const type = await http(s, 'POST', '/_matrix/client/v3/login', { body: { type: 'm.login.token', user: 'x', password: 'y' } });
      assert.equal(type.status, 400);
      const flows = await http(s, 'GET', '/_matrix/client/v3/login');
      assert.deepEqual(flows.body, { flows: [{ type: 'm.login.password' }] });
    });
  });

  describe('token extraction and admin checks', () => {
    it('answers 401 M_MISSING_TOKEN without a token', async () => {
      const res = await http(s, 'GET', `/_synapse/admin/v2/users/${encodeURIComponent(user.userId)}`);
      assert.deepEqual([res.status, res.body.errcode, res.body.error], [401, 'M_MISSING_TOKEN', 'Missing access token']);
    });
    it('answers 401 M_UNKNOWN_TOKEN for an unknown token', async () => {
      const res = await http(s, 'GET', `/_synapse/admin/v2/users/${encodeURIComponent(user.userId)}`, { token: 'syt_nope' });
      assert.deepEqual(res.body, { errcode: 'M_UNKNOWN_TOKEN', error: 'Invalid access token passed.', soft_logout: false });
    });
    it('answers 403 for a non-admin', async () => {
      const res = await http(s, 'GET', `/_synapse/admin/v2/users/${encodeURIComponent(user.userId)}`, { token: user.token });
      assert.deepEqual([res.status, res.body], [403, { errcode: 'M_FORBIDDEN', error: 'You are not a server admin' }]);
    });
    it('authenticates before it validates the body', async () => {
      const res = await http(s, 'PUT', `/_synapse/admin/v2/users/${encodeURIComponent(user.userId)}`, {
        token: user.token,
        rawBody: '{bad',
      });
      assert.equal(res.status, 403);
      const none = await http(s, 'PUT', `/_synapse/admin/v2/users/${encodeURIComponent(user.userId)}`, { rawBody: '{bad' });
      assert.equal(none.status, 401);
      const ok = await http(s, 'PUT', `/_synapse/admin/v2/users/${encodeURIComponent(user.userId)}`, {
        token: admin.token,
        rawBody: '{bad',
      });
      assert.deepEqual([ok.status, ok.body.errcode], [400, 'M_NOT_JSON']);
    });
    it('accepts access_token in the query and refuses mixing it with a header', async () => {
      const q = await http(s, 'GET', `/_matrix/client/v3/account/whoami?access_token=${encodeURIComponent(user.token)}`);
      assert.equal(q.body.user_id, user.userId);
      const mixed = await http(s, 'GET', `/_matrix/client/v3/account/whoami?access_token=${encodeURIComponent(user.token)}`, {
        token: user.token,
      });
      assert.deepEqual(mixed.body, {
        errcode: 'M_MISSING_TOKEN',
        error: 'Mixing Authorization headers and access_token query parameters.',
      });
      const badHeader = await http(s, 'GET', '/_matrix/client/v3/account/whoami', { headers: { authorization: 'Basic abc' } });
      assert.deepEqual(badHeader.body, { errcode: 'M_MISSING_TOKEN', error: 'Invalid Authorization header.' });
    });
  });

  describe('user admin', () => {
    it('creates (201) then modifies (200) a user, and reads it back', async () => {
      const id = `@${uniq('managed')}:test`;
      const path = `/_synapse/admin/v2/users/${encodeURIComponent(id)}`;
      const created = await http(s, 'PUT', path, { token: admin.token, body: { password: 'pw1', displayname: 'Managed', admin: false } });
      assert.equal(created.status, 201);
      assert.equal(created.body.name, id);
      assert.equal(created.body.displayname, 'Managed');
      const modified = await http(s, 'PUT', path, { token: admin.token, body: { admin: true } });
      assert.deepEqual([modified.status, modified.body.admin], [200, true]);
      const got = await http(s, 'GET', path, { token: admin.token });
      assert.deepEqual([got.body.admin, got.body.deactivated, got.body.is_guest], [true, false, false]);
      const login = await http(s, 'POST', '/_matrix/client/v3/login', { body: { type: 'm.login.password', user: id, password: 'pw1' } });
      assert.equal(login.status, 200);
      const deact = await http(s, 'PUT', path, { token: admin.token, body: { deactivated: true } });
      assert.equal(deact.body.deactivated, true);
      const dead = await http(s, 'GET', '/_matrix/client/v3/account/whoami', { token: login.body.access_token });
      assert.equal(dead.status, 401);
    });
    it('validates ids and types', async () => {
      const remote = await http(s, 'GET', `/_synapse/admin/v2/users/${encodeURIComponent('@x:elsewhere')}`, { token: admin.token });
      assert.deepEqual([remote.status, remote.body.error], [400, 'Can only look up local users']);
      const missing = await http(s, 'GET', `/_synapse/admin/v2/users/${encodeURIComponent('@nobody:test')}`, { token: admin.token });
      assert.deepEqual([missing.status, missing.body.errcode], [404, 'M_NOT_FOUND']);
      const badType = await http(s, 'PUT', `/_synapse/admin/v2/users/${encodeURIComponent('@typed:test')}`, {
        token: admin.token,
        body: { admin: 'yes' },
      });
      assert.deepEqual([badType.status, badType.body.errcode], [400, 'M_BAD_JSON']);
    });
    it('lets an admin log in as a user (puppet token, no device)', async () => {
      const res = await http(s, 'POST', `/_synapse/admin/v1/users/${encodeURIComponent(user.userId)}/login`, {
        token: admin.token,
        body: {},
      });
      assert.equal(res.status, 200);
      const who = await http(s, 'GET', '/_matrix/client/v3/account/whoami', { token: res.body.access_token });
      assert.deepEqual(who.body, { user_id: user.userId, is_guest: false });
      const self = await http(s, 'POST', `/_synapse/admin/v1/users/${encodeURIComponent(admin.userId)}/login`, { token: admin.token });
      assert.equal(self.body.error, 'Cannot use admin API to login as self');
      const expired = await http(s, 'POST', `/_synapse/admin/v1/users/${encodeURIComponent(user.userId)}/login`, {
        token: admin.token,
        body: { valid_until_ms: Date.now() - 1 },
      });
      const dead = await http(s, 'GET', '/_matrix/client/v3/account/whoami', { token: expired.body.access_token });
      assert.deepEqual(dead.body, { errcode: 'M_UNKNOWN_TOKEN', error: 'Access token has expired', soft_logout: true });
    });
    it('login as a user: the service reads the body after authentication, with no extra RPC; gRPC callers get the same answers', async () => {
      const path = `/_synapse/admin/v1/users/${encodeURIComponent(user.userId)}/login`;
      const c = s.clients.userAdmin;
      const before = await checkAccessCalls(s.baseUrl);
      for (const [raw, errcode, error] of [
        ['{bad', 'M_NOT_JSON', 'Content not JSON.'],
        ['[]', 'M_BAD_JSON', 'Content must be a JSON object.'],
        ['{"valid_until_ms":"soon"}', 'M_BAD_JSON', "'valid_until_ms' parameter must be an int"],
        ['{"valid_until_ms":1.5}', 'M_BAD_JSON', "'valid_until_ms' parameter must be an int"],
      ]) {
        const anonymous = await http(s, 'POST', path, { rawBody: raw });
        assert.deepEqual([anonymous.status, anonymous.body.errcode], [401, 'M_MISSING_TOKEN'], raw);
        const forbidden = await http(s, 'POST', path, { token: user.token, rawBody: raw });
        assert.deepEqual([forbidden.status, forbidden.body.errcode], [403, 'M_FORBIDDEN'], raw);
        const r = await http(s, 'POST', path, { token: admin.token, rawBody: raw });
        assert.deepEqual([r.status, r.body], [400, { errcode, error }], raw);
        const req = { userId: user.userId, bodyJson: Buffer.from(raw) };
        assert.deepEqual(await grpcRefusal(grpcCall(c, c.loginAsUser, req, bearer(admin.token))), {
          code: grpc.status.INVALID_ARGUMENT,
          errcode,
          error,
        });
        assert.equal((await grpcRefusal(grpcCall(c, c.loginAsUser, req, bearer(user.token)))).errcode, 'M_FORBIDDEN');
        assert.equal((await grpcRefusal(grpcCall(c, c.loginAsUser, req))).errcode, 'M_MISSING_TOKEN');
      }
      // The gateway raised nothing of its own: no CheckAccess call was needed to put auth first.
      assert.equal(await checkAccessCalls(s.baseUrl), before);
      // With body_json the typed field is ignored; an empty body counts as {} (a token that does not expire).
      const res = await grpcCall(
        c,
        c.loginAsUser,
        { userId: user.userId, validUntilMs: 1, bodyJson: Buffer.alloc(0) },
        bearer(admin.token),
      );
      const who = await http(s, 'GET', '/_matrix/client/v3/account/whoami', { token: res.accessToken });
      assert.deepEqual([who.status, who.body.user_id], [200, user.userId]);
    });
    it('is callable over gRPC with a bearer token', async () => {
      const res = await grpcCall(s.clients.userAdmin, s.clients.userAdmin.getUser, { userId: user.userId }, bearer(admin.token));
      assert.equal(res.user?.name, user.userId);
      await assert.rejects(
        grpcCall(s.clients.userAdmin, s.clients.userAdmin.getUser, { userId: user.userId }, bearer(user.token)),
        (e: grpc.ServiceError) => {
          assert.equal(e.code, grpc.status.PERMISSION_DENIED);
          assert.equal(e.metadata.get('matrix-errcode')[0], 'M_FORBIDDEN');
          assert.equal(e.details, 'You are not a server admin');
          return true;
        },
      );
      await assert.rejects(
        grpcCall(s.clients.userAdmin, s.clients.userAdmin.getUser, { userId: user.userId }),
        (e: grpc.ServiceError) => e.code === grpc.status.UNAUTHENTICATED,
      );
    });
  });

  describe('server info, routing and CORS', () => {
    it('serves versions and server_version like Synapse', async () => {
      const v = await http(s, 'GET', '/_matrix/client/versions');
      assert.ok(v.body.versions.includes('v1.11'));
      assert.equal(typeof v.body.unstable_features, 'object');
      const sv = await http(s, 'GET', '/_synapse/admin/v1/server_version');
      assert.equal(typeof sv.body.server_version, 'string');
    });
    it('answers unknown paths with 404 M_UNRECOGNIZED and wrong methods with 405', async () => {
      const unknown = await http(s, 'GET', '/_synapse/admin/v1/nothing_here');
      assert.deepEqual([unknown.status, unknown.body], [404, { errcode: 'M_UNRECOGNIZED', error: 'Unrecognized request' }]);
      const wrong = await http(s, 'DELETE', '/_synapse/admin/v1/server_version');
      assert.deepEqual([wrong.status, wrong.body.errcode], [405, 'M_UNRECOGNIZED']);
    });
    it('sends CORS headers on answers and errors, and answers OPTIONS', async () => {
      const res = await http(s, 'GET', '/_synapse/admin/v1/nothing_here');
      assert.equal(res.headers.get('access-control-allow-origin'), '*');
      assert.match(res.headers.get('access-control-allow-headers') ?? '', /Authorization/);
      const opt = await fetch(`${s.baseUrl}/_synapse/admin/v1/rooms`, {
        method: 'OPTIONS',
        headers: { origin: 'http://admin.example', 'access-control-request-method': 'DELETE' },
      });
      assert.equal(opt.status, 204);
      assert.match(opt.headers.get('access-control-allow-methods') ?? '', /DELETE/);
    });
    it('serves /health', async () => {
      const res = await http(s, 'GET', '/health');
      assert.deepEqual([res.status, res.body], [200, 'OK']);
    });
    it('refuses oversized bodies with 413 M_TOO_LARGE', async () => {
      const big = 'x'.repeat(s.config.maxRequestBodyBytes + 10);
      const res = await http(s, 'POST', '/_matrix/client/v3/login', { rawBody: JSON.stringify({ type: big }) });
      assert.deepEqual([res.status, res.body.errcode], [413, 'M_TOO_LARGE']);
    });
  });
});
