/**
 * The service's own vacuums and analyzes (TABLE_UPKEEP), on a real PostgreSQL. A room's statistics
 * row is rewritten by every state change, and each rewrite leaves a dead version behind, with an
 * entry in each of the row's indexes; until a vacuum removes them, a walk of an index (the rooms
 * list's) visits every one of them.
 */
import { strict as assert } from 'node:assert';
import { Client as PgClient } from 'pg';
import { createRoom } from '../e2e/pagination.helpers';
import { TableUpkeep, upkeepFor, type TableActivity } from '../../src/infra/table-upkeep';
import { createLogger } from '../../src/logger';
import { dbUrl, http, registerUser, startStack, type Stack, type TestUser } from '../support/stack';
import { planNodes, type PlanNode } from '../support/plans';

const activity = (over: Partial<TableActivity>): TableActivity => ({
  table: 't',
  rows: 1000,
  dead: 0,
  insertedSinceVacuum: 0,
  modifiedSinceAnalyze: 0,
  writes: 0,
  ...over,
});

describe('table upkeep thresholds', () => {
  it("follows autovacuum's defaults: 50 rows + 20 % dead or 1,000 + 20 % inserted to vacuum, 50 + 10 % changed to analyze", () => {
    assert.equal(upkeepFor(activity({ dead: 250 })), null);
    assert.equal(upkeepFor(activity({ dead: 251 })), 'vacuum');
    assert.equal(upkeepFor(activity({ insertedSinceVacuum: 1200 })), null);
    assert.equal(upkeepFor(activity({ insertedSinceVacuum: 1201 })), 'vacuum');
    assert.equal(upkeepFor(activity({ modifiedSinceAnalyze: 150 })), null);
    assert.equal(upkeepFor(activity({ modifiedSinceAnalyze: 151 })), 'analyze');
    assert.equal(upkeepFor(activity({ dead: 251, modifiedSinceAnalyze: 151 })), 'vacuum analyze');
    // Never vacuumed nor analyzed: reltuples is -1, counted as an empty table.
    assert.equal(upkeepFor(activity({ rows: -1, modifiedSinceAnalyze: 51 })), 'analyze');
  });

  it('vacuums a table once it has settled, if it was written since its last vacuum', () => {
    assert.equal(upkeepFor(activity({ dead: 10 }), true), 'vacuum');
    assert.equal(upkeepFor(activity({ insertedSinceVacuum: 10 }), true), 'vacuum');
    assert.equal(upkeepFor(activity({ dead: 10, insertedSinceVacuum: 10 }), false), null);
    assert.equal(upkeepFor(activity({}), true), null);
  });
});

