/**
 * Ports of the client-side room creation and membership behaviour Synapse's admin tests rely on
 * (tests/rest/admin/test_room.py setups), over real HTTP. Synapse's test names are kept.
 */
import { strict as assert } from 'node:assert';
import { sharedStack } from '../support/root-hooks';
import { http, registerUser, uniq, type Stack, type TestUser } from '../support/stack';

const enc = encodeURIComponent;
const C = '/_matrix/client/r0';

describe('rooms: Synapse test setups', () => {
  let s: Stack;
  let admin: TestUser;
  let user: TestUser;

  before(async () => {
    s = await sharedStack();
    admin = await registerUser(s, uniq('admin'), { admin: true });
    user = await registerUser(s, uniq('user'));
  });

  const createRoom = async (t: TestUser, body: Record<string, unknown> = {}) => {
    const res = await http(s, 'POST', `${C}/createRoom`, { token: t.token, body });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    return res.body.room_id as string;
  };
  const join = (t: TestUser, room: string) => http(s, 'POST', `${C}/join/${enc(room)}`, { token: t.token, body: {} });
  const leave = (t: TestUser, room: string) => http(s, 'POST', `${C}/rooms/${enc(room)}/leave`, { token: t.token, body: {} });
  const members = async (t: TestUser, room: string) =>
    Object.fromEntries(
      (await http(s, 'GET', `${C}/rooms/${enc(room)}/members`, { token: t.token })).body.chunk.map((e: any) => [
        e.state_key,
        e.content.membership,
      ]),
    );

  describe('RoomTestCase', () => {
    it('a public room created by one user has exactly 5 state events: create, creator member, power_levels, join_rules=public, history_visibility=shared', async () => {
      const room = await createRoom(user, { preset: 'public_chat' });
      const state = (await http(s, 'GET', `${C}/rooms/${enc(room)}/state`, { token: user.token })).body;
      const byType = Object.fromEntries(state.map((e: any) => [e.type, e]));
      assert.equal(state.length, 5);
      assert.equal(byType['m.room.create'].content.creator, user.userId);
      assert.equal(byType['m.room.member'].state_key, user.userId);
      assert.equal(byType['m.room.join_rules'].content.join_rule, 'public');
      assert.equal(byType['m.room.history_visibility'].content.history_visibility, 'shared');
      assert.equal(byType['m.room.power_levels'].content.users[user.userId], 100);
    });

    it('test_get_joined_members_after_leave_room', async () => {
      const room = await createRoom(admin, { preset: 'public_chat' });
      assert.equal((await join(user, room)).status, 200);
      assert.equal((await leave(user, room)).status, 200);
      const res = await http(s, 'GET', `${C}/rooms/${enc(room)}/joined_members`, { token: user.token });
      assert.equal(res.status, 403);
      assert.equal(res.body.errcode, 'M_FORBIDDEN');
    });

    it('test_room_members (setup): admin, foo and bar joined', async () => {
      const [foo, bar] = await Promise.all([registerUser(s, uniq('foo')), registerUser(s, uniq('bar'))]);
      const room = await createRoom(admin, { preset: 'public_chat' });
      for (const u of [foo, bar]) assert.equal((await join(u, room)).status, 200);
      const joined = (await http(s, 'GET', `${C}/rooms/${enc(room)}/joined_members`, { token: admin.token })).body.joined;
      assert.deepEqual(Object.keys(joined).sort(), [admin.userId, foo.userId, bar.userId].sort());
    });

    it('test_correct_room_attributes (setup): space, second member, canonical alias, name', async () => {
      const second = await registerUser(s, uniq('second'));
      const room = await createRoom(admin, { creation_content: { type: 'm.space' } });
      assert.equal(
        (await http(s, 'POST', `${C}/rooms/${enc(room)}/invite`, { token: admin.token, body: { user_id: second.userId } })).status,
        200,
      );
      assert.equal((await join(second, room)).status, 200);
      const alias = `#${uniq('test')}:test`;
      assert.equal(
        (await http(s, 'PUT', `${C}/directory/room/${enc(alias)}`, { token: admin.token, body: { room_id: room } })).status,
        200,
      );
      assert.equal(
        (await http(s, 'PUT', `${C}/rooms/${enc(room)}/state/m.room.canonical_alias`, { token: admin.token, body: { alias } })).status,
        200,
      );
      assert.equal(
        (await http(s, 'PUT', `${C}/rooms/${enc(room)}/state/m.room.name`, { token: admin.token, body: { name: 'something' } })).status,
        200,
      );
      const stats = (
        await s.app.orm.em
          .fork()
          .getConnection()
          .execute<any[]>('SELECT name, canonical_alias, room_type, joined_members FROM room_stats WHERE room_id = ?', [room])
      )[0];
      assert.deepEqual(stats, { name: 'something', canonical_alias: alias, room_type: 'm.space', joined_members: 2 });
    });

    it('canonical alias must point to the room', async () => {
      const room = await createRoom(admin, { preset: 'public_chat' });
      const res = await http(s, 'PUT', `${C}/rooms/${enc(room)}/state/m.room.canonical_alias`, {
        token: admin.token,
        body: { alias: '#nowhere:test' },
      });
      assert.deepEqual(
        [res.status, res.body],
        [400, { errcode: 'M_BAD_ALIAS', error: 'Room alias #nowhere:test does not point to the room' }],
      );
    });
  });

  describe('DeleteRoomTestCase', () => {
    it('test_purge_room_unjoined (setup): knock join rule, one invited and one knocking user', async () => {
      const [invited, knocked] = await Promise.all([registerUser(s, uniq('invited')), registerUser(s, uniq('knocked'))]);
      const room = await createRoom(user, {});
      assert.equal(
        (await http(s, 'PUT', `${C}/rooms/${enc(room)}/state/m.room.join_rules`, { token: user.token, body: { join_rule: 'knock' } }))
          .status,
        200,
      );
      assert.equal(
        (await http(s, 'POST', `${C}/rooms/${enc(room)}/invite`, { token: user.token, body: { user_id: invited.userId } })).status,
        200,
      );
      assert.equal((await http(s, 'POST', `/_matrix/client/v3/knock/${enc(room)}`, { token: knocked.token, body: {} })).status, 200);
      assert.deepEqual(await members(user, room), { [user.userId]: 'join', [invited.userId]: 'invite', [knocked.userId]: 'knock' });
    });
  });

  describe('BlockRoomTestCase', () => {
    it('a blocked room refuses joins and invites with 403 M_UNKNOWN; members can still leave', async () => {
      const [other, third] = await Promise.all([registerUser(s, uniq('other')), registerUser(s, uniq('third'))]);
      const room = await createRoom(user, { preset: 'public_chat' });
      assert.equal((await join(other, room)).status, 200);
      await s.app.services.rooms.blockRoom(s.app.orm.em.fork(), room, admin.userId);
      const blocked = { errcode: 'M_UNKNOWN', error: 'This room has been blocked on this server' };
      const j = await join(third, room);
      assert.deepEqual([j.status, j.body], [403, blocked]);
      const i = await http(s, 'POST', `${C}/rooms/${enc(room)}/invite`, { token: user.token, body: { user_id: third.userId } });
      assert.deepEqual([i.status, i.body], [403, blocked]);
      assert.equal((await leave(other, room)).status, 200);
      assert.equal(
        (
          await http(s, 'PUT', `${C}/rooms/${enc(room)}/send/m.room.message/t1`, {
            token: user.token,
            body: { msgtype: 'm.text', body: 'still' },
          })
        ).status,
        200,
        'sending is not affected by blocking',
      );
    });
  });

  describe('JoinAliasRoomTestCase', () => {
    it('test_join_public_room (setup): joined_rooms lists the room', async () => {
      const joiner = await registerUser(s, uniq('joiner'));
      const room = await createRoom(admin, { preset: 'public_chat' });
      assert.deepEqual((await join(joiner, room)).body, { room_id: room });
      assert.deepEqual((await http(s, 'GET', `${C}/joined_rooms`, { token: joiner.token })).body.joined_rooms, [room]);
    });

    it('test_join_private_room_if_not_member (setup): the admin is not in the room and cannot invite', async () => {
      const room = await createRoom(user, { preset: 'private_chat' });
      const res = await http(s, 'POST', `${C}/rooms/${enc(room)}/invite`, { token: admin.token, body: { user_id: admin.userId } });
      assert.deepEqual([res.status, res.body.errcode], [403, 'M_FORBIDDEN']);
    });

    it('test_join_private_room_if_member (setup): invited admin joins', async () => {
      const room = await createRoom(user, { preset: 'private_chat' });
      assert.equal(
        (await http(s, 'POST', `${C}/rooms/${enc(room)}/invite`, { token: user.token, body: { user_id: admin.userId } })).status,
        200,
      );
      assert.equal((await join(admin, room)).status, 200);
      assert.equal((await members(user, room))[admin.userId], 'join');
    });
  });
});
