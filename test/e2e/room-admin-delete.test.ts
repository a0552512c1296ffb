/**
 * Ports of Synapse's DeleteRoomTestCase (`DELETE /_synapse/admin/v1/rooms/<room_id>`, the
 * synchronous delete) and of the pre-v1.42 shutdown_room/purge_room tests, plus the parts of the
 * shutdown procedure the upstream tests leave implicit (replacement room, notice, aliases).
 */
import { strict as assert } from 'node:assert';
import { sharedStack } from '../support/root-hooks';
import { bearer, grpcCall, http, registerUser, uniq, type Stack, type TestUser } from '../support/stack';
import { DEFAULT_MESSAGE, DEFAULT_ROOM_NAME } from '../../src/admin/room-shutdown.service';
import {
  adminMembers,
  assertNotPurged,
  assertPurged,
  createRoom,
  enc,
  invite,
  isBlocked,
  joinedRooms,
  knock,
  join,
  sendMessage,
  sendState,
  setAlias,
} from './room-admin.helpers';

const v1 = (roomId: string) => `/_synapse/admin/v1/rooms/${enc(roomId)}`;

describe('DeleteRoomTestCase', () => {
  let s: Stack;
  let admin: TestUser;
  let user: TestUser;
  let roomId: string;

  before(async () => {
    s = await sharedStack();
    admin = await registerUser(s, uniq('admin'), { admin: true });
  });
  beforeEach(async () => {
    user = await registerUser(s, uniq('user'));
    roomId = await createRoom(s, user.token);
  });

  const del = (room: string, body: unknown, token = admin.token) => http(s, 'DELETE', v1(room), { token, body });

  it('test_requester_is_no_admin', async () => {
    const r = await del(roomId, {}, user.token);
    assert.equal(r.status, 403);
    assert.equal(r.body.errcode, 'M_FORBIDDEN');
  });

  it('test_room_does_not_exist', async () => {
    const r = await del('!unknown:test', {});
    assert.equal(r.status, 200);
    assert.deepEqual(r.body, { kicked_users: [], failed_to_kick_users: [], local_aliases: [], new_room_id: null });
  });

  it('test_room_is_not_valid', async () => {
    const r = await del('invalidroom', {});
    assert.equal(r.status, 400);
    assert.equal(r.body.error, 'invalidroom is not a legal room ID');
  });

  it('test_new_room_user_does_not_exist', async () => {
    const r = await del(roomId, { new_room_user_id: '@unknown:test' });
    assert.equal(r.status, 200);
    for (const k of ['new_room_id', 'kicked_users', 'failed_to_kick_users', 'local_aliases']) assert.ok(k in r.body, k);
    assert.ok(r.body.new_room_id);
  });

  it('test_new_room_user_is_not_local', async () => {
    const r = await del(roomId, { new_room_user_id: '@not:exist.bla' });
    assert.equal(r.status, 400);
    assert.equal(r.body.error, 'User must be our own: @not:exist.bla');
  });

  it('test_block_is_not_bool', async () => {
    const r = await del(roomId, { block: 'NotBool' });
    assert.equal(r.status, 400);
    assert.deepEqual(r.body, { errcode: 'M_BAD_JSON', error: "Param 'block' must be a boolean, if given" });
  });

  it('test_purge_is_not_bool', async () => {
    const r = await del(roomId, { purge: 'NotBool' });
    assert.equal(r.status, 400);
    assert.deepEqual(r.body, { errcode: 'M_BAD_JSON', error: "Param 'purge' must be a boolean, if given" });
  });

  for (const block of [true, false]) {
    it(`test_purge_room_and_${block ? '' : 'not_'}block`, async () => {
      await sendMessage(s, user.token, roomId);
      const r = await del(roomId, { block, purge: true });
      assert.equal(r.status, 200);
      assert.equal(r.body.new_room_id, null);
      assert.equal(r.body.kicked_users[0], user.userId);
      assert.ok('failed_to_kick_users' in r.body && 'local_aliases' in r.body);
      await assertPurged(s, roomId);
      assert.equal(await isBlocked(s, admin.token, roomId), block);
      assert.deepEqual(await adminMembers(s, admin.token, roomId), []);
    });
  }

  it('test_purge_room_unjoined', async () => {
    const invited = await registerUser(s, uniq('invited'));
    const knocked = await registerUser(s, uniq('knocked'));
    await sendState(s, user.token, roomId, 'm.room.join_rules', { join_rule: 'knock' });
    await invite(s, user.token, roomId, invited.userId);
    await knock(s, knocked.token, roomId);
    const r = await del(roomId, { block: false, purge: true });
    assert.equal(r.status, 200);
    assert.equal(r.body.new_room_id, null);
    assert.deepEqual([...r.body.kicked_users].sort(), [user.userId, invited.userId, knocked.userId].sort());
    await assertPurged(s, roomId);
    assert.equal(await isBlocked(s, admin.token, roomId), false);
    assert.deepEqual(await adminMembers(s, admin.token, roomId), []);
  });

  it('test_block_room_and_not_purge', async () => {
    const r = await del(roomId, { block: true, purge: false });
    assert.equal(r.status, 200);
    assert.equal(r.body.new_room_id, null);
    assert.equal(r.body.kicked_users[0], user.userId);
    await assertNotPurged(s, roomId);
    assert.equal(await isBlocked(s, admin.token, roomId), true);
    assert.deepEqual(await adminMembers(s, admin.token, roomId), []);
    // Blocked: joining again is refused.
    const rejoin = await http(s, 'POST', `/_matrix/client/v3/rooms/${enc(roomId)}/join`, { token: user.token, body: {} });
    assert.deepEqual([rejoin.status, rejoin.body.error], [403, 'This room has been blocked on this server']);
  });

  for (const purge of [true, false]) {
    it(`test_block_unknown_room (purge=${purge})`, async () => {
      const unknown = `!${uniq('unknown')}:test`;
      const r = await del(unknown, { block: true, purge });
      assert.equal(r.status, 200);
      assert.equal(await isBlocked(s, admin.token, unknown), true);
    });
  }

  it('test_shutdown_room_consent (no consent tracking here: the user is moved to the new room)', async () => {
    const r = await del(roomId, { new_room_user_id: admin.userId });
    assert.equal(r.status, 200);
    assert.equal(r.body.kicked_users[0], user.userId);
    assert.ok(r.body.new_room_id);
    assert.ok((await joinedRooms(s, user.token)).includes(r.body.new_room_id));
    await assertPurged(s, roomId);
    assert.deepEqual(await adminMembers(s, admin.token, roomId), []);
  });

  it('test_shutdown_room_block_peek', async () => {
    await sendState(s, user.token, roomId, 'm.room.history_visibility', { history_visibility: 'world_readable' });
    const r = await del(roomId, { new_room_user_id: admin.userId });
    assert.equal(r.status, 200);
    assert.ok((await joinedRooms(s, user.token)).includes(r.body.new_room_id));
    await assertPurged(s, roomId);
    const peek = await http(s, 'GET', `/_matrix/client/v3/rooms/${enc(roomId)}/messages?dir=b`, { token: admin.token });
    assert.equal(peek.status, 403);
  });

  it('test_room_delete_send', async () => {
    const r = await del(roomId, {});
    assert.equal(r.status, 200);
    const send = await http(s, 'PUT', `/_matrix/client/v3/rooms/${enc(roomId)}/send/m.room.message/after`, {
      token: user.token,
      body: { msgtype: 'm.text', body: 'x' },
    });
    assert.equal(send.status, 403);
  });

  it('moves joined users and local aliases to a replacement room where they cannot speak, with a notice', async () => {
    const member = await registerUser(s, uniq('member'));
    const invited = await registerUser(s, uniq('inv'));
    await join(s, member.token, roomId);
    await invite(s, user.token, roomId, invited.userId);
    const alias = `#${uniq('moved')}:test`;
    await setAlias(s, user.token, alias, roomId);
    const r = await del(roomId, { new_room_user_id: admin.userId, purge: false });
    assert.equal(r.status, 200);
    const newRoom = r.body.new_room_id;
    assert.deepEqual([...r.body.kicked_users].sort(), [user.userId, member.userId, invited.userId].sort());
    assert.deepEqual(r.body.local_aliases, [alias]);
    // Only users who were joined are re-joined (Synapse ≥ 1.131).
    assert.deepEqual((await adminMembers(s, admin.token, newRoom)).sort(), [admin.userId, user.userId, member.userId].sort());
    const resolved = await http(s, 'GET', `/_matrix/client/v3/directory/room/${enc(alias)}`, { token: user.token });
    assert.equal(resolved.body.room_id, newRoom);
    // A second shutdown attempt of the same room (a resumed task) finds and reuses this room.
    const create = await http(s, 'GET', `${v1(newRoom)}/state?type=m.room.create`, { token: admin.token });
    assert.equal(create.body.state[0].content['org.matrix.room_admin.replaces_room'], roomId);
    const details = await http(s, 'GET', v1(newRoom), { token: admin.token });
    assert.equal(details.body.name, DEFAULT_ROOM_NAME);
    assert.equal(details.body.join_rules, 'public');
    const state = await http(s, 'GET', `${v1(newRoom)}/state?type=m.room.power_levels`, { token: admin.token });
    assert.equal(state.body.state[0].content.users_default, -10);
    const messages = await http(
      s,
      'GET',
      `/_synapse/admin/v1/rooms/${enc(newRoom)}/messages?dir=b&filter=${enc(JSON.stringify({ types: ['m.room.message'] }))}`,
      { token: admin.token },
    );
    assert.deepEqual(
      messages.body.chunk.map((e: { content: { body: string } }) => e.content.body),
      [DEFAULT_MESSAGE],
    );
    // The old room: nobody local left, each local membership forgotten.
    assert.deepEqual(await adminMembers(s, admin.token, roomId), []);
    assert.equal((await http(s, 'GET', v1(roomId), { token: admin.token })).body.forgotten, true);
  });

  it('refuses to purge (pre-v1.42 purge_room) while a local user is joined', async () => {
    const r = await http(s, 'POST', '/_synapse/admin/v1/purge_room', { token: admin.token, body: { room_id: roomId } });
    assert.equal(r.status, 400);
    assert.deepEqual(r.body, { errcode: 'M_UNKNOWN', error: 'Users are still joined to this room' });
    await assertNotPurged(s, roomId);
  });

  it('deletes over gRPC as over REST', async () => {
    const c = s.clients.roomAdmin;
    const res = await grpcCall(c, c.deleteRoom, { roomId, options: { block: true } }, bearer(admin.token));
    assert.deepEqual(res.result, { kickedUsers: [user.userId], failedToKickUsers: [], localAliases: [], newRoomId: undefined });
    await assertPurged(s, roomId);
    assert.equal(await isBlocked(s, admin.token, roomId), true);
  });
});