describe('table upkeep on a churned table', () => {
  let s: Stack;
  let pg: PgClient;
  let owner: TestUser;
  const log = createLogger('silent');

  before(async () => {
    // The stack's own upkeep is off: the rounds here are run by hand.
    s = await startStack({ TABLE_UPKEEP: 'off' });
    pg = new PgClient({ connectionString: dbUrl(s.dbName) });
    await pg.connect();
    owner = await registerUser(s, 'owner');
  });

  after(async () => {
    await pg?.end();
    await s?.stop();
  });

  /** Index entries a walk of the rooms' name index visits in the heap (dead versions included). */
  async function nameWalkHeapFetches(): Promise<number> {
    await pg.query('BEGIN');
    try {
      await pg.query('SET LOCAL enable_seqscan = off; SET LOCAL enable_bitmapscan = off; SET LOCAL enable_sort = off');
      const res = await pg.query('EXPLAIN (ANALYZE, FORMAT JSON) SELECT room_id, name FROM room_stats ORDER BY name');
      const nodes = planNodes((res.rows[0]['QUERY PLAN'] as { Plan: PlanNode }[])[0].Plan);
      const walk = nodes.find((n) => n['Node Type'] === 'Index Only Scan' && n['Index Name'] === 'room_stats_name_idx');
      assert.ok(walk, nodes.map((n) => n['Node Type']).join(', '));
      return walk['Heap Fetches'] ?? 0;
    } finally {
      await pg.query('ROLLBACK');
    }
  }

  async function counts(table: string): Promise<{ vacuums: number; analyzes: number; dead: number }> {
    const { rows } = await pg.query<{ v: string; a: string; d: string }>(
      'SELECT vacuum_count AS v, analyze_count AS a, n_dead_tup AS d FROM pg_stat_user_tables WHERE relname = $1',
      [table],
    );
    return { vacuums: Number(rows[0].v), analyzes: Number(rows[0].a), dead: Number(rows[0].d) };
  }

  it('vacuums and analyzes the tables past their thresholds, after which the index walk reads no dead version', async () => {
    const rooms = [await createRoom(s, owner.token), await createRoom(s, owner.token), await createRoom(s, owner.token)];
    const RENAMES = 120;
    for (let i = 0; i < RENAMES; i++) {
      const res = await http(s, 'PUT', `/_matrix/client/v3/rooms/${encodeURIComponent(rooms[0])}/state/m.room.name`, {
        token: owner.token,
        body: { name: `name ${i}` },
      });
      assert.equal(res.status, 200);
    }
    const upkeep = new TableUpkeep(dbUrl(s.dbName), log, { mode: 'on', intervalMs: 60_000 });
    try {
      // The service's connections report their activity to the statistics within seconds.
      const deadline = Date.now() + 30_000;
      let stats = (await upkeep.activity()).find((a) => a.table === 'room_stats');
      while ((stats?.dead ?? 0) < RENAMES && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 250));
        stats = (await upkeep.activity()).find((a) => a.table === 'room_stats');
      }
      assert.ok(stats && stats.dead >= RENAMES, `room_stats reports ${stats?.dead} dead rows`);
      assert.equal(upkeepFor(stats), 'vacuum analyze');

      const before = await counts('room_stats');
      const fetchesBefore = await nameWalkHeapFetches();
      assert.ok(fetchesBefore >= RENAMES, `the walk visited ${fetchesBefore} versions`);

      const round = await upkeep.round();
      assert.equal(round.skipped, undefined);
      const done = round.done.find((d) => d.table === 'room_stats');
      assert.equal(done?.action, 'vacuum analyze');
      // Events were only inserted: analyzed (their count is past 50), not vacuumed (below 1,000).
      assert.equal(round.done.find((d) => d.table === 'events')?.action, 'analyze');

      const after = await counts('room_stats');
      assert.equal(after.vacuums, before.vacuums + 1);
      assert.equal(after.analyzes, before.analyzes + 1);
      assert.equal(after.dead, 0);
      assert.equal(await nameWalkHeapFetches(), 0);

      // Nothing is left to do there: a second round leaves it alone.
      assert.equal(
        (await upkeep.round()).done.find((d) => d.table === 'room_stats'),
        undefined,
      );
    } finally {
      await upkeep.close();
    }
  });

  it('vacuums a table written below the thresholds once its writes stop, so the visibility map covers it', async () => {
    await pg.query('CREATE TABLE upkeep_settle (id int PRIMARY KEY)');
    await pg.query('INSERT INTO upkeep_settle SELECT generate_series(1, 500)');
    await pg.query('SELECT pg_stat_force_next_flush()');
    const upkeep = new TableUpkeep(dbUrl(s.dbName), log, { mode: 'on', intervalMs: 60_000 });
    const did = async () => (await upkeep.round()).done.find((d) => d.table === 'upkeep_settle')?.action;
    try {
      // First seen: not known to have settled. 500 inserts are below 1,000 + 20 % (no vacuum), past 50 + 10 % (analyzed).
      assert.equal(await did(), 'analyze');
      // No write since: vacuumed once.
      assert.equal(await did(), 'vacuum');
      const { rows } = await pg.query<{ pages: number; visible: number }>(
        "SELECT relpages AS pages, relallvisible AS visible FROM pg_class WHERE relname = 'upkeep_settle'",
      );
      assert.ok(rows[0].pages > 0);
      assert.equal(rows[0].visible, rows[0].pages);
      assert.equal(await did(), undefined);
      // Written again: left alone while the writes go on, vacuumed once they stop.
      await pg.query('INSERT INTO upkeep_settle SELECT generate_series(501, 560)');
      await pg.query('SELECT pg_stat_force_next_flush()');
      assert.equal(await did(), undefined);
      assert.equal(await did(), 'vacuum');
    } finally {
      await upkeep.close();
      await pg.query('DROP TABLE upkeep_settle');
    }
  });

  it('does not vacuum a table again while nothing was written to it, even with dead rows a long transaction keeps', async () => {
    await pg.query('CREATE TABLE upkeep_held (id int PRIMARY KEY)');
    await pg.query('INSERT INTO upkeep_held SELECT generate_series(1, 2000)');
    const reader = new PgClient({ connectionString: dbUrl(s.dbName) });
    await reader.connect();
    const upkeep = new TableUpkeep(dbUrl(s.dbName), log, { mode: 'on', intervalMs: 60_000 });
    const did = async () => (await upkeep.round()).done.find((d) => d.table === 'upkeep_held')?.action;
    try {
      // A snapshot taken before the delete keeps the deleted rows from being removed.
      await reader.query('BEGIN ISOLATION LEVEL REPEATABLE READ');
      await reader.query('SELECT count(*) FROM upkeep_held');
      await pg.query('DELETE FROM upkeep_held');
      await pg.query('SELECT pg_stat_force_next_flush()');
      assert.match((await did()) ?? '', /^vacuum/);
      const { rows } = await pg.query<{ d: string }>("SELECT n_dead_tup AS d FROM pg_stat_user_tables WHERE relname = 'upkeep_held'");
      assert.equal(Number(rows[0].d), 2000, 'the rows the snapshot sees are still dead');
      // Past the threshold still, settled too: but nothing was written since its vacuum.
      assert.equal(await did(), undefined);
      assert.equal(await did(), undefined);
      // Once written again, it is vacuumed again (the snapshot gone, the rows go).
      await reader.query('COMMIT');
      await pg.query('INSERT INTO upkeep_held VALUES (1)');
      await pg.query('SELECT pg_stat_force_next_flush()');
      assert.match((await did()) ?? '', /^vacuum/);
      const { rows: after } = await pg.query<{ d: string }>(
        "SELECT n_dead_tup AS d FROM pg_stat_user_tables WHERE relname = 'upkeep_held'",
      );
      assert.equal(Number(after[0].d), 0);
    } finally {
      await upkeep.close();
      await reader.end();
      await pg.query('DROP TABLE upkeep_held');
    }
  });

  it('runs on one instance at a time: a round finds the lock taken and does nothing', async () => {
    const holder = new PgClient({ connectionString: dbUrl(s.dbName) });
    await holder.connect();
    const upkeep = new TableUpkeep(dbUrl(s.dbName), log, { mode: 'on', intervalMs: 60_000 });
    try {
      await holder.query('SELECT pg_advisory_lock($1)', [0x7570_6b70]);
      assert.deepEqual(await upkeep.round(), { skipped: 'busy', done: [] });
      await holder.query('SELECT pg_advisory_unlock($1)', [0x7570_6b70]);
      assert.equal((await upkeep.round()).skipped, undefined);
    } finally {
      await upkeep.close();
      await holder.end();
    }
  });

  it('cancels a vacuum under way when closed; the table is left as it was, and a later round vacuums it', async () => {
    await pg.query('CREATE TABLE upkeep_probe (id int PRIMARY KEY, pad text)');
    await pg.query("INSERT INTO upkeep_probe SELECT i, repeat('x', 40) FROM generate_series(1, 200000) i");
    await pg.query('DELETE FROM upkeep_probe');
    await pg.query('SELECT pg_stat_force_next_flush()');
    const slow = new TableUpkeep(dbUrl(s.dbName), log, { mode: 'on', intervalMs: 60_000, vacuumCostDelayMs: 100 });
    const round = slow.round();
    const outcome = round.then(
      () => 'finished',
      (err: { code?: string }) => err.code,
    );
    // Throttled at 100 ms a pause, the vacuum of 200,000 dead rows is under way for seconds.
    let running = false;
    while (!running) {
      const { rows } = await pg.query("SELECT 1 FROM pg_stat_progress_vacuum WHERE relid = 'upkeep_probe'::regclass");
      running = rows.length > 0;
      if (!running) await new Promise((r) => setTimeout(r, 50));
    }
    await slow.close();
    assert.equal(await outcome, '57014'); // query_canceled
    const { rows: progress } = await pg.query("SELECT 1 FROM pg_stat_progress_vacuum WHERE relid = 'upkeep_probe'::regclass");
    assert.equal(progress.length, 0);
    assert.equal((await counts('upkeep_probe')).vacuums, 0);

    const upkeep = new TableUpkeep(dbUrl(s.dbName), log, { mode: 'on', intervalMs: 60_000, vacuumCostDelayMs: 0 });
    try {
      const done = (await upkeep.round()).done.find((d) => d.table === 'upkeep_probe');
      assert.match(done?.action ?? '', /^vacuum/);
      const after = await counts('upkeep_probe');
      assert.equal(after.vacuums, 1);
      assert.equal(after.dead, 0);
    } finally {
      await upkeep.close();
      await pg.query('DROP TABLE upkeep_probe');
    }
  });

  it('in mode auto, leaves the tables to autovacuum when the server runs it', async () => {
    const { rows } = await pg.query<{ on: boolean }>("SELECT current_setting('autovacuum')::boolean AS on");
    const upkeep = new TableUpkeep(dbUrl(s.dbName), log, { mode: 'auto', intervalMs: 60_000 });
    try {
      const round = await upkeep.round();
      assert.equal(round.skipped, rows[0].on ? 'autovacuum' : undefined);
    } finally {
      await upkeep.close();
    }
  });

  it('stops its timer and connection on close, and does nothing after', async () => {
    const upkeep = new TableUpkeep(dbUrl(s.dbName), log, { mode: 'on', intervalMs: 1_000 });
    upkeep.start();
    await upkeep.close();
    assert.deepEqual(await upkeep.round(), { done: [] });
    const { rows } = await pg.query<{ n: string }>(
      "SELECT count(*) AS n FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'table-upkeep'",
    );
    assert.equal(Number(rows[0].n), 0);
  });
});

