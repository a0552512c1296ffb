/**
 * Per-user admin reads through the gateway: ports of Synapse's UserMembershipRestTestCase,
 * WhoisRestTestCase and UsernameAvailableTestCase (tests/rest/admin/test_user.py,
 * test_username_available.py), plus memberships, sent_invite_count and
 * cumulative_joined_room_count (spec §3), their bad input and the same reads over gRPC.
 */
import { strict as assert } from 'node:assert';
import { sharedStack } from '../support/root-hooks';
import { bearer, grpcCall, http, registerUser, uniq, type Stack, type TestUser } from '../support/stack';
import { checkAccessCalls } from '../support/metrics';
import { createRoom, enc, invite, join, leave } from './room-admin.helpers';

const USERS = '/_synapse/admin/v1/users';

describe('UserMembershipRestTestCase', () => {
  let s: Stack;
  let admin: TestUser;
  let other: TestUser;
  let url: string;

  before(async () => {
    s = await sharedStack();
    admin = await registerUser(s, uniq('umadmin'), { admin: true });
    other = await registerUser(s, uniq('umuser'));
    url = `${USERS}/${enc(other.userId)}/joined_rooms`;
  });

  const get = (path: string, token = admin.token) => http(s, 'GET', path, { token });

  it('test_no_auth', async () => {
    const r = await http(s, 'GET', url);
    assert.deepEqual([r.status, r.body.errcode], [401, 'M_MISSING_TOKEN']);
  });

  it('test_requester_is_no_admin', async () => {
    const r = await get(url, other.token);
    assert.deepEqual([r.status, r.body.errcode], [403, 'M_FORBIDDEN']);
  });

  it('test_user_does_not_exist', async () => {
    const r = await get(`${USERS}/@unknown_person:test/joined_rooms`);
    assert.deepEqual([r.status, r.body], [200, { joined_rooms: [], total: 0 }]);
  });

  it('test_user_is_not_local', async () => {
    const r = await get(`${USERS}/@unknown_person:unknown_domain/joined_rooms`);
    assert.deepEqual([r.status, r.body], [200, { joined_rooms: [], total: 0 }]);
  });

  it('test_no_memberships', async () => {
    const fresh = await registerUser(s, uniq('umfresh'));
    const r = await get(`${USERS}/${enc(fresh.userId)}/joined_rooms`);
    assert.deepEqual([r.status, r.body], [200, { joined_rooms: [], total: 0 }]);
  });

  it('test_get_rooms', async () => {
    const user = await registerUser(s, uniq('umrooms'));
    const rooms: string[] = [];
    for (let i = 0; i < 5; i++) rooms.push(await createRoom(s, user.token));
    const r = await get(`${USERS}/${enc(user.userId)}/joined_rooms`);
    assert.equal(r.status, 200);
    assert.equal(r.body.total, 5);
    assert.deepEqual([...r.body.joined_rooms].sort(), [...rooms].sort());
  });

  it('test_get_rooms_with_nonlocal_user', async () => {
    const user = await registerUser(s, uniq('umlocal'));
    await createRoom(s, user.token);
    const shared = await createRoom(s, user.token);
    // A remote user's join as current state, as if it had come over federation.
    const remote = `@${uniq('joiner')}:remote_hs`;
    await s.app.orm.em
      .fork()
      .execute(
        "INSERT INTO current_state_events (room_id, type, state_key, event_id, membership) VALUES (?, 'm.room.member', ?, ?, 'join')",
        [shared, remote, `$${uniq('remotejoin')}`],
      );
    const r = await get(`${USERS}/${enc(remote)}/joined_rooms`);
    assert.deepEqual([r.status, r.body], [200, { joined_rooms: [shared], total: 1 }]);
    const local = await get(`${USERS}/${enc(user.userId)}/joined_rooms`);
    assert.equal(local.body.total, 2);
  });

  it('lists every current membership (GET …/memberships)', async () => {
    const owner = await registerUser(s, uniq('umowner'));
    const user = await registerUser(s, uniq('ummember'));
    const [joined, left, invited, banned] = [
      await createRoom(s, owner.token),
      await createRoom(s, owner.token),
      await createRoom(s, owner.token),
      await createRoom(s, owner.token),
    ];
    await join(s, user.token, joined);
    await join(s, user.token, left);
    await leave(s, user.token, left);
    await invite(s, owner.token, invited, user.userId);
    await join(s, user.token, banned);
    const ban = await http(s, 'POST', `/_matrix/client/v3/rooms/${enc(banned)}/ban`, {
      token: owner.token,
      body: { user_id: user.userId },
    });
    assert.equal(ban.status, 200);
    const r = await get(`${USERS}/${enc(user.userId)}/memberships`);
    assert.deepEqual(
      [r.status, r.body],
      [200, { memberships: { [joined]: 'join', [left]: 'leave', [invited]: 'invite', [banned]: 'ban' } }],
    );
    const none = await get(`${USERS}/${enc('@nobody:elsewhere')}/memberships`);
    assert.deepEqual([none.status, none.body], [200, { memberships: {} }]);
    const md = bearer(admin.token);
    const viaGrpc = await grpcCall(s.clients.userAdmin, s.clients.userAdmin.listMemberships, { userId: user.userId }, md);
    assert.deepEqual(viaGrpc.memberships, r.body.memberships);
    const joinedRooms = await grpcCall(s.clients.userAdmin, s.clients.userAdmin.listJoinedRooms, { userId: user.userId }, md);
    assert.deepEqual(joinedRooms.joinedRooms, [joined]);
  });

  it('counts sent invites and distinct joined rooms since a time', async () => {
    const owner = await registerUser(s, uniq('umcount'));
    const guest = await registerUser(s, uniq('umguest'));
    const before = Date.now() - 1;
    const [a, b] = [await createRoom(s, owner.token), await createRoom(s, owner.token)];
    await invite(s, owner.token, a, guest.userId);
    await invite(s, owner.token, b, guest.userId);
    await join(s, guest.token, a);
    await leave(s, guest.token, a);
    await invite(s, owner.token, a, guest.userId);
    await join(s, guest.token, a);
    await join(s, guest.token, b);
    const invites = await get(`${USERS}/${enc(owner.userId)}/sent_invite_count?from_ts=${before}`);
    assert.deepEqual([invites.status, invites.body], [200, { invite_count: 3 }]);
    // Rooms count once, however often they were joined.
    const joins = await get(`${USERS}/${enc(guest.userId)}/cumulative_joined_room_count?from_ts=${before}`);
    assert.deepEqual([joins.status, joins.body], [200, { cumulative_joined_room_count: 2 }]);
    const later = await get(`${USERS}/${enc(owner.userId)}/sent_invite_count?from_ts=${Date.now() + 60_000}`);
    assert.deepEqual(later.body, { invite_count: 0 });
    const md = bearer(admin.token);
    assert.equal(
      (await grpcCall(s.clients.userAdmin, s.clients.userAdmin.countSentInvites, { userId: owner.userId, fromTs: before }, md)).inviteCount,
      3,
    );
    assert.equal(
      (await grpcCall(s.clients.userAdmin, s.clients.userAdmin.countJoinedRooms, { userId: guest.userId, fromTs: before }, md))
        .cumulativeJoinedRoomCount,
      2,
    );
  });

  it('refuses a missing, non-integer or negative from_ts', async () => {
    for (const path of ['sent_invite_count', 'cumulative_joined_room_count']) {
      const base = `${USERS}/${enc(other.userId)}/${path}`;
      const missing = await get(base);
      assert.deepEqual(
        [missing.status, missing.body],
        [400, { errcode: 'M_MISSING_PARAM', error: 'Missing required integer query parameter from_ts' }],
      );
      const text = await get(`${base}?from_ts=yesterday`);
      assert.deepEqual(
        [text.status, text.body],
        [400, { errcode: 'M_INVALID_PARAM', error: 'Query parameter from_ts must be an integer' }],
      );
      const negative = await get(`${base}?from_ts=-1`);
      assert.deepEqual(
        [negative.status, negative.body],
        [400, { errcode: 'M_INVALID_PARAM', error: 'Query parameter from_ts must be a positive integer.' }],
      );
    }
    await assert.rejects(
      grpcCall(s.clients.userAdmin, s.clients.userAdmin.countSentInvites, { userId: other.userId, fromTs: -5 }, bearer(admin.token)),
      (e: { code: number }) => e.code === 3,
    );
  });

  it('checks from_ts and username after authentication, with no extra RPC', async () => {
    const checkAccess = () => checkAccessCalls(s.baseUrl);
    const before = await checkAccess();
    for (const path of [
      `${USERS}/${enc(other.userId)}/sent_invite_count?from_ts=x`,
      `${USERS}/${enc(other.userId)}/cumulative_joined_room_count`,
      '/_synapse/admin/v1/username_available?username=%C3%A9',
    ]) {
      assert.equal((await get(path, other.token)).status, 403, path);
      assert.equal((await http(s, 'GET', path)).status, 401, path);
    }
    assert.equal(await checkAccess(), before);
  });
});

