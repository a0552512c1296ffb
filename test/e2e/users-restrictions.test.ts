/**
 * What PUT /_synapse/admin/v2/users/<user_id> accepts beyond the profile and password: `locked`
 * (every authenticated request and login refused with 401 M_USER_LOCKED, soft_logout), `user_type`
 * and `threepids`; and the user record GET returns, key by key as Synapse 1.94's plus `suspended`.
 * Test names follow Synapse's UserRestTestCase where it has the test.
 */
import { strict as assert } from 'node:assert';
import * as grpc from '@grpc/grpc-js';
import { sharedStack } from '../support/root-hooks';
import { bearer, grpcCall, grpcRefusal, http, registerUser, uniq, type Stack, type TestUser } from '../support/stack';
import { C, enc } from '../support/client';
import { checkAccessCalls } from '../support/metrics';
import { MAX_TEXT_BYTES } from '../../src/grpc/field-limits';

const userUrl = (userId: string) => `/_synapse/admin/v2/users/${enc(userId)}`;

/** The keys of Synapse 1.94's GET user (consent disabled, MSC3866 off), plus `suspended` (1.121). */
const SYNAPSE_USER_KEYS = [
  'name',
  'admin',
  'deactivated',
  'locked',
  'shadow_banned',
  'creation_ts',
  'appservice_id',
  'consent_server_notice_sent',
  'consent_version',
  'consent_ts',
  'user_type',
  'is_guest',
  'displayname',
  'avatar_url',
  'threepids',
  'external_ids',
  'erased',
  'last_seen_ts',
  'suspended',
].sort();

