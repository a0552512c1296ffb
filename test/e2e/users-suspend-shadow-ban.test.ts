/**
 * PUT /_synapse/admin/v1/suspend/<user_id> and POST / DELETE /_synapse/admin/v1/users/<user_id>/shadow_ban:
 * the admin routes with Synapse's errors, and what each does to the user's own requests
 * (users-moderation spec §6, §7). Shadow-ban tests follow Synapse's ShadowBanRestTestCase names.
 */
import { strict as assert } from 'node:assert';
import * as grpc from '@grpc/grpc-js';
import { CreateRoomRequest, SendEventRequest } from '../../gen/synapse/admin/v1/rooms';
import { SetProfileFieldRequest } from '../../gen/synapse/admin/v1/profile';
import { sharedStack } from '../support/root-hooks';
import { bearer, grpcCall, grpcRefusal, http, registerUser, startStack, uniq, type Stack, type TestUser } from '../support/stack';
import { checkAccessCalls, rpcCalls } from '../support/metrics';
import { until } from '../support/until';
import { C, enc } from '../support/client';
import { createRoom, eventExists, join, messages, send } from './pagination.helpers';

const suspendUrl = (userId: string) => `/_synapse/admin/v1/suspend/${enc(userId)}`;
const shadowBanUrl = (userId: string) => `/_synapse/admin/v1/users/${enc(userId)}/shadow_ban`;
const FAKE_EVENT_ID = /^\$[A-Za-z]{43}$/;

