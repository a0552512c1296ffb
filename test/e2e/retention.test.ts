/**
 * Message retention (spec §8, §9.5): ports of Synapse's RetentionTestCase and
 * RetentionNoDefaultPolicyTestCase. Instead of advancing a clock, events are given timestamps in
 * the past, and purge jobs are fired directly.
 */
import { strict as assert } from 'node:assert';
import { PURGE_PAGINATION_LOCK_NAME } from '../../src/infra/locks/lock.types';
import { sharedStack } from '../support/root-hooks';
import { http, registerUser, startStack, uniq, type Stack, type TestUser } from '../support/stack';
import { bodies, createRoom, enc, eventExists, messages, send, sendState, waitFor } from './pagination.helpers';

const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;

/**
 * Moves the room's events into the past: for each [eventId, ts] (in order), that event and the
 * room's events between it and the previous one get `ts` as their origin and received times.
 */
async function backdate(s: Stack, roomId: string, marks: [string, number][]): Promise<void> {
  const conn = s.app.orm.em.fork().getConnection();
  let after = -1;
  for (const [eventId, ts] of marks) {
    const rows = await conn.execute<{ s: string }[]>('SELECT stream_ordering AS s FROM events WHERE event_id = ?', [eventId]);
    const upTo = Number(rows[0].s);
    await conn.execute(
      'UPDATE events SET origin_server_ts = ?, received_ts = ? WHERE room_id = ? AND stream_ordering > ? AND stream_ordering <= ?',
      [ts, ts, roomId, after, upTo],
    );
    after = upTo;
  }
}

/** Fires purge job 0 and waits for its task to finish. */
async function runPurgeJob(s: Stack): Promise<void> {
  const services = s.app.services;
  const scheduler = s.app.services.scheduler;
  const id = await services.retention.fireJob(0);
  assert.ok(id, 'the job scheduled its task');
  const task = await waitFor(
    () => scheduler.getTask(s.app.orm.em.fork(), id),
    (t) => t !== null && t.status !== 'scheduled' && t.status !== 'active',
  );
  assert.equal(task?.status, 'complete', JSON.stringify(task));
}

const getEvent = (s: Stack, token: string, roomId: string, eventId: string) =>
  http(s, 'GET', `/_matrix/client/v3/rooms/${enc(roomId)}/event/${enc(eventId)}`, { token });

