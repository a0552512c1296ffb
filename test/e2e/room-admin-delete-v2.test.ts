/**
 * Ports of Synapse's DeleteRoomV2TestCase: `DELETE /_synapse/admin/v2/rooms/<room_id>` as a
 * background task and both delete status endpoints, plus progress while a delete runs, the
 * `purge_room` action, and the same calls over gRPC.
 */
import { strict as assert } from 'node:assert';
import { RoomDeleteStatus } from '../../gen/synapse/admin/v1/room_admin';
import { PURGE_PAGINATION_LOCK_NAME } from '../../src/infra/locks/lock.types';
import type { TaskScheduler } from '../../src/tasks/task.types';
import { sharedStack } from '../support/root-hooks';
import { bearer, grpcCall, http, registerUser, startStack, uniq, type Stack, type TestUser } from '../support/stack';
import {
  adminMembers,
  assertNotPurged,
  assertPurged,
  createRoom,
  enc,
  forget,
  isBlocked,
  joinedRooms,
  leave,
  sendState,
  waitFor,
  waitForDelete,
} from './room-admin.helpers';

const DAY_MS = 24 * 3_600_000;
const v2 = (roomId: string) => `/_synapse/admin/v2/rooms/${enc(roomId)}`;
const byRoom = (roomId: string) => `/_synapse/admin/v2/rooms/${enc(roomId)}/delete_status`;
const byId = (deleteId: string) => `/_synapse/admin/v2/rooms/delete_status/${enc(deleteId)}`;

