/**
 * Global account data through the gateway and over gRPC, and `m.ignored_user_list` as /messages
 * applies it (spec §5.7 step 2: an ignored user's non-state events are left out, their state
 * events stay; the admin API is not filtered).
 */
import { strict as assert } from 'node:assert';
import * as grpc from '@grpc/grpc-js';
import { sharedStack } from '../support/root-hooks';
import { bearer, grpcCall, http, registerUser, uniq, type Stack, type TestUser } from '../support/stack';
import { C, enc } from '../support/client';
import { bodies, createRoom, join, messages, send, sendState } from './pagination.helpers';

const path = (userId: string, type: string) => `${C}/user/${enc(userId)}/account_data/${enc(type)}`;
const ignore = (s: Stack, u: TestUser, users: string[]) =>
  http(s, 'PUT', path(u.userId, 'm.ignored_user_list'), {
    token: u.token,
    body: { ignored_users: Object.fromEntries(users.map((x) => [x, {}])) },
  });

describe('Account data', () => {
  let s: Stack;
  let user: TestUser;
  let other: TestUser;

  before(async () => {
    s = await sharedStack();
    user = await registerUser(s, uniq('ad'));
    other = await registerUser(s, uniq('adother'));
  });

  it('stores, replaces and returns a type of account data', async () => {
    assert.equal(
      (await http(s, 'PUT', path(user.userId, 'org.example.settings'), { token: user.token, body: { a: 1, nested: { b: [1.5, 'x'] } } }))
        .status,
      200,
    );
    assert.deepEqual((await http(s, 'GET', path(user.userId, 'org.example.settings'), { token: user.token })).body, {
      a: 1,
      nested: { b: [1.5, 'x'] },
    });
    await http(s, 'PUT', path(user.userId, 'org.example.settings'), { token: user.token, body: { c: true } });
    const got = await http(s, 'GET', `/_matrix/client/r0/user/${enc(user.userId)}/account_data/org.example.settings`, {
      token: user.token,
    });
    assert.deepEqual(got.body, { c: true });
  });

  it('answers 404 for a type never set, and 403 for another user', async () => {
    const missing = await http(s, 'GET', path(user.userId, 'org.example.never'), { token: user.token });
    assert.equal(missing.status, 404);
    assert.deepEqual(missing.body, { errcode: 'M_NOT_FOUND', error: 'Account data not found' });
    const put = await http(s, 'PUT', path(other.userId, 'org.example.x'), { token: user.token, rawBody: 'not json' });
    assert.equal(put.status, 403);
    assert.deepEqual(put.body, { errcode: 'M_FORBIDDEN', error: 'Cannot add account data for other users.' });
    const get = await http(s, 'GET', path(other.userId, 'org.example.x'), { token: user.token });
    assert.deepEqual([get.status, get.body.error], [403, 'Cannot get account data for other users.']);
    assert.equal((await http(s, 'GET', path(user.userId, 'org.example.x'))).status, 401);
  });

  it('refuses bad bodies and the types that have their own API', async () => {
    const notJson = await http(s, 'PUT', path(user.userId, 'org.example.bad'), { token: user.token, rawBody: '{"a":' });
    assert.deepEqual([notJson.status, notJson.body.errcode], [400, 'M_NOT_JSON']);
    const notObject = await http(s, 'PUT', path(user.userId, 'org.example.bad'), { token: user.token, body: [1, 2] });
    assert.deepEqual([notObject.status, notObject.body.errcode], [400, 'M_BAD_JSON']);
    const nul = await http(s, 'PUT', path(user.userId, 'org.example.bad'), { token: user.token, rawBody: '{"a":"\\u0000"}' });
    assert.deepEqual([nul.status, nul.body.errcode], [400, 'M_BAD_JSON']);
    const empty = await http(s, 'PUT', path(user.userId, 'org.example.bad'), { token: user.token, rawBody: '' });
    assert.deepEqual([empty.status, empty.body.errcode], [400, 'M_NOT_JSON']);
    for (const type of ['m.fully_read', 'm.push_rules']) {
      const r = await http(s, 'PUT', path(user.userId, type), { token: user.token, body: {} });
      assert.deepEqual([r.status, r.body.errcode], [405, 'M_BAD_JSON']);
      assert.match(r.body.error, new RegExp(`Cannot set ${type.replace('.', '\\.')} through this API`));
    }
    assert.equal((await http(s, 'GET', path(user.userId, 'org.example.bad'), { token: user.token })).status, 404);
  });

  it('is served over gRPC with the same rules', async () => {
    const c = s.clients.accountData;
    await grpcCall(c, c.setAccountData, { userId: user.userId, type: 'org.example.grpc', contentJson: '{"k":"v"}' }, bearer(user.token));
    const res = await grpcCall(c, c.getAccountData, { userId: user.userId, type: 'org.example.grpc' }, bearer(user.token));
    assert.deepEqual(JSON.parse(res.contentJson), { k: 'v' });
    await assert.rejects(
      grpcCall(c, c.getAccountData, { userId: other.userId, type: 'org.example.grpc' }, bearer(user.token)),
      (e: grpc.ServiceError) => e.code === grpc.status.PERMISSION_DENIED,
    );
    await assert.rejects(
      grpcCall(c, c.getAccountData, { userId: user.userId, type: 'org.example.none' }, bearer(user.token)),
      (e: grpc.ServiceError) => e.code === grpc.status.NOT_FOUND,
    );
    await assert.rejects(
      grpcCall(c, c.setAccountData, { userId: user.userId, type: 'org.example.grpc', contentJson: '[]' }, bearer(user.token)),
      (e: grpc.ServiceError) => e.code === grpc.status.INVALID_ARGUMENT,
    );
    await assert.rejects(
      grpcCall(c, c.setAccountData, { userId: user.userId, type: 'x', contentJson: '{}' }),
      (e: grpc.ServiceError) => e.code === grpc.status.UNAUTHENTICATED,
    );
  });
});

