/**
 * Purge history through the admin API (spec §2.16): ports of Synapse's PurgeHistoryTestCase
 * (§9.2) and tests/storage/test_purge.py (§9.6), plus the API's errors.
 */
import { strict as assert } from 'node:assert';
import { sharedStack } from '../support/root-hooks';
import { http, registerUser, startStack, uniq, type Stack, type TestUser } from '../support/stack';
import {
  bodies,
  createRoom,
  enc,
  eventExists,
  eventToken,
  join,
  messages,
  purgeAndWait,
  purgeHistory,
  send,
  sendState,
  waitForPurge,
} from './pagination.helpers';

describe('PurgeHistoryTestCase', () => {
  // Synapse's test purges up to ts 0 in a room holding the server's first event, the one case
  // where a ts before the room's first event still finds an event to cut at; a fresh stack
  // reproduces that (on the shared stack other rooms came first, and the answer is 404).
  let fresh: Stack;
  before(async () => {
    fresh = await startStack();
  });
  after(async () => {
    await fresh?.stop();
  });

  it('test_purge_history', async () => {
    const s = fresh;
    const admin = await registerUser(s, uniq('admin'), { admin: true });
    const user = await registerUser(s, uniq('user'));
    const room = await createRoom(s, user.token, { preset: 'public_chat' });
    const r = await purgeHistory(s, admin.token, room, { delete_local_events: true, purge_up_to_ts: 0 });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.match(r.body.purge_id, /^[A-Za-z]{16}$/);
    const status = await waitForPurge(s, admin.token, r.body.purge_id);
    assert.equal(status.status, 'complete');
  });
});

describe('PurgeTestCase (storage)', () => {
  let s: Stack;
  let admin: TestUser;
  let user: TestUser;

  before(async () => {
    s = await sharedStack();
    admin = await registerUser(s, uniq('admin'), { admin: true });
    user = await registerUser(s, uniq('u'));
  });

  async function fourMessages(): Promise<{ room: string; msgs: string[] }> {
    const room = await createRoom(s, user.token);
    const msgs: string[] = [];
    for (let i = 0; i < 4; i++) msgs.push(await send(s, user.token, room, `m${i}`));
    return { room, msgs };
  }

  it('test_purge_history', async () => {
    const { room, msgs } = await fourMessages();
    await purgeAndWait(s, admin.token, room, { delete_local_events: true }, msgs[3]);
    for (const id of msgs.slice(0, 3)) assert.equal(await eventExists(s, id), false);
    assert.equal(await eventExists(s, msgs[3]), true);
  });

  it('test_purge_history_wont_delete_extrems', async () => {
    const { room, msgs } = await fourMessages();
    const [depth, stream] = (await eventToken(s, msgs[3])).slice(1).split('-').map(Number);
    const scheduler = s.app.services.scheduler;
    const purgeId = await scheduler.scheduleTask(s.app.orm.em.fork(), 'purge_history', {
      resourceId: room,
      params: { token: `t${depth + 1}-${stream + 1}`, delete_local_events: true },
    });
    const status = await waitForPurge(s, admin.token, purgeId);
    assert.equal(status.status, 'failed');
    assert.match(String(status.error), /greater than forward/);
    assert.equal(status.error, '400: topological_ordering is greater than forward extremities');
    for (const id of msgs) assert.equal(await eventExists(s, id), true);
  });

  it('test_purge_room', async () => {
    const { room, msgs } = await fourMessages();
    const create = (await messages(s, admin.token, room, { dir: 'f', limit: 1 }, true)).body.chunk[0].event_id;
    await s.app.services.roomPurge.purgeRoom(room, { force: true });
    assert.equal(await eventExists(s, create), false);
    assert.equal(await eventExists(s, msgs[0]), false);
  });
});

