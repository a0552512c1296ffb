/**
 * /_matrix/client/{r0,v3}/profile/<user_id>[/displayname|/avatar_url] (spec §9) through the
 * gateway and over gRPC: reads without a token, only the fields that are set, Synapse's 404
 * "Profile was not found" for unknown and erased users (and for a profile with nothing set), 400
 * for an invalid id; and the PUTs, ported from Synapse's ProfileTestCase (tests/rest/client/
 * test_profile.py), whose change reaches the user's joined rooms as a join.
 */
import { strict as assert } from 'node:assert';
import { sharedStack } from '../support/root-hooks';
import { bearer, grpcCall, http, registerUser, uniq, type Stack, type TestUser } from '../support/stack';
import { createRoom, enc, join } from './room-admin.helpers';

describe('ProfileTestCase', () => {
  let s: Stack;
  let admin: TestUser;

  before(async () => {
    s = await sharedStack();
    admin = await registerUser(s, uniq('profadmin'), { admin: true });
  });

  const get = (path: string, token?: string) => http(s, 'GET', path, { token });
  const setProfile = (userId: string, displayname: string | null, avatarUrl: string | null) =>
    s.app.orm.em.fork().execute('UPDATE users SET displayname = ?, avatar_url = ? WHERE name = ?', [displayname, avatarUrl, userId]);

  for (const prefix of ['/_matrix/client/v3', '/_matrix/client/r0']) {
    it(`reads a local profile without a token (${prefix})`, async () => {
      const user = await registerUser(s, uniq('prof'));
      const localpart = user.userId.slice(1, user.userId.indexOf(':'));
      const base = `${prefix}/profile/${enc(user.userId)}`;
      // A new user's display name is its localpart; the avatar is unset and left out.
      assert.deepEqual([(await get(base)).status, (await get(base)).body], [200, { displayname: localpart }]);
      assert.deepEqual((await get(`${base}/displayname`)).body, { displayname: localpart });
      assert.deepEqual([(await get(`${base}/avatar_url`)).status, (await get(`${base}/avatar_url`)).body], [200, { avatar_url: null }]);
      await setProfile(user.userId, 'Zoë', 'mxc://test/abc');
      assert.deepEqual((await get(base, user.token)).body, { displayname: 'Zoë', avatar_url: 'mxc://test/abc' });
      assert.deepEqual((await get(`${base}/avatar_url`)).body, { avatar_url: 'mxc://test/abc' });
      await setProfile(user.userId, null, 'mxc://test/abc');
      assert.deepEqual((await get(base)).body, { avatar_url: 'mxc://test/abc' });
      assert.deepEqual((await get(`${base}/displayname`)).body, { displayname: null });
    });
  }

  it('answers 404 "Profile was not found" for unknown and erased users and an empty profile', async () => {
    const notFound = { errcode: 'M_NOT_FOUND', error: 'Profile was not found' };
    for (const suffix of ['', '/displayname', '/avatar_url']) {
      const r = await get(`/_matrix/client/v3/profile/${enc(`@${uniq('nobody')}:test`)}${suffix}`);
      assert.deepEqual([r.status, r.body], [404, notFound], suffix);
    }
    const empty = await registerUser(s, uniq('empty'));
    await setProfile(empty.userId, null, null);
    assert.deepEqual(
      [
        (await get(`/_matrix/client/v3/profile/${enc(empty.userId)}`)).status,
        (await get(`/_matrix/client/v3/profile/${enc(empty.userId)}`)).body,
      ],
      [404, notFound],
    );
    assert.deepEqual((await get(`/_matrix/client/v3/profile/${enc(empty.userId)}/displayname`)).body, { displayname: null });
    const erased = await registerUser(s, uniq('erased'));
    const deactivate = await http(s, 'POST', `/_synapse/admin/v1/deactivate/${enc(erased.userId)}`, {
      token: admin.token,
      body: { erase: true },
    });
    assert.equal(deactivate.status, 200);
    for (const suffix of ['', '/displayname']) {
      const r = await get(`/_matrix/client/v3/profile/${enc(erased.userId)}${suffix}`);
      assert.deepEqual([r.status, r.body], [404, notFound], suffix);
    }
  });

  it('refuses invalid ids and cannot fetch remote profiles', async () => {
    for (const suffix of ['', '/displayname', '/avatar_url']) {
      const r = await get(`/_matrix/client/v3/profile/garbage${suffix}`);
      assert.deepEqual([r.status, r.body], [400, { errcode: 'M_INVALID_PARAM', error: 'Invalid user id' }], suffix);
    }
    const remote = await get(`/_matrix/client/v3/profile/${enc('@someone:elsewhere.org')}`);
    assert.deepEqual([remote.status, remote.body], [502, { errcode: 'M_UNKNOWN', error: 'Failed to fetch profile' }]);
  });

  it('answers the same over gRPC without a credential', async () => {
    const user = await registerUser(s, uniq('profgrpc'));
    await setProfile(user.userId, 'Grpc Name', null);
    const c = s.clients.profile;
    const whole = await grpcCall(c, c.getProfile, { userId: user.userId });
    assert.deepEqual([whole.displayname, whole.avatarUrl], ['Grpc Name', undefined]);
    const avatar = await grpcCall(c, c.getProfile, { userId: user.userId, field: 'avatar_url' });
    assert.deepEqual([avatar.displayname, avatar.avatarUrl], [undefined, undefined]);
    await assert.rejects(grpcCall(c, c.getProfile, { userId: user.userId, field: 'nickname' }), (e: { code: number }) => e.code === 3);
    await assert.rejects(grpcCall(c, c.getProfile, { userId: `@${uniq('none')}:test` }), (e: { code: number }) => e.code === 5);
  });

  describe('PUT', () => {
    let owner: TestUser;
    let other: TestUser;
    const C = '/_matrix/client/v3';

    beforeEach(async () => {
      owner = await registerUser(s, uniq('owner'));
      other = await registerUser(s, uniq('other'));
      await setProfile(other.userId, 'Bob', null);
    });

    const put = (userId: string, field: string, body: unknown, token?: string) =>
      http(s, 'PUT', `${C}/profile/${enc(userId)}/${field}`, { token, body });
    const displayname = async (userId: string) => (await get(`${C}/profile/${enc(userId)}/displayname`)).body.displayname;
    const avatarUrl = async (userId: string) => (await get(`${C}/profile/${enc(userId)}/avatar_url`)).body.avatar_url;
    const localpart = (u: TestUser) => u.userId.slice(1, u.userId.indexOf(':'));

    it('test_get_displayname_rejects_bad_username', async () => {
      assert.equal((await get(`${C}/profile/${enc('@alice:')}/displayname`)).status, 400);
    });

    it('test_set_displayname', async () => {
      const r = await put(owner.userId, 'displayname', { displayname: 'test' }, owner.token);
      assert.deepEqual([r.status, r.body], [200, {}]);
      assert.equal(await displayname(owner.userId), 'test');
    });

    it('test_set_displayname_with_extra_spaces', async () => {
      assert.equal((await put(owner.userId, 'displayname', { displayname: '  test  ' }, owner.token)).status, 200);
      assert.equal(await displayname(owner.userId), 'test');
    });

    it('test_set_displayname_noauth', async () => {
      assert.equal((await put(owner.userId, 'displayname', { displayname: 'test' })).status, 401);
    });

    it('test_set_displayname_too_long', async () => {
      const r = await put(owner.userId, 'displayname', { displayname: 'test'.repeat(100) }, owner.token);
      assert.deepEqual([r.status, r.body.error], [400, 'Displayname is too long (max 256)']);
      assert.equal(await displayname(owner.userId), localpart(owner));
    });

    it('test_get_displayname_other', async () => {
      assert.equal(await displayname(other.userId), 'Bob');
    });

    it('test_set_displayname_other', async () => {
      const r = await put(other.userId, 'displayname', { displayname: 'test' }, owner.token);
      assert.deepEqual([r.status, r.body], [400, { errcode: 'M_FORBIDDEN', error: "Cannot set another user's displayname" }]);
      assert.equal(await displayname(other.userId), 'Bob');
    });

    it('test_get_avatar_url', async () => {
      assert.equal(await avatarUrl(owner.userId), null);
    });

    it('test_set_avatar_url', async () => {
      assert.equal((await put(owner.userId, 'avatar_url', { avatar_url: 'http://my.server/pic.gif' }, owner.token)).status, 200);
      assert.equal(await avatarUrl(owner.userId), 'http://my.server/pic.gif');
      // "" clears it.
      assert.equal((await put(owner.userId, 'avatar_url', { avatar_url: '' }, owner.token)).status, 200);
      assert.equal(await avatarUrl(owner.userId), null);
    });

    it('test_set_avatar_url_noauth', async () => {
      assert.equal((await put(owner.userId, 'avatar_url', { avatar_url: 'http://my.server/pic.gif' })).status, 401);
    });

    it('test_set_avatar_url_too_long', async () => {
      const r = await put(owner.userId, 'avatar_url', { avatar_url: 'http://my.server/pic.gif'.repeat(100) }, owner.token);
      assert.deepEqual([r.status, r.body.error], [400, 'Avatar URL is too long (max 1000)']);
      assert.equal(await avatarUrl(owner.userId), null);
    });

    it('test_get_avatar_url_other', async () => {
      assert.equal(await avatarUrl(other.userId), null);
    });

    it('test_set_avatar_url_other', async () => {
      const r = await put(other.userId, 'avatar_url', { avatar_url: 'http://my.server/pic.gif' }, owner.token);
      assert.deepEqual([r.status, r.body], [400, { errcode: 'M_FORBIDDEN', error: "Cannot set another user's avatar_url" }]);
    });

    it("lets a server admin change anyone's profile", async () => {
      assert.equal((await put(other.userId, 'displayname', { displayname: 'By Admin' }, admin.token)).status, 200);
      assert.equal(await displayname(other.userId), 'By Admin');
      const unknown = await put(`@${uniq('ghost')}:test`, 'displayname', { displayname: 'x' }, admin.token);
      assert.deepEqual([unknown.status, unknown.body], [404, { errcode: 'M_NOT_FOUND', error: 'Profile was not found' }]);
    });

    it('writes the new profile into every joined room as a join', async () => {
      const [a, b] = [await createRoom(s, other.token), await createRoom(s, other.token)];
      await join(s, owner.token, a);
      await join(s, owner.token, b);
      assert.equal((await put(owner.userId, 'displayname', { displayname: 'Renamed' }, owner.token)).status, 200);
      assert.equal((await put(owner.userId, 'avatar_url', { avatar_url: 'mxc://test/new' }, owner.token)).status, 200);
      for (const room of [a, b]) {
        const member = await http(s, 'GET', `${C}/rooms/${enc(room)}/state/m.room.member/${enc(owner.userId)}`, { token: other.token });
        assert.deepEqual(member.body, { membership: 'join', displayname: 'Renamed', avatar_url: 'mxc://test/new' });
      }
    });

    it('refuses bad input', async () => {
      const cases: [string, string, { body?: unknown; rawBody?: string }, number, Record<string, string>][] = [
        [owner.userId, 'displayname', { body: {} }, 400, { errcode: 'M_MISSING_PARAM', error: "Missing key 'displayname'" }],
        [
          owner.userId,
          'avatar_url',
          { body: { displayname: 'x' } },
          400,
          { errcode: 'M_MISSING_PARAM', error: "Missing key 'avatar_url'" },
        ],
        [
          owner.userId,
          'displayname',
          { body: { displayname: 5 } },
          400,
          { errcode: 'M_INVALID_PARAM', error: "'displayname' must be a string" },
        ],
        [
          owner.userId,
          'avatar_url',
          { body: { avatar_url: null } },
          400,
          { errcode: 'M_INVALID_PARAM', error: "'avatar_url' must be a string" },
        ],
        [owner.userId, 'displayname', { rawBody: '{x' }, 400, { errcode: 'M_NOT_JSON', error: 'Content not JSON.' }],
        [owner.userId, 'displayname', { rawBody: '[]' }, 400, { errcode: 'M_BAD_JSON', error: 'Content must be a JSON object.' }],
        ['garbage', 'displayname', { body: { displayname: 'x' } }, 400, { errcode: 'M_INVALID_PARAM', error: 'Invalid user id' }],
        [
          '@someone:elsewhere.org',
          'displayname',
          { body: { displayname: 'x' } },
          400,
          { errcode: 'M_UNKNOWN', error: 'User is not hosted on this homeserver' },
        ],
      ];
      for (const [userId, field, opts, status, body] of cases) {
        const r = await http(s, 'PUT', `${C}/profile/${enc(userId)}/${field}`, { token: owner.token, ...opts });
        assert.deepEqual([r.status, r.body], [status, body], `${userId} ${field} ${JSON.stringify(opts)}`);
        // Without a credential the same request is 401 first, with no extra call to the services.
        const anonymous = await http(s, 'PUT', `${C}/profile/${enc(userId)}/${field}`, opts);
        assert.deepEqual([anonymous.status, anonymous.body.errcode], [401, 'M_MISSING_TOKEN']);
      }
      // The user id is checked before the body, as Synapse parses the id first.
      const both = await http(s, 'PUT', `${C}/profile/garbage/displayname`, { token: owner.token, rawBody: '{x' });
      assert.deepEqual([both.status, both.body.error], [400, 'Invalid user id']);
      assert.equal(await displayname(owner.userId), localpart(owner));
      const c = s.clients.profile;
      await assert.rejects(
        grpcCall(c, c.setProfileField, { userId: owner.userId, field: 'nickname', value: 'x' }, bearer(owner.token)),
        (e: { code: number }) => e.code === 3,
      );
      await assert.rejects(
        grpcCall(c, c.setProfileField, { userId: owner.userId, field: 'displayname', value: 'x' }),
        (e: { code: number }) => e.code === 16,
      );
      await grpcCall(c, c.setProfileField, { userId: owner.userId, field: 'displayname', value: 'Over gRPC' }, bearer(owner.token));
      assert.equal(await displayname(owner.userId), 'Over gRPC');
    });

    it('refuses a guest changing their avatar', async () => {
      await s.app.orm.em.fork().execute('UPDATE users SET is_guest = true WHERE name = ?', [owner.userId]);
      const r = await put(owner.userId, 'avatar_url', { avatar_url: 'mxc://test/g' }, owner.token);
      assert.deepEqual([r.status, r.body.errcode], [403, 'M_GUEST_ACCESS_FORBIDDEN']);
      // Refused at authentication, as in Synapse: before the body is looked at.
      const bad = await http(s, 'PUT', `${C}/profile/${enc(owner.userId)}/avatar_url`, { token: owner.token, rawBody: '{x' });
      assert.deepEqual([bad.status, bad.body.errcode], [403, 'M_GUEST_ACCESS_FORBIDDEN']);
      assert.equal((await put(owner.userId, 'displayname', { displayname: 'Guest' }, owner.token)).status, 200);
    });
  });
});
