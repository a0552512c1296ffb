/**
 * Client event context (`GET /_matrix/client/v3/rooms/<room_id>/context/<event_id>`, Synapse's
 * RoomEventContextServlet): the admin context's query and body under the client's visibility
 * rules. The event itself must be visible (else 403); the events around it are read inside the
 * ranges the user may see, without ignored senders' messages.
 */
import { strict as assert } from 'node:assert';
import * as grpc from '@grpc/grpc-js';
import { sharedStack } from '../support/root-hooks';
import { bearer, grpcCall, http, registerUser, uniq, type Stack, type TestUser } from '../support/stack';
import { C } from '../support/client';
import { createRoom, enc, join, leave, messages, send, sendState } from './pagination.helpers';

type Ev = { event_id: string; type: string; content: { body?: string }; unsigned: { membership?: string } };
const label = (e: Ev) => e.content.body ?? e.type;
const DENIED = { errcode: 'M_FORBIDDEN', error: "You don't have permission to access that event." };

describe('Client event context', () => {
  let s: Stack;
  let alice: TestUser;
  let bob: TestUser;
  let outsider: TestUser;
  let room: string;
  const m: string[] = [];
  const context = (token: string, eventId: string, q = '', roomId = room) =>
    http(s, 'GET', `${C}/rooms/${enc(roomId)}/context/${enc(eventId)}${q}`, { token });
  const labels = (r: { body: { events_before: Ev[]; event: Ev; events_after: Ev[] } }) => ({
    before: r.body.events_before.map(label),
    event: label(r.body.event),
    after: r.body.events_after.map(label),
  });

  // A "joined" room: bob joins after m0-m3, sees m4-m7, leaves before m8-m9.
  before(async () => {
    s = await sharedStack();
    alice = await registerUser(s, uniq('ctxalice'));
    bob = await registerUser(s, uniq('ctxbob'));
    outsider = await registerUser(s, uniq('ctxout'));
    room = await createRoom(s, alice.token, { preset: 'private_chat' });
    await sendState(s, alice.token, room, 'm.room.history_visibility', { history_visibility: 'joined' });
    for (let i = 0; i < 4; i++) m.push(await send(s, alice.token, room, `m${i}`));
    await sendState(s, alice.token, room, 'm.room.join_rules', { join_rule: 'public' });
    await join(s, bob.token, room);
    for (let i = 4; i < 8; i++) m.push(await send(s, alice.token, room, `m${i}`));
    await leave(s, bob.token, room);
    for (let i = 8; i < 10; i++) m.push(await send(s, alice.token, room, `m${i}`));
  });

  it('serves a member the events around an event, with tokens that continue /messages', async () => {
    const r = await context(alice.token, m[5], '?limit=4');
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.deepEqual(labels(r), { before: ['m4', 'm.room.member'], event: 'm5', after: ['m6', 'm7'] });
    assert.equal(r.body.event.unsigned.membership, 'join');
    assert.ok(r.body.state.some((e: Ev) => e.type === 'm.room.create'));
    const back = await messages(s, alice.token, room, { dir: 'b', limit: 1, from: r.body.start });
    assert.deepEqual(back.body.chunk.map(label), ['m.room.join_rules']);
    const fwd = await messages(s, alice.token, room, { dir: 'f', limit: 1, from: r.body.end });
    assert.deepEqual(fwd.body.chunk.map(label), ['m.room.member']);
    assert.equal((await http(s, 'GET', `/_matrix/client/r0/rooms/${enc(room)}/context/${enc(m[5])}`, { token: alice.token })).status, 200);
  });

  it('shows a departed user only what they could see, and refuses the events they could not', async () => {
    const r = await context(bob.token, m[5], '?limit=10');
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.deepEqual(labels(r), { before: ['m4', 'm.room.member'], event: 'm5', after: ['m6', 'm7', 'm.room.member'] });
    for (const hidden of [m[1], m[8]]) assert.deepEqual(await context(bob.token, hidden).then((x) => [x.status, x.body]), [403, DENIED]);
  });

  it('refuses outsiders, answers 404 for unknown events and events of other rooms', async () => {
    assert.deepEqual(await context(outsider.token, m[5]).then((x) => [x.status, x.body]), [403, DENIED]);
    assert.deepEqual(await context(alice.token, '$nope').then((x) => [x.status, x.body]), [
      404,
      { errcode: 'M_NOT_FOUND', error: 'Event not found.' },
    ]);
    const other = await createRoom(s, alice.token, { preset: 'public_chat' });
    const there = await send(s, alice.token, other, 'elsewhere');
    assert.deepEqual(await context(alice.token, there).then((x) => [x.status, x.body]), [
      404,
      { errcode: 'M_UNKNOWN', error: 'No row found (events)' },
    ]);
    // Visibility is decided first, as in Synapse: an event the user may not see is a 403 in any room.
    assert.equal((await context(outsider.token, m[5], '', other)).status, 403);
    assert.equal((await http(s, 'GET', `${C}/rooms/${enc(room)}/context/${enc(m[5])}`)).status, 401);
  });

  it('lets anyone preview a world-readable room', async () => {
    const open = await createRoom(s, alice.token, { preset: 'public_chat' });
    await sendState(s, alice.token, open, 'm.room.history_visibility', { history_visibility: 'world_readable' });
    const a = await send(s, alice.token, open, 'a');
    const b = await send(s, alice.token, open, 'b');
    const r = await context(outsider.token, a, '?limit=2', open);
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.deepEqual(
      r.body.events_after.map((e: Ev) => e.event_id),
      [b],
    );
  });

  it('applies the filter and lazy-loads members, as the admin context does', async () => {
    const types = await context(alice.token, m[5], `?limit=4&filter=${enc(JSON.stringify({ types: ['m.room.member'] }))}`);
    assert.deepEqual(labels(types), { before: ['m.room.member', 'm.room.member'], event: 'm5', after: ['m.room.member'] });
    const lazy = await context(alice.token, m[5], `?limit=2&filter=${enc(JSON.stringify({ lazy_load_members: true }))}`);
    assert.deepEqual(lazy.body.state.filter((e: Ev) => e.type === 'm.room.member').length, 1);
    const bad = await context(alice.token, m[5], `?filter=${enc('{x')}`);
    assert.deepEqual([bad.status, bad.body.errcode], [400, 'M_NOT_JSON']);
  });

  it("leaves out ignored senders' messages, keeping each side full", async () => {
    const reader = await registerUser(s, uniq('ctxreader'));
    const spammer = await registerUser(s, uniq('ctxspam'));
    const r = await createRoom(s, alice.token, { preset: 'public_chat' });
    await join(s, reader.token, r);
    await join(s, spammer.token, r);
    const sent: string[] = [];
    for (let i = 0; i < 3; i++) sent.push(await send(s, alice.token, r, `a${i}`), await send(s, spammer.token, r, `spam${i}`));
    sent.push(await send(s, alice.token, r, 'a3'));
    await http(s, 'PUT', `${C}/user/${enc(reader.userId)}/account_data/m.ignored_user_list`, {
      token: reader.token,
      body: { ignored_users: { [spammer.userId]: {} } },
    });
    const around = await context(reader.token, sent[2], '?limit=4', r);
    assert.deepEqual(labels(around), { before: ['a0', 'm.room.member'], event: 'a1', after: ['a2', 'a3'] });
    assert.deepEqual(await context(reader.token, sent[1], '', r).then((x) => [x.status, x.body]), [403, DENIED]);
  });

  it('gives the state after the last event it shows, for clients and admins, with and without a filter', async () => {
    const admin = await registerUser(s, uniq('ctxadmin'), { admin: true });
    const r = await createRoom(s, alice.token, { preset: 'public_chat', name: 'first' });
    const target = await send(s, alice.token, r, 't');
    await send(s, alice.token, r, 'a1');
    await sendState(s, alice.token, r, 'm.room.topic', { topic: 'x' });
    await sendState(s, alice.token, r, 'm.room.name', { name: 'second' });
    await sendState(s, alice.token, r, 'm.room.topic', { topic: 'y' });
    await send(s, alice.token, r, 'a2');
    await sendState(s, alice.token, r, 'm.room.name', { name: 'third' });
    await send(s, alice.token, r, 'a3');
    const noTopics = `&filter=${enc(JSON.stringify({ not_types: ['m.room.topic'] }))}`;
    const cases: [string, string[], string, string[]][] = [
      ['?limit=2', ['a1'], 'first', []],
      ['?limit=4', ['a1', 'm.room.topic'], 'first', ['x']],
      ['?limit=6', ['a1', 'm.room.topic', 'm.room.name'], 'second', ['x']],
      [`?limit=4${noTopics}`, ['a1', 'm.room.name'], 'second', []],
      [`?limit=6${noTopics}`, ['a1', 'm.room.name', 'a2'], 'second', []],
      [`?limit=8${noTopics}`, ['a1', 'm.room.name', 'a2', 'm.room.name'], 'third', []],
      ['?limit=40', ['a1', 'm.room.topic', 'm.room.name', 'm.room.topic', 'a2', 'm.room.name', 'a3'], 'third', ['y']],
    ];
    for (const [q, after, name, topics] of cases)
      for (const res of [
        await context(alice.token, target, q, r),
        await http(s, 'GET', `/_synapse/admin/v1/rooms/${enc(r)}/context/${enc(target)}${q}`, { token: admin.token }),
      ]) {
        assert.equal(res.status, 200, JSON.stringify(res.body));
        assert.deepEqual(res.body.events_after.map(label), after, q);
        const values = (type: string, key: string) =>
          res.body.state.filter((e: Ev) => e.type === type).map((e: { content: Record<string, string> }) => e.content[key]);
        assert.deepEqual([values('m.room.name', 'name'), values('m.room.topic', 'topic')], [[name], topics], q);
      }
  });

  it('is served over gRPC with the user credential', async () => {
    const c = s.clients.pagination;
    const res = await grpcCall(c, c.getEventContext, { roomId: room, eventId: m[5], limit: 2 }, bearer(alice.token));
    assert.deepEqual([res.eventsBefore.length, res.event?.eventId, res.eventsAfter.length], [1, m[5], 1]);
    await assert.rejects(
      grpcCall(c, c.getEventContext, { roomId: room, eventId: m[5] }, bearer(outsider.token)),
      (e: grpc.ServiceError) => e.code === grpc.status.PERMISSION_DENIED,
    );
    await assert.rejects(
      grpcCall(c, c.getEventContext, { roomId: room, eventId: m[5] }),
      (e: grpc.ServiceError) => e.code === grpc.status.UNAUTHENTICATED,
    );
  });
});
