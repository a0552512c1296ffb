/**
 * External ids: ports of Synapse's UserRestTestCase.test_set_external_id /
 * test_set_duplicate_external_id and UsersByExternalIdTestCase (tests/rest/admin/test_user.py),
 * creation with external ids, bad input, and the same over gRPC.
 */
import { strict as assert } from 'node:assert';
import { sharedStack } from '../support/root-hooks';
import { bearer, grpcCall, http, registerUser, uniq, type Stack, type TestUser } from '../support/stack';
import { enc } from './room-admin.helpers';

const userUrl = (userId: string) => `/_synapse/admin/v2/users/${enc(userId)}`;
const byExternal = (provider: string, id: string) =>
  `/_synapse/admin/v1/auth_providers/${encodeURIComponent(provider)}/users/${encodeURIComponent(id)}`;

describe('UserRestTestCase: external ids', () => {
  let s: Stack;
  let admin: TestUser;
  let other: TestUser;
  const put = (userId: string, body: unknown) => http(s, 'PUT', userUrl(userId), { token: admin.token, body });

  before(async () => {
    s = await sharedStack();
    admin = await registerUser(s, uniq('extadmin'), { admin: true });
  });
  beforeEach(async () => {
    other = await registerUser(s, uniq('extuser'));
  });

  it('test_set_external_id', async () => {
    const p = uniq('p');
    let r = await put(other.userId, {
      external_ids: [
        { external_id: 'external_id1', auth_provider: `${p}1` },
        { external_id: 'external_id2', auth_provider: `${p}2` },
      ],
    });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.deepEqual(r.body.external_ids, [
      { auth_provider: `${p}1`, external_id: 'external_id1' },
      { auth_provider: `${p}2`, external_id: 'external_id2' },
    ]);
    // Set a new and remove an external_id.
    r = await put(other.userId, {
      external_ids: [
        { external_id: 'external_id2', auth_provider: `${p}2` },
        { external_id: 'external_id3', auth_provider: `${p}3` },
      ],
    });
    assert.equal(r.status, 200);
    const expected = [
      { auth_provider: `${p}2`, external_id: 'external_id2' },
      { auth_provider: `${p}3`, external_id: 'external_id3' },
    ];
    assert.deepEqual(r.body.external_ids, expected);
    assert.deepEqual((await http(s, 'GET', userUrl(other.userId), { token: admin.token })).body.external_ids, expected);
    // Absent and null leave them.
    assert.deepEqual((await put(other.userId, { displayname: 'x' })).body.external_ids, expected);
    assert.deepEqual((await put(other.userId, { external_ids: null })).body.external_ids, expected);
    // Remove external_ids.
    r = await put(other.userId, { external_ids: [] });
    assert.deepEqual([r.status, r.body.external_ids], [200, []]);
    assert.equal((await http(s, 'GET', byExternal(`${p}2`, 'external_id2'), { token: admin.token })).status, 404);
  });

  it('test_set_duplicate_external_id', async () => {
    const p = uniq('dup');
    const first = await registerUser(s, uniq('extfirst'));
    assert.equal((await put(first.userId, { external_ids: [{ external_id: 'external_id1', auth_provider: p }] })).status, 200);
    const r2 = await put(other.userId, { external_ids: [{ external_id: 'external_id2', auth_provider: p }] });
    assert.deepEqual(r2.body.external_ids, [{ auth_provider: p, external_id: 'external_id2' }]);
    // One is used by the first user: must fail, and the other user's must not change.
    const r = await put(other.userId, {
      external_ids: [
        { external_id: 'external_id1', auth_provider: p },
        { external_id: 'external_id3', auth_provider: p },
      ],
    });
    assert.deepEqual([r.status, r.body], [409, { errcode: 'M_UNKNOWN', error: 'External id is already in use.' }]);
    assert.deepEqual((await http(s, 'GET', userUrl(other.userId), { token: admin.token })).body.external_ids, [
      { auth_provider: p, external_id: 'external_id2' },
    ]);
    assert.deepEqual((await http(s, 'GET', userUrl(first.userId), { token: admin.token })).body.external_ids, [
      { auth_provider: p, external_id: 'external_id1' },
    ]);
    // The same pair twice in one list is a conflict too (Synapse's unique violation).
    const twice = await put(other.userId, {
      external_ids: [
        { external_id: 'x9', auth_provider: p },
        { external_id: 'x9', auth_provider: p },
      ],
    });
    assert.equal(twice.status, 409);
  });

  it('creates a user with external ids; an id in use gives 409 after the user is created (as in Synapse)', async () => {
    const p = uniq('create');
    const id = `@${uniq('extnew')}:test`;
    const r = await put(id, { password: 'abc123', external_ids: [{ auth_provider: p, external_id: 'e1' }] });
    assert.equal(r.status, 201, JSON.stringify(r.body));
    assert.deepEqual(r.body.external_ids, [{ auth_provider: p, external_id: 'e1' }]);
    const id2 = `@${uniq('extnew2')}:test`;
    const r2 = await put(id2, { external_ids: [{ auth_provider: p, external_id: 'e1' }] });
    assert.deepEqual([r2.status, r2.body.error], [409, 'External id is already in use.']);
    assert.equal((await http(s, 'GET', userUrl(id2), { token: admin.token })).status, 200);
  });

  it('refuses malformed external ids before changing anything', async () => {
    const cases: [unknown, number, string, string][] = [
      [{ external_ids: [{ auth_provider: 'a' }] }, 400, 'M_MISSING_PARAM', "Missing params: ['external_id']"],
      [{ external_ids: [{ external_id: 'a' }] }, 400, 'M_MISSING_PARAM', "Missing params: ['auth_provider']"],
      [{ external_ids: 'x' }, 400, 'M_BAD_JSON', "'external_ids' must be a list"],
      [{ external_ids: ['x'] }, 400, 'M_BAD_JSON', "'external_ids' must be a list of objects"],
      [
        { external_ids: [{ auth_provider: 1, external_id: 'a' }] },
        400,
        'M_BAD_JSON',
        "An external id's 'auth_provider' and 'external_id' must be strings",
      ],
      [
        { external_ids: [{ auth_provider: 'p', external_id: 'x'.repeat(513) }] },
        400,
        'M_INVALID_PARAM',
        "'external_id' is too long (at most 512 bytes)",
      ],
    ];
    for (const [body, status, errcode, error] of cases) {
      const r = await put(other.userId, { displayname: 'changed', ...(body as object) });
      assert.deepEqual([r.status, r.body], [status, { errcode, error }], JSON.stringify(body));
    }
    assert.notEqual((await http(s, 'GET', userUrl(other.userId), { token: admin.token })).body.displayname, 'changed');
  });
});