describe('purge history: admin API', () => {
  let s: Stack;
  let admin: TestUser;
  let user: TestUser;

  before(async () => {
    s = await sharedStack();
    admin = await registerUser(s, uniq('admin'), { admin: true });
    user = await registerUser(s, uniq('u'));
  });

  it('needs an admin', async () => {
    const room = await createRoom(s, user.token);
    const r = await purgeHistory(s, user.token, room, { purge_up_to_ts: 0 });
    assert.deepEqual([r.status, r.body], [403, { errcode: 'M_FORBIDDEN', error: 'You are not a server admin' }]);
    const st = await http(s, 'GET', '/_synapse/admin/v1/purge_history_status/abc', { token: user.token });
    assert.equal(st.status, 403);
    const none = await http(s, 'POST', `/_synapse/admin/v1/purge_history/${enc(room)}`, { rawBody: '{bad' });
    assert.equal(none.status, 401);
  });

  it('answers the documented 4xx for bad input, unknown events and rooms', async () => {
    const room = await createRoom(s, user.token);
    const msg = await send(s, user.token, room, 'x');
    const other = await createRoom(s, user.token);
    const cases: [string, unknown, string | undefined, number, Record<string, string>][] = [
      [room, {}, undefined, 400, { errcode: 'M_BAD_JSON', error: 'must specify purge_up_to_event_id or purge_up_to_ts' }],
      [room, { purge_up_to_ts: '1' }, undefined, 400, { errcode: 'M_BAD_JSON', error: 'purge_up_to_ts must be an int' }],
      [room, { purge_up_to_ts: true }, undefined, 400, { errcode: 'M_BAD_JSON', error: 'purge_up_to_ts must be an int' }],
      [room, { purge_up_to_ts: null }, undefined, 400, { errcode: 'M_BAD_JSON', error: 'purge_up_to_ts must be an int' }],
      [room, { purge_up_to_ts: 1.5 }, undefined, 400, { errcode: 'M_BAD_JSON', error: 'purge_up_to_ts must be an int' }],
      [room, { purge_up_to_event_id: 5 }, undefined, 400, { errcode: 'M_BAD_JSON', error: 'purge_up_to_event_id must be a string' }],
      [room, { purge_up_to_event_id: '$nope' }, undefined, 404, { errcode: 'M_NOT_FOUND', error: 'Could not find event $nope' }],
      [room, {}, '$nope', 404, { errcode: 'M_NOT_FOUND', error: 'Could not find event $nope' }],
      [other, { purge_up_to_ts: '1' }, msg, 400, { errcode: 'M_UNKNOWN', error: 'Event is for wrong room.' }],
      ['!unknown:test', { purge_up_to_ts: 0 }, undefined, 404, { errcode: 'M_NOT_FOUND', error: 'there is no event to be purged' }],
      // Before the room's first event (other rooms' events came first): nothing to purge.
      [room, { purge_up_to_ts: 0 }, undefined, 404, { errcode: 'M_NOT_FOUND', error: 'there is no event to be purged' }],
      [room, { purge_up_to_ts: 1 }, undefined, 404, { errcode: 'M_NOT_FOUND', error: 'there is no event to be purged' }],
    ];
    for (const [target, body, eventId, status, error] of cases) {
      const r = await purgeHistory(s, admin.token, target, body, eventId);
      assert.deepEqual([r.status, r.body], [status, error], JSON.stringify([target, body, eventId]));
    }
    const notJson = await http(s, 'POST', `/_synapse/admin/v1/purge_history/${enc(room)}`, { token: admin.token, rawBody: '{bad' });
    assert.deepEqual([notJson.status, notJson.body.errcode], [400, 'M_NOT_JSON']);
    const notObject = await http(s, 'POST', `/_synapse/admin/v1/purge_history/${enc(room)}`, { token: admin.token, rawBody: '[1]' });
    assert.deepEqual([notObject.status, notObject.body.errcode], [400, 'M_BAD_JSON']);
    const empty = await http(s, 'POST', `/_synapse/admin/v1/purge_history/${enc(room)}/${enc(msg)}`, { token: admin.token });
    assert.equal(empty.status, 200, 'an empty body is allowed');
  });

  it('answers 404 for unknown purge ids and for tasks of other actions', async () => {
    const r = await http(s, 'GET', '/_synapse/admin/v1/purge_history_status/nope', { token: admin.token });
    assert.deepEqual([r.status, r.body], [404, { errcode: 'M_NOT_FOUND', error: "purge id 'nope' not found" }]);
    const room = await createRoom(s, user.token);
    const del = await http(s, 'DELETE', `/_synapse/admin/v2/rooms/${enc(room)}`, { token: admin.token, body: { purge: false } });
    assert.equal(del.status, 200, JSON.stringify(del.body));
    const other = await http(s, 'GET', `/_synapse/admin/v1/purge_history_status/${del.body.delete_id}`, { token: admin.token });
    assert.deepEqual([other.status, other.body.error], [404, `purge id '${del.body.delete_id}' not found`]);
  });

  it('keeps state and, unless asked, local events: out of the timeline but not deleted', async () => {
    const room = await createRoom(s, user.token, { preset: 'public_chat' });
    const topic = await sendState(s, user.token, room, 'm.room.topic', { topic: 'kept' });
    const old = await send(s, user.token, room, 'old');
    const cut = await send(s, user.token, room, 'cut');
    await send(s, user.token, room, 'new');
    await purgeAndWait(s, admin.token, room, { purge_up_to_event_id: cut, delete_local_events: false });
    assert.equal(await eventExists(s, old), true, 'local events are kept');
    assert.equal(await eventExists(s, topic), true, 'state is kept');
    assert.deepEqual(bodies(await messages(s, admin.token, room, { dir: 'b' }, true)), ['new', 'cut']);
    const state = await http(s, 'GET', `/_matrix/client/v3/rooms/${enc(room)}/state/m.room.topic/`, { token: user.token });
    assert.deepEqual(state.body, { topic: 'kept' });
    await purgeAndWait(s, admin.token, room, { purge_up_to_event_id: cut, delete_local_events: true });
    assert.equal(await eventExists(s, old), false, 'now deleted');
    assert.equal(await eventExists(s, topic), true);
  });

  it('purges by timestamp, and the room works afterwards (sends, visibility from purged state)', async () => {
    const room = await createRoom(s, user.token, { preset: 'public_chat' });
    await sendState(s, user.token, room, 'm.room.history_visibility', { history_visibility: 'joined' });
    await send(s, user.token, room, 'one');
    const two = await send(s, user.token, room, 'two');
    const rows = await s.app.orm.em
      .fork()
      .getConnection()
      .execute<{ received_ts: string }[]>('SELECT received_ts FROM events WHERE event_id = ?', [two]);
    await purgeAndWait(s, admin.token, room, { purge_up_to_ts: Number(rows[0].received_ts), delete_local_events: true });
    const late = await registerUser(s, uniq('late'));
    await join(s, late.token, room);
    await send(s, user.token, room, 'three');
    assert.deepEqual(bodies(await messages(s, user.token, room, { dir: 'b', filter: { types: ['m.room.message'] } })), ['three', 'two']);
    assert.deepEqual(
      bodies(await messages(s, late.token, room, { dir: 'b', filter: { types: ['m.room.message'] } })),
      ['three'],
      "'joined' still applies from the purged state",
    );
  });
});