describe('WhoisRestTestCase', () => {
  let s: Stack;
  let admin: TestUser;
  let other: TestUser;

  before(async () => {
    s = await sharedStack();
    admin = await registerUser(s, uniq('whoadmin'), { admin: true });
    other = await registerUser(s, uniq('whouser'));
  });

  for (const prefix of ['/_synapse/admin/v1/whois/', '/_matrix/client/r0/admin/whois/', '/_matrix/client/v3/admin/whois/']) {
    describe(prefix, () => {
      const url = (userId: string) => `${prefix}${enc(userId)}`;

      it('test_no_auth', async () => {
        const r = await http(s, 'GET', url(other.userId));
        assert.deepEqual([r.status, r.body.errcode], [401, 'M_MISSING_TOKEN']);
      });

      it('test_requester_is_not_admin', async () => {
        const user2 = await registerUser(s, uniq('whouser2'));
        const r = await http(s, 'GET', url(other.userId), { token: user2.token });
        assert.deepEqual([r.status, r.body], [403, { errcode: 'M_FORBIDDEN', error: 'You are not a server admin' }]);
      });

      it('test_user_is_not_local', async () => {
        const r = await http(s, 'GET', url('@unknown_person:unknown_domain'), { token: admin.token });
        assert.deepEqual([r.status, r.body], [400, { errcode: 'M_UNKNOWN', error: 'Can only whois a local user' }]);
      });

      it('test_get_whois_admin', async () => {
        const r = await http(s, 'GET', url(other.userId), { token: admin.token });
        assert.equal(r.status, 200);
        assert.equal(r.body.user_id, other.userId);
        // Synapse's shape: one device "" with one session holding every connection (the user's
        // own requests on other prefixes may have added some; see users-client-ips.test.ts).
        assert.deepEqual(Object.keys(r.body.devices), ['']);
        const connections = r.body.devices[''].sessions[0].connections;
        for (const c of connections) assert.deepEqual(Object.keys(c).sort(), ['ip', 'last_seen', 'user_agent']);
      });

      it('test_get_whois_user', async () => {
        const r = await http(s, 'GET', url(other.userId), { token: other.token });
        assert.equal(r.status, 200);
        assert.equal(r.body.user_id, other.userId);
        assert.ok('devices' in r.body);
      });

      it('refuses a malformed user id', async () => {
        const r = await http(s, 'GET', url('garbage'), { token: admin.token });
        assert.deepEqual([r.status, r.body], [400, { errcode: 'M_INVALID_PARAM', error: "Expected UserID string to start with '@'" }]);
      });
    });
  }
});

