/**
 * `/messages` through the gateway: ports of Synapse's RoomMessageListTestCase,
 * RoomMessageFilterTestCase, LabelsTestCase (spec §9.4), the admin RoomMessagesTestCase (§9.1)
 * and the visibility cases of §9.8, plus bad input and the behaviour this service adds.
 */
import { strict as assert } from 'node:assert';
import * as grpc from '@grpc/grpc-js';
import { Direction, EventFormat } from '../../gen/synapse/admin/v1/common';
import { sharedStack } from '../support/root-hooks';
import { bearer, grpcCall, http, registerUser, uniq, type Stack, type TestUser } from '../support/stack';
import { bodies, createRoom, enc, eventToken, ids, join, leave, messages, purgeAndWait, send, sendState } from './pagination.helpers';

const MESSAGE_FILTER = { types: ['m.room.message'] };

describe('RoomMessageListTestCase', () => {
  let s: Stack;
  let user: TestUser;
  let admin: TestUser;
  let roomId: string;

  before(async () => {
    s = await sharedStack();
    user = await registerUser(s, uniq('sid'));
    admin = await registerUser(s, uniq('admin'), { admin: true });
    roomId = await createRoom(s, user.token);
  });

  it('test_topo_token_is_accepted', async () => {
    const token = 't1-0_0_0_0_0_0_0_0_0_0';
    const r = await messages(s, user.token, roomId, { from: token });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.equal(r.body.start, token);
    assert.ok('chunk' in r.body);
    assert.ok('end' in r.body);
  });

  it('test_stream_token_is_accepted_for_fwd_pagianation', async () => {
    const token = 's0_0_0_0_0_0_0_0_0_0';
    const r = await messages(s, user.token, roomId, { from: token });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.equal(r.body.start, token);
    assert.ok('chunk' in r.body);
    assert.ok('end' in r.body);
  });

  it('test_room_messages_purge', async () => {
    const room = await createRoom(s, user.token);
    const first = await send(s, user.token, room, 'message 1');
    const firstToken = await eventToken(s, first);
    const second = await send(s, user.token, room, 'message 2');
    const secondToken = await eventToken(s, second);
    await send(s, user.token, room, 'message 3');
    const before = await messages(s, user.token, room, { from: secondToken, dir: 'b', filter: MESSAGE_FILTER });
    assert.equal(before.status, 200, JSON.stringify(before.body));
    assert.equal(before.body.chunk.length, 2);
    await purgeAndWait(s, admin.token, room, { delete_local_events: true }, second);
    const after = await messages(s, user.token, room, { from: secondToken, dir: 'b', filter: MESSAGE_FILTER });
    assert.equal(after.status, 200);
    assert.deepEqual(bodies(after), ['message 2']);
    const gone = await messages(s, user.token, room, { from: firstToken, dir: 'b', filter: MESSAGE_FILTER });
    assert.equal(gone.status, 200);
    assert.equal(gone.body.chunk.length, 0);
  });

  it('test_room_message_filter_query_validation', async () => {
    const good = await messages(s, user.token, roomId, { filter: MESSAGE_FILTER });
    assert.equal(good.status, 200);
    const bad = await http(s, 'GET', `/_matrix/client/v3/rooms/${enc(roomId)}/messages?filter=${enc('}}}{}')}`, { token: user.token });
    assert.equal(bad.status, 400);
    assert.equal(bad.body.errcode, 'M_NOT_JSON');
  });
});

describe('RoomMessageFilterTestCase', () => {
  it('test_room_message_filter_wildcard', async () => {
    const s = await sharedStack();
    const user = await registerUser(s, uniq('wild'));
    const room = await createRoom(s, user.token);
    await send(s, user.token, room, { body: 'a' }, 'f.message.1');
    await send(s, user.token, room, { body: 'b' }, 'f.message.2');
    await send(s, user.token, room, 'c');
    const r = await messages(s, user.token, room, { dir: 'b', filter: { types: ['f.message.*'] } });
    assert.equal(r.status, 200);
    assert.equal(r.body.chunk.length, 2);
    assert.deepEqual(
      r.body.chunk.map((e: { type: string }) => e.type),
      ['f.message.2', 'f.message.1'],
    );
  });
});