describe('Ignored users in /messages', () => {
  let s: Stack;
  let reader: TestUser;
  let spammer: TestUser;
  let friend: TestUser;
  let admin: TestUser;
  let room: string;

  before(async () => {
    s = await sharedStack();
    reader = await registerUser(s, uniq('reader'));
    spammer = await registerUser(s, uniq('spammer'));
    friend = await registerUser(s, uniq('friend'));
    admin = await registerUser(s, uniq('igadmin'), { admin: true });
    room = await createRoom(s, reader.token, { preset: 'public_chat' });
    await join(s, spammer.token, room);
    await join(s, friend.token, room);
    await send(s, spammer.token, room, 'spam 1');
    await send(s, friend.token, room, 'hello');
    await sendState(s, reader.token, room, 'm.room.power_levels', { users: { [reader.userId]: 100, [spammer.userId]: 50 } });
    await sendState(s, spammer.token, room, 'm.room.topic', { topic: 'set by the spammer' });
    await send(s, spammer.token, room, 'spam 2');
  });

  it("leaves out an ignored user's messages but keeps their state events", async () => {
    assert.equal((await ignore(s, reader, [spammer.userId, '@nobody:elsewhere'])).status, 200);
    const page = await messages(s, reader.token, room, { dir: 'b', limit: 50 });
    assert.equal(page.status, 200);
    assert.deepEqual(
      bodies(page).filter((b) => b !== undefined),
      ['hello'],
    );
    const fromSpammer = page.body.chunk.filter((e: { sender: string }) => e.sender === spammer.userId).map((e: { type: string }) => e.type);
    assert.deepEqual(fromSpammer.sort(), ['m.room.member', 'm.room.topic']);
    // The page is full: the ignored events are skipped in the query, not dropped from a short page.
    const two = await messages(s, reader.token, room, { dir: 'b', limit: 2 });
    assert.equal(two.body.chunk.length, 2);
    assert.ok(
      two.body.chunk.every((e: { sender: string; state_key?: string }) => e.sender !== spammer.userId || e.state_key !== undefined),
    );
  });

  it('filters only for the user who ignores, never for admins, and stops when the list is emptied', async () => {
    await ignore(s, reader, [spammer.userId]);
    const friendView = await messages(s, friend.token, room, { dir: 'b', limit: 50 });
    assert.deepEqual(
      bodies(friendView).filter((b) => b !== undefined),
      ['spam 2', 'hello', 'spam 1'],
    );
    const adminView = await messages(s, admin.token, room, { dir: 'b', limit: 50 }, true);
    assert.deepEqual(
      bodies(adminView).filter((b) => b !== undefined),
      ['spam 2', 'hello', 'spam 1'],
    );
    await ignore(s, reader, []);
    const again = await messages(s, reader.token, room, { dir: 'b', limit: 50 });
    assert.deepEqual(
      bodies(again).filter((b) => b !== undefined),
      ['spam 2', 'hello', 'spam 1'],
    );
  });

  it('ignores nobody for an ignored_users that is not an object', async () => {
    await ignore(s, reader, [spammer.userId]);
    await http(s, 'PUT', path(reader.userId, 'm.ignored_user_list'), { token: reader.token, body: { ignored_users: [spammer.userId] } });
    const page = await messages(s, reader.token, room, { dir: 'b', limit: 50 });
    assert.ok(bodies(page).includes('spam 1'));
    assert.deepEqual((await http(s, 'GET', path(reader.userId, 'm.ignored_user_list'), { token: reader.token })).body, {
      ignored_users: [spammer.userId],
    });
  });
});