describe('RetentionTestCase', () => {
  let s: Stack;
  let user: TestUser;

  before(async () => {
    s = await startStack({
      RETENTION_ENABLED: 'true',
      RETENTION_DEFAULT_MIN_LIFETIME: '1d',
      RETENTION_DEFAULT_MAX_LIFETIME: '3d',
      RETENTION_ALLOWED_LIFETIME_MIN: '1d',
      RETENTION_ALLOWED_LIFETIME_MAX: '3d',
    });
    user = await registerUser(s, 'user');
  });
  after(async () => s?.stop());

  /** E1 sent `2 × inc` ago, E2 `inc` ago (or `validAgeMs`); after the purge job E1 is gone, E2 and the room's state remain. */
  async function testRetentionEventPurged(roomId: string, incMs: number, validAgeMs = incMs): Promise<void> {
    const rows = await s.app.orm.em
      .fork()
      .getConnection()
      .execute<{ event_id: string }[]>("SELECT event_id FROM events WHERE room_id = ? AND type = 'm.room.create'", [roomId]);
    const create = rows[0].event_id;
    const expired = await send(s, user.token, roomId, '1');
    const valid = await send(s, user.token, roomId, '2');
    const now = Date.now();
    await backdate(s, roomId, [
      [expired, now - 2 * incMs],
      [valid, now - validAgeMs],
    ]);
    await send(s, user.token, roomId, 'latest');
    await runPurgeJob(s);
    assert.equal(await eventExists(s, expired), false, 'the expired event is purged');
    // Read from the store, as Synapse's test does: visibility may hide it (see test_visibility).
    const kept = await s.app.orm.em
      .fork()
      .getConnection()
      .execute<{ body: string }[]>("SELECT content ->> 'body' AS body FROM events WHERE event_id = ?", [valid]);
    assert.deepEqual(kept, [{ body: '2' }]);
    assert.equal(await eventExists(s, create), true, 'state is kept');
  }

  it('test_retention_event_purged_with_state_event', async () => {
    const room = await createRoom(s, user.token);
    await sendState(s, user.token, room, 'm.room.retention', { max_lifetime: 2 * DAY_MS });
    await testRetentionEventPurged(room, 1.5 * DAY_MS);
  });

  it('test_retention_event_purged_with_state_event_outside_allowed', async () => {
    const room = await createRoom(s, user.token);
    // 4 days is clamped to the allowed 3: an event 3.5 days old goes.
    await sendState(s, user.token, room, 'm.room.retention', { max_lifetime: 4 * DAY_MS });
    await testRetentionEventPurged(room, 1.75 * DAY_MS);
    // 1 hour is raised to the allowed 1 day: an event 1.5 days old goes, one 12 hours old stays.
    await sendState(s, user.token, room, 'm.room.retention', { max_lifetime: HOUR_MS });
    await testRetentionEventPurged(room, 0.75 * DAY_MS, 0.5 * DAY_MS);
  });

  it('test_retention_event_purged_without_state_event', async () => {
    const room = await createRoom(s, user.token);
    await testRetentionEventPurged(room, 2 * DAY_MS);
  });

  it('test_visibility', async () => {
    const room = await createRoom(s, user.token);
    const first = await send(s, user.token, room, '1');
    const second = await send(s, user.token, room, '2');
    const now = Date.now();
    await backdate(s, room, [
      [first, now - 4 * DAY_MS],
      [second, now - 2 * DAY_MS],
    ]);
    const r = await messages(s, user.token, room, { dir: 'b', filter: { types: ['m.room.message'] } });
    assert.deepEqual(bodies(r), ['2'], 'only the event within the default max_lifetime is visible');
    assert.equal((await getEvent(s, user.token, room, first)).status, 404);
    const state = await messages(s, user.token, room, { dir: 'f', filter: { types: ['m.room.create'] } });
    assert.equal(state.body.chunk.length, 1, 'state events never expire');
    const asAdmin = await registerUser(s, uniq('admin'), { admin: true });
    assert.deepEqual(
      bodies(await messages(s, asAdmin.token, room, { dir: 'b', filter: { types: ['m.room.message'] } }, true)),
      ['2', '1'],
      'admins see expired events until they are purged',
    );
  });

  it('skips rooms with an active delete task', async () => {
    const admin = await registerUser(s, uniq('admin'), { admin: true });
    const room = await createRoom(s, user.token);
    const old = await send(s, user.token, room, 'old');
    const recent = await send(s, user.token, room, 'recent');
    await backdate(s, room, [
      [old, Date.now() - 5 * DAY_MS],
      [recent, Date.now() - HOUR_MS],
    ]);
    const locks = s.app.services.locks;
    // Holding the room's pagination lock keeps the delete task's purge (and so the task) active.
    const held = await locks.acquireReadWrite(PURGE_PAGINATION_LOCK_NAME, room, 'read');
    try {
      const del = await http(s, 'DELETE', `/_synapse/admin/v2/rooms/${enc(room)}`, {
        token: admin.token,
        body: { purge: true, force_purge: true },
      });
      assert.equal(del.status, 200, JSON.stringify(del.body));
      await waitFor(
        () => http(s, 'GET', `/_synapse/admin/v2/rooms/delete_status/${del.body.delete_id}`, { token: admin.token }),
        (r) => r.body.status === 'active',
      );
      await runPurgeJob(s);
      assert.equal(await eventExists(s, old), true, 'retention left the room to its delete');
    } finally {
      await held.release();
    }
  });
});

describe('RetentionNoDefaultPolicyTestCase', () => {
  let s: Stack;
  let user: TestUser;

  before(async () => {
    s = await startStack({ RETENTION_ENABLED: 'true' });
    user = await registerUser(s, 'user');
  });
  after(async () => s?.stop());

  async function twoOldEvents(roomId: string): Promise<[string, string]> {
    const first = await send(s, user.token, roomId, '1');
    const second = await send(s, user.token, roomId, '2');
    await backdate(s, roomId, [
      [first, Date.now() - 60 * DAY_MS],
      [second, Date.now() - 30 * DAY_MS],
    ]);
    await send(s, user.token, roomId, 'latest');
    return [first, second];
  }

  it('test_no_default_policy', async () => {
    const room = await createRoom(s, user.token);
    const [first, second] = await twoOldEvents(room);
    await runPurgeJob(s);
    const r1 = await getEvent(s, user.token, room, first);
    assert.deepEqual([r1.status, r1.body.content?.body], [200, '1']);
    assert.equal((await getEvent(s, user.token, room, second)).status, 200);
  });

  it('test_state_policy', async () => {
    const room = await createRoom(s, user.token);
    await sendState(s, user.token, room, 'm.room.retention', { max_lifetime: 35 * DAY_MS });
    const [first, second] = await twoOldEvents(room);
    await runPurgeJob(s);
    assert.equal((await getEvent(s, user.token, room, first)).status, 404);
    assert.equal(await eventExists(s, first), false);
    assert.equal((await getEvent(s, user.token, room, second)).status, 200);
  });
});

describe('retention disabled', () => {
  it('test_visibility_when_disabled', async () => {
    const s = await sharedStack();
    const user = await registerUser(s, uniq('noret'));
    const room = await createRoom(s, user.token);
    await sendState(s, user.token, room, 'm.room.retention', { max_lifetime: DAY_MS });
    const ev = await send(s, user.token, room, 'old');
    await backdate(s, room, [[ev, Date.now() - 2 * DAY_MS]]);
    assert.equal((await getEvent(s, user.token, room, ev)).status, 200);
    assert.deepEqual(bodies(await messages(s, user.token, room, { dir: 'b', filter: { types: ['m.room.message'] } })), ['old']);
  });
});
