/**
 * Tasks that meet a dependency outage wait and retry instead of failing: a stack on a private
 * redis-server (started here, on a free port, without persistence) accepts a history purge while
 * Redis is down, and has a v2 room delete cut off from Redis mid-run. Both show `retry` in their
 * status while they wait (status still active), and finish by themselves once Redis is back on
 * the same port. A purge whose database connection is killed mid-run (pg_terminate_backend)
 * retries the same way.
 */
import { strict as assert } from 'node:assert';
import { NEW_EVENT_DURING_PURGE_LOCK_NAME } from '../../src/infra/locks/lock.types';
import { Client as PgClient } from 'pg';
import { dbUrl, http, registerUser, startStack, uniq, type Stack, type TestUser } from '../support/stack';
import { createRoom, eventExists, purgeHistory, send } from '../e2e/pagination.helpers';
import { join } from '../support/client';
import { roomRows } from '../e2e/room-admin.helpers';
import { untilValue as untilValueWithin } from '../support/until';
import { startRedisServer, type RedisServer } from '../support/redis-server';
import { freePort } from '../../src/infra/free-port';

/**
 * Polls until a value is there. The outage tests run under a 120 s timeout and each wait is bounded
 * at 60 s, which only detects a hang: a retry comes back within its back-off (seconds here) once the
 * dependency answers.
 */
const untilValue = <T>(fn: () => Promise<T | null>) => untilValueWithin(fn, { timeoutMs: 60_000 });

const purgeStatus = async (s: Stack, token: string, id: string) =>
  (await http(s, 'GET', `/_synapse/admin/v1/purge_history_status/${id}`, { token })).body;
const deleteStatus = async (s: Stack, token: string, id: string) =>
  (await http(s, 'GET', `/_synapse/admin/v2/rooms/delete_status/${id}`, { token })).body;