describe('LabelsTestCase', () => {
  let s: Stack;
  let user: TestUser;
  let room: string;
  const FROM = 's0_0_0_0_0_0_0_0_0_0';

  before(async () => {
    s = await sharedStack();
    user = await registerUser(s, uniq('labels'));
    room = await createRoom(s, user.token);
    const labelled = (body: string, labels?: string[]) =>
      send(s, user.token, room, labels ? { msgtype: 'm.text', body, 'org.matrix.labels': labels } : body);
    await labelled('with right label', ['#fun']);
    await labelled('without label');
    await labelled('without label');
    await labelled('with wrong label', ['#work']);
    await labelled('with two wrong labels', ['#work', '#notfun']);
    await labelled('with right label', ['#fun']);
  });

  it('test_messages_filter_labels', async () => {
    const r = await messages(s, user.token, room, { from: FROM, filter: { types: ['m.room.message'], 'org.matrix.labels': ['#fun'] } });
    assert.deepEqual(bodies(r), ['with right label', 'with right label']);
  });

  it('test_messages_filter_not_labels', async () => {
    const r = await messages(s, user.token, room, { from: FROM, filter: { types: ['m.room.message'], 'org.matrix.not_labels': ['#fun'] } });
    assert.deepEqual(bodies(r), ['without label', 'without label', 'with wrong label', 'with two wrong labels']);
  });

  it('test_messages_filter_labels_not_labels', async () => {
    const r = await messages(s, user.token, room, {
      from: FROM,
      filter: { types: ['m.room.message'], 'org.matrix.labels': ['#work'], 'org.matrix.not_labels': ['#notfun'] },
    });
    assert.deepEqual(bodies(r), ['with wrong label']);
  });
});

