/**
 * Ports of Synapse's UsersListTestCase (tests/rest/admin/test_user.py): GET /_synapse/admin/v2/users
 * and /v3/users through the gateway, plus the filters Synapse lacks (suspended, user_type), the
 * v2/v3 difference, `total` from the trigger-kept counts, and the same listing over gRPC. These
 * tests count every user of the server, so they run on their own stack and start each test with
 * the admin alone.
 */
import { strict as assert } from 'node:assert';
import { Direction } from '../../gen/synapse/admin/v1/common';
import { UserOrderBy } from '../../gen/synapse/admin/v1/user_admin_reads';
import { bearer, grpcCall, http, registerUser, startStack, type Stack, type TestUser } from '../support/stack';
import { enc, errorOrderQueries } from '../support/client';
import { checkAccessCalls } from '../support/metrics';

const URL = '/_synapse/admin/v2/users';
const USER_FIELDS = [
  'name',
  'is_guest',
  'admin',
  'user_type',
  'deactivated',
  'shadow_banned',
  'displayname',
  'avatar_url',
  'creation_ts',
  'last_seen_ts',
  'erased',
  'locked',
  'approved',
];

describe('UsersListTestCase', () => {
  let s: Stack;
  let admin: TestUser;

  before(async () => {
    s = await startStack();
    admin = await registerUser(s, 'admin', { admin: true });
  });
  after(async () => s?.stop());

  beforeEach(async () => {
    await s.app.orm.em.fork().execute('DELETE FROM users WHERE name <> ?', [admin.userId]);
  });

  const exec = (text: string, params: unknown[] = []) => s.app.orm.em.fork().execute(text, params);
  const list = (query = '', path = URL) => http(s, 'GET', `${path}${query}`, { token: admin.token });
  const names = (body: { users: { name: string }[] }) => body.users.map((u) => u.name);

  /** Synapse's _create_users: user1…userN with display names "Name i". */
  async function createUsers(n: number): Promise<TestUser[]> {
    const users: TestUser[] = [];
    for (let i = 1; i <= n; i++) {
      const u = await registerUser(s, `user${i}`, { password: `pass${i}` });
      await exec('UPDATE users SET displayname = ? WHERE name = ?', [`Name ${i}`, u.userId]);
      users.push(u);
    }
    return users;
  }

  function checkFields(users: Record<string, unknown>[]): void {
    for (const u of users) for (const key of USER_FIELDS) assert.ok(key in u, `${key} missing from ${JSON.stringify(u)}`);
  }

  async function orderTest(expected: string[], orderBy: string | null, dir?: 'f' | 'b'): Promise<void> {
    let q = '?deactivated=true&';
    if (orderBy !== null) q += `order_by=${orderBy}&`;
    if (dir) q += `dir=${dir}`;
    const r = await list(q);
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.equal(r.body.total, expected.length);
    assert.deepEqual(names(r.body), expected, `order_by=${orderBy} dir=${dir}`);
    checkFields(r.body.users);
  }

  it('test_all_users', async () => {
    await createUsers(2);
    const r = await list('?deactivated=true');
    assert.equal(r.status, 200);
    assert.equal(r.body.users.length, 3);
    assert.equal(r.body.total, 3);
    checkFields(r.body.users);
    const user1 = r.body.users.find((u: { name: string }) => u.name === '@user1:test');
    // A user whose token was never used has no last-seen time.
    assert.deepEqual(
      { ...user1, creation_ts: typeof user1.creation_ts },
      {
        name: '@user1:test',
        user_type: null,
        is_guest: false,
        admin: false,
        deactivated: false,
        shadow_banned: false,
        displayname: 'Name 1',
        avatar_url: null,
        creation_ts: 'number',
        approved: true,
        erased: false,
        last_seen_ts: null,
        locked: false,
      },
    );
    // creation_ts is in milliseconds here (seconds in GET user), as in Synapse.
    const secs = (await http(s, 'GET', `${URL}/${enc('@user1:test')}`, { token: admin.token })).body.creation_ts;
    assert.equal(user1.creation_ts, secs * 1000);
  });

  it('test_last_seen', async () => {
    const [u1, u2, u3] = [await registerUser(s, 'u1'), await registerUser(s, 'u2'), await registerUser(s, 'u3')];
    // Users are seen when their tokens are used (the admin's already were); never seen: null,
    // last ascending and first descending.
    const r = await list();
    assert.equal(r.status, 200);
    assert.ok(r.body.users.find((u: { name: string }) => u.name === admin.userId).last_seen_ts > 0);
    for (const u of r.body.users.filter((x: { name: string }) => x.name !== admin.userId)) assert.equal(u.last_seen_ts, null, u.name);
    await orderTest([admin.userId, u1.userId, u2.userId, u3.userId], 'last_seen_ts');
    for (const u of [u2, u1, u3]) {
      await new Promise((ok) => setTimeout(ok, 5));
      assert.equal((await http(s, 'GET', '/_matrix/client/v3/account/whoami', { token: u.token })).status, 200);
    }
    await orderTest([admin.userId, u2.userId, u1.userId, u3.userId], 'last_seen_ts');
    await orderTest([u3.userId, u1.userId, u2.userId, admin.userId], 'last_seen_ts', 'b');
    // The list and GET user agree.
    const listed = (await list('?user_id=u1')).body.users[0].last_seen_ts;
    assert.equal((await http(s, 'GET', `${URL}/${enc(u1.userId)}`, { token: admin.token })).body.last_seen_ts, listed);
  });

  it('test_search_term', async () => {
    await createUsers(2);
    const searchTest = async (expected: string | null, term: string, field = 'name') => {
      const r = await list(`?${field}=${encodeURIComponent(term)}`);
      assert.equal(r.status, 200);
      checkFields(r.body.users);
      assert.deepEqual(names(r.body), expected ? [expected] : [], `${field}=${term}`);
      assert.equal(r.body.total, expected ? 1 : 0);
    };
    await searchTest('@user1:test', 'er1');
    await searchTest('@user1:test', 'me 1');
    await searchTest('@user2:test', 'er2');
    await searchTest('@user2:test', 'me 2');
    await searchTest('@user1:test', 'er1', 'user_id');
    await searchTest('@user2:test', 'er2', 'user_id');
    await searchTest('@user1:test', 'ER1');
    await searchTest('@user1:test', 'NAME 1');
    await searchTest('@user2:test', 'ER2');
    await searchTest('@user2:test', 'NAME 2');
    await searchTest('@user1:test', 'ER1', 'user_id');
    await searchTest('@user2:test', 'ER2', 'user_id');
    await searchTest(null, 'foo');
    await searchTest(null, 'bar');
    await searchTest(null, 'foo', 'user_id');
    await searchTest(null, 'bar', 'user_id');
    // `name` matches the localpart only, `user_id` the whole id; `name` wins when both are given.
    await searchTest(null, 'test');
    assert.equal((await list('?user_id=test')).body.total, 3);
    // A search sorted by another key, and paged.
    const sorted = await list('?name=name&order_by=displayname&dir=b&limit=1');
    assert.deepEqual([names(sorted.body), sorted.body.total, sorted.body.next_token], [['@user2:test'], 2, '1']);
    assert.deepEqual(names((await list('?user_id=user&order_by=creation_ts&from=1')).body).length, 1);
    const both = await list('?name=er1&user_id=user2');
    assert.deepEqual(names(both.body), ['@user1:test']);
    // A display name may be searched with non-ASCII text; user_id is ASCII only.
    await exec('UPDATE users SET displayname = ? WHERE name = ?', ['Zoë', '@user2:test']);
    await searchTest('@user2:test', 'zoË');
    const nonAscii = await list('?user_id=%C3%A9');
    assert.deepEqual([nonAscii.status, nonAscii.body], [400, { errcode: 'M_UNKNOWN', error: "Query parameter 'user_id' must be ascii" }]);
  });

  it('test_invalid_parameter', async () => {
    const cases: [string, string][] = [
      ['limit=-5', 'Query parameter limit must be a positive integer.'],
      ['from=-5', 'Query parameter from must be a positive integer.'],
      ['limit=five', 'Query parameter limit must be an integer'],
      ['guests=not_bool', "Boolean query parameter 'guests' must be one of ['true', 'false']"],
      ['deactivated=not_bool', "Boolean query parameter 'deactivated' must be one of ['true', 'false']"],
      ['admins=1', "Boolean query parameter 'admins' must be one of ['true', 'false']"],
      ['locked=True', "Boolean query parameter 'locked' must be one of ['true', 'false']"],
      ['suspended=yes', "Boolean query parameter 'suspended' must be one of ['true', 'false']"],
      [
        'order_by=bar',
        "Query parameter 'order_by' must be one of ['name', 'displayname', 'is_guest', 'admin', 'deactivated', 'user_type', 'avatar_url', 'shadow_banned', 'creation_ts', 'last_seen_ts', 'locked']",
      ],
      ['dir=bar', "Query parameter 'dir' must be one of ['b', 'f']"],
    ];
    for (const path of [URL, '/_synapse/admin/v3/users']) {
      for (const [q, error] of cases) {
        const r = await list(`?${q}`, path);
        assert.deepEqual([r.status, r.body], [400, { errcode: 'M_INVALID_PARAM', error }], `${path}?${q}`);
      }
    }
  });

  it("checks the query after authentication, in Synapse's order, with no extra RPC; gRPC callers may pass it as given", async () => {
    const plain = await registerUser(s, 'plainlister');
    const checkAccess = () => checkAccessCalls(s.baseUrl);
    const before = await checkAccess();
    const bad = '?from=x&dir=x&user_id=%C3%A9';
    for (const path of [URL, '/_synapse/admin/v3/users']) {
      const r = await http(s, 'GET', `${path}${bad}`, { token: plain.token });
      assert.deepEqual([r.status, r.body.errcode], [403, 'M_FORBIDDEN'], path);
      const anonymous = await http(s, 'GET', `${path}${bad}`);
      assert.deepEqual([anonymous.status, anonymous.body.errcode], [401, 'M_MISSING_TOKEN'], path);
    }
    assert.equal(await checkAccess(), before, 'the gateway raised nothing of its own before the RPC');
    // Every parameter bad at once, then one fewer each time: the first in Synapse's order wins.
    const order: [string, string, string][] = [
      ['from=x', 'M_INVALID_PARAM', 'Query parameter from must be an integer'],
      ['limit=-1', 'M_INVALID_PARAM', 'Query parameter limit must be a positive integer.'],
      ['user_id=%C3%A9', 'M_UNKNOWN', "Query parameter 'user_id' must be ascii"],
      ['guests=1', 'M_INVALID_PARAM', "Boolean query parameter 'guests' must be one of ['true', 'false']"],
      ['deactivated=1', 'M_INVALID_PARAM', "Boolean query parameter 'deactivated' must be one of ['true', 'false']"],
      ['locked=1', 'M_INVALID_PARAM', "Boolean query parameter 'locked' must be one of ['true', 'false']"],
      ['admins=1', 'M_INVALID_PARAM', "Boolean query parameter 'admins' must be one of ['true', 'false']"],
      [
        'order_by=bar',
        'M_INVALID_PARAM',
        "Query parameter 'order_by' must be one of ['name', 'displayname', 'is_guest', 'admin', 'deactivated', 'user_type', 'avatar_url', 'shadow_banned', 'creation_ts', 'last_seen_ts', 'locked']",
      ],
      ['dir=x', 'M_INVALID_PARAM', "Query parameter 'dir' must be one of ['b', 'f']"],
      ['not_user_type=%C3%A9', 'M_UNKNOWN', "Query parameter 'not_user_type' must be ascii"],
      ['suspended=1', 'M_INVALID_PARAM', "Boolean query parameter 'suspended' must be one of ['true', 'false']"],
      ['user_type=%C3%A9', 'M_UNKNOWN', "Query parameter 'user_type' must be ascii"],
    ];
    for (const [i, query] of errorOrderQueries(order.map(([q]) => q)).entries()) {
      const r = await list(`?${query}`);
      assert.deepEqual([r.status, r.body], [400, { errcode: order[i][1], error: order[i][2] }], query);
    }
    const ua = s.clients.userAdmin;
    const md = bearer(admin.token);
    const v2 = await grpcCall(
      ua,
      ua.listUsers,
      {
        restVersion: 'v2',
        deactivatedParam: 'false',
        limitParam: '1',
        userTypes: [],
        notUserTypes: [],
        orderBy: 0,
        dir: 0,
        asJsonBody: false,
      },
      md,
    );
    assert.equal(v2.users.length, 1);
    await assert.rejects(
      grpcCall(
        ua,
        ua.listUsers,
        { restVersion: 'v3', limitParam: 'ten', userTypes: [], notUserTypes: [], orderBy: 0, dir: 0, asJsonBody: false },
        md,
      ),
      (err: { details?: string }) => /Query parameter limit must be an integer/.test(err.details ?? ''),
    );
    await assert.rejects(
      grpcCall(ua, ua.listUsers, { restVersion: 'v9', userTypes: [], notUserTypes: [], orderBy: 0, dir: 0, asJsonBody: false }, md),
      (err: { details?: string }) => /rest_version/.test(err.details ?? ''),
    );
  });

  it('test_limit', async () => {
    await createUsers(19);
    const r = await list('?limit=5');
    assert.equal(r.status, 200);
    assert.equal(r.body.total, 20);
    assert.equal(r.body.users.length, 5);
    assert.equal(r.body.next_token, '5');
    checkFields(r.body.users);
  });

  it('test_from', async () => {
    await createUsers(19);
    const r = await list('?from=5');
    assert.equal(r.status, 200);
    assert.equal(r.body.total, 20);
    assert.equal(r.body.users.length, 15);
    assert.ok(!('next_token' in r.body));
    checkFields(r.body.users);
  });

  it('test_limit_and_from', async () => {
    await createUsers(19);
    const r = await list('?from=5&limit=10');
    assert.equal(r.status, 200);
    assert.equal(r.body.total, 20);
    assert.equal(r.body.next_token, '15');
    assert.equal(r.body.users.length, 10);
    checkFields(r.body.users);
  });

  it('test_next_token', async () => {
    await createUsers(19);
    for (const limit of [20, 21]) {
      const r = await list(`?limit=${limit}`);
      assert.deepEqual([r.body.total, r.body.users.length, 'next_token' in r.body], [20, 20, false]);
    }
    const r19 = await list('?limit=19');
    assert.deepEqual([r19.body.total, r19.body.users.length, r19.body.next_token], [20, 19, '19']);
    const last = await list('?from=19');
    assert.deepEqual([last.body.total, last.body.users.length, 'next_token' in last.body], [20, 1, false]);
    // limit=0: an empty page with the total, and no token that would never advance.
    const none = await list('?limit=0');
    assert.deepEqual(none.body, { users: [], total: 20 });
  });

  it('test_order_by', async () => {
    const [user1, user2] = [await registerUser(s, 'user1'), await registerUser(s, 'user2')];
    // Distinct creation times, and the profile of Synapse's test.
    await exec('UPDATE users SET creation_ts = creation_ts - 20 WHERE name = ?', [admin.userId]);
    await exec(
      'UPDATE users SET creation_ts = creation_ts - 10, displayname = ?, deactivated = true, shadow_banned = true, avatar_url = ? WHERE name = ?',
      ['Name Z', 'mxc://url3', user1.userId],
    );
    await exec('UPDATE users SET displayname = ?, avatar_url = ? WHERE name = ?', ['Name Y', 'mxc://url2', user2.userId]);
    await exec('UPDATE users SET avatar_url = ? WHERE name = ?', ['mxc://url1', admin.userId]);
    const [a, u1, u2] = [admin.userId, user1.userId, user2.userId];

    await orderTest([a, u1, u2], null);
    await orderTest([a, u1, u2], null, 'f');
    await orderTest([u2, u1, a], null, 'b');
    await orderTest([a, u1, u2], 'name');
    await orderTest([a, u1, u2], 'name', 'f');
    await orderTest([u2, u1, a], 'name', 'b');
    await orderTest([u2, u1, a], 'displayname');
    await orderTest([u2, u1, a], 'displayname', 'f');
    await orderTest([a, u1, u2], 'displayname', 'b');
    await orderTest([a, u1, u2], 'is_guest');
    await orderTest([a, u1, u2], 'is_guest', 'f');
    await orderTest([a, u1, u2], 'is_guest', 'b');
    await orderTest([u1, u2, a], 'admin');
    await orderTest([u1, u2, a], 'admin', 'f');
    await orderTest([a, u1, u2], 'admin', 'b');
    await orderTest([a, u2, u1], 'deactivated');
    await orderTest([a, u2, u1], 'deactivated', 'f');
    await orderTest([u1, a, u2], 'deactivated', 'b');
    await orderTest([a, u1, u2], 'user_type');
    await orderTest([a, u1, u2], 'user_type', 'f');
    await orderTest([a, u1, u2], 'user_type', 'b');
    await orderTest([a, u2, u1], 'shadow_banned');
    await orderTest([a, u2, u1], 'shadow_banned', 'f');
    await orderTest([u1, a, u2], 'shadow_banned', 'b');
    await orderTest([a, u2, u1], 'avatar_url');
    await orderTest([a, u2, u1], 'avatar_url', 'f');
    await orderTest([u1, u2, a], 'avatar_url', 'b');
    await orderTest([a, u1, u2], 'creation_ts');
    await orderTest([a, u1, u2], 'creation_ts', 'f');
    await orderTest([u2, u1, a], 'creation_ts', 'b');
    // locked (not in Synapse's test): the tie on false is broken by name ascending both ways.
    await exec('UPDATE users SET locked = true WHERE name = ?', [u2]);
    await orderTest([a, u1], 'locked');
    const locked = await list('?deactivated=true&locked=true&order_by=locked&dir=b');
    assert.deepEqual(names(locked.body), [u2, a, u1]);
    // NULLs last ascending and first descending (PostgreSQL), as Synapse on PostgreSQL.
    await exec('UPDATE users SET avatar_url = NULL WHERE name = ?', [u2]);
    assert.deepEqual(names((await list('?deactivated=true&locked=true&order_by=avatar_url')).body), [a, u1, u2]);
    assert.deepEqual(names((await list('?deactivated=true&locked=true&order_by=avatar_url&dir=b')).body), [u2, u1, a]);
  });

  it('test_filter_admins', async () => {
    await registerUser(s, 'user');
    assert.equal((await list()).body.total, 2);
    const admins = await list('?admins=true');
    assert.deepEqual([admins.body.total, admins.body.users[0].admin], [1, true]);
    const others = await list('?admins=false');
    assert.deepEqual([others.body.total, others.body.users[0].admin], [1, false]);
  });

  it('test_filter_not_user_types', async () => {
    const regular = (await registerUser(s, 'normalo')).userId;
    const bot = (await registerUser(s, 'robo')).userId;
    const support = (await registerUser(s, 'foo')).userId;
    await exec("UPDATE users SET user_type = 'bot' WHERE name = ?", [bot]);
    await exec("UPDATE users SET user_type = 'support' WHERE name = ?", [support]);
    const userTypeTest = async (expected: string[], notUserTypes?: string[], param = 'not_user_type') => {
      const q = (notUserTypes ?? []).map((t) => `${param}=${t}`).join('&');
      const r = await list(`?${q}`);
      assert.equal(r.status, 200);
      assert.equal(r.body.total, expected.length, `${param}=${notUserTypes}`);
      assert.deepEqual(names(r.body), expected, `${param}=${notUserTypes}`);
    };
    await userTypeTest([admin.userId, support, regular, bot]);
    await userTypeTest([admin.userId, support, regular], ['bot']);
    await userTypeTest([admin.userId, regular], ['bot', 'support']);
    await userTypeTest([support, bot], ['']);
    await userTypeTest([support], ['', 'bot']);
    await userTypeTest([admin.userId, support, regular, bot], ['custom']);
    // The inclusive twin (not in Synapse): only the listed types, '' for users without one.
    await userTypeTest([bot], ['bot'], 'user_type');
    await userTypeTest([admin.userId, regular, bot], ['', 'bot'], 'user_type');
  });

  it('test_erasure_status', async () => {
    const user = await registerUser(s, 'eraseme');
    const erased = async () => (await list('?deactivated=true')).body.users.find((u: { name: string }) => u.name === user.userId).erased;
    assert.equal(await erased(), false);
    const r = await http(s, 'POST', `/_synapse/admin/v1/deactivate/${enc(user.userId)}`, { token: admin.token, body: { erase: true } });
    assert.equal(r.status, 200);
    assert.equal(await erased(), true);
  });

  it('test_filter_locked', async () => {
    const user = await registerUser(s, 'lockme');
    await exec('UPDATE users SET locked = true WHERE name = ?', [user.userId]);
    const withLocked = await list('?locked=true');
    assert.equal(withLocked.body.users.find((u: { name: string }) => u.name === user.userId)?.locked, true);
    assert.equal(withLocked.body.total, 2);
    for (const q of ['?locked=false', '']) {
      const r = await list(q);
      assert.ok(!names(r.body).includes(user.userId));
      assert.equal(r.body.total, 1);
    }
  });

  it('filters suspended users (not a Synapse filter)', async () => {
    const user = await registerUser(s, 'suspendme');
    await exec('UPDATE users SET suspended = true WHERE name = ?', [user.userId]);
    assert.deepEqual(names((await list('?suspended=true')).body), [user.userId]);
    assert.deepEqual(names((await list('?suspended=false')).body), [admin.userId]);
    assert.equal((await list()).body.total, 2);
    // The list entry has no `suspended` key, as Synapse's has none.
    assert.ok(!('suspended' in (await list()).body.users[0]));
  });

  it('v2 leaves deactivated users out unless deactivated=true; v3 includes them unless deactivated=false', async () => {
    const [active, gone] = [await registerUser(s, 'active'), await registerUser(s, 'gone')];
    await exec('UPDATE users SET deactivated = true WHERE name = ?', [gone.userId]);
    const v3 = '/_synapse/admin/v3/users';
    const cases: [string, string, string[]][] = [
      [URL, '', [active.userId, admin.userId]],
      [URL, '?deactivated=false', [active.userId, admin.userId]],
      [URL, '?deactivated=true', [active.userId, admin.userId, gone.userId]],
      [v3, '', [active.userId, admin.userId, gone.userId]],
      [v3, '?deactivated=false', [active.userId, admin.userId]],
      [v3, '?deactivated=true', [gone.userId]],
    ];
    for (const [path, q, expected] of cases) {
      const r = await list(q, path);
      assert.deepEqual([r.status, names(r.body), r.body.total], [200, expected, expected.length], `${path}${q}`);
    }
  });

  it('excludes guests with guests=false', async () => {
    const guest = await registerUser(s, 'guesty');
    await exec('UPDATE users SET is_guest = true WHERE name = ?', [guest.userId]);
    assert.deepEqual(names((await list()).body), [admin.userId, guest.userId]);
    const r = await list('?guests=false');
    assert.deepEqual([names(r.body), r.body.total], [[admin.userId], 1]);
  });

  it('counts totals from the kept buckets, consistent with a count over the filter', async () => {
    const users = await createUsers(6);
    await exec('UPDATE users SET admin = true WHERE name = ?', [users[0].userId]);
    await exec("UPDATE users SET user_type = 'bot', locked = true WHERE name = ?", [users[1].userId]);
    await exec('UPDATE users SET deactivated = true WHERE name = ?', [users[2].userId]);
    await exec('DELETE FROM users WHERE name = ?', [users[3].userId]);
    const queries = [
      '',
      '?admins=true',
      '?admins=false&deactivated=true',
      '?locked=true',
      '?not_user_type=bot&locked=true',
      '?user_type=bot&locked=true',
      '?guests=false&deactivated=true&locked=true',
    ];
    for (const q of queries) {
      const r = await list(q);
      const all = await list(`${q}${q ? '&' : '?'}user_id=@`);
      assert.equal(r.body.total, all.body.total, q);
      assert.equal(r.body.total, r.body.users.length, q);
    }
    const rows = await exec('SELECT count(*) AS n FROM users');
    const sum = await exec('SELECT sum(users) AS n FROM user_counts');
    assert.equal(Number(sum[0].n), Number(rows[0].n));
  });

  it('answers ListUsers over gRPC with the same rows and paging', async () => {
    await createUsers(3);
    const client = s.clients.userAdmin;
    const res = await grpcCall(
      client,
      client.listUsers,
      {
        orderBy: UserOrderBy.USER_ORDER_BY_DISPLAYNAME,
        dir: Direction.DIRECTION_BACKWARDS,
        limit: 2,
        userTypes: [],
        notUserTypes: [],
        asJsonBody: false,
      },
      bearer(admin.token),
    );
    // Byte order: the admin's display name "admin" sorts after "Name 3".
    assert.deepEqual(
      res.users.map((u) => u.name),
      ['@admin:test', '@user3:test'],
    );
    assert.equal(res.total, 4);
    assert.equal(res.nextToken, 2);
    assert.equal(res.users[1].displayname, 'Name 3');
    assert.equal(res.users[1].suspended, false);
    const rest = (await list('?order_by=displayname&dir=b&limit=2')).body.users;
    assert.deepEqual(
      res.users.map((u) => [u.name, u.creationTs, u.lastSeenTs ?? null]),
      rest.map((u: { name: string; creation_ts: number; last_seen_ts: number | null }) => [u.name, u.creation_ts, u.last_seen_ts]),
    );
    await assert.rejects(
      grpcCall(
        client,
        client.listUsers,
        { limit: -1, userTypes: [], notUserTypes: [], orderBy: 0, dir: 0, asJsonBody: false },
        bearer(admin.token),
      ),
      (e: { code: number; metadata: { get(k: string): unknown[] } }) =>
        e.code === 3 && e.metadata.get('matrix-errcode')[0] === 'M_INVALID_PARAM',
    );
  });
});