describe('UsernameAvailableTestCase', () => {
  let s: Stack;
  let admin: TestUser;
  const URL = '/_synapse/admin/v1/username_available';

  before(async () => {
    s = await sharedStack();
    admin = await registerUser(s, uniq('unadmin'), { admin: true });
  });

  const check = (query: string) => http(s, 'GET', `${URL}${query}`, { token: admin.token });

  it('test_username_available', async () => {
    const r = await check(`?username=${uniq('allowed')}`);
    assert.deepEqual([r.status, r.body], [200, { available: true }]);
  });

  it('test_username_unavailable', async () => {
    const taken = uniq('disallowed');
    await registerUser(s, taken);
    for (const name of [taken, taken.toUpperCase()]) {
      const r = await check(`?username=${name}`);
      // Upper case is refused for its characters before the case-insensitive "taken" check.
      const expected =
        name === taken
          ? { errcode: 'M_USER_IN_USE', error: 'User ID already taken.' }
          : { errcode: 'M_INVALID_USERNAME', error: "User ID can only contain characters a-z, 0-9, or '=_-./+'" };
      assert.deepEqual([r.status, r.body], [400, expected]);
    }
    // Taken whatever the case of the stored id (an upper-case id, as older servers allowed).
    const mixed = uniq('mixedcase');
    await s.app.orm.em.fork().execute('INSERT INTO users (name, creation_ts) VALUES (?, 0)', [`@${mixed.toUpperCase()}:test`]);
    assert.deepEqual((await check(`?username=${mixed}`)).body, { errcode: 'M_USER_IN_USE', error: 'User ID already taken.' });
  });

  it('refuses names Synapse cannot register, in its order', async () => {
    const cases: [string, number, Record<string, string>][] = [
      ['', 400, { errcode: 'M_MISSING_PARAM', error: "Missing string query parameter 'username'" }],
      ['?username=', 400, { errcode: 'M_INVALID_USERNAME', error: 'User ID cannot be empty' }],
      ['?username=Abc', 400, { errcode: 'M_INVALID_USERNAME', error: "User ID can only contain characters a-z, 0-9, or '=_-./+'" }],
      ['?username=_abc', 400, { errcode: 'M_INVALID_USERNAME', error: 'User ID may not begin with _' }],
      ['?username=12345', 400, { errcode: 'M_INVALID_USERNAME', error: 'Numeric user IDs are reserved for guest users.' }],
      [`?username=${'a'.repeat(250)}`, 400, { errcode: 'M_INVALID_USERNAME', error: 'User ID may not be longer than 255 characters' }],
      ['?username=%C3%A9', 400, { errcode: 'M_UNKNOWN', error: "Query parameter 'username' must be ascii" }],
    ];
    for (const [q, status, body] of cases) {
      const r = await check(q);
      assert.deepEqual([r.status, r.body], [status, body], q);
    }
    const viaGrpc = await grpcCall(
      s.clients.userAdmin,
      s.clients.userAdmin.checkUsernameAvailable,
      { username: uniq('free') },
      bearer(admin.token),
    );
    assert.equal(viaGrpc.available, true);
    await assert.rejects(
      grpcCall(s.clients.userAdmin, s.clients.userAdmin.checkUsernameAvailable, { username: '_x' }, bearer(admin.token)),
      (e: { code: number; details: string }) => e.code === 3 && e.details === 'User ID may not begin with _',
    );
  });
});