describe('RoomMessagesTestCase (admin /messages)', () => {
  let s: Stack;
  let admin: TestUser;
  let foo: TestUser;
  let room: string;

  before(async () => {
    s = await sharedStack();
    admin = await registerUser(s, uniq('admin'), { admin: true });
    foo = await registerUser(s, uniq('foo'));
    room = await createRoom(s, foo.token, { preset: 'public_chat' });
  });

  it('test_topo_token_is_accepted', async () => {
    const token = 't1-0_0_0_0_0_0_0_0_0_0';
    const r = await messages(s, admin.token, room, { from: token }, true);
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.equal(r.body.start, token);
    assert.ok('chunk' in r.body && 'end' in r.body);
  });

  it('test_stream_token_is_accepted_for_fwd_pagianation', async () => {
    const token = 's0_0_0_0_0_0_0_0_0_0';
    const r = await messages(s, admin.token, room, { from: token }, true);
    assert.equal(r.status, 200);
    assert.equal(r.body.start, token);
    assert.ok('chunk' in r.body && 'end' in r.body);
  });

  it('test_room_messages_backward / test_room_messages_forward', async () => {
    const r2 = await createRoom(s, foo.token, { preset: 'public_chat' });
    const msg = await send(s, foo.token, r2, 'hello');
    const back = await messages(s, admin.token, r2, { dir: 'b' }, true);
    assert.equal(back.status, 200);
    assert.equal(back.body.chunk.length, 6);
    assert.equal(back.body.chunk[0].event_id, msg);
    const fwd = await messages(s, admin.token, r2, { dir: 'f' }, true);
    assert.equal(fwd.body.chunk.length, 6);
    assert.equal(fwd.body.chunk[5].event_id, msg);
  });

  it('test_room_messages_purge', async () => {
    const r2 = await createRoom(s, foo.token, { preset: 'public_chat' });
    const m1 = await send(s, foo.token, r2, 'm1');
    const m2 = await send(s, foo.token, r2, 'm2');
    await send(s, foo.token, r2, 'm3');
    const t1 = await eventToken(s, m1);
    const t2 = await eventToken(s, m2);
    assert.equal((await messages(s, admin.token, r2, { from: t2, dir: 'b', filter: MESSAGE_FILTER }, true)).body.chunk.length, 2);
    await purgeAndWait(s, admin.token, r2, { delete_local_events: true }, m2);
    assert.equal((await messages(s, admin.token, r2, { from: t2, dir: 'b', filter: MESSAGE_FILTER }, true)).body.chunk.length, 1);
    const gone = await messages(s, admin.token, r2, { from: t1, dir: 'b', filter: MESSAGE_FILTER }, true);
    assert.equal(gone.status, 200);
    assert.equal(gone.body.chunk.length, 0);
  });

  it('test_room_message_filter_query_validation', async () => {
    assert.equal((await messages(s, admin.token, room, { filter: MESSAGE_FILTER }, true)).status, 200);
    const bad = await http(s, 'GET', `/_synapse/admin/v1/rooms/${enc(room)}/messages?filter=${enc('}}}{}')}`, { token: admin.token });
    assert.deepEqual([bad.status, bad.body.errcode], [400, 'M_NOT_JSON']);
  });

  it('needs an admin; an unknown room is an empty page', async () => {
    const denied = await messages(s, foo.token, room, {}, true);
    assert.deepEqual([denied.status, denied.body], [403, { errcode: 'M_FORBIDDEN', error: 'You are not a server admin' }]);
    const unknown = await messages(s, admin.token, '!unknown:test', { dir: 'b' }, true);
    assert.equal(unknown.status, 200);
    assert.deepEqual(unknown.body.chunk, []);
    assert.ok(!('end' in unknown.body));
  });

  it('serves federation format with raw or event_format', async () => {
    const raw = await http(s, 'GET', `/_synapse/admin/v1/rooms/${enc(room)}/messages?dir=b&limit=1&raw`, { token: admin.token });
    assert.ok(Array.isArray(raw.body.chunk[0].prev_events) && typeof raw.body.chunk[0].depth === 'number');
    assert.ok(!('user_id' in raw.body.chunk[0]));
    const viaFilter = await messages(s, admin.token, room, { dir: 'b', limit: 1, filter: { event_format: 'federation' } }, true);
    assert.ok(Array.isArray(viaFilter.body.chunk[0].auth_events));
    const client = await messages(s, admin.token, room, { dir: 'b', limit: 1 }, true);
    assert.ok(!('prev_events' in client.body.chunk[0]) && client.body.chunk[0].user_id === foo.userId);
    // Synapse 1.94 and current: any other event_format, of any type, is the client format (200).
    const other = await messages(s, admin.token, room, { dir: 'b', limit: 1, filter: { event_format: 5 } }, true);
    assert.equal(other.status, 200, JSON.stringify(other.body));
    assert.ok(!('prev_events' in other.body.chunk[0]) && other.body.chunk[0].user_id === foo.userId);
  });
});

