/**
 * Ports of Synapse's BlockRoomTestCase, JoinAliasRoomTestCase (the join part; the context tests
 * belong to the pagination suite), MakeRoomAdminTestCase and RoomMessagesTestCase's
 * test_timestamp_to_event, plus forward extremities, through the gateway and over gRPC.
 */
import { strict as assert } from 'node:assert';
import { Direction } from '../../gen/synapse/admin/v1/common';
import { sharedStack } from '../support/root-hooks';
import { bearer, grpcCall, http, registerUser, uniq, type Stack, type TestUser } from '../support/stack';
import { createRoom, enc, invite, join, joinedRooms, sendMessage, sendState, setAlias } from './room-admin.helpers';

const A = '/_synapse/admin/v1';

describe('BlockRoomTestCase', () => {
  let s: Stack;
  let admin: TestUser;
  let user: TestUser;
  let roomIds: string[];

  before(async () => {
    s = await sharedStack();
    admin = await registerUser(s, uniq('admin'), { admin: true });
    user = await registerUser(s, uniq('user'));
  });
  beforeEach(async () => {
    roomIds = [await createRoom(s, user.token), `!${uniq('unknown')}:test`, `!${uniq('unknown')}:remote`];
  });

  const put = (roomId: string, body: unknown, token = admin.token) => http(s, 'PUT', `${A}/rooms/${enc(roomId)}/block`, { token, body });
  const get = (roomId: string, token = admin.token) => http(s, 'GET', `${A}/rooms/${enc(roomId)}/block`, { token });
  const blockedRow = async (roomId: string) =>
    (await s.app.orm.em.fork().execute<{ user_id: string }[]>('SELECT user_id FROM blocked_rooms WHERE room_id = ?', [roomId]))[0] ?? null;

  it('test_requester_is_no_admin', async () => {
    for (const r of [await put(roomIds[0], { block: true }, user.token), await get(roomIds[0], user.token)])
      assert.deepEqual([r.status, r.body.errcode], [403, 'M_FORBIDDEN']);
  });

  it('test_room_is_not_valid', async () => {
    for (const r of [await put('invalidroom', {}), await get('invalidroom')])
      assert.deepEqual([r.status, r.body.error], [400, 'invalidroom is not a legal room ID']);
  });

  it('test_block_is_not_valid', async () => {
    assert.deepEqual((await put(roomIds[0], { block: 'NotBool' })).body, {
      errcode: 'M_BAD_JSON',
      error: "Param 'block' must be a boolean.",
    });
    assert.deepEqual((await put(roomIds[0], {})).body, { errcode: 'M_MISSING_PARAM', error: "Missing params: ['block']" });
    const noBody = await http(s, 'PUT', `${A}/rooms/${enc(roomIds[0])}/block`, { token: admin.token });
    assert.deepEqual([noBody.status, noBody.body], [400, { errcode: 'M_NOT_JSON', error: 'Content not JSON.' }]);
  });

  for (const times of [1, 2]) {
    it(times === 1 ? 'test_block_room' : 'test_block_room_twice', async () => {
      for (const roomId of roomIds) {
        for (let i = 0; i < times; i++) {
          const r = await put(roomId, { block: true });
          assert.deepEqual([r.status, r.body], [200, { block: true }]);
        }
        assert.deepEqual((await get(roomId)).body, { block: true, user_id: admin.userId });
        assert.deepEqual(await blockedRow(roomId), { user_id: admin.userId });
      }
    });

    it(times === 1 ? 'test_unblock_room' : 'test_unblock_room_twice', async () => {
      for (const roomId of roomIds) {
        await put(roomId, { block: true });
        for (let i = 0; i < times; i++) {
          const r = await put(roomId, { block: false });
          assert.deepEqual([r.status, r.body], [200, { block: false }]);
        }
        assert.equal(await blockedRow(roomId), null);
      }
    });
  }

  it('test_get_blocked_room (the first blocker is kept)', async () => {
    const other = await registerUser(s, uniq('admin2'), { admin: true });
    for (const roomId of roomIds) {
      await s.app.orm.em.fork().execute('INSERT INTO blocked_rooms (room_id, user_id) VALUES (?, ?)', [roomId, user.userId]);
      await put(roomId, { block: true }, other.token);
      const r = await get(roomId);
      assert.deepEqual([r.status, r.body], [200, { block: true, user_id: user.userId }]);
    }
  });

  it('test_get_unblocked_room', async () => {
    for (const roomId of roomIds) assert.deepEqual((await get(roomId)).body, { block: false });
  });

  it('refuses joins into a blocked room, but not leaving', async () => {
    const roomId = roomIds[0];
    const joiner = await registerUser(s, uniq('joiner'));
    await put(roomId, { block: true });
    const r = await http(s, 'POST', `/_matrix/client/v3/join/${enc(roomId)}`, { token: joiner.token, body: {} });
    assert.deepEqual([r.status, r.body], [403, { errcode: 'M_UNKNOWN', error: 'This room has been blocked on this server' }]);
    const left = await http(s, 'POST', `/_matrix/client/v3/rooms/${enc(roomId)}/leave`, { token: user.token, body: {} });
    assert.equal(left.status, 200);
  });

  it('blocks over gRPC', async () => {
    const c = s.clients.roomAdmin;
    const md = bearer(admin.token);
    assert.deepEqual(await grpcCall(c, c.setRoomBlock, { roomId: roomIds[2], block: true }, md), { block: true });
    assert.deepEqual(await grpcCall(c, c.getRoomBlock, { roomId: roomIds[2] }, md), { block: true, userId: admin.userId });
  });
});

