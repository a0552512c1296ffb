/**
 * Admin event context (`GET /_synapse/admin/v1/rooms/<room_id>/context/<event_id>`, spec §2.13):
 * the context tests of Synapse's JoinAliasRoomTestCase, plus tokens, filters and errors.
 */
import { strict as assert } from 'node:assert';
import { sharedStack } from '../support/root-hooks';
import { http, registerUser, uniq, type Stack, type TestUser } from '../support/stack';
import { createRoom, enc, join, messages, send } from './pagination.helpers';

describe('JoinAliasRoomTestCase (event context)', () => {
  let s: Stack;
  let admin: TestUser;
  let user: TestUser;
  let room: string;
  const events: string[] = [];
  const context = (token: string, eventId: string, q = '') =>
    http(s, 'GET', `/_synapse/admin/v1/rooms/${enc(room)}/context/${enc(eventId)}${q}`, { token });

  before(async () => {
    s = await sharedStack();
    admin = await registerUser(s, uniq('admin'), { admin: true });
    user = await registerUser(s, uniq('test'));
    room = await createRoom(s, user.token);
    for (let i = 0; i < 30; i++) events.push(await send(s, user.token, room, { index: i }, 'com.example.test'));
  });

  it('test_context_as_non_admin', async () => {
    const midway = Math.floor((events.length - 1) / 2);
    const outsider = await registerUser(s, uniq('outsider'));
    for (const token of [user.token, outsider.token]) {
      const r = await context(token, events[midway]);
      assert.deepEqual([r.status, r.body.errcode], [403, 'M_FORBIDDEN']);
    }
  });

  it('test_context_as_admin', async () => {
    const midway = Math.floor((events.length - 1) / 2);
    const r = await context(admin.token, events[midway]);
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.equal(r.body.event.event_id, events[midway]);
    for (const found of r.body.events_before) {
      const j = events.indexOf(found.event_id);
      assert.ok(j >= 0 && j < midway, `events_before holds ${found.event_id} (${j})`);
    }
    for (const found of r.body.events_after) {
      const j = events.indexOf(found.event_id);
      assert.ok(j > midway, `events_after holds ${found.event_id} (${j})`);
    }
    assert.deepEqual(
      r.body.events_before.map((e: { content: { index: number } }) => e.content.index),
      [13, 12, 11, 10, 9],
    );
    assert.deepEqual(
      r.body.events_after.map((e: { content: { index: number } }) => e.content.index),
      [15, 16, 17, 18, 19],
    );
    assert.ok(r.body.state.some((e: { type: string }) => e.type === 'm.room.create'));
  });

  it('test_room_event_context_filter_query_validation', async () => {
    const good = await context(admin.token, events[3], `?filter=${enc(JSON.stringify({ types: ['m.room.message'] }))}`);
    assert.equal(good.status, 200);
    const bad = await context(admin.token, events[3], `?filter=${enc('}}}{}')}`);
    assert.deepEqual([bad.status, bad.body.errcode], [400, 'M_NOT_JSON']);
  });

  it('returns tokens that continue the pagination on both sides', async () => {
    const r = await context(admin.token, events[20], '?limit=4');
    assert.deepEqual(
      r.body.events_before.map((e: { content: { index: number } }) => e.content.index),
      [19, 18],
    );
    assert.deepEqual(
      r.body.events_after.map((e: { content: { index: number } }) => e.content.index),
      [21, 22],
    );
    const back = await messages(s, admin.token, room, { dir: 'b', limit: 2, from: r.body.start }, true);
    assert.deepEqual(
      back.body.chunk.map((e: { content: { index: number } }) => e.content.index),
      [17, 16],
    );
    const fwd = await messages(s, admin.token, room, { dir: 'f', limit: 2, from: r.body.end }, true);
    assert.deepEqual(
      fwd.body.chunk.map((e: { content: { index: number } }) => e.content.index),
      [23, 24],
    );
  });

  it('filters the surrounding events and lazy-loads the state', async () => {
    const other = await registerUser(s, uniq('other'));
    const r2 = await createRoom(s, user.token, { preset: 'public_chat' });
    await join(s, other.token, r2);
    const a = await send(s, user.token, r2, 'a');
    const target = await send(s, other.token, r2, 'b');
    await send(s, user.token, r2, { x: 1 }, 'com.example.other');
    const c = await send(s, user.token, r2, 'c');
    const filter = enc(JSON.stringify({ types: ['m.room.message', 'm.room.member'], lazy_load_members: true }));
    const r = await http(s, 'GET', `/_synapse/admin/v1/rooms/${enc(r2)}/context/${enc(target)}?limit=2&filter=${filter}`, {
      token: admin.token,
    });
    assert.equal(r.status, 200);
    assert.deepEqual(
      r.body.events_before.map((e: { event_id: string }) => e.event_id),
      [a],
    );
    assert.deepEqual(
      r.body.events_after.map((e: { event_id: string }) => e.event_id),
      [c],
      'the event of another type is skipped',
    );
    const members = r.body.state.map((e: { state_key: string }) => e.state_key).sort();
    assert.deepEqual(members, [user.userId, other.userId].sort());
  });

  it('answers 404 for unknown events and events of other rooms', async () => {
    const unknown = await context(admin.token, '$nope');
    assert.deepEqual([unknown.status, unknown.body], [404, { errcode: 'M_NOT_FOUND', error: 'Event not found.' }]);
    const r2 = await createRoom(s, user.token);
    const elsewhere = await send(s, user.token, r2, 'elsewhere');
    const wrong = await context(admin.token, elsewhere);
    assert.deepEqual([wrong.status, wrong.body], [404, { errcode: 'M_UNKNOWN', error: 'No row found (events)' }]);
    const badLimit = await context(admin.token, events[0], '?limit=-3');
    assert.deepEqual([badLimit.status, badLimit.body.errcode], [400, 'M_INVALID_PARAM']);
  });
});