describe('/messages: history visibility (spec §9.8)', () => {
  let s: Stack;
  let resident: TestUser;
  let joiner: TestUser;

  before(async () => {
    s = await sharedStack();
    resident = await registerUser(s, uniq('resident'));
    joiner = await registerUser(s, uniq('joiner'));
  });

  it('test_joined_history_visibility', async () => {
    const room = await createRoom(s, resident.token, { preset: 'public_chat' });
    await sendState(s, resident.token, room, 'm.room.history_visibility', { history_visibility: 'joined' });
    await send(s, resident.token, room, 'before');
    await join(s, joiner.token, room);
    await send(s, resident.token, room, 'during');
    await leave(s, joiner.token, room);
    await send(s, resident.token, room, 'after');
    const filter = { types: ['m.room.message', 'm.room.member'], senders: [resident.userId, joiner.userId] };
    const seen = await messages(s, joiner.token, room, { dir: 'f', filter, limit: 50 });
    assert.equal(seen.status, 200, JSON.stringify(seen.body));
    const tail = (r: typeof seen) =>
      r.body.chunk.filter((e: { type: string; state_key?: string }) => e.type === 'm.room.message' || e.state_key === joiner.userId);
    assert.deepEqual(
      tail(seen).map((e: { content: { body?: string; membership?: string } }) => e.content.body ?? e.content.membership),
      ['join', 'during', 'leave'],
    );
    assert.deepEqual(
      tail(seen).map((e: { unsigned: { membership: string } }) => e.unsigned.membership),
      ['join', 'join', 'leave'],
    );
    const all = await messages(s, resident.token, room, { dir: 'f', filter, limit: 50 });
    assert.deepEqual(
      tail(all).map((e: { content: { body?: string; membership?: string } }) => e.content.body ?? e.content.membership),
      ['before', 'join', 'during', 'leave', 'after'],
    );
    assert.deepEqual(
      tail(all).map((e: { unsigned: { membership: string } }) => e.unsigned.membership),
      ['join', 'join', 'join', 'join', 'join'],
    );
  });

  it('skips invisible history instead of returning pages of empty chunks (Synapse #13128)', async () => {
    const room = await createRoom(s, resident.token, { preset: 'public_chat' });
    await sendState(s, resident.token, room, 'm.room.history_visibility', { history_visibility: 'joined' });
    for (let i = 0; i < 25; i++) await send(s, resident.token, room, `hidden ${i}`);
    const late = await registerUser(s, uniq('late'));
    await join(s, late.token, room);
    for (let i = 0; i < 3; i++) await send(s, resident.token, room, `seen ${i}`);
    const pages: unknown[][] = [];
    let from: string | undefined;
    for (let i = 0; i < 10; i++) {
      const r = await messages(s, late.token, room, { dir: 'b', limit: 5, filter: MESSAGE_FILTER, ...(from ? { from } : {}) });
      assert.equal(r.status, 200);
      pages.push(bodies(r));
      if (!r.body.end) break;
      from = r.body.end;
    }
    // One page with everything visible, then an empty page without `end`: never empty pages in between.
    assert.deepEqual(pages, [['seen 2', 'seen 1', 'seen 0'], []]);
  });

  it('clamps a departed user to their leave and refuses users who were never in the room', async () => {
    const room = await createRoom(s, resident.token, { preset: 'public_chat' });
    const leaver = await registerUser(s, uniq('leaver'));
    await join(s, leaver.token, room);
    await send(s, resident.token, room, 'while joined');
    await leave(s, leaver.token, room);
    await send(s, resident.token, room, 'after leaving');
    const r = await messages(s, leaver.token, room, { dir: 'b', filter: MESSAGE_FILTER });
    assert.deepEqual(bodies(r), ['while joined']);
    assert.deepEqual(
      bodies(await messages(s, leaver.token, room, { dir: 'b', filter: MESSAGE_FILTER, from: 's999999999' })),
      ['while joined'],
      'live tokens are clamped too',
    );
    const leaveToken = await eventToken(s, ids(await messages(s, leaver.token, room, { dir: 'b', limit: 1 }))[0]);
    assert.ok(r.body.start.startsWith(`${leaveToken}_`), `start ${r.body.start} is the leave event's token ${leaveToken}`);
    const stranger = await registerUser(s, uniq('stranger'));
    const denied = await messages(s, stranger.token, room, {});
    assert.deepEqual(
      [denied.status, denied.body],
      [403, { errcode: 'M_FORBIDDEN', error: `User ${stranger.userId} not in room ${room}, and room previews are disabled` }],
    );
  });

  it('never answers from what the user could see before: leave, new events, forget', async () => {
    const room = await createRoom(s, resident.token, { preset: 'public_chat' });
    const reader = await registerUser(s, uniq('reader'));
    await join(s, reader.token, room);
    await send(s, resident.token, room, 'while joined');
    assert.deepEqual(bodies(await messages(s, reader.token, room, { dir: 'b', filter: MESSAGE_FILTER })), ['while joined']);
    await leave(s, reader.token, room);
    await send(s, resident.token, room, 'after leaving');
    assert.deepEqual(bodies(await messages(s, reader.token, room, { dir: 'b', filter: MESSAGE_FILTER })), ['while joined']);
    await http(s, 'POST', `/_matrix/client/v3/rooms/${enc(room)}/forget`, { token: reader.token, body: {} });
    const denied = await messages(s, reader.token, room, { dir: 'b' });
    assert.equal(denied.status, 403);
  });

  it('lets anyone preview a world-readable room (peeking sees only world-readable history)', async () => {
    const room = await createRoom(s, resident.token, { preset: 'public_chat' });
    await send(s, resident.token, room, 'shared era');
    await sendState(s, resident.token, room, 'm.room.history_visibility', { history_visibility: 'world_readable' });
    await send(s, resident.token, room, 'public era');
    const peeker = await registerUser(s, uniq('peeker'));
    const r = await messages(s, peeker.token, room, { dir: 'b', filter: MESSAGE_FILTER });
    assert.equal(r.status, 200);
    assert.deepEqual(bodies(r), ['public era']);
    assert.equal(r.body.chunk[0].unsigned.membership, 'leave');
  });
});

