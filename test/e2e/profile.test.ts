/**
 * GET /_matrix/client/{r0,v3}/profile/<user_id>[/displayname|/avatar_url] (spec §9) through the
 * gateway and over gRPC: readable without a token, only the fields that are set, Synapse's 404
 * "Profile was not found" for unknown and erased users (and for a profile with nothing set), 400
 * for an invalid id.
 */
import { strict as assert } from 'node:assert';
import { sharedStack } from '../support/root-hooks';
import { grpcCall, http, registerUser, uniq, type Stack, type TestUser } from '../support/stack';
import { enc } from './room-admin.helpers';

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
    assert.deepEqual([(await get(`/_matrix/client/v3/profile/${enc(empty.userId)}`)).status, (await get(`/_matrix/client/v3/profile/${enc(empty.userId)}`)).body], [404, notFound]);
    assert.deepEqual((await get(`/_matrix/client/v3/profile/${enc(empty.userId)}/displayname`)).body, { displayname: null });
    const erased = await registerUser(s, uniq('erased'));
    const deactivate = await http(s, 'POST', `/_synapse/admin/v1/deactivate/${enc(erased.userId)}`, { token: admin.token, body: { erase: true } });
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
});
