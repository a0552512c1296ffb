/**
 * Task scheduler: schedule→start latency (p50/p99) of a task due now, and no-op tasks/second
 * drained by one instance, beside a bare INSERT + SELECT ... FOR UPDATE SKIP LOCKED loop on the
 * same database in the same run (the floor any PostgreSQL queue pays). The bare loop's latency is
 * its INSERT then its claim by the same client (no wake-up at all), its throughput one claim and
 * one completion per transaction with as many workers as the scheduler's concurrency.
 * Targets: latency p50 ≤ 5 ms, p99 ≤ 50 ms; ≥ 2,000 no-op tasks/s per instance.
 */
import { performance } from 'node:perf_hooks';
import { Pool } from 'pg';
import { createOrm, migrate, type Orm } from '../src/infra/orm';
import { createLogger } from '../src/logger';
import { PgTaskScheduler } from '../src/tasks/task-scheduler';
import { createDatabase, dbUrl, dropDatabase } from '../test/support/stack';
import { fmt, options, stats, table } from './support';

/** The default maxConcurrentTasks (DB pool 10 / 2); a wider setting is measured too. */
const DEFAULT_CONCURRENCY = 5;

async function schedulerLatency(orm: Orm, url: string, n: number) {
  const s = new PgTaskScheduler({ orm, log: createLogger('silent'), instanceName: 'bench', connectionString: url, maxConcurrentTasks: DEFAULT_CONCURRENCY });
  let started: (() => void) | null = null;
  s.registerAction('noop', async () => (started?.(), { status: 'complete' }));
  await s.start();
  const samples: number[] = [];
  const t0 = performance.now();
  for (let i = 0; i < n; i++) {
    const begun = new Promise<void>((r) => (started = r));
    const at = process.hrtime.bigint();
    const id = await s.scheduleTask(orm.em.fork(), 'noop');
    await begun;
    samples.push(Number(process.hrtime.bigint() - at));
    // Untimed, as the bare loop's completion: the outcome is recorded before the next sample.
    while ((await s.getTask(orm.em.fork(), id))?.status !== 'complete') await new Promise((r) => setImmediate(r));
  }
  await s.stop();
  return stats(samples, performance.now() - t0);
}

async function schedulerThroughput(orm: Orm, url: string, n: number, concurrency: number): Promise<number> {
  const s = new PgTaskScheduler({ orm, log: createLogger('silent'), instanceName: 'bench', connectionString: url, maxConcurrentTasks: concurrency });
  let done = 0;
  let finished!: () => void;
  const all = new Promise<void>((r) => (finished = r));
  s.registerAction('noop', async () => {
    if (++done === n) setImmediate(finished);
    return { status: 'complete' };
  });
  await orm.em.fork().transactional(async (tx) => {
    for (let i = 0; i < n; i++) await s.scheduleTask(tx, 'noop');
  });
  const t0 = performance.now();
  await s.start();
  await all;
  // Wait for the last outcomes to be recorded, then stop.
  while ((await s.getTasks(orm.em.fork(), { statuses: ['complete'], actions: ['noop'] })).length < n) await new Promise((r) => setTimeout(r, 1));
  const ms = performance.now() - t0;
  await s.stop();
  return (n / ms) * 1000;
}

const CLAIM_SQL = `UPDATE bare_jobs SET status = 'active' WHERE id = (SELECT id FROM bare_jobs WHERE status = 'scheduled' ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED) RETURNING id`;

/** The bare loop's latency: INSERT a job, then claim it with SELECT ... FOR UPDATE SKIP LOCKED. */
async function bareLatency(pool: Pool, n: number) {
  const samples: number[] = [];
  const t0 = performance.now();
  for (let i = 0; i < n; i++) {
    const at = process.hrtime.bigint();
    await pool.query(`INSERT INTO bare_jobs (status) VALUES ('scheduled')`);
    await pool.query(CLAIM_SQL);
    samples.push(Number(process.hrtime.bigint() - at));
    await pool.query(`UPDATE bare_jobs SET status = 'complete' WHERE status = 'active'`);
  }
  return stats(samples, performance.now() - t0);
}

/** The bare loop's throughput: `concurrency` workers claim one job per transaction and mark it done. */
async function bareThroughput(pool: Pool, n: number, concurrency: number): Promise<number> {
  await pool.query(`INSERT INTO bare_jobs (status) SELECT 'scheduled' FROM generate_series(1, $1)`, [n]);
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      for (;;) {
        const c = await pool.connect();
        try {
          await c.query('BEGIN');
          const r = await c.query(CLAIM_SQL);
          if (r.rowCount === 0) return void (await c.query('COMMIT'));
          await c.query(`UPDATE bare_jobs SET status = 'complete' WHERE id = $1`, [r.rows[0].id]);
          await c.query('COMMIT');
        } finally {
          c.release();
        }
      }
    }),
  );
  return (n / (performance.now() - t0)) * 1000;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

export async function run(args: string[]): Promise<void> {
  const o = options(args, { latency: 500, tasks: 5000, wide: 20, rounds: 3 });
  const dbName = await createDatabase();
  const url = dbUrl(dbName);
  const orm = await createOrm({ clientUrl: url, poolSize: Math.max(10, o.wide + 4) });
  const pool = new Pool({ connectionString: url, max: o.wide + 1 });
  const r = { lat: [] as ReturnType<typeof stats>[], bareLat: [] as ReturnType<typeof stats>[], tput: [] as number[], tputWide: [] as number[], bare: [] as number[], bareWide: [] as number[] };
  try {
    await migrate(orm);
    await pool.query('CREATE TABLE bare_jobs (id bigserial PRIMARY KEY, status text NOT NULL)');
    // The machine is shared: the variants alternate within each round; figures are medians of rounds.
    for (let round = 0; round < o.rounds; round++) {
      r.bareLat.push(await bareLatency(pool, o.latency));
      r.lat.push(await schedulerLatency(orm, url, o.latency));
      r.bare.push(await bareThroughput(pool, o.tasks, DEFAULT_CONCURRENCY));
      r.tput.push(await schedulerThroughput(orm, url, o.tasks, DEFAULT_CONCURRENCY));
      r.bareWide.push(await bareThroughput(pool, o.tasks, o.wide));
      r.tputWide.push(await schedulerThroughput(orm, url, o.tasks, o.wide));
      await orm.em.fork().getConnection().execute('TRUNCATE scheduled_tasks');
      await pool.query('TRUNCATE bare_jobs');
    }
    table(`scheduler: schedule→start latency (n=${o.latency}) and no-op tasks/s drained by one instance (n=${o.tasks}); medians of ${o.rounds} rounds`, [
      { what: 'TaskScheduler', 'latency p50 ms': fmt(median(r.lat.map((x) => x.p50))), 'latency p99 ms': fmt(median(r.lat.map((x) => x.p99))), [`tasks/s (×${DEFAULT_CONCURRENCY})`]: fmt(median(r.tput), 0), [`tasks/s (×${o.wide})`]: fmt(median(r.tputWide), 0) },
      { what: 'bare INSERT + SKIP LOCKED loop', 'latency p50 ms': fmt(median(r.bareLat.map((x) => x.p50))), 'latency p99 ms': fmt(median(r.bareLat.map((x) => x.p99))), [`tasks/s (×${DEFAULT_CONCURRENCY})`]: fmt(median(r.bare), 0), [`tasks/s (×${o.wide})`]: fmt(median(r.bareWide), 0) },
    ]);
  } finally {
    await pool.end();
    await orm.close(true);
    await dropDatabase(dbName);
  }
}
