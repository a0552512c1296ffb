/**
 * POST /_synapse/admin/v1/deactivate/<user_id> through the gateway and over gRPC, and erased
 * senders in /messages and GET /event (spec §5.7 step 7): an erased user's events are shown pruned to readers
 * who were not joined when they were sent, in full to those who were, and in full to admins.
 */
import { strict as assert } from 'node:assert';
import * as grpc from '@grpc/grpc-js';
import { sharedStack } from '../support/root-hooks';
import { bearer, grpcCall, grpcRefusal, http, registerUser, uniq, type Stack, type TestUser } from '../support/stack';
import { C, enc } from '../support/client';
import { checkAccessCalls, rpcCalls } from '../support/metrics';
import { createRoom, invite, join, messages, send, sendState } from './pagination.helpers';
import { Direction, EventFormat } from '../../gen/synapse/admin/v1/common';

const deactivate = (s: Stack, admin: TestUser, userId: string, body?: unknown, rawBody?: string) =>
  http(s, 'POST', `/_synapse/admin/v1/deactivate/${enc(userId)}`, { token: admin.token, body, rawBody });
const userInfo = async (s: Stack, admin: TestUser, userId: string) =>
  (await http(s, 'GET', `/_synapse/admin/v2/users/${enc(userId)}`, { token: admin.token })).body;
const membershipOf = async (s: Stack, token: string, roomId: string, userId: string) =>
  (await http(s, 'GET', `${C}/rooms/${enc(roomId)}/state/m.room.member/${enc(userId)}`, { token })).body.membership;
type Ev = { event_id: string; type: string; content: Record<string, unknown>; unsigned: Record<string, unknown> };
const byId = (chunk: Ev[], id: string) => chunk.find((e) => e.event_id === id) as Ev;

