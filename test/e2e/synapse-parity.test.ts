/**
 * Behaviours found to differ from a real Synapse in a side-by-side comparison (issue 22), each
 * checked here as Synapse answered the same requests.
 */
import { strict as assert } from 'node:assert';
import { sharedStack } from '../support/root-hooks';
import { http, registerUser, uniq, type Stack, type TestUser } from '../support/stack';
import { C, enc } from '../support/client';
import { createRoom, send } from './pagination.helpers';

const A = '/_synapse/admin';
type Ev = {
  event_id: string;
  type: string;
  state_key?: string;
  sender: string;
  content: Record<string, unknown>;
  unsigned?: Record<string, any>;
};

/** The room's newest events, newest first, as an admin sees them. */
async function newest(s: Stack, admin: TestUser, roomId: string, limit = 3): Promise<Ev[]> {
  const r = await http(s, 'GET', `${A}/v1/rooms/${enc(roomId)}/messages?dir=b&limit=${limit}`, { token: admin.token });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  return r.body.chunk;
}

const putUser = (s: Stack, admin: TestUser, userId: string, body: unknown) =>
  http(s, 'PUT', `${A}/v2/users/${enc(userId)}`, { token: admin.token, body });
const getUser = async (s: Stack, admin: TestUser, userId: string) =>
  (await http(s, 'GET', `${A}/v2/users/${enc(userId)}`, { token: admin.token })).body;

