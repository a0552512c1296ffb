/**
 * The client API subset over real HTTP → gateway → gRPC → PostgreSQL: room creation, sends,
 * state, events, redactions, membership, directory, and the errors of bad input.
 */
import { strict as assert } from 'node:assert';
import { sharedStack } from '../support/root-hooks';
import * as grpc from '@grpc/grpc-js';
import { bearer, grpcCall, http, registerUser, uniq, type Stack, type TestUser } from '../support/stack';

const enc = encodeURIComponent;
const C = '/_matrix/client/v3';

describe('rooms: client API', () => {
  let s: Stack;
  let user: TestUser;
  let other: TestUser;
  let third: TestUser;

  before(async () => {
    s = await sharedStack();
    user = await registerUser(s, uniq('user'));
    other = await registerUser(s, uniq('other'));
    third = await registerUser(s, uniq('third'));
  });

  const createRoom = async (t: TestUser, body: Record<string, unknown> = {}) => {
    const res = await http(s, 'POST', `${C}/createRoom`, { token: t.token, body });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    return res.body.room_id as string;
  };
  const send = (t: TestUser, roomId: string, body: unknown, txn = uniq('txn'), type = 'm.room.message') =>
    http(s, 'PUT', `${C}/rooms/${enc(roomId)}/send/${enc(type)}/${enc(txn)}`, { token: t.token, body });
  const join = (t: TestUser, roomId: string) => http(s, 'POST', `${C}/rooms/${enc(roomId)}/join`, { token: t.token, body: {} });

  describe('POST /createRoom', () => {
    it('a public room created by one user has exactly 5 state events', async () => {
      const roomId = await createRoom(user, { preset: 'public_chat' });
      const state = await http(s, 'GET', `${C}/rooms/${enc(roomId)}/state`, { token: user.token });
      assert.equal(state.status, 200);
      assert.equal(state.body.length, 5);
      assert.deepEqual(state.body.map((e: any) => e.type).sort(), [
        'm.room.create',
        'm.room.history_visibility',
        'm.room.join_rules',
        'm.room.member',
        'm.room.power_levels',
      ]);
      for (const e of state.body) {
        assert.equal(e.room_id, roomId);
        assert.equal(e.user_id, e.sender, 'legacy user_id copy');
        assert.equal(typeof e.unsigned.age, 'number');
        assert.equal(e.depth, undefined);
        assert.equal(e.prev_events, undefined);
      }
    });

    it('accepts the r0 prefix and returns only room_id', async () => {
      const res = await http(s, 'POST', '/_matrix/client/r0/createRoom', { token: user.token, body: { room_alias_name: uniq('r0alias') } });
      assert.equal(res.status, 200);
      assert.deepEqual(Object.keys(res.body), ['room_id']);
    });

    it('refuses bad bodies with Synapse errors', async () => {
      const cases: [unknown, number, string][] = [
        [{ room_version: 99 }, 400, 'M_BAD_JSON'],
        [{ room_version: '99' }, 400, 'M_UNSUPPORTED_ROOM_VERSION'],
        [{ preset: 'foo' }, 400, 'M_BAD_JSON'],
        [{ invite: 'not a list' }, 400, 'M_BAD_JSON'],
        [{ invite: ['nope'] }, 400, 'M_UNKNOWN'],
        [{ initial_state: [{ type: 'm.room.name' }] }, 400, 'M_BAD_JSON'],
        [{ name: 42 }, 400, 'M_BAD_JSON'],
        [{ creation_content: [] }, 400, 'M_BAD_JSON'],
      ];
      for (const [body, status, errcode] of cases) {
        const res = await http(s, 'POST', `${C}/createRoom`, { token: user.token, body });
        assert.deepEqual([res.status, res.body.errcode], [status, errcode], JSON.stringify(body));
      }
      const notJson = await http(s, 'POST', `${C}/createRoom`, { token: user.token, rawBody: '{nope' });
      assert.deepEqual([notJson.status, notJson.body], [400, { errcode: 'M_NOT_JSON', error: 'Content not JSON.' }]);
      const empty = await http(s, 'POST', `${C}/createRoom`, { token: user.token, rawBody: '' });
      assert.equal(empty.body.errcode, 'M_NOT_JSON');
      const array = await http(s, 'POST', `${C}/createRoom`, { token: user.token, body: [1] });
      assert.deepEqual([array.status, array.body.errcode], [400, 'M_BAD_JSON']);
      const noToken = await http(s, 'POST', `${C}/createRoom`, { body: {} });
      assert.deepEqual([noToken.status, noToken.body.errcode], [401, 'M_MISSING_TOKEN']);
      const badToken = await http(s, 'POST', `${C}/createRoom`, { token: 'nope', body: {} });
      assert.deepEqual([badToken.status, badToken.body.errcode], [401, 'M_UNKNOWN_TOKEN']);
    });

    it('refuses oversized bodies with 413 M_TOO_LARGE', async () => {
      const res = await http(s, 'POST', `${C}/createRoom`, {
        token: user.token,
        rawBody: JSON.stringify({ name: 'x'.repeat(s.config.maxRequestBodyBytes + 10) }),
      });
      assert.deepEqual([res.status, res.body.errcode], [413, 'M_TOO_LARGE']);
    });
  });

  describe('send, state, event, redact', () => {
    let roomId: string;
    before(async () => {
      roomId = await createRoom(user, { preset: 'public_chat' });
      assert.equal((await join(other, roomId)).status, 200);
    });

    it('PUT send is idempotent per transaction id and reports transaction_id to the sending device', async () => {
      const a = await send(user, roomId, { msgtype: 'm.text', body: 'hello' }, 'same-txn');
      const b = await send(user, roomId, { msgtype: 'm.text', body: 'hello again' }, 'same-txn');
      assert.equal(a.status, 200);
      assert.equal(b.body.event_id, a.body.event_id);
      const ev = await http(s, 'GET', `${C}/rooms/${enc(roomId)}/event/${enc(a.body.event_id)}`, { token: user.token });
      assert.equal(ev.status, 200);
      assert.equal(ev.body.content.body, 'hello');
      assert.equal(ev.body.unsigned.transaction_id, 'same-txn');
      const seenByOther = await http(s, 'GET', `${C}/rooms/${enc(roomId)}/event/${enc(a.body.event_id)}`, { token: other.token });
      assert.equal(seenByOther.body.unsigned.transaction_id, undefined);
      const post = await http(s, 'POST', `${C}/rooms/${enc(roomId)}/send/m.room.message`, {
        token: user.token,
        body: { msgtype: 'm.text', body: 'no txn' },
      });
      assert.equal(post.status, 200);
      assert.match(post.body.event_id, /^\$[A-Za-z0-9_-]{43}$/);
    });

    it('state PUT/GET with and without a state key, and format=event', async () => {
      const put = await http(s, 'PUT', `${C}/rooms/${enc(roomId)}/state/m.room.topic`, { token: user.token, body: { topic: 'Topic!' } });
      assert.equal(put.status, 200);
      const get = await http(s, 'GET', `${C}/rooms/${enc(roomId)}/state/m.room.topic/`, { token: user.token });
      assert.deepEqual(get.body, { topic: 'Topic!' });
      const ev = await http(s, 'GET', `${C}/rooms/${enc(roomId)}/state/m.room.topic?format=event`, { token: other.token });
      assert.equal(ev.body.event_id, put.body.event_id);
      assert.equal(ev.body.state_key, '');
      const custom = await http(s, 'PUT', `${C}/rooms/${enc(roomId)}/state/org.example.state/${enc('some key')}`, {
        token: user.token,
        body: { a: 1 },
      });
      assert.equal(custom.status, 200);
      const back = await http(s, 'GET', `${C}/rooms/${enc(roomId)}/state/org.example.state/${enc('some key')}`, { token: user.token });
      assert.deepEqual(back.body, { a: 1 });
      const missing = await http(s, 'GET', `${C}/rooms/${enc(roomId)}/state/m.room.name`, { token: user.token });
      assert.deepEqual([missing.status, missing.body], [404, { errcode: 'M_NOT_FOUND', error: 'Event not found.' }]);
      const badFormat = await http(s, 'GET', `${C}/rooms/${enc(roomId)}/state/m.room.topic?format=xml`, { token: user.token });
      assert.deepEqual([badFormat.status, badFormat.body.errcode], [400, 'M_INVALID_PARAM']);
    });

    it('state PUT of m.room.member goes through membership rules', async () => {
      const bad = await http(s, 'PUT', `${C}/rooms/${enc(roomId)}/state/m.room.member/${enc(third.userId)}`, {
        token: user.token,
        body: { membership: 5 },
      });
      assert.deepEqual([bad.status, bad.body.error], [400, 'Invalid membership (must be a string)']);
      const invite = await http(s, 'PUT', `${C}/rooms/${enc(roomId)}/state/m.room.member/${enc(third.userId)}`, {
        token: user.token,
        body: { membership: 'invite' },
      });
      assert.equal(invite.status, 200);
      const members = await http(s, 'GET', `${C}/rooms/${enc(roomId)}/members?membership=invite`, { token: user.token });
      assert.deepEqual(
        members.body.chunk.map((e: any) => e.state_key),
        [third.userId],
      );
    });

    it('sending needs membership and power; unknown rooms are 403', async () => {
      const res = await send(third, roomId, { msgtype: 'm.text', body: 'x' });
      assert.deepEqual([res.status, res.body], [403, { errcode: 'M_FORBIDDEN', error: `User ${third.userId} not in room ${roomId}` }]);
      const unknown = await send(user, '!unknown:test', { msgtype: 'm.text', body: 'x' });
      assert.deepEqual([unknown.status, unknown.body.errcode], [403, 'M_FORBIDDEN']);
      const noPower = await http(s, 'PUT', `${C}/rooms/${enc(roomId)}/state/m.room.name`, { token: other.token, body: { name: 'n' } });
      assert.deepEqual([noPower.status, noPower.body.errcode], [403, 'M_FORBIDDEN']);
      const badContent = await send(user, roomId, { msgtype: 'm.text' });
      assert.deepEqual([badContent.status, badContent.body.error], [400, "'body' not in content"]);
      const notJson = await http(s, 'PUT', `${C}/rooms/${enc(roomId)}/send/m.room.message/t${Date.now()}`, {
        token: user.token,
        rawBody: 'nope',
      });
      assert.equal(notJson.body.errcode, 'M_NOT_JSON');
      // PostgreSQL cannot store U+0000: a 400 before any write, in values and in keys alike.
      for (const raw of ['{"msgtype":"m.text","body":"a\\u0000b"}', '{"msgtype":"m.text","body":"x","k\\u0000":1}']) {
        const nul = await http(s, 'PUT', `${C}/rooms/${enc(roomId)}/send/m.room.message/t${Date.now()}`, {
          token: user.token,
          rawBody: raw,
        });
        assert.deepEqual([nul.status, nul.body.errcode], [400, 'M_BAD_JSON']);
      }
      const escaped = await http(s, 'PUT', `${C}/rooms/${enc(roomId)}/send/m.room.message/t${Date.now()}`, {
        token: user.token,
        rawBody: '{"msgtype":"m.text","body":"\\\\u0000"}',
      });
      assert.equal(escaped.status, 200);
      const ev = await http(s, 'GET', `${C}/rooms/${enc(roomId)}/event/${enc(escaped.body.event_id)}`, { token: user.token });
      assert.equal(ev.body.content.body, '\\u0000');
      const retention = await http(s, 'PUT', `${C}/rooms/${enc(roomId)}/state/m.room.retention`, {
        token: user.token,
        body: { max_lifetime: 'soon' },
      });
      assert.deepEqual([retention.status, retention.body], [400, { errcode: 'M_BAD_JSON', error: "'max_lifetime' must be an integer" }]);
    });

    it('16 concurrent senders into one room get distinct, gap-free depths and increasing stream orderings', async () => {
      const senders = await Promise.all(Array.from({ length: 16 }, () => registerUser(s, uniq('conc'))));
      const room = await createRoom(user, { preset: 'public_chat' });
      for (const t of senders) assert.equal((await join(t, room)).status, 200);
      const sent = await Promise.all(
        senders.flatMap((t) => [1, 2, 3].map((n) => send(t, room, { msgtype: 'm.text', body: `${t.userId} ${n}` }))),
      );
      assert.ok(sent.every((r) => r.status === 200));
      const rows = await s.app.orm.em
        .fork()
        .getConnection()
        .execute<any[]>('SELECT depth, stream_ordering FROM events WHERE room_id = ? ORDER BY depth', [room]);
      assert.equal(rows.length, 5 + 16 + 48);
      rows.forEach((r, i) => assert.equal(Number(r.depth), i + 1));
      for (let i = 1; i < rows.length; i++) assert.ok(Number(rows[i].stream_ordering) > Number(rows[i - 1].stream_ordering));
    });

    it('oversized events and keys are 413 M_TOO_LARGE', async () => {
      const longType = await send(user, roomId, { a: 1 }, uniq('t'), 'x'.repeat(300));
      assert.deepEqual([longType.status, longType.body], [413, { errcode: 'M_TOO_LARGE', error: "'type' too large" }]);
      const big = await send(user, roomId, { msgtype: 'm.text', body: 'x'.repeat(70_000) });
      assert.deepEqual([big.status, big.body], [413, { errcode: 'M_TOO_LARGE', error: 'event too large' }]);
    });

    it('GET /event is 404 for unknown events, other rooms and non-members of non-world-readable rooms', async () => {
      const a = await send(user, roomId, { msgtype: 'm.text', body: 'secret' });
      const elsewhere = await createRoom(user, { preset: 'private_chat' });
      for (const [who, room, id] of [
        [user, roomId, '$nope'],
        [user, elsewhere, a.body.event_id],
        [third, roomId, a.body.event_id],
      ] as const) {
        const res = await http(s, 'GET', `${C}/rooms/${enc(room)}/event/${enc(id)}`, { token: who.token });
        assert.deepEqual([res.status, res.body], [404, { errcode: 'M_NOT_FOUND', error: 'Event not found.' }]);
      }
    });

    it('redacts with a reason; the redacted event shows redacted_because', async () => {
      const a = await send(other, roomId, { msgtype: 'm.text', body: 'regret' });
      const r = await http(s, 'PUT', `${C}/rooms/${enc(roomId)}/redact/${enc(a.body.event_id)}/r1`, {
        token: other.token,
        body: { reason: 'typo' },
      });
      assert.equal(r.status, 200);
      const again = await http(s, 'PUT', `${C}/rooms/${enc(roomId)}/redact/${enc(a.body.event_id)}/r1`, {
        token: other.token,
        body: { reason: 'typo' },
      });
      assert.equal(again.body.event_id, r.body.event_id);
      const ev = await http(s, 'GET', `${C}/rooms/${enc(roomId)}/event/${enc(a.body.event_id)}`, { token: user.token });
      assert.deepEqual(ev.body.content, {});
      assert.equal(ev.body.unsigned.redacted_because.event_id, r.body.event_id);
      assert.equal(ev.body.unsigned.redacted_because.content.reason, 'typo');
      assert.equal(ev.body.unsigned.redacted_because.redacts, a.body.event_id);
      const b = await send(user, roomId, { msgtype: 'm.text', body: 'mine' });
      const denied = await http(s, 'POST', `${C}/rooms/${enc(roomId)}/redact/${enc(b.body.event_id)}`, { token: other.token, body: {} });
      assert.deepEqual([denied.status, denied.body.error], [403, "You don't have permission to redact events"]);
      const noBody = await http(s, 'POST', `${C}/rooms/${enc(roomId)}/redact/${enc(b.body.event_id)}`, { token: user.token });
      assert.equal(noBody.body.errcode, 'M_NOT_JSON');
    });
  });

  describe('membership', () => {
    it('join, leave, forget, joined_rooms, joined_members (403 after leaving)', async () => {
      const roomId = await createRoom(user, { preset: 'public_chat' });
      const j = await join(other, roomId);
      assert.deepEqual(j.body, { room_id: roomId });
      const jr = await http(s, 'GET', `${C}/joined_rooms`, { token: other.token });
      assert.ok(jr.body.joined_rooms.includes(roomId));
      const jm = await http(s, 'GET', `${C}/rooms/${enc(roomId)}/joined_members`, { token: other.token });
      assert.deepEqual(Object.keys(jm.body.joined).sort(), [other.userId, user.userId].sort());
      assert.equal(jm.body.joined[user.userId].display_name, user.userId.slice(1, user.userId.indexOf(':')));
      const forgetJoined = await http(s, 'POST', `${C}/rooms/${enc(roomId)}/forget`, { token: other.token, body: {} });
      assert.deepEqual([forgetJoined.status, forgetJoined.body.error], [400, `User ${other.userId} in room ${roomId}`]);
      assert.deepEqual((await http(s, 'POST', `${C}/rooms/${enc(roomId)}/leave`, { token: other.token })).body, {});
      const after = await http(s, 'GET', `${C}/rooms/${enc(roomId)}/joined_members`, { token: other.token });
      assert.deepEqual([after.status, after.body.errcode], [403, 'M_FORBIDDEN']);
      const stateAfterLeave = await http(s, 'GET', `${C}/rooms/${enc(roomId)}/state`, { token: other.token });
      assert.equal(stateAfterLeave.status, 200, 'departed users see the state at their leave');
      assert.equal((await http(s, 'POST', `${C}/rooms/${enc(roomId)}/forget`, { token: other.token })).status, 200);
      const forgotten = await http(s, 'GET', `${C}/rooms/${enc(roomId)}/state`, { token: other.token });
      assert.deepEqual(
        [forgotten.status, forgotten.body.error],
        [403, `User ${other.userId} not in room ${roomId}, and room previews are disabled`],
      );
    });

    it('invite, kick, ban, unban with their rules', async () => {
      const roomId = await createRoom(user, { preset: 'private_chat' });
      const notInvited = await join(other, roomId);
      assert.deepEqual([notInvited.status, notInvited.body.error], [403, 'You are not invited to this room.']);
      const missing = await http(s, 'POST', `${C}/rooms/${enc(roomId)}/invite`, { token: user.token, body: {} });
      assert.deepEqual([missing.status, missing.body], [400, { errcode: 'M_MISSING_PARAM', error: "Missing params: ['user_id']" }]);
      const badId = await http(s, 'POST', `${C}/rooms/${enc(roomId)}/invite`, { token: user.token, body: { user_id: 'nope' } });
      assert.deepEqual([badId.status, badId.body.errcode], [400, 'M_INVALID_PARAM']);
      assert.equal(
        (await http(s, 'POST', `${C}/rooms/${enc(roomId)}/invite`, { token: user.token, body: { user_id: other.userId } })).status,
        200,
      );
      assert.equal((await join(other, roomId)).status, 200);
      const kickUp = await http(s, 'POST', `${C}/rooms/${enc(roomId)}/kick`, { token: other.token, body: { user_id: user.userId } });
      assert.deepEqual([kickUp.status, kickUp.body.error], [403, `You cannot kick user ${user.userId}.`]);
      assert.equal(
        (await http(s, 'POST', `${C}/rooms/${enc(roomId)}/ban`, { token: user.token, body: { user_id: other.userId, reason: 'spam' } }))
          .status,
        200,
      );
      const rejoin = await join(other, roomId);
      assert.deepEqual([rejoin.status, rejoin.body.errcode], [403, 'M_BAD_STATE']);
      const state = await http(s, 'GET', `${C}/rooms/${enc(roomId)}/state/m.room.member/${enc(other.userId)}`, { token: user.token });
      assert.deepEqual(state.body, { membership: 'ban', reason: 'spam' });
      assert.equal(
        (await http(s, 'POST', `${C}/rooms/${enc(roomId)}/unban`, { token: user.token, body: { user_id: other.userId } })).status,
        200,
      );
      const unbanAgain = await http(s, 'POST', `${C}/rooms/${enc(roomId)}/unban`, { token: user.token, body: { user_id: other.userId } });
      assert.deepEqual([unbanAgain.status, unbanAgain.body.errcode], [403, 'M_BAD_STATE']);
    });

    it('join and knock by alias', async () => {
      const alias = uniq('knockable');
      const roomId = await createRoom(user, {
        preset: 'private_chat',
        room_alias_name: alias,
        initial_state: [{ type: 'm.room.join_rules', content: { join_rule: 'knock' } }],
      });
      const knock = await http(s, 'POST', `${C}/knock/${enc(`#${alias}:test`)}`, { token: other.token, body: { reason: 'let me in' } });
      assert.deepEqual([knock.status, knock.body], [200, { room_id: roomId }]);
      const noBody = await http(s, 'POST', `${C}/knock/${enc(roomId)}`, { token: other.token });
      assert.equal(noBody.body.errcode, 'M_NOT_JSON');
      const unknownAlias = await http(s, 'POST', `${C}/join/${enc('#nope:test')}`, { token: other.token });
      assert.deepEqual(
        [unknownAlias.status, unknownAlias.body],
        [404, { errcode: 'M_NOT_FOUND', error: 'Room alias #nope:test not found' }],
      );
      const junk = await http(s, 'POST', `${C}/join/junk`, { token: other.token });
      assert.deepEqual([junk.status, junk.body.error], [400, 'junk was not legal room ID or room alias']);
      const unknownRoom = await http(s, 'POST', `${C}/join/${enc('!unknown:test')}`, { token: other.token });
      assert.equal(unknownRoom.status, 404);
      const pub = await createRoom(user, { preset: 'public_chat', room_alias_name: uniq('pub') });
      const aliases = await http(s, 'GET', `${C}/rooms/${enc(pub)}/aliases`, { token: user.token });
      const byAlias = await http(s, 'POST', `${C}/join/${enc(aliases.body.aliases[0])}`, {
        token: third.token,
        body: { displayname: 'Third!' },
      });
      assert.deepEqual(byAlias.body, { room_id: pub });
      const jm = await http(s, 'GET', `${C}/rooms/${enc(pub)}/joined_members`, { token: third.token });
      assert.equal(jm.body.joined[third.userId].display_name, 'Third!');
    });
  });

  describe('directory', () => {
    it('aliases: create, resolve, delete', async () => {
      const roomId = await createRoom(user, { preset: 'public_chat' });
      const alias = `#${uniq('dir')}:test`;
      assert.equal(
        (await http(s, 'PUT', `${C}/directory/room/${enc(alias)}`, { token: user.token, body: { room_id: roomId } })).status,
        200,
      );
      const taken = await http(s, 'PUT', `${C}/directory/room/${enc(alias)}`, { token: user.token, body: { room_id: roomId } });
      assert.equal(taken.status, 409);
      const got = await http(s, 'GET', `${C}/directory/room/${enc(alias)}`);
      assert.deepEqual(got.body, { room_id: roomId, servers: ['test'] });
      const notMember = await http(s, 'PUT', `${C}/directory/room/${enc(`#${uniq('x')}:test`)}`, {
        token: third.token,
        body: { room_id: roomId },
      });
      assert.deepEqual([notMember.status, notMember.body.error], [403, 'You must be in the room to create an alias for it']);
      const noRoom = await http(s, 'PUT', `${C}/directory/room/${enc(`#${uniq('x')}:test`)}`, {
        token: user.token,
        body: { room_id: '!nope:test' },
      });
      assert.deepEqual([noRoom.status, noRoom.body.error], [400, 'Room does not exist']);
      const remote = await http(s, 'PUT', `${C}/directory/room/${enc('#x:elsewhere')}`, { token: user.token, body: { room_id: roomId } });
      assert.deepEqual([remote.status, remote.body.error], [400, 'Room alias must be local']);
      const invalid = await http(s, 'GET', `${C}/directory/room/notanalias`);
      assert.deepEqual([invalid.status, invalid.body.errcode], [400, 'M_INVALID_PARAM']);
      const missingBody = await http(s, 'PUT', `${C}/directory/room/${enc(alias)}`, { token: user.token, body: {} });
      assert.deepEqual([missingBody.status, missingBody.body.errcode], [400, 'M_MISSING_PARAM']);
      // Two errors in the body (no room_id, servers not a list): Synapse's catch-all M_BAD_JSON.
      const twoErrors = await http(s, 'PUT', `${C}/directory/room/${enc(alias)}`, { token: user.token, body: { servers: 5 } });
      assert.deepEqual([twoErrors.status, twoErrors.body.errcode], [400, 'M_BAD_JSON']);
      const nullRoom = await http(s, 'PUT', `${C}/directory/room/${enc(alias)}`, { token: user.token, body: { room_id: null } });
      assert.deepEqual([nullRoom.status, nullRoom.body.errcode], [400, 'M_BAD_JSON']);
      const denied = await http(s, 'DELETE', `${C}/directory/room/${enc(alias)}`, { token: third.token });
      assert.equal(denied.status, 403);
      assert.equal((await http(s, 'DELETE', `${C}/directory/room/${enc(alias)}`, { token: user.token })).status, 200);
      const gone = await http(s, 'GET', `${C}/directory/room/${enc(alias)}`);
      assert.deepEqual([gone.status, gone.body.errcode], [404, 'M_NOT_FOUND']);
      const deleteGone = await http(s, 'DELETE', `${C}/directory/room/${enc(alias)}`, { token: user.token });
      assert.deepEqual([deleteGone.status, deleteGone.body], [404, { errcode: 'M_NOT_FOUND', error: 'Unknown room alias' }]);
    });

    it('deleting the canonical alias drops it from m.room.canonical_alias', async () => {
      const name = uniq('canon');
      const roomId = await createRoom(user, { preset: 'public_chat', room_alias_name: name });
      assert.equal((await http(s, 'DELETE', `${C}/directory/room/${enc(`#${name}:test`)}`, { token: user.token })).status, 200);
      const canonical = await http(s, 'GET', `${C}/rooms/${enc(roomId)}/state/m.room.canonical_alias`, { token: user.token });
      assert.deepEqual(canonical.body, {});
    });

    it('room list visibility', async () => {
      const roomId = await createRoom(user, { visibility: 'public' });
      assert.deepEqual((await http(s, 'GET', `${C}/directory/list/room/${enc(roomId)}`)).body, { visibility: 'public' });
      assert.equal(
        (await http(s, 'PUT', `${C}/directory/list/room/${enc(roomId)}`, { token: user.token, body: { visibility: 'private' } })).status,
        200,
      );
      assert.deepEqual((await http(s, 'GET', `${C}/directory/list/room/${enc(roomId)}`)).body, { visibility: 'private' });
      const bad = await http(s, 'PUT', `${C}/directory/list/room/${enc(roomId)}`, { token: user.token, body: { visibility: 'secret' } });
      assert.deepEqual([bad.status, bad.body.errcode], [400, 'M_BAD_JSON']);
      const notMod = await http(s, 'PUT', `${C}/directory/list/room/${enc(roomId)}`, { token: other.token, body: {} });
      assert.equal(notMod.status, 403);
      // As Synapse: no credential is 401 first; with one, the body is read before the rights are checked.
      const anonymous = await http(s, 'PUT', `${C}/directory/list/room/${enc(roomId)}`, { rawBody: '{x' });
      assert.equal(anonymous.status, 401);
      const notModBadBody = await http(s, 'PUT', `${C}/directory/list/room/${enc(roomId)}`, { token: other.token, rawBody: '{x' });
      assert.deepEqual([notModBadBody.status, notModBadBody.body.errcode], [400, 'M_NOT_JSON']);
      const unknown = await http(s, 'GET', `${C}/directory/list/room/${enc('!nope:test')}`);
      assert.deepEqual([unknown.status, unknown.body], [404, { errcode: 'M_NOT_FOUND', error: 'Unknown room' }]);
    });
  });

  describe('gRPC RoomService', () => {
    it('creates a room and sends with the same rules as the gateway', async () => {
      const md = bearer(user.token);
      const created = await grpcCall(
        s.clients.rooms,
        s.clients.rooms.createRoom,
        { invite: [], initialState: [], isDirect: false, preset: 'public_chat', roomAliasName: uniq('grpc') },
        md,
      );
      assert.match(created.roomId, /^!/);
      assert.match(created.roomAlias ?? '', /^#grpc/);
      const sent = await grpcCall(
        s.clients.rooms,
        s.clients.rooms.sendEvent,
        { roomId: created.roomId, type: 'm.room.message', contentJson: JSON.stringify({ msgtype: 'm.text', body: 'hi' }), txnId: 'g1' },
        md,
      );
      const again = await grpcCall(
        s.clients.rooms,
        s.clients.rooms.sendEvent,
        { roomId: created.roomId, type: 'm.room.message', contentJson: '{"msgtype":"m.text","body":"hi"}', txnId: 'g1' },
        md,
      );
      assert.equal(again.eventId, sent.eventId);
      const got = await grpcCall(s.clients.rooms, s.clients.rooms.getEvent, { roomId: created.roomId, eventId: sent.eventId }, md);
      assert.equal(got.event?.depth, 7, 'create, join, power levels, canonical alias, join rules, history visibility, message');
      assert.equal(JSON.parse(got.event?.unsignedJson ?? '{}').transaction_id, 'g1');
      await assert.rejects(
        grpcCall(s.clients.rooms, s.clients.rooms.updateMembership, { action: 0, room: { $case: 'roomId', value: created.roomId } }, md),
        /Invalid membership key/,
      );
      await assert.rejects(
        grpcCall(s.clients.rooms, s.clients.rooms.sendEvent, { roomId: created.roomId, type: 'm.room.message', contentJson: '{}' }),
        /Missing access token/,
      );
      await assert.rejects(
        grpcCall(s.clients.rooms, s.clients.rooms.sendEvent, { roomId: created.roomId, type: 'm.room.message', contentJson: '{nope' }, md),
        (e: grpc.ServiceError) => e.code === grpc.status.INVALID_ARGUMENT && e.details === "'content_json' is not valid JSON",
      );
      await assert.rejects(
        grpcCall(s.clients.rooms, s.clients.rooms.sendEvent, { roomId: created.roomId, type: 'm.room.message', contentJson: '[1]' }, md),
        (e: grpc.ServiceError) => e.code === grpc.status.INVALID_ARGUMENT && e.details === "'content_json' must be a JSON object",
      );
    });
  });
});