describe('UsersByExternalIdTestCase', () => {
  let s: Stack;
  let admin: TestUser;
  let user: TestUser;
  let provider: string;

  before(async () => {
    s = await sharedStack();
    admin = await registerUser(s, uniq('byextadmin'), { admin: true });
    user = await registerUser(s, uniq('byextuser'));
    provider = uniq('the-auth-provider');
    const r = await http(s, 'PUT', userUrl(user.userId), {
      token: admin.token,
      body: {
        external_ids: [
          { auth_provider: provider, external_id: 'the-external-id' },
          { auth_provider: `${provider}-another`, external_id: 'a:complex@external/id' },
        ],
      },
    });
    assert.equal(r.status, 200);
  });

  it('test_no_auth', async () => {
    const r = await http(s, 'GET', byExternal(provider, 'the-external-id'));
    assert.deepEqual([r.status, r.body.errcode], [401, 'M_MISSING_TOKEN']);
  });

  it('refuses a non-admin', async () => {
    const r = await http(s, 'GET', byExternal(provider, 'the-external-id'), { token: user.token });
    assert.deepEqual([r.status, r.body.errcode], [403, 'M_FORBIDDEN']);
  });

  it('test_binding_does_not_exist', async () => {
    const r = await http(s, 'GET', byExternal(provider, 'unknown-id'), { token: admin.token });
    assert.deepEqual([r.status, r.body], [404, { errcode: 'M_NOT_FOUND', error: 'User not found' }]);
  });

  it('test_success', async () => {
    const r = await http(s, 'GET', byExternal(provider, 'the-external-id'), { token: admin.token });
    assert.deepEqual([r.status, r.body], [200, { user_id: user.userId }]);
  });

  it('test_success_urlencoded', async () => {
    const r = await http(s, 'GET', `/_synapse/admin/v1/auth_providers/${provider}-another/users/a%3Acomplex%40external%2Fid`, {
      token: admin.token,
    });
    assert.deepEqual([r.status, r.body], [200, { user_id: user.userId }]);
  });

  it('an over-long external id is 400 M_INVALID_PARAM', async () => {
    const r = await http(s, 'GET', byExternal(provider, 'x'.repeat(600)), { token: admin.token });
    assert.deepEqual([r.status, r.body.errcode], [400, 'M_INVALID_PARAM']);
  });

  it('the same over gRPC (GetUserByExternalId, UpsertUser, GetUser)', async () => {
    const ua = s.clients.userAdmin;
    const res = await grpcCall(ua, ua.getUserByExternalId, { authProvider: provider, externalId: 'the-external-id' }, bearer(admin.token));
    assert.equal(res.userId, user.userId);
    await assert.rejects(
      grpcCall(ua, ua.getUserByExternalId, { authProvider: provider, externalId: 'nope' }, bearer(admin.token)),
      (e: { code: number }) => e.code === 5,
    );
    const target = await registerUser(s, uniq('byextgrpc'));
    const p = uniq('grpcp');
    const up = await grpcCall(
      ua,
      ua.upsertUser,
      { userId: target.userId, externalIds: { externalIds: [{ authProvider: p, externalId: 'g1' }] } },
      bearer(admin.token),
    );
    assert.deepEqual(up.user?.externalIds, [{ authProvider: p, externalId: 'g1' }]);
    await assert.rejects(
      grpcCall(
        ua,
        ua.upsertUser,
        { userId: user.userId, externalIds: { externalIds: [{ authProvider: p, externalId: 'g1' }] } },
        bearer(admin.token),
      ),
      (e: { code: number; metadata: { get(k: string): unknown[] } }) => e.code === 6 && e.metadata.get('matrix-http-status')[0] === '409',
    );
    const got = await grpcCall(ua, ua.getUser, { userId: target.userId }, bearer(admin.token));
    assert.deepEqual(got.user?.externalIds, [{ authProvider: p, externalId: 'g1' }]);
  });
});