describe('JoinAliasRoomTestCase', () => {
  let s: Stack;
  let admin: TestUser;
  let creator: TestUser;
  let user: TestUser;
  let publicRoom: string;

  before(async () => {
    s = await sharedStack();
    admin = await registerUser(s, uniq('admin'), { admin: true });
    creator = await registerUser(s, uniq('creator'));
  });
  beforeEach(async () => {
    user = await registerUser(s, uniq('user'));
    publicRoom = await createRoom(s, creator.token);
  });

  const joinAs = (room: string, body: unknown, token = admin.token) => http(s, 'POST', `${A}/join/${enc(room)}`, { token, body });

  it('test_requester_is_no_admin', async () => {
    const r = await joinAs(publicRoom, { user_id: user.userId }, user.token);
    assert.deepEqual([r.status, r.body.errcode], [403, 'M_FORBIDDEN']);
  });

  it('test_invalid_parameter', async () => {
    const r = await joinAs(publicRoom, { unknown_parameter: '@unknown:test' });
    assert.deepEqual([r.status, r.body.errcode], [400, 'M_MISSING_PARAM']);
  });

  it('test_local_user_does_not_exist', async () => {
    const r = await joinAs(publicRoom, { user_id: '@unknown:test' });
    assert.deepEqual([r.status, r.body], [404, { errcode: 'M_NOT_FOUND', error: 'User not found' }]);
  });

  it('test_remote_user', async () => {
    const r = await joinAs(publicRoom, { user_id: '@not:exist.bla' });
    assert.deepEqual([r.status, r.body.error], [400, 'This endpoint can only be used with local users']);
  });

  it('test_room_does_not_exist', async () => {
    const r = await joinAs('!unknown:test', { user_id: user.userId });
    assert.deepEqual([r.status, r.body.error], [404, "Can't join remote room because no servers that are in the room have been provided."]);
  });

  it('test_room_is_not_valid', async () => {
    const r = await joinAs('invalidroom', { user_id: user.userId });
    assert.deepEqual([r.status, r.body.error], [400, 'invalidroom was not legal room ID or room alias']);
  });

  it('test_join_public_room (also by alias)', async () => {
    const r = await joinAs(publicRoom, { user_id: user.userId });
    assert.deepEqual([r.status, r.body], [200, { room_id: publicRoom }]);
    assert.equal((await joinedRooms(s, user.token))[0], publicRoom);
    const other = await registerUser(s, uniq('byalias'));
    const alias = `#${uniq('joinalias')}:test`;
    await setAlias(s, creator.token, alias, publicRoom);
    assert.deepEqual((await joinAs(alias, { user_id: other.userId })).body, { room_id: publicRoom });
    assert.deepEqual((await joinAs(`#${uniq('nope')}:test`, { user_id: other.userId })).status, 404);
  });

  it('test_join_private_room_if_not_member', async () => {
    const privateRoom = await createRoom(s, creator.token, {}, false);
    const r = await joinAs(privateRoom, { user_id: user.userId });
    assert.deepEqual([r.status, r.body.errcode], [403, 'M_FORBIDDEN']);
  });

  it('test_join_private_room_if_member', async () => {
    const privateRoom = await createRoom(s, creator.token, {}, false);
    await invite(s, creator.token, privateRoom, admin.userId);
    await join(s, admin.token, privateRoom);
    const r = await joinAs(privateRoom, { user_id: user.userId });
    assert.deepEqual([r.status, r.body], [200, { room_id: privateRoom }]);
    assert.equal((await joinedRooms(s, user.token))[0], privateRoom);
  });

  it('test_join_private_room_if_owner', async () => {
    const privateRoom = await createRoom(s, admin.token, {}, false);
    const r = await joinAs(privateRoom, { user_id: user.userId });
    assert.deepEqual([r.status, r.body], [200, { room_id: privateRoom }]);
    assert.equal((await joinedRooms(s, user.token))[0], privateRoom);
  });

  it('joins over gRPC', async () => {
    const c = s.clients.roomAdmin;
    const res = await grpcCall(
      c,
      c.adminJoinRoom,
      { roomIdOrAlias: publicRoom, userId: user.userId, serverNames: [] },
      bearer(admin.token),
    );
    assert.deepEqual(res, { roomId: publicRoom });
  });
});