describe('User admin: locked users, user types, third-party ids and the user record', () => {
  let s: Stack;
  let admin: TestUser;

  before(async () => {
    s = await sharedStack();
    admin = await registerUser(s, uniq('lockadmin'), { admin: true });
  });

  const put = (userId: string, body: unknown, token = admin.token) => http(s, 'PUT', userUrl(userId), { token, body });
  const get = (userId: string, token = admin.token) => http(s, 'GET', userUrl(userId), { token });
  const whoami = (token: string) => http(s, 'GET', `${C}/account/whoami`, { token });

  it('test_locked_user: a locked user is refused on every authenticated request, an unlock restores access', async () => {
    const other = await registerUser(s, uniq('locked'));
    assert.equal((await whoami(other.token)).status, 200);
    const lock = await put(other.userId, { locked: true });
    assert.equal(lock.status, 200, JSON.stringify(lock.body));
    assert.equal(lock.body.locked, true);
    assert.equal((await get(other.userId)).body.locked, true);

    for (const [method, path, body] of [
      ['GET', `${C}/account/whoami`, undefined],
      ['POST', `${C}/createRoom`, {}],
      ['GET', `${C}/joined_rooms`, undefined],
      ['PUT', `${C}/profile/${enc(other.userId)}/displayname`, { displayname: 'x' }],
    ] as const) {
      const r = await http(s, method, path, { token: other.token, body });
      assert.deepEqual(
        [r.status, r.body],
        [401, { errcode: 'M_USER_LOCKED', error: 'User account has been locked', soft_logout: true }],
        `${method} ${path}`,
      );
    }
    // Login is refused the same way (Synapse since 1.134).
    const login = await http(s, 'POST', `${C}/login`, { body: { type: 'm.login.password', user: other.userId, password: 'pass' } });
    assert.deepEqual([login.status, login.body.errcode, login.body.soft_logout], [401, 'M_USER_LOCKED', true]);

    const unlock = await put(other.userId, { locked: false });
    assert.deepEqual([unlock.status, unlock.body.locked], [200, false]);
    assert.equal((await whoami(other.token)).status, 200);
    assert.equal(
      (await http(s, 'POST', `${C}/login`, { body: { type: 'm.login.password', user: other.userId, password: 'pass' } })).status,
      200,
    );
  });

  it('a locked admin is refused by the admin API too, before the admin check; logout still works', async () => {
    const lockedAdmin = await registerUser(s, uniq('lockedadm'), { admin: true });
    assert.equal((await put(lockedAdmin.userId, { locked: true })).status, 200);
    const r = await http(s, 'GET', '/_synapse/admin/v2/users', { token: lockedAdmin.token });
    assert.deepEqual([r.status, r.body.errcode], [401, 'M_USER_LOCKED']);
    const logout = await http(s, 'POST', `${C}/logout`, { token: lockedAdmin.token, body: {} });
    assert.equal(logout.status, 200, JSON.stringify(logout.body));
    assert.equal((await whoami(lockedAdmin.token)).body.errcode, 'M_UNKNOWN_TOKEN');
  });

  it('refuses a non-boolean locked, and deactivated with locked, changing nothing', async () => {
    const other = await registerUser(s, uniq('lockbad'));
    const bad = await put(other.userId, { locked: 'yes' });
    assert.deepEqual([bad.status, bad.body.error], [400, "'locked' parameter is not of type boolean"]);
    const both = await put(other.userId, { deactivated: true, locked: true });
    assert.deepEqual([both.status, both.body.errcode, both.body.error], [400, 'M_UNKNOWN', "An user can't be deactivated and locked"]);
    const after = (await get(other.userId)).body;
    assert.deepEqual([after.locked, after.deactivated], [false, false]);
    assert.equal((await whoami(other.token)).status, 200);
  });

  it('locked is ignored when the user is created, as in Synapse', async () => {
    const id = `@${uniq('lockcreate')}:test`;
    const r = await put(id, { password: 'pw', locked: true });
    assert.deepEqual([r.status, r.body.locked], [201, false]);
    // The same request on the existing user locks it.
    assert.deepEqual((await put(id, { locked: true })).body.locked, true);
  });

  it('test_set_user_type: sets, clears with null and refuses an unknown type', async () => {
    const other = await registerUser(s, uniq('utype'));
    const bot = await put(other.userId, { user_type: 'bot' });
    assert.deepEqual([bot.status, bot.body.user_type], [200, 'bot']);
    assert.equal((await get(other.userId)).body.user_type, 'bot');
    // Absent leaves it.
    assert.equal((await put(other.userId, { admin: false })).body.user_type, 'bot');
    const cleared = await put(other.userId, { user_type: null });
    assert.deepEqual([cleared.status, cleared.body.user_type], [200, null]);
    for (const bad of ['wizard', 5, '']) {
      const r = await put(other.userId, { user_type: bad });
      assert.deepEqual([r.status, r.body.errcode, r.body.error], [400, 'M_UNKNOWN', 'Invalid user type'], JSON.stringify(bad));
    }
    const created = await put(`@${uniq('utypenew')}:test`, { user_type: 'support' });
    assert.deepEqual([created.status, created.body.user_type], [201, 'support']);
  });

  it('test_set_threepid: replaces the set, keeps the times of those kept, and GET returns them', async () => {
    const other = await registerUser(s, uniq('tp'));
    const first = await put(other.userId, {
      threepids: [
        { medium: 'email', address: 'bob1@bob.bob' },
        { medium: 'email', address: 'bob2@bob.bob' },
      ],
    });
    assert.equal(first.status, 200, JSON.stringify(first.body));
    assert.deepEqual(
      first.body.threepids.map((t: { address: string }) => t.address),
      ['bob1@bob.bob', 'bob2@bob.bob'],
    );
    const kept = first.body.threepids[1];
    assert.equal(typeof kept.validated_at, 'number');
    assert.equal(kept.validated_at, kept.added_at);

    const second = await put(other.userId, {
      threepids: [
        { medium: 'email', address: 'bob2@bob.bob' },
        { medium: 'email', address: 'bob3@bob.bob' },
      ],
    });
    assert.deepEqual(
      second.body.threepids.map((t: { address: string }) => t.address),
      ['bob2@bob.bob', 'bob3@bob.bob'],
    );
    assert.deepEqual(second.body.threepids[0], kept);
    assert.deepEqual((await get(other.userId)).body.threepids, second.body.threepids);
    // GET reads the user in one statement, PUT answers from the row it wrote: the same view.
    const withIds = await put(other.userId, {
      threepids: [
        { medium: 'msisdn', address: '4412345' },
        { medium: 'email', address: 'bob2@bob.bob' },
      ],
      external_ids: [
        { auth_provider: 'zeta', external_id: 'z1' },
        { auth_provider: 'alpha', external_id: 'a1' },
      ],
    });
    assert.equal(withIds.status, 200, JSON.stringify(withIds.body));
    assert.deepEqual((await get(other.userId)).body, withIds.body);

    const none = await put(other.userId, { threepids: [] });
    assert.deepEqual([none.status, none.body.threepids], [200, []]);
  });

  it('test_set_duplicate_threepid: a threepid given to a second user leaves the first', async () => {
    const first = await registerUser(s, uniq('tpfirst'));
    const second = await registerUser(s, uniq('tpsecond'));
    const address = `${uniq('dup')}@bob.bob`;
    assert.equal((await put(first.userId, { threepids: [{ medium: 'email', address }] })).status, 200);
    const moved = await put(second.userId, {
      threepids: [
        { medium: 'email', address },
        { medium: 'msisdn', address: '4412345' },
      ],
    });
    assert.deepEqual(
      moved.body.threepids.map((t: { medium: string; address: string }) => [t.medium, t.address]),
      [
        ['email', address],
        ['msisdn', '4412345'],
      ],
    );
    assert.deepEqual((await get(first.userId)).body.threepids, []);
  });

  it('checks threepids as Synapse does (email canonicalised) and changes nothing when one is bad', async () => {
    const other = await registerUser(s, uniq('tpcheck'));
    const canon = await put(other.userId, { threepids: [{ medium: 'email', address: ' Bob@Bob.BOB ' }] });
    assert.deepEqual(
      canon.body.threepids.map((t: { address: string }) => t.address),
      ['bob@bob.bob'],
    );
    const cases: [unknown, number, string, string | null][] = [
      [[{ medium: 'foo', address: 'x' }], 400, 'M_INVALID_PARAM', "'foo' is not a valid value for 'medium'"],
      [[{ medium: 'email' }], 400, 'M_MISSING_PARAM', "Missing params: ['address']"],
      [[{ address: 'a@b' }], 400, 'M_MISSING_PARAM', "Missing params: ['medium']"],
      [[{ medium: 'email', address: 'no-at-sign' }], 400, 'M_INVALID_PARAM', 'Unable to parse email address'],
      // Synapse answers these with a 500.
      ['a@b', 400, 'M_BAD_JSON', null],
      [['a@b'], 400, 'M_BAD_JSON', null],
      [[{ medium: 'email', address: 5 }], 400, 'M_BAD_JSON', null],
    ];
    for (const [threepids, status, errcode, error] of cases) {
      const r = await put(other.userId, { threepids, displayname: 'changed?' });
      assert.deepEqual([r.status, r.body.errcode], [status, errcode], JSON.stringify(threepids));
      if (error) assert.equal(r.body.error, error);
    }
    const after = (await get(other.userId)).body;
    assert.deepEqual(
      after.threepids.map((t: { address: string }) => t.address),
      ['bob@bob.bob'],
    );
    assert.notEqual(after.displayname, 'changed?');
  });

  it('test_create_user with threepids and an avatar stores them', async () => {
    const id = `@${uniq('tpnew')}:test`;
    const r = await put(id, {
      password: 'pw',
      avatar_url: 'mxc://test/avatar',
      threepids: [{ medium: 'email', address: 'New@Example.ORG' }],
    });
    assert.equal(r.status, 201, JSON.stringify(r.body));
    assert.equal(r.body.avatar_url, 'mxc://test/avatar');
    assert.deepEqual(
      r.body.threepids.map((t: { address: string }) => t.address),
      ['new@example.org'],
    );
    const changed = await put(id, { avatar_url: 'mxc://test/other' });
    assert.equal(changed.body.avatar_url, 'mxc://test/other');
    assert.equal((await get(id)).body.avatar_url, 'mxc://test/other');
  });

  it("the service reads the body after authentication, in Synapse's order, with no extra RPC; gRPC callers get the same answers", async () => {
    const target = await registerUser(s, uniq('upbody'));
    const plain = await registerUser(s, uniq('upplain'));
    // Every field wrong, in the order Synapse reads them.
    const badFields: [key: string, value: unknown, errcode: string, error: string][] = [
      ['threepids', 'x', 'M_BAD_JSON', "'threepids' must be a list"],
      ['external_ids', 'x', 'M_BAD_JSON', "'external_ids' must be a list"],
      ['user_type', 5, 'M_UNKNOWN', 'Invalid user type'],
      ['password', 5, 'M_BAD_JSON', 'Invalid password'],
      ['admin', 'yes', 'M_BAD_JSON', "'admin' parameter is not of type boolean"],
      ['deactivated', 'yes', 'M_BAD_JSON', "'deactivated' parameter is not of type boolean"],
      ['displayname', 5, 'M_BAD_JSON', 'Invalid displayname'],
      ['avatar_url', 5, 'M_INVALID_PARAM', "'avatar_url' must be a string"],
      ['logout_devices', 'yes', 'M_BAD_JSON', "'logout_devices' parameter is not of type boolean"],
      ['locked', 'yes', 'M_BAD_JSON', "'locked' parameter is not of type boolean"],
    ];
    // All of them (written in reverse, so the order in the text cannot decide), then without the first, and so on.
    const cases: [raw: string, errcode: string, error: string][] = [
      ['{bad', 'M_NOT_JSON', 'Content not JSON.'],
      ['', 'M_NOT_JSON', 'Content not JSON.'],
      ['[]', 'M_BAD_JSON', 'Content must be a JSON object.'],
      ...badFields.map(([, , errcode, error], i): [string, string, string] => [
        JSON.stringify(Object.fromEntries(badFields.slice(i).reverse())),
        errcode,
        error,
      ]),
    ];
    const c = s.clients.userAdmin;
    const recordOf = (u: Record<string, unknown>) => [
      u.admin,
      u.deactivated,
      u.locked,
      u.displayname,
      u.avatar_url,
      u.user_type,
      u.threepids,
    ];
    const unchanged = recordOf((await get(target.userId)).body);
    const before = await checkAccessCalls(s.baseUrl);
    for (const [raw, errcode, error] of cases) {
      const r = await http(s, 'PUT', userUrl(target.userId), { token: admin.token, rawBody: raw });
      assert.deepEqual([r.status, r.body], [400, { errcode, error }], raw);
      const forbidden = await http(s, 'PUT', userUrl(target.userId), { token: plain.token, rawBody: raw });
      assert.deepEqual([forbidden.status, forbidden.body.errcode], [403, 'M_FORBIDDEN'], raw);
      const anonymous = await http(s, 'PUT', userUrl(target.userId), { rawBody: raw });
      assert.deepEqual([anonymous.status, anonymous.body.errcode], [401, 'M_MISSING_TOKEN'], raw);
      const req = { userId: target.userId, bodyJson: Buffer.from(raw) };
      assert.deepEqual(await grpcRefusal(grpcCall(c, c.upsertUser, req, bearer(admin.token))), {
        code: grpc.status.INVALID_ARGUMENT,
        errcode,
        error,
      });
      assert.equal((await grpcRefusal(grpcCall(c, c.upsertUser, req, bearer(plain.token)))).errcode, 'M_FORBIDDEN');
      assert.equal((await grpcRefusal(grpcCall(c, c.upsertUser, req))).errcode, 'M_MISSING_TOKEN');
    }
    // The gateway raised nothing of its own: no CheckAccess call was needed to put auth first.
    assert.equal(await checkAccessCalls(s.baseUrl), before);
    // Nothing of the user changed.
    assert.deepEqual(recordOf((await get(target.userId)).body), unchanged);
    assert.equal((await whoami(target.token)).status, 200);
    // With body_json the typed fields are ignored.
    const res = await grpcCall(
      c,
      c.upsertUser,
      { userId: target.userId, displayname: 'typed', bodyJson: Buffer.from('{"displayname":"from the body","user_type":null}') },
      bearer(admin.token),
    );
    assert.deepEqual([res.created, res.user?.displayname, res.user?.userType], [false, 'from the body', undefined]);
    // Values read from the body are bounded as the typed fields they stand for are.
    const long = await put(target.userId, { displayname: 'x'.repeat(MAX_TEXT_BYTES + 1) });
    assert.deepEqual(
      [long.status, long.body],
      [400, { errcode: 'M_INVALID_PARAM', error: `'displayname' is too long (at most ${MAX_TEXT_BYTES} bytes)` }],
    );
    assert.equal((await get(target.userId)).body.displayname, 'from the body');
  });

  it("GET user returns Synapse's keys with the real locked, suspended, shadow_banned, user_type and threepids", async () => {
    const other = await registerUser(s, uniq('record'));
    const plain = (await get(other.userId)).body;
    assert.deepEqual(Object.keys(plain).sort(), SYNAPSE_USER_KEYS);
    assert.deepEqual(
      [plain.locked, plain.suspended, plain.shadow_banned, plain.user_type, plain.threepids, plain.erased],
      [false, false, false, null, [], false],
    );

    await put(other.userId, { locked: true, user_type: 'bot', threepids: [{ medium: 'email', address: 'rec@example.org' }] });
    assert.equal(
      (await http(s, 'PUT', `/_synapse/admin/v1/suspend/${enc(other.userId)}`, { token: admin.token, body: { suspend: true } })).status,
      200,
    );
    assert.equal((await http(s, 'POST', `/_synapse/admin/v1/users/${enc(other.userId)}/shadow_ban`, { token: admin.token })).status, 200);
    const set = (await get(other.userId)).body;
    assert.deepEqual(Object.keys(set).sort(), SYNAPSE_USER_KEYS);
    assert.deepEqual([set.locked, set.suspended, set.shadow_banned, set.user_type], [true, true, true, 'bot']);
    assert.deepEqual(
      set.threepids.map((t: { medium: string; address: string }) => [t.medium, t.address]),
      [['email', 'rec@example.org']],
    );
  });
});
