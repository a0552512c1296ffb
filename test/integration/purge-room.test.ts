/**
 * The room purge against a real PostgreSQL schema: every room table emptied for the purged room
 * only, the block and retention rows kept, batches bounded and resumable, the joined-users check,
 * and the table list kept complete with respect to the live schema.
 */
import { strict as assert } from 'node:assert';
import { createOrm, migrate, type Orm } from '../../src/infra/orm';
import { createLockManager } from '../../src/infra/locks/lock-manager';
import type { LockManager } from '../../src/infra/locks/lock.types';
import { NEW_EVENT_DURING_PURGE_LOCK_NAME, PURGE_PAGINATION_LOCK_NAME } from '../../src/infra/locks/lock.types';
import { createLogger } from '../../src/logger';
import { RoomPurgeService } from '../../src/admin/room-purge.service';
import { PURGE_TABLES, ROOM_TABLES_KEPT_BY_PURGE } from '../../src/admin/purge-tables';
import { MatrixError } from '../../src/errors';
import { createDatabase, dbUrl, dropDatabase } from '../support/stack';
import { countRoomRows, insertRawRoom } from './purge-room.fixtures';

const ROOM_TABLES = [...PURGE_TABLES.map((t) => t.table), ...ROOM_TABLES_KEPT_BY_PURGE];

describe('purge room (integration)', () => {
  let dbName: string;
  let orm: Orm;
  let locks: LockManager;
  let purger: RoomPurgeService;
  const log = createLogger('silent');

  before(async () => {
    dbName = await createDatabase();
    orm = await createOrm({ clientUrl: dbUrl(dbName), poolSize: 4 });
    await migrate(orm);
    locks = createLockManager({ redis: [], keyPrefix: 'purge-test:', log });
    purger = new RoomPurgeService(orm, locks, log);
  });

  after(async () => {
    await locks.close();
    await orm.close(true);
    await dropDatabase(dbName);
  });

  const em = () => orm.em.fork();

  it('deletes every row of the room in every room table except the block and the retention policy', async () => {
    await insertRawRoom(em(), '!victim:test', {
      events: 2_500,
      members: ['@a:test', '@b:remote'],
      alias: '#victim:test',
      blockedBy: '@admin:test',
    });
    await insertRawRoom(em(), '!bystander:test', { events: 300, members: ['@a:test'], alias: '#bystander:test' });
    const before = await countRoomRows(em(), '!bystander:test', ROOM_TABLES);

    const report = await purger.purgeRoom('!victim:test', { force: false, batchRows: 1_000 });

    assert.equal(report.eventsDeleted, 2_502);
    const after = await countRoomRows(em(), '!victim:test', ROOM_TABLES);
    for (const t of PURGE_TABLES) assert.equal(after[t.table], 0, `${t.table} still has rows of the purged room`);
    assert.equal(after.blocked_rooms, 1);
    assert.equal(after.room_retention, 1);
    assert.deepEqual(await countRoomRows(em(), '!bystander:test', ROOM_TABLES), before);
  });

  it('refuses while a local user is joined unless forced', async () => {
    await insertRawRoom(em(), '!joined:test', { events: 5, joinedLocal: ['@a:test'] });
    await assert.rejects(
      purger.purgeRoom('!joined:test', { force: false }),
      (e: unknown) => e instanceof MatrixError && e.httpStatus === 400 && e.message === 'Users are still joined to this room',
    );
    assert.equal((await countRoomRows(em(), '!joined:test', ['events'])).events, 6);
    await purger.purgeRoom('!joined:test', { force: true });
    assert.equal((await countRoomRows(em(), '!joined:test', ['rooms'])).rooms, 0);
  });

  it('is a no-op for an unknown room', async () => {
    const report = await purger.purgeRoom('!unknown:test', { force: false });
    assert.equal(report.rowsDeleted, 0);
  });

  it('stops between batches when aborted and finishes when run again', async () => {
    await insertRawRoom(em(), '!resume:test', { events: 5_000 });
    const stop = new AbortController();
    let batches = 0;
    await assert.rejects(
      purger.purgeRoom('!resume:test', {
        force: false,
        batchRows: 1_000,
        signal: stop.signal,
        onBatch: (p) => {
          batches += 1;
          if (p.table === 'events' && p.events_deleted >= 2_000) stop.abort(new Error('stopped'));
        },
      }),
      /stopped/,
    );
    const mid = await countRoomRows(em(), '!resume:test', ['events', 'rooms', 'room_stats']);
    assert.equal(mid.events, 3_001, 'two event batches were committed, the rest is still there');
    assert.equal(mid.rooms, 1, 'the rooms row goes last, so the purge can be found and resumed');
    assert.equal(mid.room_stats, 0);
    assert.ok(batches >= 3);

    const report = await purger.purgeRoom('!resume:test', { force: false, batchRows: 1_000 });
    assert.equal(report.eventsDeleted, 3_001);
    assert.deepEqual(await countRoomRows(em(), '!resume:test', ['events', 'rooms']), { events: 0, rooms: 0 });
  });

  it('holds both write locks of the room while it purges, and only those of that room', async () => {
    await insertRawRoom(em(), '!locked:test', { events: 3_000 });
    let seen: { own: boolean; other: boolean } | null = null;
    await purger.purgeRoom('!locked:test', {
      force: false,
      batchRows: 1_000,
      onBatch: async () => {
        if (seen) return;
        const own = await locks.tryAcquireReadWrite(NEW_EVENT_DURING_PURGE_LOCK_NAME, '!locked:test', 'read');
        const other = await locks.tryAcquireReadWrite(PURGE_PAGINATION_LOCK_NAME, '!elsewhere:test', 'write');
        seen = { own: own !== null, other: other !== null };
        await own?.release();
        await other?.release();
      },
    });
    assert.deepEqual(seen, { own: false, other: true });
  });

  it('lists every table of the schema that has a room_id column (purged or kept on purpose)', async () => {
    assert.deepEqual(await purger.unlistedRoomTables(em()), []);
    const live = await em().execute<{ table_name: string }[]>(
      "SELECT table_name FROM information_schema.columns WHERE table_schema = current_schema() AND column_name = 'room_id'",
    );
    for (const t of ROOM_TABLES)
      assert.ok(
        live.some((r) => r.table_name === t),
        `${t} is listed but does not exist`,
      );
  });
});