describe('MakeRoomAdminTestCase', () => {
  let s: Stack;
  let admin: TestUser;
  let creator: TestUser;
  let second: TestUser;

  before(async () => {
    s = await sharedStack();
    admin = await registerUser(s, uniq('admin'), { admin: true });
  });
  beforeEach(async () => {
    creator = await registerUser(s, uniq('creator'));
    second = await registerUser(s, uniq('second'));
  });

  const make = (room: string, body: unknown = {}) =>
    http(s, 'POST', `${A}/rooms/${enc(room)}/make_room_admin`, { token: admin.token, body });
  const ban = (room: string, token: string, target: string) =>
    http(s, 'POST', `/_matrix/client/v3/rooms/${enc(room)}/ban`, { token, body: { user_id: target } });

  it('test_public_room', async () => {
    const roomId = await createRoom(s, creator.token);
    const r = await make(roomId);
    assert.deepEqual([r.status, r.body], [200, {}]);
    await join(s, admin.token, roomId);
    assert.equal((await ban(roomId, admin.token, '@test:test')).status, 200);
  });

  it('test_private_room', async () => {
    const roomId = await createRoom(s, creator.token, {}, false);
    assert.equal((await make(roomId)).status, 200);
    await join(s, admin.token, roomId);
    assert.equal((await ban(roomId, admin.token, '@test:test')).status, 200);
  });

  it('test_other_user', async () => {
    const roomId = await createRoom(s, creator.token, {}, false);
    assert.equal((await make(roomId, { user_id: second.userId })).status, 200);
    await join(s, second.token, roomId);
    assert.equal((await ban(roomId, second.token, '@test:test')).status, 200);
  });

  it('test_not_enough_power', async () => {
    const roomId = await createRoom(s, creator.token);
    const pl = (await http(s, 'GET', `/_matrix/client/v3/rooms/${enc(roomId)}/state/m.room.power_levels/`, { token: creator.token })).body;
    await sendState(s, creator.token, roomId, 'm.room.power_levels', { ...pl, users: { [creator.userId]: 0 } });
    const r = await make(roomId);
    assert.deepEqual([r.status, r.body.error], [400, 'No local admin user in room with power to update power levels.']);
  });

  it('resolves aliases and reports rooms this server is not in', async () => {
    const roomId = await createRoom(s, creator.token);
    const alias = `#${uniq('mra')}:test`;
    await setAlias(s, creator.token, alias, roomId);
    assert.equal((await make(alias, { user_id: second.userId })).status, 200);
    assert.deepEqual((await make('!unknown:test')).body, { errcode: 'M_UNKNOWN', error: 'Server not in room' });
    assert.deepEqual((await make('#nope:test')).body, { errcode: 'M_NOT_FOUND', error: 'Room alias #nope:test not found' });
    assert.deepEqual((await make('nope')).body, { errcode: 'M_UNKNOWN', error: 'nope was not legal room ID or room alias' });
    const c = s.clients.roomAdmin;
    assert.deepEqual(await grpcCall(c, c.makeRoomAdmin, { roomIdOrAlias: roomId }, bearer(admin.token)), {});
  });
});