describe('Suspension and shadow-bans', () => {
  let s: Stack;
  let admin: TestUser;

  before(async () => {
    s = await sharedStack();
    admin = await registerUser(s, uniq('susadmin'), { admin: true });
  });

  const suspend = (userId: string, body: unknown, token = admin.token) => http(s, 'PUT', suspendUrl(userId), { token, body });
  const userRecord = async (userId: string) =>
    (await http(s, 'GET', `/_synapse/admin/v2/users/${enc(userId)}`, { token: admin.token })).body;
  const bodiesOf = async (token: string, roomId: string) =>
    (await messages(s, token, roomId, { dir: 'b', limit: 50 })).body.chunk
      .filter((e: { type: string }) => e.type === 'm.room.message')
      .map((e: { content: { body: string } }) => e.content.body);

  describe('PUT /_synapse/admin/v1/suspend', () => {
    it('suspends and reinstates, answering user_<id>_suspended', async () => {
      const u = await registerUser(s, uniq('sus'));
      const on = await suspend(u.userId, { suspend: true });
      assert.deepEqual([on.status, on.body], [200, { [`user_${u.userId}_suspended`]: true }]);
      assert.equal((await userRecord(u.userId)).suspended, true);
      const off = await suspend(u.userId, { suspend: false });
      assert.deepEqual([off.status, off.body], [200, { [`user_${u.userId}_suspended`]: false }]);
      assert.equal((await userRecord(u.userId)).suspended, false);
    });

    it("answers Synapse's errors: remote 400, unknown 404 before the body, then the body", async () => {
      const remote = await suspend('@someone:elsewhere.org', { suspend: true });
      assert.deepEqual([remote.status, remote.body.error], [400, 'Can only suspend local users']);
      const unknown = await suspend(`@${uniq('nobody')}:test`, { suspend: 'nope' });
      assert.deepEqual([unknown.status, unknown.body.errcode, unknown.body.error], [404, 'M_NOT_FOUND', 'User not found']);
      const u = await registerUser(s, uniq('susbad'));
      const missing = await suspend(u.userId, {});
      assert.deepEqual([missing.status, missing.body.errcode], [400, 'M_MISSING_PARAM']);
      for (const bad of ['true', 1, null]) {
        const r = await suspend(u.userId, { suspend: bad });
        assert.deepEqual([r.status, r.body.errcode], [400, 'M_BAD_JSON'], JSON.stringify(bad));
      }
      const nonAdmin = await suspend(u.userId, { suspend: true }, u.token);
      assert.deepEqual([nonAdmin.status, nonAdmin.body.errcode], [403, 'M_FORBIDDEN']);
      assert.equal((await userRecord(u.userId)).suspended, false);
    });

    it('the service reads the body after authentication and after the user, with no extra RPC; gRPC callers get the same answers', async () => {
      const u = await registerUser(s, uniq('susbody'));
      const nobody = `@${uniq('nobody')}:test`;
      const c = s.clients.userAdmin;
      const before = await checkAccessCalls(s.baseUrl);
      for (const [raw, errcode, error] of [
        ['{bad', 'M_NOT_JSON', 'Content not JSON.'],
        ['', 'M_NOT_JSON', 'Content not JSON.'],
        ['[]', 'M_BAD_JSON', 'Content must be a JSON object.'],
        ['{}', 'M_MISSING_PARAM', "Missing params: ['suspend']"],
        ['{"suspend":"true"}', 'M_BAD_JSON', "'suspend' must be a boolean"],
      ]) {
        const anonymous = await http(s, 'PUT', suspendUrl(u.userId), { rawBody: raw });
        assert.deepEqual([anonymous.status, anonymous.body.errcode], [401, 'M_MISSING_TOKEN'], raw);
        const forbidden = await http(s, 'PUT', suspendUrl(u.userId), { token: u.token, rawBody: raw });
        assert.deepEqual([forbidden.status, forbidden.body.errcode], [403, 'M_FORBIDDEN'], raw);
        const r = await http(s, 'PUT', suspendUrl(u.userId), { token: admin.token, rawBody: raw });
        assert.deepEqual([r.status, r.body], [400, { errcode, error }], raw);
        // The user's errors come before the body's.
        const unknown = await http(s, 'PUT', suspendUrl(nobody), { token: admin.token, rawBody: raw });
        assert.deepEqual([unknown.status, unknown.body], [404, { errcode: 'M_NOT_FOUND', error: 'User not found' }], raw);
        const remote = await http(s, 'PUT', suspendUrl('@someone:elsewhere.org'), { token: admin.token, rawBody: raw });
        assert.deepEqual([remote.status, remote.body.error], [400, 'Can only suspend local users'], raw);
        // Over gRPC, the same answers in the same order.
        const req = (userId: string) => ({ userId, bodyJson: Buffer.from(raw) });
        assert.deepEqual(await grpcRefusal(grpcCall(c, c.suspendUser, req(u.userId), bearer(admin.token))), {
          code: grpc.status.INVALID_ARGUMENT,
          errcode,
          error,
        });
        assert.deepEqual(await grpcRefusal(grpcCall(c, c.suspendUser, req(nobody), bearer(admin.token))), {
          code: grpc.status.NOT_FOUND,
          errcode: 'M_NOT_FOUND',
          error: 'User not found',
        });
        assert.equal((await grpcRefusal(grpcCall(c, c.suspendUser, req(u.userId), bearer(u.token)))).errcode, 'M_FORBIDDEN');
        assert.equal((await grpcRefusal(grpcCall(c, c.suspendUser, req(u.userId)))).errcode, 'M_MISSING_TOKEN');
      }
      // The gateway raised nothing of its own: no CheckAccess call was needed to put auth first.
      assert.equal(await checkAccessCalls(s.baseUrl), before);
      assert.equal((await userRecord(u.userId)).suspended, false);
      // One RPC a request: the gateway no longer asks the service to check the user first.
      const calls = () => rpcCalls(s.baseUrl, '/synapse.admin.v1.UserAdminService/SuspendUser');
      const n = await calls();
      await suspend(u.userId, { suspend: 'yes' });
      assert.equal((await suspend(u.userId, { suspend: false })).status, 200);
      assert.equal(await calls(), n + 2);
      // With body_json the typed field is ignored.
      const on = await grpcCall(
        c,
        c.suspendUser,
        { userId: u.userId, suspend: false, bodyJson: Buffer.from('{"suspend":true}') },
        bearer(admin.token),
      );
      assert.deepEqual([on.suspended, (await userRecord(u.userId)).suspended], [true, true]);
      await suspend(u.userId, { suspend: false });
    });

    it('refuses a suspended user sends, state, invites, joins, knocks, bans, room creation and profile changes with 403 M_USER_SUSPENDED', async () => {
      const owner = await registerUser(s, uniq('susowner'));
      const u = await registerUser(s, uniq('susact'));
      const other = await registerUser(s, uniq('susother'));
      const roomId = await createRoom(s, owner.token, { preset: 'public_chat' });
      const second = await createRoom(s, owner.token, { preset: 'public_chat' });
      await join(s, u.token, roomId);
      // Make the user a moderator, so only the suspension can refuse a ban.
      const pl = (await http(s, 'GET', `${C}/rooms/${enc(roomId)}/state/m.room.power_levels/`, { token: owner.token })).body;
      await http(s, 'PUT', `${C}/rooms/${enc(roomId)}/state/m.room.power_levels/`, {
        token: owner.token,
        body: { ...pl, users: { ...pl.users, [u.userId]: 100 } },
      });
      const ownersEvent = await send(s, owner.token, roomId, 'from the owner');
      const ownEvent = await send(s, u.token, roomId, 'mine');
      assert.equal((await suspend(u.userId, { suspend: true })).status, 200);

      const cases: [string, string, unknown, string][] = [
        [
          'PUT',
          `${C}/rooms/${enc(roomId)}/send/m.room.message/sus1`,
          { msgtype: 'm.text', body: 'x' },
          'Sending messages while account is suspended is not allowed.',
        ],
        [
          'PUT',
          `${C}/rooms/${enc(roomId)}/state/m.room.topic/`,
          { topic: 'x' },
          'Sending messages while account is suspended is not allowed.',
        ],
        ['POST', `${C}/createRoom`, {}, 'Sending messages while account is suspended is not allowed.'],
        [
          'POST',
          `${C}/rooms/${enc(roomId)}/invite`,
          { user_id: other.userId },
          'Sending invites while account is suspended is not allowed.',
        ],
        ['POST', `${C}/join/${enc(second)}`, {}, 'Joining rooms while account is suspended is not allowed.'],
        ['POST', `${C}/knock/${enc(second)}`, {}, 'Knocking on rooms while account is suspended is not allowed.'],
        [
          'POST',
          `${C}/rooms/${enc(roomId)}/ban`,
          { user_id: other.userId },
          'Changing membership while account is suspended is not allowed.',
        ],
        [
          'PUT',
          `${C}/rooms/${enc(roomId)}/state/m.room.member/${enc(other.userId)}`,
          { membership: 'invite' },
          'Sending invites while account is suspended is not allowed.',
        ],
        [
          'PUT',
          `${C}/rooms/${enc(roomId)}/redact/${enc(ownersEvent)}/sus2`,
          {},
          'You can only redact your own events while account is suspended.',
        ],
        [
          'PUT',
          `${C}/profile/${enc(u.userId)}/displayname`,
          { displayname: 'x' },
          'Updating profile while account is suspended is not allowed.',
        ],
      ];
      for (const [method, path, body, error] of cases) {
        const r = await http(s, method, path, { token: u.token, body });
        assert.deepEqual([r.status, r.body.errcode, r.body.error], [403, 'M_USER_SUSPENDED', error], `${method} ${path}`);
      }
      // Allowed: reading, redacting their own events, leaving.
      assert.equal((await messages(s, u.token, roomId, { dir: 'b' })).status, 200);
      const redact = await http(s, 'PUT', `${C}/rooms/${enc(roomId)}/redact/${enc(ownEvent)}/sus3`, { token: u.token, body: {} });
      assert.equal(redact.status, 200, JSON.stringify(redact.body));
      assert.equal((await http(s, 'POST', `${C}/rooms/${enc(roomId)}/leave`, { token: u.token, body: {} })).status, 200);

      // Reinstated: sending works again.
      assert.equal((await suspend(u.userId, { suspend: false })).status, 200);
      await join(s, u.token, roomId);
      await send(s, u.token, roomId, 'back');
    });

    it("an admin's changes to a suspended user's profile are not refused", async () => {
      const u = await registerUser(s, uniq('susprof'));
      assert.equal((await suspend(u.userId, { suspend: true })).status, 200);
      const r = await http(s, 'PUT', `/_synapse/admin/v2/users/${enc(u.userId)}`, {
        token: admin.token,
        body: { displayname: 'Set by admin' },
      });
      assert.deepEqual([r.status, r.body.displayname, r.body.suspended], [200, 'Set by admin', true]);
    });
  });

  describe('shadow_ban', () => {
    it('test_no_auth and test_requester_is_not_admin', async () => {
      const u = await registerUser(s, uniq('sbauth'));
      for (const method of ['POST', 'DELETE']) {
        const none = await http(s, method, shadowBanUrl(u.userId));
        assert.deepEqual([none.status, none.body.errcode], [401, 'M_MISSING_TOKEN']);
        const nonAdmin = await http(s, method, shadowBanUrl(u.userId), { token: u.token });
        assert.deepEqual([nonAdmin.status, nonAdmin.body.errcode], [403, 'M_FORBIDDEN']);
      }
    });

    it('test_user_is_not_local; an unknown user is 404 M_NOT_FOUND (Synapse: M_UNKNOWN "No row found")', async () => {
      for (const method of ['POST', 'DELETE']) {
        const remote = await http(s, method, shadowBanUrl('@user:elsewhere.org'), { token: admin.token });
        assert.deepEqual([remote.status, remote.body.error], [400, 'Only local users can be shadow-banned']);
        const unknown = await http(s, method, shadowBanUrl(`@${uniq('nobody')}:test`), { token: admin.token });
        assert.deepEqual([unknown.status, unknown.body.errcode, unknown.body.error], [404, 'M_NOT_FOUND', 'User not found']);
      }
    });

    it('test_success', async () => {
      const u = await registerUser(s, uniq('sbok'));
      assert.equal((await userRecord(u.userId)).shadow_banned, false);
      const ban = await http(s, 'POST', shadowBanUrl(u.userId), { token: admin.token });
      assert.deepEqual([ban.status, ban.body], [200, {}]);
      assert.equal((await userRecord(u.userId)).shadow_banned, true);
      const lift = await http(s, 'DELETE', shadowBanUrl(u.userId), { token: admin.token });
      assert.deepEqual([lift.status, lift.body], [200, {}]);
      assert.equal((await userRecord(u.userId)).shadow_banned, false);
    });

    it("a shadow-banned user's sends, state, redactions and invites succeed for them and reach nobody", async () => {
      const owner = await registerUser(s, uniq('sbowner'));
      const u = await registerUser(s, uniq('sbuser'));
      const invitee = await registerUser(s, uniq('sbinvitee'));
      const roomId = await createRoom(s, owner.token, { preset: 'public_chat' });
      await join(s, u.token, roomId);
      const ownersEvent = await send(s, owner.token, roomId, 'before');
      assert.equal((await http(s, 'POST', shadowBanUrl(u.userId), { token: admin.token })).status, 200);

      const sent = await send(s, u.token, roomId, 'hidden');
      assert.match(sent, FAKE_EVENT_ID);
      assert.equal(await eventExists(s, sent), false);
      const state = await http(s, 'PUT', `${C}/rooms/${enc(roomId)}/state/m.room.topic/`, {
        token: u.token,
        body: { topic: 'hidden topic' },
      });
      assert.equal(state.status, 200);
      assert.match(state.body.event_id, FAKE_EVENT_ID);
      const redact = await http(s, 'PUT', `${C}/rooms/${enc(roomId)}/redact/${enc(ownersEvent)}/sb1`, { token: u.token, body: {} });
      assert.equal(redact.status, 200);
      assert.match(redact.body.event_id, FAKE_EVENT_ID);
      const inv = await http(s, 'POST', `${C}/rooms/${enc(roomId)}/invite`, { token: u.token, body: { user_id: invitee.userId } });
      assert.deepEqual([inv.status, inv.body], [200, {}]);

      assert.deepEqual(await bodiesOf(owner.token, roomId), ['before']);
      const topic = await http(s, 'GET', `${C}/rooms/${enc(roomId)}/state/m.room.topic/`, { token: owner.token });
      assert.equal(topic.status, 404);
      const inviteeState = await http(s, 'GET', `${C}/rooms/${enc(roomId)}/state/m.room.member/${enc(invitee.userId)}`, {
        token: owner.token,
      });
      assert.equal(inviteeState.status, 404);

      // Joins and leaves work; a room created with invites is created without them.
      const own = await createRoom(s, u.token, { invite: [invitee.userId] });
      const members = await http(s, 'GET', `${C}/rooms/${enc(own)}/state/m.room.member/${enc(invitee.userId)}`, { token: u.token });
      assert.equal(members.status, 404);
      assert.equal((await http(s, 'POST', `${C}/rooms/${enc(roomId)}/leave`, { token: u.token, body: {} })).status, 200);

      // Lifted: the user's sends arrive again.
      assert.equal((await http(s, 'DELETE', shadowBanUrl(u.userId), { token: admin.token })).status, 200);
      await join(s, u.token, roomId);
      await send(s, u.token, roomId, 'visible');
      assert.deepEqual(await bodiesOf(owner.token, roomId), ['visible', 'before']);
    });

    it("a shadow-banned user's own profile change is stored but not written into their rooms", async () => {
      const owner = await registerUser(s, uniq('sbpowner'));
      const u = await registerUser(s, uniq('sbprof'));
      const roomId = await createRoom(s, owner.token, { preset: 'public_chat' });
      await join(s, u.token, roomId);
      await http(s, 'POST', shadowBanUrl(u.userId), { token: admin.token });
      const r = await http(s, 'PUT', `${C}/profile/${enc(u.userId)}/displayname`, { token: u.token, body: { displayname: 'Hidden name' } });
      assert.equal(r.status, 200);
      assert.equal((await userRecord(u.userId)).displayname, 'Hidden name');
      const member = (await http(s, 'GET', `${C}/rooms/${enc(roomId)}/state/m.room.member/${enc(u.userId)}`, { token: owner.token })).body;
      assert.notEqual(member.displayname, 'Hidden name');
    });
  });
});