describe("the service's own upkeep rounds", () => {
  it('vacuums a churned table by itself, and counts it in /metrics', async () => {
    const s = await startStack({ TABLE_UPKEEP: 'on', TABLE_UPKEEP_INTERVAL: '1s' });
    const pg = new PgClient({ connectionString: dbUrl(s.dbName) });
    await pg.connect();
    try {
      assert.ok(s.app.upkeep);
      const owner = await registerUser(s, 'owner');
      const room = await createRoom(s, owner.token);
      for (let i = 0; i < 120; i++)
        await http(s, 'PUT', `/_matrix/client/v3/rooms/${encodeURIComponent(room)}/state/m.room.name`, {
          token: owner.token,
          body: { name: `name ${i}` },
        });
      const deadline = Date.now() + 40_000;
      let vacuums = 0;
      while (vacuums === 0 && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 250));
        const { rows } = await pg.query<{ v: string }>("SELECT vacuum_count AS v FROM pg_stat_user_tables WHERE relname = 'room_stats'");
        vacuums = Number(rows[0].v);
      }
      assert.ok(vacuums >= 1, 'room_stats was not vacuumed');
      const metrics = await http(s, 'GET', '/metrics');
      assert.match(String(metrics.body), /^synapse_room_admin_table_upkeep_seconds_count\{action="vacuum( analyze)?"\} [1-9]/m);
    } finally {
      await pg.end();
      await s.stop();
    }
  });
});