describe('Deactivation and erasure', () => {
  let s: Stack;
  let admin: TestUser;

  before(async () => {
    s = await sharedStack();
    admin = await registerUser(s, uniq('deadmin'), { admin: true });
  });

  it('refuses remote, unknown and malformed targets and bad bodies', async () => {
    const remote = await deactivate(s, admin, '@someone:elsewhere.org', {});
    assert.deepEqual([remote.status, remote.body.error], [400, 'Can only deactivate local users']);
    const unknown = await deactivate(s, admin, `@${uniq('nobody')}:test`, {});
    assert.deepEqual([unknown.status, unknown.body.errcode, unknown.body.error], [404, 'M_NOT_FOUND', 'User not found']);
    const invalid = await deactivate(s, admin, 'not-a-user-id', {});
    assert.deepEqual([invalid.status, invalid.body.errcode], [400, 'M_INVALID_PARAM']);
    const target = await registerUser(s, uniq('debad'));
    const badErase = await deactivate(s, admin, target.userId, { erase: 'yes' });
    assert.deepEqual(
      [badErase.status, badErase.body.errcode, badErase.body.error],
      [400, 'M_BAD_JSON', "Param 'erase' must be a boolean, if given"],
    );
    const notJson = await deactivate(s, admin, target.userId, undefined, '{"erase":');
    assert.deepEqual([notJson.status, notJson.body.errcode], [400, 'M_NOT_JSON']);
    const nullErase = await deactivate(s, admin, target.userId, { erase: null });
    assert.deepEqual([nullErase.status, nullErase.body.errcode], [400, 'M_BAD_JSON']);
    // Nothing happened to the user.
    assert.equal((await http(s, 'GET', `${C}/account/whoami`, { token: target.token })).status, 200);
  });

  it('checks the user before the body, in Synapse order: remote 400, then unknown 404, then the body', async () => {
    const nobody = `@${uniq('nobody')}:test`;
    const cases: [string, unknown, string | undefined, number, string][] = [
      ['@someone:elsewhere.org', { erase: 'yes' }, undefined, 400, 'Can only deactivate local users'],
      ['@someone:elsewhere.org', undefined, '{"erase":', 400, 'Can only deactivate local users'],
      [nobody, { erase: 'yes' }, undefined, 404, 'User not found'],
      [nobody, undefined, '[1]', 404, 'User not found'],
    ];
    for (const [userId, body, raw, status, error] of cases) {
      const r = await deactivate(s, admin, userId, body, raw);
      assert.deepEqual([r.status, r.body.error], [status, error], `${userId} ${raw ?? JSON.stringify(body)}`);
    }
  });

  it('the service reads the body after authentication and after the user, with no extra RPC; gRPC callers get the same answers', async () => {
    const target = await registerUser(s, uniq('debody'));
    const plain = await registerUser(s, uniq('deplain'));
    const nobody = `@${uniq('nobody')}:test`;
    const c = s.clients.userAdmin;
    const before = await checkAccessCalls(s.baseUrl);
    for (const [raw, errcode, error] of [
      ['{"erase":', 'M_NOT_JSON', 'Content not JSON.'],
      ['[1]', 'M_BAD_JSON', 'Content must be a JSON object.'],
      ['{"erase":"yes"}', 'M_BAD_JSON', "Param 'erase' must be a boolean, if given"],
    ]) {
      const path = `/_synapse/admin/v1/deactivate/${enc(target.userId)}`;
      const anonymous = await http(s, 'POST', path, { rawBody: raw });
      assert.deepEqual([anonymous.status, anonymous.body.errcode], [401, 'M_MISSING_TOKEN'], raw);
      const forbidden = await http(s, 'POST', path, { token: plain.token, rawBody: raw });
      assert.deepEqual([forbidden.status, forbidden.body.errcode], [403, 'M_FORBIDDEN'], raw);
      const r = await deactivate(s, admin, target.userId, undefined, raw);
      assert.deepEqual([r.status, r.body], [400, { errcode, error }], raw);
      // The user's errors come before the body's.
      const unknown = await deactivate(s, admin, nobody, undefined, raw);
      assert.deepEqual([unknown.status, unknown.body], [404, { errcode: 'M_NOT_FOUND', error: 'User not found' }], raw);
      const remote = await deactivate(s, admin, '@someone:elsewhere.org', undefined, raw);
      assert.deepEqual([remote.status, remote.body.error], [400, 'Can only deactivate local users'], raw);
      // Over gRPC, the same answers in the same order.
      const req = (userId: string) => ({ userId, bodyJson: Buffer.from(raw) });
      assert.deepEqual(await grpcRefusal(grpcCall(c, c.deactivateUser, req(target.userId), bearer(admin.token))), {
        code: grpc.status.INVALID_ARGUMENT,
        errcode,
        error,
      });
      assert.deepEqual(await grpcRefusal(grpcCall(c, c.deactivateUser, req(nobody), bearer(admin.token))), {
        code: grpc.status.NOT_FOUND,
        errcode: 'M_NOT_FOUND',
        error: 'User not found',
      });
      assert.equal((await grpcRefusal(grpcCall(c, c.deactivateUser, req(target.userId), bearer(plain.token)))).errcode, 'M_FORBIDDEN');
      assert.equal((await grpcRefusal(grpcCall(c, c.deactivateUser, req(target.userId)))).errcode, 'M_MISSING_TOKEN');
      // validate_only reads the body too, after the user.
      const check = (userId: string) => grpcCall(c, c.deactivateUser, { ...req(userId), validateOnly: true }, bearer(admin.token));
      assert.equal((await grpcRefusal(check(target.userId))).errcode, errcode);
      assert.equal((await grpcRefusal(check(nobody))).errcode, 'M_NOT_FOUND');
    }
    // The gateway raised nothing of its own: no CheckAccess call was needed to put auth first.
    assert.equal(await checkAccessCalls(s.baseUrl), before);
    assert.equal((await http(s, 'GET', `${C}/account/whoami`, { token: target.token })).status, 200);
    // One RPC a request, whatever the body.
    const calls = () => rpcCalls(s.baseUrl, '/synapse.admin.v1.UserAdminService/DeactivateUser');
    const n = await calls();
    await deactivate(s, admin, target.userId, { erase: 'yes' });
    await deactivate(s, admin, nobody, {});
    assert.equal(await calls(), n + 2);
    // With body_json the typed field is ignored; an empty body counts as {}.
    await grpcCall(
      c,
      c.deactivateUser,
      { userId: target.userId, erase: false, bodyJson: Buffer.from('{"erase":true}') },
      bearer(admin.token),
    );
    const erased = await userInfo(s, admin, target.userId);
    assert.deepEqual([erased.deactivated, erased.erased], [true, true]);
    const other = await registerUser(s, uniq('deempty'));
    await grpcCall(c, c.deactivateUser, { userId: other.userId, erase: true, bodyJson: Buffer.alloc(0) }, bearer(admin.token));
    const info = await userInfo(s, admin, other.userId);
    assert.deepEqual([info.deactivated, info.erased], [true, false]);
  });

  it('over gRPC, validate_only reports what a deactivation would refuse and changes nothing', async () => {
    const target = await registerUser(s, uniq('devalid'));
    const md = bearer(admin.token);
    await grpcCall(s.clients.userAdmin, s.clients.userAdmin.deactivateUser, { userId: target.userId, validateOnly: true }, md);
    assert.equal((await http(s, 'GET', `${C}/account/whoami`, { token: target.token })).status, 200);
    assert.equal((await userInfo(s, admin, target.userId)).deactivated, false);
    await assert.rejects(
      grpcCall(s.clients.userAdmin, s.clients.userAdmin.deactivateUser, { userId: `@${uniq('nobody')}:test`, validateOnly: true }, md),
      (e: { code: number }) => e.code === 5,
    );
  });

  it('logs the user out everywhere, leaves their rooms, withdraws invites and clears account data', async () => {
    const owner = await registerUser(s, uniq('deowner'));
    const target = await registerUser(s, uniq('detarget'));
    const joined = await createRoom(s, owner.token, { preset: 'public_chat' });
    await join(s, target.token, joined);
    const invited = await createRoom(s, owner.token, { preset: 'private_chat' });
    await invite(s, owner.token, invited, target.userId);
    await http(s, 'PUT', `${C}/user/${enc(target.userId)}/account_data/org.example.x`, { token: target.token, body: { a: 1 } });
    // An empty body is allowed; erase defaults to false.
    const res = await deactivate(s, admin, target.userId);
    assert.deepEqual([res.status, res.body], [200, { id_server_unbind_result: 'success' }]);
    const whoami = await http(s, 'GET', `${C}/account/whoami`, { token: target.token });
    assert.deepEqual([whoami.status, whoami.body.errcode], [401, 'M_UNKNOWN_TOKEN']);
    assert.equal(await membershipOf(s, owner.token, joined, target.userId), 'leave');
    assert.equal(await membershipOf(s, owner.token, invited, target.userId), 'leave');
    const info = await userInfo(s, admin, target.userId);
    assert.deepEqual([info.deactivated, info.erased, info.displayname], [true, false, target.userId.slice(1, target.userId.indexOf(':'))]);
    const rows = await s.app.orm.em
      .fork()
      .getConnection()
      .execute<unknown[]>('SELECT 1 FROM account_data WHERE user_id = ?', [target.userId]);
    assert.equal(rows.length, 0);
    const login = await http(s, 'POST', `${C}/login`, {
      body: { type: 'm.login.password', identifier: { type: 'm.id.user', user: target.userId }, password: 'pass' },
    });
    assert.equal(login.status, 403);
    // Repeating the call is harmless.
    assert.equal((await deactivate(s, admin, target.userId, { erase: false })).status, 200);
  });

  it('PUT /_synapse/admin/v2/users with deactivated: true also leaves the rooms', async () => {
    const owner = await registerUser(s, uniq('deputowner'));
    const target = await registerUser(s, uniq('deputtarget'));
    const room = await createRoom(s, owner.token, { preset: 'public_chat' });
    await join(s, target.token, room);
    const res = await http(s, 'PUT', `/_synapse/admin/v2/users/${enc(target.userId)}`, { token: admin.token, body: { deactivated: true } });
    assert.deepEqual([res.status, res.body.deactivated], [200, true]);
    assert.equal(await membershipOf(s, owner.token, room, target.userId), 'leave');
    assert.equal((await http(s, 'GET', `${C}/account/whoami`, { token: target.token })).status, 401);
  });

  it('erase marks the user erased and clears the display name; reactivation lifts the erasure', async () => {
    const target = await registerUser(s, uniq('deerase'));
    assert.equal((await deactivate(s, admin, target.userId, { erase: true })).status, 200);
    const info = await userInfo(s, admin, target.userId);
    assert.deepEqual([info.deactivated, info.erased, info.displayname], [true, true, null]);
    const nullFlag = await http(s, 'PUT', `/_synapse/admin/v2/users/${enc(target.userId)}`, {
      token: admin.token,
      body: { deactivated: null },
    });
    assert.deepEqual([nullFlag.status, nullFlag.body.error], [400, "'deactivated' parameter is not of type boolean"]);
    const back = await http(s, 'PUT', `/_synapse/admin/v2/users/${enc(target.userId)}`, {
      token: admin.token,
      body: { deactivated: false, password: 'new-pass' },
    });
    assert.equal(back.status, 200);
    assert.deepEqual([back.body.deactivated, back.body.erased], [false, false]);
  });

  it("shows an erased sender's events pruned to readers who were not joined when they were sent", async () => {
    const author = await registerUser(s, uniq('deauthor'));
    const resident = await registerUser(s, uniq('deresident'));
    const newcomer = await registerUser(s, uniq('denewcomer'));
    const room = await createRoom(s, author.token, { preset: 'public_chat' });
    await sendState(s, author.token, room, 'm.room.history_visibility', { history_visibility: 'shared' });
    await join(s, resident.token, room);
    const secret = await send(s, author.token, room, { msgtype: 'm.text', body: 'my secret' });
    const topic = await sendState(s, author.token, room, 'm.room.topic', { topic: 'a topic' });
    assert.equal((await deactivate(s, admin, author.userId, { erase: true })).status, 200);
    await join(s, newcomer.token, room);

    const late = (await messages(s, newcomer.token, room, { dir: 'b', limit: 50 })).body.chunk as Ev[];
    assert.deepEqual(byId(late, secret).content, {}, 'the message is pruned for a reader who joined later');
    assert.equal(byId(late, secret).unsigned.membership, 'leave');
    assert.deepEqual(byId(late, topic).content, {}, 'm.room.topic keeps no content keys when pruned');
    const early = (await messages(s, resident.token, room, { dir: 'b', limit: 50 })).body.chunk as Ev[];
    assert.deepEqual(byId(early, secret).content, { msgtype: 'm.text', body: 'my secret' }, 'a reader joined at the time sees it in full');
    const asAdmin = (await messages(s, admin.token, room, { dir: 'b', limit: 50 }, true)).body.chunk as Ev[];
    assert.equal(byId(asAdmin, secret).content.body, 'my secret');
    // GET /event applies the same rule.
    const one = (u: TestUser) => http(s, 'GET', `${C}/rooms/${enc(room)}/event/${enc(secret)}`, { token: u.token });
    assert.deepEqual((await one(newcomer)).body.content, {});
    assert.equal((await one(resident)).body.content.body, 'my secret');
    // The gRPC page (typed events) agrees with the REST body.
    const res = await grpcCall(
      s.clients.pagination,
      s.clients.pagination.getRoomMessages,
      { query: { roomId: room, dir: Direction.DIRECTION_BACKWARDS, limit: 50, format: EventFormat.EVENT_FORMAT_UNSPECIFIED } },
      bearer(newcomer.token),
    );
    const ev = res.page?.chunk.find((e) => e.eventId === secret);
    assert.deepEqual(JSON.parse(ev!.contentJson), {});
  });

  it('deactivates over gRPC and reports the rooms the user left', async () => {
    const owner = await registerUser(s, uniq('degowner'));
    const target = await registerUser(s, uniq('degtarget'));
    const room = await createRoom(s, owner.token, { preset: 'public_chat' });
    await join(s, target.token, room);
    const res = await grpcCall(
      s.clients.userAdmin,
      s.clients.userAdmin.deactivateUser,
      { userId: target.userId, erase: true },
      bearer(admin.token),
    );
    assert.deepEqual(res, { idServerUnbindResult: 'success', partedRoomIds: [room] });
    const user = await grpcCall(s.clients.userAdmin, s.clients.userAdmin.getUser, { userId: target.userId }, bearer(admin.token));
    assert.equal(user.user?.erased, true);
    await assert.rejects(
      grpcCall(s.clients.userAdmin, s.clients.userAdmin.deactivateUser, { userId: target.userId }, bearer(owner.token)),
      (e: { code: number }) => e.code === 7,
    );
  });
});