describe('Forward extremities and timestamp_to_event', () => {
  let s: Stack;
  let admin: TestUser;
  let foo: TestUser;
  let roomId: string;

  before(async () => {
    s = await sharedStack();
    admin = await registerUser(s, uniq('admin'), { admin: true });
  });
  beforeEach(async () => {
    foo = await registerUser(s, uniq('foo'));
    roomId = await createRoom(s, foo.token);
  });

  it('lists and trims the forward extremities (room id or alias)', async () => {
    const older = await sendMessage(s, foo.token, roomId, 'older');
    const newest = await sendMessage(s, foo.token, roomId, 'newest');
    // A second extremity, as a fork in the DAG leaves behind.
    await s.app.orm.em.fork().execute('INSERT INTO event_forward_extremities (room_id, event_id) VALUES (?, ?)', [roomId, older]);
    const path = `${A}/rooms/${enc(roomId)}/forward_extremities`;
    const listed = await http(s, 'GET', path, { token: admin.token });
    assert.equal(listed.body.count, 2);
    assert.deepEqual(
      listed.body.results.map((e: { event_id: string }) => e.event_id),
      [newest, older],
    );
    for (const e of listed.body.results) assert.deepEqual(Object.keys(e).sort(), ['depth', 'event_id', 'received_ts', 'state_group']);
    const alias = `#${uniq('fwd')}:test`;
    await setAlias(s, foo.token, alias, roomId);
    assert.deepEqual((await http(s, 'DELETE', `${A}/rooms/${enc(alias)}/forward_extremities`, { token: admin.token })).body, {
      deleted: 1,
    });
    const after = await http(s, 'GET', path, { token: admin.token });
    assert.deepEqual([after.body.count, after.body.results[0].event_id], [1, newest]);
    assert.deepEqual((await http(s, 'DELETE', path, { token: admin.token })).body, { deleted: 0 });
    const c = s.clients.roomAdmin;
    assert.equal((await grpcCall(c, c.getForwardExtremities, { roomIdOrAlias: roomId }, bearer(admin.token))).count, 1);
  });

  it('answers 400 instead of 500 when the room has no forward extremity', async () => {
    const r = await http(s, 'DELETE', `${A}/rooms/${enc('!none:test')}/forward_extremities`, { token: admin.token });
    assert.deepEqual([r.status, r.body], [400, { errcode: 'M_UNKNOWN', error: 'No forward extremity event found for room !none:test' }]);
    assert.deepEqual((await http(s, 'GET', `${A}/rooms/${enc('!none:test')}/forward_extremities`, { token: admin.token })).body, {
      count: 0,
      results: [],
    });
  });

  it('test_timestamp_to_event', async () => {
    await sendMessage(s, foo.token, roomId, 'first');
    const second = await sendMessage(s, foo.token, roomId, 'second');
    const now = Date.now();
    const r = await http(s, 'GET', `${A}/rooms/${enc(roomId)}/timestamp_to_event?dir=b&ts=${now}`, { token: admin.token });
    assert.equal(r.status, 200);
    assert.equal(r.body.event_id, second);
    assert.equal(typeof r.body.origin_server_ts, 'number');
    const forwards = await http(s, 'GET', `${A}/rooms/${enc(roomId)}/timestamp_to_event?ts=0`, { token: admin.token });
    const create = (await http(s, 'GET', `${A}/rooms/${enc(roomId)}/state?type=m.room.create`, { token: admin.token })).body.state[0];
    assert.equal(forwards.body.event_id, create.event_id);
    const future = now + 3_600_000;
    const none = await http(s, 'GET', `${A}/rooms/${enc(roomId)}/timestamp_to_event?dir=f&ts=${future}`, { token: admin.token });
    assert.deepEqual(
      [none.status, none.body],
      [404, { errcode: 'M_NOT_FOUND', error: `Unable to find event from ${future} in direction Direction.FORWARDS` }],
    );
    const c = s.clients.roomAdmin;
    const viaGrpc = await grpcCall(c, c.timestampToEvent, { roomId, ts: now, dir: Direction.DIRECTION_BACKWARDS }, bearer(admin.token));
    assert.equal(viaGrpc.eventId, second);
  });
});