describe('Synapse parity (issue 22)', () => {
  let s: Stack;
  let admin: TestUser;

  before(async () => {
    s = await sharedStack();
    admin = await registerUser(s, uniq('parity_admin'), { admin: true });
  });

  describe('item 1: a room the server has left has no current state', () => {
    it('details, state, members, search, make_room_admin, joins and deletes read it as Synapse does', async () => {
      const carol = await registerUser(s, uniq('carol'));
      const dave = await registerUser(s, uniq('dave'));
      const name = uniq('Empty');
      const aliasName = uniq('empty');
      const room = await createRoom(s, carol.token, { preset: 'public_chat', name, topic: 'tp', room_alias_name: aliasName });
      await http(s, 'PUT', `${C}/directory/list/room/${enc(room)}`, { token: carol.token, body: { visibility: 'public' } });
      await send(s, carol.token, room, 'hi');
      await http(s, 'POST', `${C}/rooms/${enc(room)}/invite`, { token: carol.token, body: { user_id: dave.userId } });
      const listed = await http(s, 'GET', `${A}/v1/rooms?search_term=${enc(name)}`, { token: admin.token });
      assert.equal(listed.body.total_rooms, 1);
      assert.equal((await http(s, 'POST', `${C}/rooms/${enc(room)}/leave`, { token: carol.token, body: {} })).status, 200);

      // Synapse 1.94, same steps: the state fields are null, the counts and version stay.
      const details = await http(s, 'GET', `${A}/v1/rooms/${enc(room)}`, { token: admin.token });
      assert.equal(details.status, 200);
      const { room_id: _id, creator, ...rest } = details.body;
      assert.equal(creator, carol.userId);
      assert.deepEqual(rest, {
        name: null,
        canonical_alias: null,
        joined_members: 0,
        joined_local_members: 0,
        version: '10',
        encryption: null,
        federatable: true,
        public: true,
        join_rules: null,
        guest_access: null,
        history_visibility: null,
        state_events: 9,
        room_type: null,
        topic: null,
        avatar: null,
        joined_local_devices: 0,
        forgotten: false,
        tombstoned: false,
        replacement_room: null,
      });
      assert.deepEqual((await http(s, 'GET', `${A}/v1/rooms/${enc(room)}/state`, { token: admin.token })).body, { state: [] });
      assert.deepEqual((await http(s, 'GET', `${A}/v1/rooms/${enc(room)}/members`, { token: admin.token })).body, {
        members: [],
        total: 0,
      });
      assert.equal(
        (await http(s, 'GET', `${A}/v1/rooms?search_term=${enc(name)}`, { token: admin.token })).body.total_rooms,
        0,
        'no name to match any more',
      );
      const byId = await http(s, 'GET', `${A}/v1/rooms?search_term=${enc(room)}`, { token: admin.token });
      assert.deepEqual([byId.body.total_rooms, byId.body.rooms[0].name, byId.body.rooms[0].join_rules], [1, null, null]);
      const mra = await http(s, 'POST', `${A}/v1/rooms/${enc(room)}/make_room_admin`, { token: admin.token, body: {} });
      assert.deepEqual([mra.status, mra.body], [400, { errcode: 'M_UNKNOWN', error: 'Server not in room' }]);
      const noServers = {
        errcode: 'M_UNKNOWN',
        error: "Can't join remote room because no servers that are in the room have been provided.",
      };
      const adminJoin = await http(s, 'POST', `${A}/v1/join/${enc(room)}`, { token: admin.token, body: { user_id: dave.userId } });
      assert.deepEqual([adminJoin.status, adminJoin.body], [404, noServers]);
      const rejoin = await http(s, 'POST', `${C}/rooms/${enc(room)}/join`, { token: carol.token, body: {} });
      assert.deepEqual([rejoin.status, rejoin.body], [404, noServers]);
      // The directory flag, the alias and the history stay; the user who left still reads up to the leave.
      assert.deepEqual((await http(s, 'GET', `${C}/directory/list/room/${enc(room)}`)).body, { visibility: 'public' });
      assert.deepEqual((await http(s, 'GET', `${C}/directory/room/${enc(`#${aliasName}:test`)}`)).body.room_id, room);
      const history = await http(s, 'GET', `${C}/rooms/${enc(room)}/messages?dir=b`, { token: carol.token });
      assert.deepEqual([history.status, history.body.chunk.length], [200, 10]);
      assert.deepEqual((await http(s, 'GET', `${C}/rooms/${enc(room)}/state/m.room.name`, { token: carol.token })).body, { name });
      assert.equal((await http(s, 'GET', `${C}/rooms/${enc(room)}/messages?dir=b`, { token: dave.token })).status, 403);

      // The invitee can still reject the invite (written out of band, as Synapse rejects locally).
      assert.equal((await http(s, 'POST', `${C}/rooms/${enc(room)}/leave`, { token: dave.token, body: {} })).status, 200);
      const del = await http(s, 'DELETE', `${A}/v1/rooms/${enc(room)}`, { token: admin.token, body: {} });
      assert.deepEqual([del.status, del.body], [200, { kicked_users: [], failed_to_kick_users: [], local_aliases: [], new_room_id: null }]);

      // A delete of a room the server has left still withdraws a pending invite, out of band
      // (current Synapse kicks every local member; 1.94 only the joined ones, read from the state).
      const other = await createRoom(s, carol.token, { preset: 'public_chat' });
      await http(s, 'POST', `${C}/rooms/${enc(other)}/invite`, { token: carol.token, body: { user_id: dave.userId } });
      await http(s, 'POST', `${C}/rooms/${enc(other)}/leave`, { token: carol.token, body: {} });
      const del2 = await http(s, 'DELETE', `${A}/v1/rooms/${enc(other)}`, { token: admin.token, body: { purge: false } });
      assert.deepEqual([del2.status, del2.body.kicked_users, del2.body.failed_to_kick_users], [200, [dave.userId], []]);
      const daveRooms = await http(s, 'GET', `${A}/v1/rooms/${enc(other)}/members`, { token: admin.token });
      assert.deepEqual(daveRooms.body, { members: [], total: 0 });
    });
  });

  describe('item 2: a profile change is written into the user’s rooms', () => {
    it('a new display name is a join with it in every joined room, once; an avatar too', async () => {
      const carol = await registerUser(s, uniq('carol'));
      const local = carol.userId.slice(1, carol.userId.indexOf(':'));
      const room = await createRoom(s, carol.token, { preset: 'public_chat' });
      const other = await createRoom(s, carol.token);
      await send(s, carol.token, room, 'hi');
      assert.equal((await putUser(s, admin, carol.userId, { displayname: 'Carol C' })).status, 200);
      for (const r of [room, other]) {
        const [ev] = await newest(s, admin, r, 1);
        assert.deepEqual(
          [ev.type, ev.state_key, ev.sender, ev.content],
          ['m.room.member', carol.userId, carol.userId, { membership: 'join', displayname: 'Carol C' }],
        );
        assert.deepEqual(ev.unsigned?.prev_content, { membership: 'join', displayname: local });
      }
      // The same name again writes nothing (the join would equal the current one).
      assert.equal((await putUser(s, admin, carol.userId, { displayname: 'Carol C' })).status, 200);
      const [latest, before] = await newest(s, admin, room, 2);
      assert.deepEqual([latest.type, before.type], ['m.room.member', 'm.room.message']);

      const av = await putUser(s, admin, carol.userId, { avatar_url: 'mxc://test/abc' });
      assert.deepEqual([av.status, av.body.avatar_url, av.body.displayname], [200, 'mxc://test/abc', 'Carol C']);
      const [withAvatar] = await newest(s, admin, other, 1);
      assert.deepEqual(withAvatar.content, { membership: 'join', displayname: 'Carol C', avatar_url: 'mxc://test/abc' });

      // Both at once: Synapse applies the name, then the avatar, each written separately.
      assert.equal((await putUser(s, admin, carol.userId, { displayname: 'C3', avatar_url: 'mxc://test/zz' })).status, 200);
      const [second, first] = await newest(s, admin, other, 2);
      assert.deepEqual(first.content, { membership: 'join', displayname: 'C3', avatar_url: 'mxc://test/abc' });
      assert.deepEqual(second.content, { membership: 'join', displayname: 'C3', avatar_url: 'mxc://test/zz' });

      // Synapse's profile rules: trimmed, "" clears, too long and non-string refused.
      assert.equal((await putUser(s, admin, carol.userId, { displayname: '  spaced  ' })).body.displayname, 'spaced');
      const long = await putUser(s, admin, carol.userId, { displayname: 'x'.repeat(257) });
      assert.deepEqual([long.status, long.body], [400, { errcode: 'M_UNKNOWN', error: 'Displayname is too long (max 256)' }]);
      const notString = await putUser(s, admin, carol.userId, { avatar_url: 5 });
      assert.deepEqual([notString.status, notString.body], [400, { errcode: 'M_INVALID_PARAM', error: "'avatar_url' must be a string" }]);
      const cleared = await putUser(s, admin, carol.userId, { avatar_url: '' });
      assert.equal(cleared.body.avatar_url, null);
      const [noAvatar] = await newest(s, admin, room, 1);
      assert.deepEqual(noAvatar.content, { membership: 'join', displayname: 'spaced' });
    });

    it('erasure writes a join without the profile, then the leave', async () => {
      const dave = await registerUser(s, uniq('dave'));
      const room = await createRoom(s, dave.token, { preset: 'public_chat' });
      await putUser(s, admin, dave.userId, { displayname: 'Dave', avatar_url: 'mxc://test/d' });
      const r = await http(s, 'POST', `${A}/v1/deactivate/${enc(dave.userId)}`, { token: admin.token, body: { erase: true } });
      assert.equal(r.status, 200);
      const [leave, bare, noAvatar, full] = await newest(s, admin, room, 4);
      assert.deepEqual(full.content, { membership: 'join', displayname: 'Dave', avatar_url: 'mxc://test/d' });
      assert.deepEqual(noAvatar.content, { membership: 'join', displayname: 'Dave' });
      assert.deepEqual(bare.content, { membership: 'join' });
      assert.deepEqual(leave.content, { membership: 'leave' });
      assert.equal(leave.unsigned?.replaces_state, bare.event_id);
      assert.deepEqual(leave.unsigned?.prev_content, { membership: 'join' });
      const info = await getUser(s, admin, dave.userId);
      assert.deepEqual([info.displayname, info.avatar_url, info.erased], [null, null, true]);
    });
  });

  describe('item 7: admin user details carry every key Synapse returns', () => {
    // Synapse 1.94's keys, and `suspended`, which Synapse returns since 1.121.
    const SYNAPSE_KEYS = [
      'admin',
      'appservice_id',
      'avatar_url',
      'consent_server_notice_sent',
      'consent_ts',
      'consent_version',
      'creation_ts',
      'deactivated',
      'displayname',
      'erased',
      'external_ids',
      'is_guest',
      'last_seen_ts',
      'locked',
      'name',
      'shadow_banned',
      'suspended',
      'threepids',
      'user_type',
    ];

    it('a fresh user: every key, nulls where Synapse has none, last_seen_ts null until a token is used', async () => {
      const fresh = await registerUser(s, uniq('fresh'));
      const info = await getUser(s, admin, fresh.userId);
      assert.deepEqual(Object.keys(info).sort(), SYNAPSE_KEYS);
      const { creation_ts: created, name, ...rest } = info;
      assert.equal(name, fresh.userId);
      assert.equal(typeof created, 'number');
      assert.deepEqual(rest, {
        admin: false,
        deactivated: false,
        locked: false,
        shadow_banned: false,
        suspended: false,
        appservice_id: null,
        consent_server_notice_sent: null,
        consent_version: null,
        consent_ts: null,
        user_type: null,
        is_guest: false,
        displayname: fresh.userId.slice(1, fresh.userId.indexOf(':')),
        avatar_url: null,
        threepids: [],
        external_ids: [],
        erased: false,
        last_seen_ts: null,
      });
      const before = Date.now();
      assert.equal((await http(s, 'GET', `${C}/account/whoami`, { token: fresh.token })).status, 200);
      const seen = (await getUser(s, admin, fresh.userId)).last_seen_ts;
      assert.ok(typeof seen === 'number' && seen >= before && seen <= Date.now(), String(seen));
    });

    it('an admin who made requests has a last_seen_ts; a token used to act as a user counts for the admin', async () => {
      const other = await registerUser(s, uniq('parity_admin2'), { admin: true });
      const target = await registerUser(s, uniq('puppet'));
      const login = await http(s, 'POST', `${A}/v1/users/${enc(target.userId)}/login`, { token: other.token, body: {} });
      assert.equal(login.status, 200);
      const info = await getUser(s, admin, other.userId);
      assert.deepEqual(Object.keys(info).sort(), SYNAPSE_KEYS);
      assert.equal(typeof info.last_seen_ts, 'number');
      assert.equal(info.admin, true);
      assert.equal((await http(s, 'GET', `${C}/account/whoami`, { token: login.body.access_token })).status, 200);
      assert.equal((await getUser(s, admin, target.userId)).last_seen_ts, null, 'the puppet token counts for the admin, not the user');
    });
  });

  describe('item 9: /messages tokens with negative, signed and huge positions', () => {
    it('reads them as Synapse does: s-1 lies before every event, a huge position after every one', async () => {
      const user = await registerUser(s, uniq('tok'));
      const room = await createRoom(s, user.token, { preset: 'public_chat' });
      for (let i = 0; i < 12; i++) await send(s, user.token, room, `m${i}`);
      const page = (from: string, dir?: 'b' | 'f') =>
        http(s, 'GET', `${C}/rooms/${enc(room)}/messages?from=${enc(from)}${dir ? `&dir=${dir}` : ''}`, { token: user.token });
      // Synapse 1.94, same requests: s-1 forwards (the default direction) is the room from its create event.
      const fromMinus = await page('s-1');
      assert.equal(fromMinus.status, 200, JSON.stringify(fromMinus.body));
      assert.deepEqual(
        [fromMinus.body.chunk.length, fromMinus.body.chunk[0].type, fromMinus.body.start],
        [10, 'm.room.create', 's-1_0_0_0_0_0_0_0_0_0'],
      );
      const backwards = await page('s-1', 'b');
      assert.deepEqual([backwards.status, backwards.body.chunk, 'end' in backwards.body], [200, [], false]);
      assert.deepEqual((await page('t1--2')).body.chunk[0].type, 'm.room.create');
      assert.equal((await page('s-0')).body.start, 's0_0_0_0_0_0_0_0_0_0');
      assert.equal((await page('s+1')).body.start, 's1_0_0_0_0_0_0_0_0_0');
      const huge = await page('s99999999999999999999', 'b');
      assert.deepEqual([huge.status, huge.body.chunk.length, huge.body.chunk[0].content.body], [200, 10, 'm11']);
      assert.deepEqual((await page('s99999999999999999999')).body.chunk, []);
      // Still invalid in Synapse: t-1-2 (the depth is read up to the first '-'), a bare s.
      for (const bad of ['t-1-2', 's', 's1.5']) {
        const r = await page(bad);
        assert.deepEqual([r.status, r.body], [400, { errcode: 'M_UNKNOWN', error: "'from' parameter is invalid" }], bad);
      }
      const nonAscii = await page('s\u0663');
      assert.deepEqual([nonAscii.status, nonAscii.body], [400, { errcode: 'M_UNKNOWN', error: "Query parameter 'from' must be ascii" }]);
    });
  });

  describe('item 8: forward extremities carry a state group', () => {
    it('the state after the event: shared by events with the same state, new for each state event, stable', async () => {
      const user = await registerUser(s, uniq('extrem'));
      const room = await createRoom(s, user.token, { preset: 'public_chat' });
      const extremity = async () => {
        const r = await http(s, 'GET', `${A}/v1/rooms/${enc(room)}/forward_extremities`, { token: admin.token });
        assert.equal(r.status, 200);
        assert.equal(r.body.count, 1);
        return r.body.results[0] as { event_id: string; state_group: number | null };
      };
      const afterCreate = await extremity();
      assert.equal(typeof afterCreate.state_group, 'number');
      const m1 = await send(s, user.token, room, 'one');
      const first = await extremity();
      assert.equal(first.event_id, m1);
      assert.equal(first.state_group, afterCreate.state_group, 'a message keeps the state group of the state before it');
      await send(s, user.token, room, 'two');
      assert.equal((await extremity()).state_group, first.state_group);
      const topic = (await http(s, 'PUT', `${C}/rooms/${enc(room)}/state/m.room.topic`, { token: user.token, body: { topic: 't' } })).body
        .event_id;
      const afterTopic = await extremity();
      assert.equal(afterTopic.event_id, topic);
      assert.ok((afterTopic.state_group as number) > (first.state_group as number), 'a state event starts a new state group');
      await send(s, user.token, room, 'three');
      assert.equal((await extremity()).state_group, afterTopic.state_group);
    });
  });
});