describe('Ignored users in single-event reads and bundled aggregations', () => {
  let s: Stack;
  let reader: TestUser;
  let spammer: TestUser;
  let friend: TestUser;
  let room: string;
  const ev: Record<'root' | 'reply' | 'spamReply' | 'spamOnlyRoot' | 'referenced' | 'spam' | 'topic', string> = {
    root: '',
    reply: '',
    spamReply: '',
    spamOnlyRoot: '',
    referenced: '',
    spam: '',
    topic: '',
  };
  const thread = (root: string, body: string) => ({ msgtype: 'm.text', body, 'm.relates_to': { rel_type: 'm.thread', event_id: root } });
  const eventOf = (id: string) => http(s, 'GET', `${C}/rooms/${enc(room)}/event/${enc(id)}`, { token: reader.token });
  const bundleOf = async (id: string) => {
    const page = await messages(s, reader.token, room, { dir: 'b', limit: 50 });
    const e = page.body.chunk.find((x: { event_id: string }) => x.event_id === id);
    return e.unsigned['m.relations'];
  };

  before(async () => {
    s = await sharedStack();
    reader = await registerUser(s, uniq('igreader'));
    spammer = await registerUser(s, uniq('igspammer'));
    friend = await registerUser(s, uniq('igfriend'));
    room = await createRoom(s, reader.token, { preset: 'public_chat' });
    await join(s, spammer.token, room);
    await join(s, friend.token, room);
    ev.root = await send(s, friend.token, room, 'root');
    ev.reply = await send(s, friend.token, room, thread(ev.root, 'friendly reply'));
    ev.spamReply = await send(s, spammer.token, room, thread(ev.root, 'spam reply'));
    ev.spamOnlyRoot = await send(s, friend.token, room, 'only spam replies here');
    await send(s, spammer.token, room, thread(ev.spamOnlyRoot, 'spam reply 2'));
    ev.referenced = await send(s, friend.token, room, 'referenced');
    await send(s, spammer.token, room, {
      msgtype: 'm.text',
      body: 'ref',
      'm.relates_to': { rel_type: 'm.reference', event_id: ev.referenced },
    });
    ev.spam = await send(s, spammer.token, room, 'spam');
    await sendState(s, reader.token, room, 'm.room.power_levels', { users: { [reader.userId]: 100, [spammer.userId]: 50 } });
    ev.topic = await sendState(s, spammer.token, room, 'm.room.topic', { topic: 'by the spammer' });
  });

  it("answers 404 for an ignored user's message, but serves their state events", async () => {
    assert.equal((await eventOf(ev.spam)).status, 200);
    await ignore(s, reader, [spammer.userId]);
    const r = await eventOf(ev.spam);
    assert.deepEqual([r.status, r.body], [404, { errcode: 'M_NOT_FOUND', error: 'Event not found.' }]);
    assert.equal((await eventOf(ev.topic)).status, 200);
    await ignore(s, reader, []);
    assert.equal((await eventOf(ev.spam)).status, 200, 'served again once the list no longer names the sender');
  });

  it("leaves ignored users' replies and references out of bundles, in /messages and GET /event alike", async () => {
    const before = await bundleOf(ev.root);
    assert.deepEqual([before['m.thread'].count, before['m.thread'].latest_event.event_id], [2, ev.spamReply]);
    assert.ok((await bundleOf(ev.spamOnlyRoot))['m.thread']);
    assert.ok((await bundleOf(ev.referenced))['m.reference']);

    await ignore(s, reader, [spammer.userId]);
    for (const read of [bundleOf, async (id: string) => (await eventOf(id)).body.unsigned['m.relations']]) {
      const root = await read(ev.root);
      assert.deepEqual([root['m.thread'].count, root['m.thread'].latest_event.event_id], [1, ev.reply]);
      assert.equal(root['m.thread'].current_user_participated, false);
      assert.equal(await read(ev.spamOnlyRoot), undefined, 'a thread only ignored users replied to has no summary');
      assert.equal(await read(ev.referenced), undefined, "an ignored user's reference is not bundled");
    }

    await ignore(s, reader, []);
    const after = await bundleOf(ev.root);
    assert.deepEqual([after['m.thread'].count, after['m.thread'].latest_event.event_id], [2, ev.spamReply]);
  });
});

