/**
 * A v2 room delete interrupted by kill -9 (SIGKILL) of the service, at points spread over the
 * shutdown phase, the purge phase and a random moment, resumes after each restart and finishes
 * with no row of the room left, every member moved exactly once, and the replacement room
 * consistent (one replacement room, one notice, aliases moved, stats matching the state).
 *
 * The service runs as the real entry point in a child process, with its locks in Redis (a private
 * key prefix), so a killed process leaves its 30 s locks on the room behind; the room is built
 * beforehand in this process through RoomService's bulk write path. After each kill the resumed
 * run must take the dead run's locks over (a later lease of the same task) rather than wait for
 * them to expire: the takeover counter says so, and the time from the kill to the resumed run's
 * first write is printed.
 *
 * The random kill moment comes from KILL_SEED, drawn for the run unless set; a failure prints it,
 * and setting it replays the same choice. (The mid-shutdown kill stays at the second batch of
 * KICK_BATCH_USERS members: progress moves in whole batches, so a later point could be missed.)
 */
import { strict as assert } from 'node:assert';
import { randomBytes } from 'node:crypto';
import Redis from 'ioredis';
import { loadConfig } from '../../src/config';
import { createOrm, type Orm } from '../../src/infra/orm';
import { createRooms } from '../../src/rooms/rooms';
import type { EventDraft } from '../../src/rooms/event-persister';
import { PURGE_TABLES } from '../../src/admin/purge-tables';
import { REPLACES_ROOM_KEY } from '../../src/admin/room-shutdown.service';
import { processCall, registerProcessAdmin, spawnService, type ServiceProcess } from '../support/process';
import { seedFor } from '../support/seed';
import { SHARED_SECRET, TEST_REDIS_URL, createDatabase, dbUrl, dropDatabase } from '../support/stack';

const MEMBERS = 1_200;
const MESSAGES = 60_000;
const DRAFTS_PER_CALL = 5_000;
const POLL_MS = 20;
const MAX_POLLS = 3_000;