describe("Shadow-ban: Synapse's wait before answering, and no per-room profile", () => {
  let base: Stack;
  let admin: TestUser;

  before(async () => {
    base = await sharedStack();
    admin = await registerUser(base, uniq('sbwadmin'), { admin: true });
  });

  it('swallowed sends, invites, room creations with invites and profile changes wait (SHADOW_BAN_MAX_DELAY); a cancelled call stops waiting', async () => {
    // A wait far longer than the test: the calls must still be waiting when everything else is done.
    const slow = await startStack({ SHADOW_BAN_MAX_DELAY: '1h' }, { shareDatabaseWith: base });
    try {
      const owner = await registerUser(slow, uniq('sbwowner'));
      const u = await registerUser(slow, uniq('sbwuser'));
      const invitee = await registerUser(slow, uniq('sbwinvitee'));
      const roomId = await createRoom(slow, owner.token, { preset: 'public_chat' });
      await join(slow, u.token, roomId);
      assert.equal((await http(slow, 'POST', shadowBanUrl(u.userId), { token: admin.token })).status, 200);

      const c = slow.clients;
      const settled: string[] = [];
      const calls: { name: string; call: grpc.ClientUnaryCall; done: Promise<grpc.ServiceError | null> }[] = [];
      const start = (name: string, make: (cb: (err: grpc.ServiceError | null) => void) => grpc.ClientUnaryCall) => {
        let call!: grpc.ClientUnaryCall;
        const done = new Promise<grpc.ServiceError | null>((ok) => {
          call = make((err) => {
            settled.push(name);
            ok(err);
          });
        });
        calls.push({ name, call, done });
      };
      const md = () => bearer(u.token);
      start('send', (cb) =>
        c.rooms.sendEvent(
          SendEventRequest.fromPartial({
            roomId,
            type: 'm.room.message',
            contentJson: '{"msgtype":"m.text","body":"hidden"}',
            txnId: 'w1',
          }),
          md(),
          cb,
        ),
      );
      start('invite', (cb) =>
        c.rooms.sendEvent(
          SendEventRequest.fromPartial({ roomId, type: 'm.room.member', stateKey: invitee.userId, contentJson: '{"membership":"invite"}' }),
          md(),
          cb,
        ),
      );
      start('createRoom', (cb) =>
        c.rooms.createRoom(CreateRoomRequest.fromPartial({ invite: [invitee.userId], name: 'sbw-room' }), md(), cb),
      );
      start('profile', (cb) =>
        c.profile.setProfileField(
          SetProfileFieldRequest.fromPartial({ userId: u.userId, field: 'displayname', value: 'Waited name' }),
          md(),
          cb,
        ),
      );

      // Requests that are not swallowed answer meanwhile: the user's own join-state change, a
      // room creation without invites, and everyone else's sends.
      const plain = await createRoom(slow, u.token, {});
      assert.ok(plain.startsWith('!'));
      await send(slow, owner.token, roomId, 'not waiting');
      // The profile is stored before the wait (only the rooms are spared).
      await until(
        async () =>
          (await http(slow, 'GET', `/_synapse/admin/v2/users/${enc(u.userId)}`, { token: admin.token })).body.displayname === 'Waited name',
      );
      assert.deepEqual(settled, []);

      for (const { call } of calls) call.cancel();
      const errors = await Promise.all(calls.map((x) => x.done));
      assert.deepEqual(
        errors.map((e) => e?.code),
        calls.map(() => grpc.status.CANCELLED),
      );
      // Nothing reached the room, and no room was created with the invite.
      const member = await http(slow, 'GET', `${C}/rooms/${enc(roomId)}/state/m.room.member/${enc(invitee.userId)}`, {
        token: owner.token,
      });
      assert.equal(member.status, 404);
      const rooms = await http(slow, 'GET', `/_synapse/admin/v1/rooms?search_term=sbw-room`, { token: admin.token });
      assert.equal(rooms.body.total_rooms, 0);
    } finally {
      await slow.stop();
    }
  });

  it('SHADOW_BAN_MAX_DELAY=0 answers at once (the test default)', async () => {
    const owner = await registerUser(base, uniq('sbzowner'));
    const u = await registerUser(base, uniq('sbzuser'));
    const roomId = await createRoom(base, owner.token, { preset: 'public_chat' });
    await join(base, u.token, roomId);
    await http(base, 'POST', shadowBanUrl(u.userId), { token: admin.token });
    assert.match(await send(base, u.token, roomId, 'hidden'), FAKE_EVENT_ID);
  });

  it("a shadow-banned user's membership carries the global profile, not a per-room one", async () => {
    const owner = await registerUser(base, uniq('sbrowner'));
    const u = await registerUser(base, uniq('sbruser'));
    const control = await registerUser(base, uniq('sbrcontrol'));
    const roomId = await createRoom(base, owner.token, { preset: 'public_chat' });
    for (const x of [u, control]) await join(base, x.token, roomId);
    await http(base, 'POST', shadowBanUrl(u.userId), { token: admin.token });
    for (const x of [u, control]) {
      const r = await http(base, 'PUT', `${C}/rooms/${enc(roomId)}/state/m.room.member/${enc(x.userId)}`, {
        token: x.token,
        body: { membership: 'join', displayname: 'Room nick' },
      });
      assert.equal(r.status, 200, JSON.stringify(r.body));
    }
    const memberOf = async (userId: string) =>
      (await http(base, 'GET', `${C}/rooms/${enc(roomId)}/state/m.room.member/${enc(userId)}`, { token: owner.token })).body;
    assert.equal((await memberOf(control.userId)).displayname, 'Room nick');
    assert.equal((await memberOf(u.userId)).displayname, u.userId.slice(1, u.userId.indexOf(':')));
    // The same through the join route's body.
    const rejoin = await http(base, 'POST', `${C}/rooms/${enc(roomId)}/join`, { token: u.token, body: { displayname: 'Other nick' } });
    assert.equal(rejoin.status, 200);
    assert.notEqual((await memberOf(u.userId)).displayname, 'Other nick');
  });
});