describe('Room account data', () => {
  let s: Stack;
  let user: TestUser;
  let other: TestUser;
  let admin: TestUser;
  let room: string;
  const roomPath = (userId: string, roomId: string, type: string) =>
    `${C}/user/${enc(userId)}/rooms/${enc(roomId)}/account_data/${enc(type)}`;
  const put = (u: TestUser, roomId: string, type: string, body: unknown, userId = u.userId) =>
    http(s, 'PUT', roomPath(userId, roomId, type), { token: u.token, body });
  const get = (u: TestUser, roomId: string, type: string, userId = u.userId) =>
    http(s, 'GET', roomPath(userId, roomId, type), { token: u.token });

  before(async () => {
    s = await sharedStack();
    user = await registerUser(s, uniq('rad'));
    other = await registerUser(s, uniq('radother'));
    admin = await registerUser(s, uniq('radadmin'), { admin: true });
    room = await createRoom(s, user.token, { preset: 'public_chat' });
  });

  it('stores, replaces and returns one type per room, apart from global data and other rooms', async () => {
    assert.deepEqual([(await put(user, room, 'org.example.tag', { a: 1, f: 1.5 })).status], [200]);
    assert.deepEqual((await get(user, room, 'org.example.tag')).body, { a: 1, f: 1.5 });
    await put(user, room, 'org.example.tag', { b: true });
    assert.deepEqual(
      (
        await http(s, 'GET', `/_matrix/client/r0/user/${enc(user.userId)}/rooms/${enc(room)}/account_data/org.example.tag`, {
          token: user.token,
        })
      ).body,
      { b: true },
    );
    const elsewhere = await get(user, '!other:elsewhere.example', 'org.example.tag');
    assert.deepEqual([elsewhere.status, elsewhere.body], [404, { errcode: 'M_NOT_FOUND', error: 'Room account data not found' }]);
    assert.equal((await http(s, 'GET', path(user.userId, 'org.example.tag'), { token: user.token })).status, 404, 'global data is apart');
    // Any well-formed room id is accepted, as Synapse does; m.push_rules is plain data in a room.
    assert.equal((await put(user, '!unknown:elsewhere.example', 'm.push_rules', { x: 1 })).status, 200);
    assert.deepEqual((await get(user, '!unknown:elsewhere.example', 'm.push_rules')).body, { x: 1 });
  });

  it("answers Synapse's errors, in Synapse's order", async () => {
    const cases: [Promise<{ status: number; body: any }>, number, string, string][] = [
      [
        http(s, 'PUT', roomPath(other.userId, room, 'x'), { token: user.token, rawBody: 'nope' }),
        403,
        'M_FORBIDDEN',
        'Cannot add account data for other users.',
      ],
      [get(user, room, 'x', other.userId), 403, 'M_FORBIDDEN', 'Cannot get account data for other users.'],
      [put(user, 'notaroom', 'm.fully_read', {}), 400, 'M_INVALID_PARAM', 'notaroom is not a valid room ID'],
      [get(user, '!abc', 'x'), 400, 'M_INVALID_PARAM', '!abc is not a valid room ID'],
      [
        http(s, 'PUT', roomPath(user.userId, room, 'm.fully_read'), { token: user.token, rawBody: 'nope' }),
        405,
        'M_BAD_JSON',
        'Cannot set m.fully_read through this API. Use /rooms/!roomId:server.name/read_markers',
      ],
      [http(s, 'PUT', roomPath(user.userId, room, 'x'), { token: user.token, rawBody: '{"a":' }), 400, 'M_NOT_JSON', 'Content not JSON.'],
      [put(user, room, 'x', [1]), 400, 'M_BAD_JSON', 'Content must be a JSON object.'],
    ];
    for (const [res, status, errcode, error] of cases)
      assert.deepEqual(await res.then((r) => [r.status, r.body]), [status, { errcode, error }]);
    assert.equal((await http(s, 'GET', roomPath(user.userId, room, 'x'))).status, 401);
  });

  // Synapse's account data servlets authenticate without allow_guest, global and per room alike.
  it('refuses guests', async () => {
    const guest = await registerUser(s, uniq('radguest'));
    await s.app.orm.em.fork().execute('UPDATE users SET is_guest = true WHERE name = ?', [guest.userId]);
    const refused = [403, { errcode: 'M_GUEST_ACCESS_FORBIDDEN', error: 'Guest access not allowed' }];
    assert.deepEqual(await put(guest, room, 'x', {}).then((r) => [r.status, r.body]), refused);
    assert.deepEqual(await get(guest, room, 'x').then((r) => [r.status, r.body]), refused);
    assert.deepEqual(
      await http(s, 'PUT', path(guest.userId, 'x'), { token: guest.token, body: {} }).then((r) => [r.status, r.body]),
      refused,
    );
  });

  it('is served over gRPC with the same rules', async () => {
    const c = s.clients.accountData;
    await grpcCall(
      c,
      c.setRoomAccountData,
      { userId: user.userId, roomId: room, type: 'org.example.grpc', contentJson: '{"k":"v"}' },
      bearer(user.token),
    );
    const res = await grpcCall(
      c,
      c.getRoomAccountData,
      { userId: user.userId, roomId: room, type: 'org.example.grpc' },
      bearer(user.token),
    );
    assert.deepEqual(JSON.parse(res.contentJson), { k: 'v' });
    await assert.rejects(
      grpcCall(c, c.getRoomAccountData, { userId: user.userId, roomId: 'bad', type: 'x' }, bearer(user.token)),
      (e: grpc.ServiceError) => e.code === grpc.status.INVALID_ARGUMENT,
    );
    await assert.rejects(
      grpcCall(c, c.getRoomAccountData, { userId: other.userId, roomId: room, type: 'x' }, bearer(user.token)),
      (e: grpc.ServiceError) => e.code === grpc.status.PERMISSION_DENIED,
    );
    await assert.rejects(
      grpcCall(c, c.setRoomAccountData, { userId: user.userId, roomId: room, type: 'x', contentJson: '{}' }),
      (e: grpc.ServiceError) => e.code === grpc.status.UNAUTHENTICATED,
    );
  });

  it("is deleted with the room's purge and with the user's deactivation, and kept otherwise", async () => {
    const purged = await createRoom(s, user.token, { preset: 'public_chat' });
    const kept = await createRoom(s, user.token, { preset: 'public_chat' });
    await put(user, purged, 'org.example.a', { a: 1 });
    await put(other, purged, 'org.example.a', { o: 1 });
    await put(user, kept, 'org.example.a', { k: 1 });
    const del = await http(s, 'DELETE', `/_synapse/admin/v1/rooms/${enc(purged)}`, { token: admin.token, body: { purge: true } });
    assert.equal(del.status, 200, JSON.stringify(del.body));
    assert.equal((await get(user, purged, 'org.example.a')).status, 404);
    assert.equal((await get(other, purged, 'org.example.a')).status, 404);
    assert.deepEqual((await get(user, kept, 'org.example.a')).body, { k: 1 });
    const rows = async () =>
      (
        await s.app.orm.em.fork().execute<{ n: string }[]>('SELECT count(*) AS n FROM room_account_data WHERE user_id = ?', [other.userId])
      )[0].n;
    await put(other, kept, 'org.example.a', { o: 2 });
    assert.equal(await rows(), '1');
    assert.equal(
      (await http(s, 'POST', `/_synapse/admin/v1/deactivate/${enc(other.userId)}`, { token: admin.token, body: {} })).status,
      200,
    );
    assert.equal(await rows(), '0');
  });
});