describe('room delete survives kill -9', () => {
  const random = seedFor('KILL_SEED');
  let dbName: string;
  let orm: Orm;
  let svc: ServiceProcess | null = null;
  let redis: Redis;
  const keyPrefix = `sra-test-${randomBytes(4).toString('hex')}:`;
  const env = () => ({
    DATABASE_URL: dbUrl(dbName),
    REDIS_URL: TEST_REDIS_URL,
    REDIS_KEY_PREFIX: keyPrefix,
    SERVER_NAME: 'test',
    REGISTRATION_SHARED_SECRET: SHARED_SECRET,
    INSTANCE_NAME: 'kill-test',
    LOG_LEVEL: 'info',
  });
  const takeovers = async () => Number((await redis.get(`${keyPrefix}lock:takeovers`)) ?? 0);
  const base = () => `http://127.0.0.1:${svc!.httpPort}`;

  const call = processCall(base);
  const registerAdmin = () => registerProcessAdmin(call, SHARED_SECRET);

  /** A public room with MEMBERS local members, an alias and MESSAGES messages, written in bulk. */
  async function buildRoom(): Promise<{ roomId: string; members: string[] }> {
    const { rooms } = createRooms({ config: loadConfig({ SERVER_NAME: 'test' }), locks: null, scheduler: null });
    const em = orm.em.fork();
    const { roomId } = await rooms.createRoom(em, '@creator:test', { preset: 'public_chat', roomAliasName: 'doomed', name: 'Doomed' });
    const members = Array.from({ length: MEMBERS }, (_, i) => `@member${String(i).padStart(5, '0')}:test`);
    const joins: EventDraft[] = members.map((u) => ({ type: 'm.room.member', stateKey: u, sender: u, content: { membership: 'join' } }));
    await rooms.persistBatches(em, [{ roomId, drafts: joins }]);
    for (let done = 0; done < MESSAGES; done += DRAFTS_PER_CALL) {
      const drafts: EventDraft[] = Array.from({ length: Math.min(DRAFTS_PER_CALL, MESSAGES - done) }, (_, i) => ({
        type: 'm.room.message',
        stateKey: null,
        sender: members[(done + i) % MEMBERS],
        content: { msgtype: 'm.text', body: `message ${done + i}` },
      }));
      await rooms.persistBatches(em, [{ roomId, drafts }]);
    }
    return { roomId, members: ['@creator:test', ...members] };
  }

  async function restart(): Promise<void> {
    svc = await spawnService(env());
  }

  function kill(): Promise<unknown> {
    const s = svc!;
    s.child.kill('SIGKILL');
    svc = null;
    return s.exited;
  }

  async function status(token: string, deleteId: string): Promise<any> {
    return (await call('GET', `/_synapse/admin/v2/rooms/delete_status/${deleteId}`, token)).body;
  }

  /** Polls until `pred` holds for the delete status; returns it, or null if the task finished first. */
  async function waitUntil(token: string, deleteId: string, pred: (st: any) => boolean): Promise<any | null> {
    for (let i = 0; i < MAX_POLLS; i++) {
      const st = await status(token, deleteId);
      if (pred(st)) return st;
      if (st.status === 'complete' || st.status === 'failed') return null;
      await new Promise((r) => setTimeout(r, POLL_MS));
    }
    throw new Error('delete made no progress');
  }

  before(async () => {
    dbName = await createDatabase();
    await restart(); // applies the migrations
    orm = await createOrm({ clientUrl: dbUrl(dbName), poolSize: 4 });
    redis = new Redis(TEST_REDIS_URL);
  });

  after(async () => {
    if (svc) await kill();
    await orm?.close(true);
    if (redis) {
      const keys = await redis.keys(`${keyPrefix}*`);
      if (keys.length > 0) await redis.del(...keys);
      redis.disconnect();
    }
    if (dbName) await dropDatabase(dbName);
  });

  it('resumes after every kill and leaves a clean result', async function () {
    this.timeout(10 * 60_000);
    const token = await registerAdmin();
    const { roomId, members } = await buildRoom();
    const start = await call('DELETE', `/_synapse/admin/v2/rooms/${encodeURIComponent(roomId)}`, token, {
      new_room_user_id: '@admin:test',
      block: true,
      room_name: 'Moved',
      message: 'Gone',
    });
    assert.equal(start.status, 200);
    const deleteId = start.body.delete_id;

    const kills: string[] = [];
    const taskRow = async () =>
      JSON.stringify((await orm.em.fork().execute('SELECT progress, result, status FROM scheduled_tasks WHERE id = ?', [deleteId]))[0]);
    const killWhen = async (what: string, pred: (st: any) => boolean) => {
      const seen = await waitUntil(token, deleteId, pred);
      if (!seen) return;
      const tookOver = await takeovers();
      await kill();
      const killedAt = performance.now();
      const frozen = await taskRow(); // nobody writes it until the task is resumed
      if (['complete', 'failed'].includes(JSON.parse(frozen).status)) {
        // The run recorded its outcome between the status read and the kill: nothing to resume.
        console.log(`      the ${what} kill came after the delete had finished`);
        await restart();
        return;
      }
      await restart();
      const readyAt = performance.now();
      // Resumed: the new run's first write; after a kill mid-purge, its first purge progress, which
      // it reports once it holds the room's locks (the shutdown it redoes first takes none of them).
      const resumed = (row: string) => row !== frozen && (what !== 'mid-purge' || JSON.parse(row).progress?.phase === 'purging');
      let row = await taskRow();
      for (let i = 0; i < MAX_POLLS && !resumed(row); i++) {
        await new Promise((r) => setTimeout(r, POLL_MS));
        row = await taskRow();
      }
      assert.ok(resumed(row), `the delete was not resumed after the ${what} kill: ${row} (KILL_SEED=${random.seed})`);
      const resumedAt = performance.now();
      kills.push(`${what}: ${JSON.stringify(seen.progress)}`);
      const took = (await takeovers()) - tookOver;
      console.log(
        `      resumed after the ${what} kill: ${((resumedAt - killedAt) / 1000).toFixed(1)} s after SIGKILL, ${((resumedAt - readyAt) / 1000).toFixed(1)} s after the restart was ready; ${took} lock(s) taken over`,
      );
      // A kill mid-purge leaves the purge's write locks held by the dead process (30 s in Redis):
      // the resumed run took them over instead of waiting for them to expire.
      if (what === 'mid-purge') assert.ok(took >= 1, "the resumed purge took the dead run's locks over");
    };
    await killWhen('mid-shutdown', (st) => st.progress?.phase === 'shutting_down' && st.progress.users_done >= 500);
    await killWhen('mid-purge', (st) => st.progress?.phase === 'purging' && st.progress.events_deleted > 0);
    await new Promise((r) => setTimeout(r, random.int(0, 300)));
    if ((await status(token, deleteId)).status === 'active') await killWhen('random', () => true);
    assert.ok(kills.length >= 2, `the delete must have been killed mid-way at least twice (${kills.join('; ')}; KILL_SEED=${random.seed})`);

    const done = await waitUntil(token, deleteId, (st) => st.status === 'complete' || st.status === 'failed');
    const final = done ?? (await status(token, deleteId));
    assert.equal(final.status, 'complete', JSON.stringify(final));
    const result = final.shutdown_room;
    assert.deepEqual([...result.kicked_users].sort(), [...members].sort());
    assert.deepEqual(result.failed_to_kick_users, []);
    assert.deepEqual(result.local_aliases, ['#doomed:test']);
    const newRoom = result.new_room_id;

    const q = async (sql: string, params: unknown[] = []) => orm.em.fork().execute<Record<string, string>[]>(sql, params);
    for (const { table } of PURGE_TABLES)
      assert.equal(
        Number((await q(`SELECT count(*) AS n FROM ${table} WHERE room_id = ?`, [roomId]))[0].n),
        0,
        `${table} has rows of the deleted room`,
      );
    assert.equal((await q('SELECT user_id FROM blocked_rooms WHERE room_id = ?', [roomId]))[0].user_id, '@admin:test');

    const replacements = await q(`SELECT room_id FROM events WHERE type = 'm.room.create' AND content ->> ? = ?`, [
      REPLACES_ROOM_KEY,
      roomId,
    ]);
    assert.deepEqual(
      replacements.map((r) => r.room_id),
      [newRoom],
      'exactly one replacement room',
    );
    const joined = (
      await q("SELECT state_key FROM current_state_events WHERE room_id = ? AND type = 'm.room.member' AND membership = 'join'", [newRoom])
    ).map((r) => r.state_key);
    assert.deepEqual(joined.sort(), ['@admin:test', ...members].sort());
    const notices = await q("SELECT content ->> 'body' AS body FROM events WHERE room_id = ? AND type = 'm.room.message'", [newRoom]);
    assert.deepEqual(
      notices.map((r) => r.body),
      ['Gone'],
    );
    const stats = (await q('SELECT joined_members, joined_local_members, name FROM room_stats WHERE room_id = ?', [newRoom]))[0];
    assert.deepEqual(
      [Number(stats.joined_members), Number(stats.joined_local_members), stats.name],
      [members.length + 1, members.length + 1, 'Moved'],
    );
    assert.equal((await q('SELECT room_id FROM room_aliases WHERE room_alias = ?', ['#doomed:test']))[0].room_id, newRoom);
  });
});