describe('tasks during a dependency outage', function () {
  this.timeout(120_000);
  let port: number;
  let redis: RedisServer | null = null;
  let s: Stack;
  let admin: TestUser;
  let user: TestUser;

  before(async () => {
    port = await freePort();
    redis = await startRedisServer(port);
    s = await startStack({ REDIS_URL: `redis://127.0.0.1:${port}` });
    admin = await registerUser(s, uniq('admin'), { admin: true });
    user = await registerUser(s, uniq('u'));
  });

  after(async () => {
    await s?.stop();
    await redis?.kill();
  });

  afterEach(async () => {
    if (!redis?.running()) redis = await startRedisServer(port);
    // Until the stack has reconnected, its locks answer 503.
    const locks = s.app.services.locks;
    await untilValue(async () => {
      const h = await locks.tryAcquire('outage_test_probe', 'x').catch(() => null);
      await h?.release();
      return h;
    });
  });

  it('a history purge accepted while Redis is down retries, then completes once Redis is back', async () => {
    const room = await createRoom(s, user.token);
    const msgs: string[] = [];
    for (let i = 0; i < 4; i++) msgs.push(await send(s, user.token, room, `m${i}`));
    await redis!.kill();

    const r = await purgeHistory(s, admin.token, room, { delete_local_events: true }, msgs[3]);
    assert.equal(r.status, 200, JSON.stringify(r.body));
    const purgeId = r.body.purge_id;
    // It keeps waiting (twice in a row at least), active, never failed.
    const waiting = await untilValue(async () => {
      const st = await purgeStatus(s, admin.token, purgeId);
      assert.notEqual(st.status, 'failed', JSON.stringify(st));
      return st.retry?.retries >= 2 ? st : null;
    });
    assert.equal(waiting.status, 'active');
    assert.equal(waiting.retry.last_error, '503: Lock service unavailable');
    assert.equal(typeof waiting.retry.next_retry_at, 'number');
    for (const id of msgs) assert.equal(await eventExists(s, id), true, 'nothing is purged while Redis is down');

    redis = await startRedisServer(port);
    const done = await untilValue(async () => {
      const st = await purgeStatus(s, admin.token, purgeId);
      return st.status === 'active' ? null : st;
    });
    assert.deepEqual(done, { status: 'complete' });
    for (const id of msgs.slice(0, 3)) assert.equal(await eventExists(s, id), false);
    assert.equal(await eventExists(s, msgs[3]), true);
  });

  it('a v2 delete cut off from Redis mid-run retries, then completes once Redis is back', async () => {
    const room = await createRoom(s, user.token, { preset: 'public_chat' });
    const other = await registerUser(s, uniq('m'));
    await join(s, other.token, room);
    await send(s, user.token, room, 'hello');
    // Hold the room's event lock, so the delete's kicks wait for it; the wait then meets the outage.
    const locks = s.app.services.locks;
    const held = await locks.acquireReadWrite(NEW_EVENT_DURING_PURGE_LOCK_NAME, room, 'write');
    const start = await http(s, 'DELETE', `/_synapse/admin/v2/rooms/${encodeURIComponent(room)}`, { token: admin.token, body: {} });
    assert.equal(start.status, 200, JSON.stringify(start.body));
    const deleteId = start.body.delete_id;
    await untilValue(async () => (await deleteStatus(s, admin.token, deleteId)).progress?.phase === 'shutting_down' || null);
    await redis!.kill();
    await held.release();

    const waiting = await untilValue(async () => {
      const st = await deleteStatus(s, admin.token, deleteId);
      assert.notEqual(st.status, 'failed', JSON.stringify(st));
      return st.progress?.retry?.retries >= 2 ? st : null;
    });
    assert.equal(waiting.status, 'active');
    assert.equal(waiting.progress.phase, 'shutting_down', 'the last progress is kept beside the retry state');
    assert.equal(waiting.progress.retry.last_error, '503: Lock service unavailable');

    redis = await startRedisServer(port);
    const done = await untilValue(async () => {
      const st = await deleteStatus(s, admin.token, deleteId);
      return st.status === 'active' ? null : st;
    });
    assert.equal(done.status, 'complete', JSON.stringify(done));
    assert.equal(done.progress, undefined);
    assert.deepEqual([...done.shutdown_room.kicked_users].sort(), [user.userId, other.userId].sort());
    const rows = await roomRows(s, room);
    assert.equal(
      Object.values(rows).reduce((a, b) => a + b, 0),
      0,
      JSON.stringify(rows),
    );
  });

  it('a purge whose database connection is terminated mid-batch retries and completes', async () => {
    const room = await createRoom(s, user.token);
    const msgs: string[] = [];
    for (let i = 0; i < 4; i++) msgs.push(await send(s, user.token, room, `m${i}`));
    // Lock the room's events, so the purge's first batch waits for them; then end its session.
    const blocker = new PgClient({ connectionString: dbUrl(s.dbName) });
    await blocker.connect();
    try {
      await blocker.query('BEGIN');
      await blocker.query('SELECT 1 FROM events WHERE room_id = $1 FOR UPDATE', [room]);
      const me = Number((await blocker.query('SELECT pg_backend_pid() AS pid')).rows[0].pid);
      const r = await purgeHistory(s, admin.token, room, { delete_local_events: true }, msgs[3]);
      assert.equal(r.status, 200, JSON.stringify(r.body));
      const purgeId = r.body.purge_id;
      const waiter = await untilValue(async () => {
        const res = await blocker.query('SELECT pid FROM pg_stat_activity WHERE $1 = ANY(pg_blocking_pids(pid))', [me]);
        return res.rows.length > 0 ? Number(res.rows[0].pid) : null;
      });
      await blocker.query('SELECT pg_terminate_backend($1)', [waiter]);
      const retrying = await untilValue(async () => {
        const st = await purgeStatus(s, admin.token, purgeId);
        assert.notEqual(st.status, 'failed', JSON.stringify(st));
        return st.retry ? st : null;
      });
      assert.match(retrying.retry.last_error, /terminat/);
      await blocker.query('ROLLBACK');
      const done = await untilValue(async () => {
        const st = await purgeStatus(s, admin.token, purgeId);
        return st.status === 'active' ? null : st;
      });
      assert.deepEqual(done, { status: 'complete' });
      for (const id of msgs.slice(0, 3)) assert.equal(await eventExists(s, id), false);
      assert.equal(await eventExists(s, msgs[3]), true);
    } finally {
      await blocker.end();
    }
  });
});