describe('/messages: events never shown', () => {
  it('test_room_messages_paginate_through_rejected_events (pages skip rejected events instead of shrinking)', async () => {
    const s = await sharedStack();
    const user = await registerUser(s, uniq('rej'));
    const admin = await registerUser(s, uniq('admin'), { admin: true });
    const room = await createRoom(s, user.token);
    const early = await send(s, user.token, room, 'early');
    const rejected = [await send(s, user.token, room, 'r1'), await send(s, user.token, room, 'r2'), await send(s, user.token, room, 'r3')];
    const softFailed = await send(s, user.token, room, 'soft');
    const dummy = await send(s, user.token, room, {}, 'org.matrix.dummy_event');
    const latest = await send(s, user.token, room, 'latest');
    const conn = s.app.orm.em.fork().getConnection();
    // Rejection and soft failure only happen to federated events; mark these as such.
    await conn.execute("UPDATE events SET rejected_reason = 'auth_error' WHERE event_id IN (?)", [rejected]);
    await conn.execute('UPDATE events SET soft_failed = true WHERE event_id = ?', [softFailed]);
    const first = await messages(s, user.token, room, { dir: 'b', limit: 2 });
    assert.deepEqual(ids(first), [latest, early]);
    assert.ok(first.body.end);
    const asAdmin = await messages(s, admin.token, room, { dir: 'b', limit: 3 }, true);
    assert.deepEqual(ids(asAdmin), [latest, dummy, softFailed], 'admins see soft-failed and dummy events, never rejected ones');
  });
});