describe('DeleteRoomV2TestCase', () => {
  let s: Stack;
  let admin: TestUser;
  let user: TestUser;
  let roomId: string;

  before(async () => {
    s = await sharedStack();
    admin = await registerUser(s, uniq('admin'), { admin: true });
  });
  beforeEach(async () => {
    user = await registerUser(s, uniq('user'));
    roomId = await createRoom(s, user.token);
  });

  const del = async (room: string, body: unknown, token = admin.token) => http(s, 'DELETE', v2(room), { token, body });
  const get = (path: string, token = admin.token) => http(s, 'GET', path, { token });

  /** Synapse's _test_result: both endpoints agree on a complete task with the expected result. */
  async function testResult(deleteId: string, kickedUser: string, expectNewRoom: boolean): Promise<Record<string, any>> {
    await waitForDelete(s, admin.token, deleteId);
    const rooms = await get(byRoom(roomId));
    const one = await get(byId(deleteId));
    assert.equal(rooms.status, 200);
    assert.equal(one.status, 200);
    assert.equal(rooms.body.results.length, 1);
    assert.equal(rooms.body.results[0].delete_id, deleteId);
    for (const item of [rooms.body.results[0], one.body]) {
      assert.equal(item.status, 'complete');
      assert.equal(item.room_id, roomId);
      assert.equal(item.shutdown_room.kicked_users[0], kickedUser);
      assert.ok('failed_to_kick_users' in item.shutdown_room && 'local_aliases' in item.shutdown_room);
      assert.ok(!('error' in item));
      assert.ok(!('progress' in item));
      assert.equal(item.shutdown_room.new_room_id !== null, expectNewRoom);
    }
    return one.body;
  }

  it('test_requester_is_no_admin', async () => {
    for (const [method, path] of [
      ['DELETE', v2(roomId)],
      ['GET', byRoom(roomId)],
      ['GET', byId(roomId)],
    ]) {
      const r = await http(s, method, path, { token: user.token, body: method === 'DELETE' ? {} : undefined });
      assert.deepEqual([r.status, r.body.errcode], [403, 'M_FORBIDDEN'], `${method} ${path}`);
    }
  });

  it('test_room_does_not_exist', async () => {
    const unknown = `!${uniq('unknown')}:test`;
    const r = await del(unknown, {});
    assert.equal(r.status, 200);
    assert.match(r.body.delete_id, /^[A-Za-z]{16}$/);
    await waitForDelete(s, admin.token, r.body.delete_id);
    const st = await get(byRoom(unknown));
    assert.equal(st.status, 200);
    assert.equal(st.body.results.length, 1);
    assert.equal(st.body.results[0].status, 'complete');
    assert.equal(st.body.results[0].delete_id, r.body.delete_id);
    assert.deepEqual(st.body.results[0].shutdown_room, {
      kicked_users: [],
      failed_to_kick_users: [],
      local_aliases: [],
      new_room_id: null,
    });
  });

  it('test_room_is_not_valid', async () => {
    for (const r of [await del('invalidroom', {}), await get(byRoom('invalidroom'))]) {
      assert.equal(r.status, 400);
      assert.equal(r.body.error, 'invalidroom is not a legal room ID');
    }
  });

  it('test_new_room_user_does_not_exist', async () => {
    const r = await del(roomId, { new_room_user_id: '@unknown:test' });
    assert.equal(r.status, 200);
    await testResult(r.body.delete_id, user.userId, true);
  });

  it('test_new_room_user_is_not_local', async () => {
    const r = await del(roomId, { new_room_user_id: '@not:exist.bla' });
    assert.deepEqual([r.status, r.body.error], [400, 'User must be our own: @not:exist.bla']);
  });

  for (const key of ['block', 'purge', 'force_purge']) {
    it(`test_${key}_is_not_bool`, async () => {
      const r = await del(roomId, { [key]: 'NotBool' });
      assert.deepEqual([r.status, r.body], [400, { errcode: 'M_BAD_JSON', error: `Param '${key}' must be a boolean, if given` }]);
    });
  }

  it('test_delete_expired_status', async () => {
    const first = (await del(roomId, { purge: false })).body.delete_id;
    await waitForDelete(s, admin.token, first);
    const second = (await del(roomId, { purge: true })).body.delete_id;
    await waitForDelete(s, admin.token, second);
    // Time passes by moving the tasks' last-update times back, as the clock would have moved.
    const age = (ids: string[], ms: number) =>
      s.app.orm.em
        .fork()
        .execute('UPDATE scheduled_tasks SET "timestamp" = "timestamp" - ? WHERE id IN (?, ?)', [ms, ids[0], ids[ids.length - 1]]);
    await age([first], 3.5 * DAY_MS);
    let r = await get(byRoom(roomId));
    assert.deepEqual(
      r.body.results.map((x: { status: string }) => x.status),
      ['complete', 'complete'],
    );
    assert.deepEqual(new Set(r.body.results.map((x: { delete_id: string }) => x.delete_id)), new Set([first, second]));
    await age([first, second], 3.5 * DAY_MS);
    r = await get(byRoom(roomId));
    assert.deepEqual(
      r.body.results.map((x: { delete_id: string; status: string }) => [x.delete_id, x.status]),
      [[second, 'complete']],
    );
    assert.equal((await get(byId(first))).status, 404);
    await age([first, second], 3.5 * DAY_MS);
    r = await get(byRoom(roomId));
    assert.deepEqual([r.status, r.body.errcode], [404, 'M_NOT_FOUND']);
    assert.equal(r.body.error, `No delete task for room_id '${roomId}' found`);
    assert.deepEqual((await get(byId(second))).body, { errcode: 'M_NOT_FOUND', error: `delete id '${second}' not found` });
  });

  it('test_delete_same_room_twice (with progress while it runs)', async () => {
    const locks = s.app.services.locks;
    // A reader of the room's pagination lock makes the purge wait, as a slow purge would.
    const reader = await locks.acquireReadWrite(PURGE_PAGINATION_LOCK_NAME, roomId, 'read');
    let first: string;
    try {
      const r1 = await del(roomId, { new_room_user_id: admin.userId });
      const r2 = await del(roomId, { new_room_user_id: admin.userId });
      assert.equal(r1.status, 200);
      assert.deepEqual([r2.status, r2.body], [400, { errcode: 'M_UNKNOWN', error: `Purge already in progress for ${roomId}` }]);
      first = r1.body.delete_id;
      const running = await waitFor(
        () => get(byId(first)),
        (x) => x.body.status === 'active' && x.body.progress?.users_done === 1,
      );
      assert.deepEqual(running.body.progress, { phase: 'shutting_down', users_total: 1, users_done: 1 });
      assert.deepEqual(running.body.shutdown_room.kicked_users, [user.userId]);
      const again = await del(roomId, {});
      assert.equal(again.body.error, `Purge already in progress for ${roomId}`);
      assert.equal((await get(byRoom(roomId))).body.results[0].status, 'active');
    } finally {
      await reader.release();
    }
    const done = await testResult(first, user.userId, true);
    assert.ok((await joinedRooms(s, user.token)).includes(done.shutdown_room.new_room_id));
    await assertPurged(s, roomId);
  });

  for (const [block, purge] of [
    [true, true],
    [false, true],
    [true, false],
  ]) {
    const name = purge ? `test_purge_room_and_${block ? '' : 'not_'}block` : 'test_block_room_and_not_purge';
    it(name, async () => {
      const r = await del(roomId, { block, purge });
      assert.equal(r.status, 200);
      await testResult(r.body.delete_id, user.userId, false);
      if (purge) await assertPurged(s, roomId);
      else await assertNotPurged(s, roomId);
      assert.equal(await isBlocked(s, admin.token, roomId), block);
      assert.deepEqual(await adminMembers(s, admin.token, roomId), []);
    });
  }

  it('test_shutdown_room_consent (no consent tracking here: the user is moved to the new room)', async () => {
    const r = await del(roomId, { new_room_user_id: admin.userId });
    const item = await testResult(r.body.delete_id, user.userId, true);
    assert.equal((await get(byRoom(roomId))).body.results.length, 1);
    assert.ok((await joinedRooms(s, user.token)).includes(item.shutdown_room.new_room_id));
    await assertPurged(s, roomId);
    assert.deepEqual(await adminMembers(s, admin.token, roomId), []);
  });

  it('test_shutdown_room_block_peek', async () => {
    await sendState(s, user.token, roomId, 'm.room.history_visibility', { history_visibility: 'world_readable' });
    const r = await del(roomId, { new_room_user_id: admin.userId });
    const item = await testResult(r.body.delete_id, user.userId, true);
    assert.ok((await joinedRooms(s, user.token)).includes(item.shutdown_room.new_room_id));
    await assertPurged(s, roomId);
    assert.equal((await http(s, 'GET', `/_matrix/client/v3/rooms/${enc(roomId)}/messages?dir=b`, { token: admin.token })).status, 403);
  });

  /**
   * A task scheduled a day ahead shows as `scheduled` by its id. (Scheduling a second ahead and
   * waiting for it would both take a real second and race the assertions.)
   */
  async function assertScheduled(deleteId: string, room: string): Promise<void> {
    const one = await get(byId(deleteId));
    assert.deepEqual([one.status, one.body.status, one.body.room_id], [200, 'scheduled', room]);
  }

  /** Brings a scheduled task's due time to the scheduler's now: update_task wakes the runners. */
  async function makeDue(scheduler: TaskScheduler, deleteId: string): Promise<void> {
    assert.equal(await scheduler.updateTask(s.app.orm.em.fork(), deleteId, { status: 'scheduled' }), true);
  }

  it('test_scheduled_purge_room', async () => {
    const own = await createRoom(s, admin.token);
    await leave(s, admin.token, own);
    const scheduler = s.app.services.scheduler;
    const id = await scheduler.scheduleTask(s.app.orm.em.fork(), 'purge_room', { resourceId: own, timestamp: Date.now() + DAY_MS });
    await assertScheduled(id, own);
    await assertNotPurged(s, own);
    await makeDue(scheduler, id);
    const done = await waitForDelete(s, admin.token, id);
    assert.deepEqual([done.status, done.shutdown_room], ['complete', null]);
    await assertPurged(s, own);
  });

  it('test_schedule_shutdown_room', async () => {
    const scheduler = s.app.services.scheduler;
    const params = {
      requester_user_id: admin.userId,
      new_room_user_id: admin.userId,
      new_room_name: null,
      message: null,
      block: false,
      purge: true,
      force_purge: true,
    };
    const id = await scheduler.scheduleTask(s.app.orm.em.fork(), 'shutdown_and_purge_room', {
      resourceId: roomId,
      params,
      timestamp: Date.now() + DAY_MS,
    });
    await assertScheduled(id, roomId);
    assert.deepEqual(await adminMembers(s, admin.token, roomId), [user.userId]);
    await assertNotPurged(s, roomId);
    await makeDue(scheduler, id);
    const done = await waitForDelete(s, admin.token, id);
    assert.equal(done.status, 'complete');
    assert.ok(done.shutdown_room.kicked_users.includes(user.userId));
    assert.ok(done.shutdown_room.new_room_id);
    assert.ok((await joinedRooms(s, user.token)).includes(done.shutdown_room.new_room_id));
    await assertPurged(s, roomId);
  });

  it('a failed purge_room task shows its error (and no shutdown result)', async () => {
    const scheduler = s.app.services.scheduler;
    const id = await scheduler.scheduleTask(s.app.orm.em.fork(), 'purge_room', { resourceId: roomId });
    const done = await waitForDelete(s, admin.token, id);
    assert.deepEqual(done, {
      delete_id: id,
      room_id: roomId,
      status: 'failed',
      shutdown_room: null,
      error: '400: Users are still joined to this room',
    });
    await assertNotPurged(s, roomId);
  });

  it('deletes and reports over gRPC', async () => {
    const c = s.clients.roomAdmin;
    const md = bearer(admin.token);
    const { deleteId } = await grpcCall(c, c.startDeleteRoom, { roomId, options: { block: true } }, md);
    const done = await waitFor(
      () => grpcCall(c, c.getDeleteStatus, { deleteId }, md),
      (x) => x.task?.status === RoomDeleteStatus.ROOM_DELETE_STATUS_COMPLETE,
    );
    assert.deepEqual(done.task?.shutdownRoom?.kickedUsers, [user.userId]);
    const list = await grpcCall(c, c.listDeleteStatuses, { roomId }, md);
    assert.deepEqual(
      list.results.map((t) => [t.deleteId, t.roomId]),
      [[deleteId, roomId]],
    );
    await assertPurged(s, roomId);
  });
});

describe('DeleteRoomV2TestCase with forgotten_room_retention_period', () => {
  let s: Stack;
  before(async () => {
    s = await startStack({ FORGOTTEN_ROOM_RETENTION_PERIOD: '1000' });
  });
  after(async () => s?.stop());

  it('test_purge_forgotten_room', async () => {
    const admin = await registerUser(s, 'admin', { admin: true });
    const roomId = await createRoom(s, admin.token);
    await leave(s, admin.token, roomId);
    await forget(s, admin.token, roomId);
    await assertNotPurged(s, roomId);
    await waitFor(
      async () => (await http(s, 'GET', `/_synapse/admin/v1/rooms/${enc(roomId)}`, { token: admin.token })).status,
      (st) => st === 404,
    );
    await assertPurged(s, roomId);
  });
});
