/**
 * GET /_synapse/admin/v1/users/<user_id>/accountdata: a user's global and per-room account data,
 * as Synapse's AccountDataTestCase checks it.
 */
import { strict as assert } from 'node:assert';
import { sharedStack } from '../support/root-hooks';
import { http, registerUser, uniq, type Stack, type TestUser } from '../support/stack';
import { C, enc } from '../support/client';
import { createRoom } from './pagination.helpers';

const url = (userId: string) => `/_synapse/admin/v1/users/${enc(userId)}/accountdata`;

describe('Admin account data of a user', () => {
  let s: Stack;
  let admin: TestUser;
  let other: TestUser;

  before(async () => {
    s = await sharedStack();
    admin = await registerUser(s, uniq('adadmin'), { admin: true });
    other = await registerUser(s, uniq('adother'));
  });

  it('test_no_auth', async () => {
    const r = await http(s, 'GET', url(other.userId));
    assert.deepEqual([r.status, r.body.errcode], [401, 'M_MISSING_TOKEN']);
  });

  it('test_requester_is_no_admin', async () => {
    const r = await http(s, 'GET', url(other.userId), { token: other.token });
    assert.deepEqual([r.status, r.body.errcode], [403, 'M_FORBIDDEN']);
  });

  it('test_user_does_not_exist', async () => {
    const r = await http(s, 'GET', url(`@${uniq('unknown')}:test`), { token: admin.token });
    assert.deepEqual([r.status, r.body.errcode, r.body.error], [404, 'M_NOT_FOUND', 'User not found']);
  });

  it('test_user_is_not_local', async () => {
    const r = await http(s, 'GET', url('@unknown_person:unknown_domain'), { token: admin.token });
    assert.deepEqual([r.status, r.body.error], [400, 'Can only look up local users']);
    const invalid = await http(s, 'GET', url('not-a-user'), { token: admin.token });
    assert.deepEqual([invalid.status, invalid.body.errcode], [400, 'M_INVALID_PARAM']);
  });

  it('test_success: global and per-room data, empty objects when there is none', async () => {
    const empty = await http(s, 'GET', url(other.userId), { token: admin.token });
    assert.deepEqual([empty.status, empty.body], [200, { account_data: { global: {}, rooms: {} } }]);

    const roomId = await createRoom(s, other.token);
    const put = (path: string, body: unknown) => http(s, 'PUT', `${C}/user/${enc(other.userId)}${path}`, { token: other.token, body });
    assert.equal((await put('/account_data/m.global', { a: 1 })).status, 200);
    assert.equal((await put('/account_data/m.other', { b: [true, null] })).status, 200);
    assert.equal((await put(`/rooms/${enc(roomId)}/account_data/m.per_room`, { b: 2 })).status, 200);
    const r = await http(s, 'GET', url(other.userId), { token: admin.token });
    assert.equal(r.status, 200);
    assert.deepEqual(r.body, {
      account_data: { global: { 'm.global': { a: 1 }, 'm.other': { b: [true, null] } }, rooms: { [roomId]: { 'm.per_room': { b: 2 } } } },
    });
  });
});
