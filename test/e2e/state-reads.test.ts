/**
 * Room state reads over REST (admin `/state`, client `/state`, one state event, `/members`), whose
 * bodies the service renders once and the gateway passes on: what they show after the writes that
 * change an event's presentation (a state change, a redaction, an erasing deactivation, a purge of
 * history, a room deletion), read back over real HTTP each time. The expectation is written here
 * from what the test did, never from the server's code.
 */
import { strict as assert } from 'node:assert';
import { C, enc, ok } from '../support/client';
import { toClientEvent } from '../../src/matrix/event-formats';
import { bearer, grpcCall, http, registerUser, startStack, type Stack, type TestUser } from '../support/stack';
import { createRoom, join, purgeAndWait, send, sendState } from './pagination.helpers';

type Json = Record<string, any>;

describe('room state reads', () => {
  let s: Stack;
  let admin: TestUser;
  let author: TestUser;
  let reader: TestUser;
  let outsider: TestUser;
  let room: string;
  let topicOne: string;
  let topicTwo: string;

  const adminState = async (roomId = room): Promise<Json[]> =>
    (await ok(http(s, 'GET', `/_synapse/admin/v1/rooms/${enc(roomId)}/state`, { token: admin.token }), 'admin state')).body.state;
  const clientState = async (u: TestUser): Promise<Json[]> =>
    (await ok(http(s, 'GET', `${C}/rooms/${enc(room)}/state`, { token: u.token }), 'client state')).body;
  const topicOf = (state: Json[]) => state.filter((e) => e.type === 'm.room.topic');

  before(async () => {
    s = await startStack();
    admin = await registerUser(s, 'admin', { admin: true });
    author = await registerUser(s, 'author');
    reader = await registerUser(s, 'reader');
    outsider = await registerUser(s, 'outsider');
    room = await createRoom(s, author.token, { preset: 'public_chat', name: 'State reads' });
    await join(s, reader.token, room);
    topicOne = await sendState(s, author.token, room, 'm.room.topic', { topic: 'one' });
    topicTwo = await sendState(s, author.token, room, 'm.room.topic', { topic: 'two' });
    await send(s, author.token, room, 'after the topics');
  });

  after(async () => {
    await s?.stop();
  });

  it('shows the replaced state in the legacy client format, the same to the admin and to members', async () => {
    const [a] = topicOf(await adminState());
    assert.equal(a.event_id, topicTwo);
    assert.deepEqual(a.content, { topic: 'two' });
    assert.equal(a.sender, author.userId);
    assert.equal(a.user_id, author.userId);
    assert.equal(a.state_key, '');
    assert.equal(a.room_id, room);
    assert.equal(a.replaces_state, topicOne);
    assert.deepEqual(a.prev_content, { topic: 'one' });
    assert.equal(a.unsigned.replaces_state, topicOne);
    assert.deepEqual(a.unsigned.prev_content, { topic: 'one' });
    assert.equal(a.unsigned.prev_sender, author.userId);
    assert.equal(a.age, a.unsigned.age);
    for (const k of ['prev_events', 'auth_events', 'depth', 'hashes', 'signatures']) assert.ok(!(k in a), k);
    const strip = (e: Json): Json => ({ ...e, age: 0, unsigned: { ...e.unsigned, age: 0 } });
    const admins = (await adminState()).map(strip);
    assert.deepEqual((await clientState(reader)).map(strip), admins);
    assert.deepEqual((await clientState(author)).map(strip), admins);
    const members = (await ok(http(s, 'GET', `${C}/rooms/${enc(room)}/members`, { token: reader.token }), 'members')).body.chunk;
    assert.deepEqual(
      members.map(strip),
      admins.filter((e) => e.type === 'm.room.member'),
    );
  });

  it('answers over gRPC the typed events the REST body renders (typed and JSON body agree)', async () => {
    const ra = s.clients.roomAdmin;
    const typed = await grpcCall(ra, ra.listRoomState, { roomId: room }, bearer(admin.token));
    const json = await grpcCall(ra, ra.listRoomState, { roomId: room, asJsonBody: true }, bearer(admin.token));
    assert.equal(json.state.length, 0);
    const noAge = (e: Json): Json => ({ ...e, age: 0, unsigned: { ...e.unsigned, age: 0 } });
    const body = JSON.parse(Buffer.from(json.jsonBody!).toString('utf8')) as { state: Json[] };
    assert.ok(typed.state.length > 5);
    assert.ok(
      typed.state.some((e) => e.authEvents.length > 0),
      'the typed events carry their auth events',
    );
    assert.deepEqual(
      body.state.map(noAge),
      typed.state.map((e) => noAge(toClientEvent(e))),
    );
    const rc = s.clients.rooms;
    const members = await grpcCall(rc, rc.getMembers, { roomId: room }, bearer(reader.token));
    const membersJson = await grpcCall(rc, rc.getMembers, { roomId: room, asJsonBody: true }, bearer(reader.token));
    assert.deepEqual(
      (JSON.parse(Buffer.from(membersJson.jsonBody!).toString('utf8')) as { chunk: Json[] }).chunk.map(noAge),
      members.events.map((e) => noAge(toClientEvent(e))),
    );
    const state = await grpcCall(rc, rc.getRoomState, { roomId: room }, bearer(reader.token));
    // Only the JSON bodies leave out the DAG fields (the client format never shows them).
    for (const typedEvents of [members.events, state.events])
      assert.ok(
        typedEvents.every((e) => e.type === 'm.room.create' || e.authEvents.length > 0),
        'the typed client events carry their auth events',
      );
    const stateJson = await grpcCall(rc, rc.getRoomState, { roomId: room, asJsonBody: true }, bearer(reader.token));
    assert.deepEqual(
      (JSON.parse(Buffer.from(stateJson.jsonBody!).toString('utf8')) as Json[]).map(noAge),
      state.events.map((e) => noAge(toClientEvent(e))),
    );
  });

  it('answers an event and its context over gRPC the same typed as in the JSON body REST serves', async () => {
    const noAge = (e: Json): Json => ({ ...e, age: 0, unsigned: { ...e.unsigned, age: 0 } });
    const parse = (b: Uint8Array | undefined): Json => JSON.parse(Buffer.from(b!).toString('utf8'));
    const rc = s.clients.rooms;
    const typedEvent = await grpcCall(rc, rc.getEvent, { roomId: room, eventId: topicTwo }, bearer(reader.token));
    const jsonEvent = await grpcCall(rc, rc.getEvent, { roomId: room, eventId: topicTwo, asJsonBody: true }, bearer(reader.token));
    assert.equal(jsonEvent.event, undefined);
    const event = parse(jsonEvent.jsonBody);
    assert.deepEqual([event.event_id, event.type, event.content], [topicTwo, 'm.room.topic', { topic: 'two' }]);
    assert.deepEqual(noAge(event), noAge(toClientEvent(typedEvent.event!)));
    const rest = await ok(http(s, 'GET', `${C}/rooms/${enc(room)}/event/${enc(topicTwo)}`, { token: reader.token }), 'event');
    assert.deepEqual(noAge(rest.body), noAge(event));

    const p = s.clients.pagination;
    for (const [rpc, token] of [
      [p.getEventContext, reader.token],
      [p.adminGetEventContext, admin.token],
    ] as const) {
      const req = { roomId: room, eventId: topicOne, limit: 4 };
      const typed = await grpcCall(p, rpc as typeof p.getEventContext, req, bearer(token));
      const json = await grpcCall(p, rpc as typeof p.getEventContext, { ...req, asJsonBody: true }, bearer(token));
      assert.deepEqual([json.eventsBefore, json.eventsAfter, json.state, json.event], [[], [], [], undefined]);
      const body = parse(json.jsonBody);
      assert.deepEqual(Object.keys(body), ['events_before', 'event', 'events_after', 'state', 'start', 'end']);
      assert.equal(body.event.event_id, topicOne);
      // topicOne is followed by topicTwo, then the message sent after the topics.
      assert.deepEqual(
        body.events_after.map((e: Json) => e.event_id),
        [topicTwo, ...typed.eventsAfter.slice(1).map((e) => e.eventId)],
      );
      assert.equal(body.events_before.length, 2);
      assert.deepEqual([body.start, body.end], [typed.start, typed.end]);
      const render = (es: typeof typed.state) => es.map((e) => noAge(toClientEvent(e)));
      assert.deepEqual(body.events_before.map(noAge), render(typed.eventsBefore));
      assert.deepEqual(noAge(body.event), noAge(toClientEvent(typed.event!)));
      assert.deepEqual(body.events_after.map(noAge), render(typed.eventsAfter));
      assert.deepEqual(body.state.map(noAge), render(typed.state));
      assert.ok(body.state.some((e: Json) => e.type === 'm.room.create'));
    }
  });

  it('shows one state event, as content or as an event without the legacy copies', async () => {
    const path = `${C}/rooms/${enc(room)}/state/m.room.topic/`;
    assert.deepEqual((await ok(http(s, 'GET', path, { token: reader.token }), 'topic')).body, { topic: 'two' });
    const ev = (await ok(http(s, 'GET', `${path}?format=event`, { token: reader.token }), 'topic event')).body;
    assert.equal(ev.event_id, topicTwo);
    assert.deepEqual(ev.unsigned.prev_content, { topic: 'one' });
    assert.ok(!('prev_content' in ev) && !('user_id' in ev) && !('age' in ev));
    const missing = await http(s, 'GET', `${C}/rooms/${enc(room)}/state/m.room.topic/nope`, { token: reader.token });
    assert.equal(missing.status, 404);
    assert.equal(missing.body.errcode, 'M_NOT_FOUND');
  });

  it('refuses a non-member (403) and an unknown room (404)', async () => {
    const r = await http(s, 'GET', `${C}/rooms/${enc(room)}/state`, { token: outsider.token });
    assert.equal(r.status, 403);
    assert.equal(r.body.errcode, 'M_FORBIDDEN');
    const m = await http(s, 'GET', `${C}/rooms/${enc(room)}/members`, { token: outsider.token });
    assert.equal(m.status, 403);
    const unknown = await http(s, 'GET', `/_synapse/admin/v1/rooms/${enc('!nope:test')}/state`, { token: admin.token });
    assert.equal(unknown.status, 404);
    assert.equal(unknown.body.errcode, 'M_NOT_FOUND');
  });

  it('shows a redacted state event pruned, with its redaction, right after the redaction', async () => {
    const before = topicOf(await adminState())[0];
    assert.deepEqual(before.content, { topic: 'two' });
    const redaction = (
      await ok(
        http(s, 'PUT', `${C}/rooms/${enc(room)}/redact/${enc(topicTwo)}/r1`, { token: author.token, body: { reason: 'gone' } }),
        'redact',
      )
    ).body.event_id;
    for (const state of [await adminState(), await clientState(reader)]) {
      const [t] = topicOf(state);
      assert.equal(t.event_id, topicTwo);
      assert.deepEqual(t.content, {});
      assert.equal(t.unsigned.redacted_by, redaction);
      assert.equal(t.unsigned.redacted_because.event_id, redaction);
      assert.equal(t.unsigned.redacted_because.type, 'm.room.redaction');
      assert.equal(t.unsigned.redacted_because.redacts, topicTwo);
      assert.deepEqual(t.unsigned.redacted_because.content, { reason: 'gone', redacts: topicTwo });
      assert.equal(t.redacted_because.event_id, redaction);
    }
    const ev = (await ok(http(s, 'GET', `${C}/rooms/${enc(room)}/state/m.room.topic/?format=event`, { token: reader.token }), 'topic'))
      .body;
    assert.deepEqual(ev.content, {});
    assert.equal(ev.unsigned.redacted_by, redaction);
    assert.deepEqual((await ok(http(s, 'GET', `${C}/rooms/${enc(room)}/state/m.room.topic/`, { token: reader.token }), 'topic')).body, {});
  });

  it('shows a state change and a membership change at the next read', async () => {
    const three = await sendState(s, author.token, room, 'm.room.topic', { topic: 'three' });
    const [t] = topicOf(await adminState());
    assert.equal(t.event_id, three);
    assert.equal(t.replaces_state, topicTwo);
    assert.equal(t.unsigned.prev_sender, author.userId);
    await ok(http(s, 'POST', `${C}/rooms/${enc(room)}/leave`, { token: reader.token, body: {} }), 'leave');
    const mine = (await adminState()).find((e) => e.type === 'm.room.member' && e.state_key === reader.userId);
    assert.equal(mine?.content.membership, 'leave');
    assert.equal(mine?.unsigned.prev_content.membership, 'join');
    await join(s, reader.token, room);
  });

  it('still serves the current state after history is purged', async () => {
    const last = await send(s, author.token, room, 'last');
    await purgeAndWait(s, admin.token, room, { delete_local_events: true }, last);
    const state = await adminState();
    assert.equal(topicOf(state)[0].content.topic, 'three');
    assert.ok(state.some((e) => e.type === 'm.room.create'));
    const strip = (e: Json): Json => ({ ...e, age: 0, unsigned: { ...e.unsigned, age: 0 } });
    assert.deepEqual((await clientState(reader)).map(strip), state.map(strip));
  });

  it('shows an erased member the same in the current state (the admin view is not pruned)', async () => {
    const erased = await registerUser(s, 'erased');
    await join(s, erased.token, room);
    await ok(
      http(s, 'POST', `/_synapse/admin/v1/deactivate/${enc(erased.userId)}`, { token: admin.token, body: { erase: true } }),
      'deactivate',
    );
    const mine = (await adminState()).find((e) => e.type === 'm.room.member' && e.state_key === erased.userId);
    assert.equal(mine?.content.membership, 'leave');
  });

  it('answers 404 for the room once it is deleted', async () => {
    await ok(http(s, 'DELETE', `/_synapse/admin/v1/rooms/${enc(room)}`, { token: admin.token, body: { purge: true } }), 'delete');
    const r = await http(s, 'GET', `/_synapse/admin/v1/rooms/${enc(room)}/state`, { token: admin.token });
    assert.equal(r.status, 404);
    assert.equal(r.body.errcode, 'M_NOT_FOUND');
    const c = await http(s, 'GET', `${C}/rooms/${enc(room)}/state`, { token: author.token });
    assert.equal(c.status, 403);
  });
});