describe('/messages: tokens, limits and bad input', () => {
  let s: Stack;
  let user: TestUser;
  let room: string;
  const msgIds: string[] = [];

  before(async () => {
    s = await sharedStack();
    user = await registerUser(s, uniq('input'));
    room = await createRoom(s, user.token);
    for (let i = 0; i < 5; i++) msgIds.push(await send(s, user.token, room, `n${i}`));
  });

  const get = (q: string) => http(s, 'GET', `/_matrix/client/v3/rooms/${enc(room)}/messages?${q}`, { token: user.token });

  it('answers the documented 400s in Synapse order', async () => {
    const cases: [string, number, string, string][] = [
      ['dir=x', 400, 'M_INVALID_PARAM', "Query parameter 'dir' must be one of ['b', 'f']"],
      ['from=nope', 400, 'M_UNKNOWN', "'from' parameter is invalid"],
      ['from=s1_x', 400, 'M_UNKNOWN', "'from' parameter is invalid"],
      ['from=s1_0_0_0_0_0_0_0_0_0_0', 400, 'M_UNKNOWN', "'from' parameter is invalid"],
      ['from=t1-2-3', 400, 'M_UNKNOWN', "'from' parameter is invalid"],
      ['to=t-1-2', 400, 'M_UNKNOWN', "'to' parameter is invalid"],
      ['from=bad&to=bad', 400, 'M_UNKNOWN', "'from' parameter is invalid"],
      ['limit=abc', 400, 'M_INVALID_PARAM', 'Query parameter limit must be an integer'],
      ['limit=-1', 400, 'M_INVALID_PARAM', 'Query parameter limit must be a positive integer.'],
      [`filter=${enc('[1]')}`, 400, 'M_BAD_JSON', 'Query parameter filter must be a JSON object'],
      [`filter=${enc('5')}`, 400, 'M_BAD_JSON', 'Query parameter filter must be a JSON object'],
      [`filter=${enc('{"types": "m.room.message"}')}`, 400, 'M_BAD_JSON', "Filter field 'types' must be a list of strings"],
      [`filter=${enc('{"contains_url": "yes"}')}`, 400, 'M_BAD_JSON', "Filter field 'contains_url' must be a boolean"],
    ];
    for (const [q, status, errcode, error] of cases) {
      const r = await get(q);
      assert.deepEqual([r.status, r.body], [status, { errcode, error }], q);
    }
  });

  it('authenticates before validating', async () => {
    const r = await http(s, 'GET', `/_matrix/client/v3/rooms/${enc(room)}/messages?from=nope`);
    assert.equal(r.status, 401);
  });

  it('treats falsy filters, from=END and empty tokens as absent', async () => {
    for (const q of [`filter=${enc('{}')}`, `filter=${enc('[]')}`, `filter=${enc('null')}`, 'from=END&dir=b', 'from=&to=']) {
      const r = await get(q);
      assert.equal(r.status, 200, q);
    }
  });

  it('pads short tokens and re-serialises them; accepts multi-writer tokens', async () => {
    const r = await get('from=s0&limit=1');
    assert.equal(r.body.start, 's0_0_0_0_0_0_0_0_0_0');
    const m = await get(`from=${enc('m1~2.5~~3.9_0_0_m2~4.7_0_0_0_0_0_0')}&limit=1&dir=f`);
    assert.equal(m.status, 200);
    assert.equal(m.body.start, 'm1~2.5~3.9_0_0_m2~4.7_0_0_0_0_0_0');
    const bad = await get(`from=${enc('m5~1.4')}`);
    assert.deepEqual([bad.status, bad.body.error], [400, "'from' parameter is invalid"]);
  });

  it('pages forwards and backwards with `to`, without gaps or repeats', async () => {
    const fwd: string[] = [];
    let from = 's0_0_0_0_0_0_0_0_0_0';
    for (;;) {
      const r = await get(`from=${from}&limit=3&dir=f`);
      if (!r.body.end) break;
      fwd.push(...ids(r));
      from = r.body.end;
    }
    assert.deepEqual(fwd.slice(-5), msgIds);
    const back: string[] = [];
    from = '';
    for (;;) {
      const r = await get(`limit=4&dir=b${from ? `&from=${from}` : ''}`);
      if (!r.body.end) break;
      back.push(...ids(r));
      from = r.body.end;
    }
    assert.deepEqual(back, [...fwd].reverse());
    const upTo = await get(`dir=f&from=s0&to=${await eventToken(s, msgIds[1])}&limit=100`);
    assert.deepEqual(ids(upTo).slice(-2), [msgIds[0], msgIds[1]]);
    const down = await get(`dir=b&to=${await eventToken(s, msgIds[2])}&limit=100`);
    assert.deepEqual(ids(down), [msgIds[4], msgIds[3]]);
    const empty = await get(`dir=f&from=${await eventToken(s, msgIds[3])}&to=${await eventToken(s, msgIds[1])}`);
    assert.deepEqual(empty.body.chunk, []);
    assert.ok(!('end' in empty.body));
  });

  it('caps the limit at 1000 and answers limit=0 with an empty chunk', async () => {
    assert.equal((await get('limit=100000')).status, 200);
    const huge = await get('limit=99999999999&dir=b');
    assert.equal(huge.status, 200);
    assert.equal(huge.body.chunk[huge.body.chunk.length - 1].type, 'm.room.create', 'the whole room in one page');
    const zero = await get('limit=0');
    assert.deepEqual(zero.body.chunk, []);
    assert.ok(!('end' in zero.body));
  });

  it('reads to the end of the room when nothing matches the filter: empty chunk, no `end`', async () => {
    const r = await get(`dir=b&limit=3&filter=${enc(JSON.stringify({ senders: ['@nobody:test'] }))}`);
    assert.deepEqual(r.body.chunk, []);
    assert.ok(!('end' in r.body));
  });

  it('lazy-loads the senders of the chunk', async () => {
    const other = await registerUser(s, uniq('other'));
    const r2 = await createRoom(s, user.token, { preset: 'public_chat' });
    await join(s, other.token, r2);
    await send(s, other.token, r2, 'from other');
    const r = await messages(s, user.token, r2, { dir: 'b', limit: 1, filter: { lazy_load_members: true } });
    assert.deepEqual(
      r.body.state.map((e: { state_key: string }) => e.state_key),
      [other.userId],
    );
    assert.equal(r.body.state[0].content.membership, 'join');
    const none = await messages(s, user.token, r2, { dir: 'b', limit: 1 });
    assert.ok(!('state' in none.body));
  });
});