describe('ShutdownRoomTestCase (pre-v1.42 POST /_synapse/admin/v1/shutdown_room)', () => {
  let s: Stack;
  let admin: TestUser;
  let user: TestUser;
  let roomId: string;

  before(async () => {
    s = await sharedStack();
    admin = await registerUser(s, uniq('admin'), { admin: true });
  });
  beforeEach(async () => {
    user = await registerUser(s, uniq('user'));
    roomId = await createRoom(s, user.token);
  });

  const shutdown = (room: string, body: unknown) =>
    http(s, 'POST', `/_synapse/admin/v1/shutdown_room/${enc(room)}`, { token: admin.token, body });

  it('moves the joined users, blocks, never purges', async () => {
    const invited = await registerUser(s, uniq('inv'));
    await invite(s, user.token, roomId, invited.userId);
    const r = await shutdown(roomId, { new_room_user_id: admin.userId, room_name: 'Gone', message: 'Bye' });
    assert.equal(r.status, 200);
    assert.deepEqual(r.body.kicked_users, [user.userId]);
    assert.deepEqual(r.body.failed_to_kick_users, []);
    assert.ok(r.body.new_room_id);
    assert.equal(await isBlocked(s, admin.token, roomId), true);
    await assertNotPurged(s, roomId);
    assert.ok((await joinedRooms(s, user.token)).includes(r.body.new_room_id));
    assert.equal((await http(s, 'GET', v1(r.body.new_room_id), { token: admin.token })).body.name, 'Gone');
  });

  it('requires new_room_user_id, a known room and a local user', async () => {
    assert.deepEqual((await shutdown(roomId, {})).body, { errcode: 'M_MISSING_PARAM', error: "Missing params: ['new_room_user_id']" });
    const unknown = await shutdown('!unknown:test', { new_room_user_id: admin.userId });
    assert.deepEqual([unknown.status, unknown.body], [404, { errcode: 'M_NOT_FOUND', error: 'Unknown room id !unknown:test' }]);
    const invalid = await shutdown('invalidroom', { new_room_user_id: admin.userId });
    assert.deepEqual([invalid.status, invalid.body.error], [400, 'invalidroom is not a legal room ID']);
    const remote = await shutdown(roomId, { new_room_user_id: '@not:exist.bla' });
    assert.deepEqual([remote.status, remote.body.error], [400, 'User must be our own: @not:exist.bla']);
    // As in Synapse, the block is written before the user check fails.
    assert.equal(await isBlocked(s, admin.token, roomId), true);
    assert.equal((await http(s, 'POST', '/_synapse/admin/v1/shutdown_room/', { token: admin.token, body: {} })).status, 404);
  });

  it('purge_room purges a room nobody local is joined to', async () => {
    await http(s, 'POST', `/_matrix/client/v3/rooms/${enc(roomId)}/leave`, { token: user.token, body: {} });
    const r = await http(s, 'POST', '/_synapse/admin/v1/purge_room', { token: admin.token, body: { room_id: roomId } });
    assert.deepEqual([r.status, r.body], [200, {}]);
    await assertPurged(s, roomId);
    const missing = await http(s, 'POST', '/_synapse/admin/v1/purge_room', { token: admin.token, body: {} });
    assert.deepEqual(missing.body, { errcode: 'M_MISSING_PARAM', error: "Missing params: ['room_id']" });
  });
});