describe('PaginationService over gRPC', () => {
  it('serves pages, tokens and errors as the REST paths do', async () => {
    const s = await sharedStack();
    const user = await registerUser(s, uniq('grpc'));
    const room = await createRoom(s, user.token);
    const msg = await send(s, user.token, room, 'over grpc');
    const p = s.clients.pagination;
    const query = { roomId: room, dir: Direction.DIRECTION_BACKWARDS, limit: 1, format: EventFormat.EVENT_FORMAT_UNSPECIFIED };
    const res = await grpcCall(p, p.getRoomMessages, { query }, bearer(user.token));
    assert.equal(res.page?.chunk[0].eventId, msg);
    assert.equal(JSON.parse(res.page?.chunk[0].contentJson ?? '{}').body, 'over grpc');
    assert.equal(JSON.parse(res.page?.chunk[0].unsignedJson ?? '{}').membership, 'join');
    assert.match(res.page?.end ?? '', /^t\d+-\d+_0_0_0_0_0_0_0_0_0$/);
    await assert.rejects(grpcCall(p, p.getRoomMessages, { query }), (e: grpc.ServiceError) => e.code === grpc.status.UNAUTHENTICATED);
    await assert.rejects(
      grpcCall(p, p.adminGetRoomMessages, { query }, bearer(user.token)),
      (e: grpc.ServiceError) => e.code === grpc.status.PERMISSION_DENIED,
    );
    await assert.rejects(
      grpcCall(p, p.getRoomMessages, { query: { ...query, from: 'x' } }, bearer(user.token)),
      (e: grpc.ServiceError) => e.code === grpc.status.INVALID_ARGUMENT && e.details === "'from' parameter is invalid",
    );
    await assert.rejects(
      grpcCall(p, p.getRoomMessages, { query: { ...query, filter: { senders: 'x' } } }, bearer(user.token)),
      (e: grpc.ServiceError) => e.code === grpc.status.INVALID_ARGUMENT,
    );
  });

  it('renders the page as the REST body with as_json_body, in either format', async () => {
    const s = await sharedStack();
    const user = await registerUser(s, uniq('grpcjson'));
    const room = await createRoom(s, user.token);
    await send(s, user.token, room, 'rendered');
    const p = s.clients.pagination;
    const query = { roomId: room, dir: Direction.DIRECTION_BACKWARDS, limit: 3, format: EventFormat.EVENT_FORMAT_CLIENT, asJsonBody: true };
    const res = await grpcCall(p, p.getRoomMessages, { query }, bearer(user.token));
    assert.deepEqual(res.page?.chunk, []);
    const body = JSON.parse(Buffer.from(res.page?.jsonBody ?? 'null').toString());
    const rest = await messages(s, user.token, room, { dir: 'b', limit: 3 });
    for (const e of [...body.chunk, ...rest.body.chunk]) delete e.unsigned.age;
    for (const e of [...body.chunk, ...rest.body.chunk]) delete e.age;
    assert.deepEqual(body, rest.body);
    assert.equal(body.chunk[0].content.body, 'rendered');
    assert.equal(body.chunk[0].user_id, user.userId);
    const fed = await grpcCall(
      p,
      p.getRoomMessages,
      { query: { ...query, format: EventFormat.EVENT_FORMAT_FEDERATION } },
      bearer(user.token),
    );
    const pdu = JSON.parse(Buffer.from(fed.page?.jsonBody ?? 'null').toString()).chunk[0];
    assert.ok(Array.isArray(pdu.prev_events) && typeof pdu.hashes.sha256 === 'string' && !('user_id' in pdu));
    const typed = await grpcCall(p, p.getRoomMessages, { query: { ...query, asJsonBody: false } }, bearer(user.token));
    assert.equal(typed.page?.jsonBody, undefined);
    assert.equal(typed.page?.chunk.length, body.chunk.length);
  });
});
