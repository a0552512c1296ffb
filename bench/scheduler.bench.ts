/**
 * Task scheduler: schedule→start latency (p50/p99) of a task due now, and no-op tasks/second
 * drained by one instance, beside a bare INSERT + SELECT ... FOR UPDATE SKIP LOCKED loop on the
 * same database in the same run (the floor any PostgreSQL queue pays).
 * Targets: latency p50 ≤ 5 ms, p99 ≤ 50 ms; ≥ 2,000 no-op tasks/s per instance.
 */
import { performance } from 'node:perf_hooks';
import { Pool } from 'pg';
import { createOrm, migrate, type Orm } from '../src/infra/orm';
import { createLogger } from '../src/logger';
import { PgTaskScheduler } from '../src/tasks/task-scheduler';
import { createDatabase, dbUrl, dropDatabase } from '../test/support/stack';
import { fmt, options, stats, table } from './support';

const CONCURRENCY = 5; // the default maxConcurrentTasks (DB pool 10 / 2)

async function schedulerLatency(orm: Orm, url: string, n: number) {
  const s = new PgTaskScheduler({ orm, log: createLogger('silent'), instanceName: 'bench', connectionString: url, maxConcurrentTasks: CONCURRENCY });
  let started: (() => void) | null = null;
  s.registerAction('noop', async () => (started?.(), { status: 'complete' }));
  await s.start();
  const samples: number[] = [];
  const t0 = performance.now();
  for (let i = 0; i < n; i++) {
    const begun = new Promise<void>((r) => (started = r));
    const at = process.hrtime.bigint();
    await s.scheduleTask(orm.em.fork(), 'noop');
    await begun;
    samples.push(Number(process.hrtime.bigint() - at));
  }
  await s.stop();
  return stats(samples, performance.now() - t0);
}

async function schedulerThroughput(orm: Orm, url: string, n: number): Promise<number> {
  const s = new PgTaskScheduler({ orm, log: createLogger('silent'), instanceName: 'bench', connectionString: url, maxConcurrentTasks: CONCURRENCY });
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

/** The bare loop: INSERT, and workers that claim one row at a time with SKIP LOCKED and mark it done. */
async function bare(pool: Pool, nLatency: number, nThroughput: number) {
  await pool.query('CREATE TABLE bare_jobs (id bigserial PRIMARY KEY, status text NOT NULL, created bigint NOT NULL)');
  const claimSql = `UPDATE bare_jobs SET status = 'active' WHERE id = (SELECT id FROM bare_jobs WHERE status = 'scheduled' ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED) RETURNING id`;
  const samples: number[] = [];
  for (let i = 0; i < nLatency; i++) {
    const at = process.hrtime.bigint();
    await pool.query(`INSERT INTO bare_jobs (status, created) VALUES ('scheduled', 0)`);
    await pool.query(claimSql);
    samples.push(Number(process.hrtime.bigint() - at));
    await pool.query(`UPDATE bare_jobs SET status = 'complete' WHERE status = 'active'`);
  }
  const latency = stats(samples, 1);
  await pool.query(`INSERT INTO bare_jobs (status, created) SELECT 'scheduled', 0 FROM generate_series(1, $1)`, [nThroughput]);
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      for (;;) {
        const c = await pool.connect();
        try {
          await c.query('BEGIN');
          const r = await c.query(claimSql);
          if (r.rowCount === 0) return void (await c.query('COMMIT'));
          await c.query(`UPDATE bare_jobs SET status = 'complete' WHERE id = $1`, [r.rows[0].id]);
          await c.query('COMMIT');
        } finally {
          c.release();
        }
      }
    }),
  );
  return { latency, perSecond: (nThroughput / (performance.now() - t0)) * 1000 };
}

export async function run(args: string[]): Promise<void> {
  const o = options(args, { latency: 500, tasks: 5000 });
  const dbName = await createDatabase();
  const url = dbUrl(dbName);
  const orm = await createOrm({ clientUrl: url, poolSize: 10 });
  const pool = new Pool({ connectionString: url, max: CONCURRENCY + 1 });
  try {
    await migrate(orm);
    const b = await bare(pool, o.latency, o.tasks);
    const lat = await schedulerLatency(orm, url, o.latency);
    const tput = await schedulerThroughput(orm, url, o.tasks);
    table(`scheduler: schedule→start latency (n=${o.latency}) and no-op throughput (n=${o.tasks}, concurrency ${CONCURRENCY}, one instance)`, [
      { what: 'TaskScheduler', 'latency p50 ms': fmt(lat.p50), 'latency p99 ms': fmt(lat.p99), 'tasks/s': fmt(tput, 0) },
      { what: 'bare INSERT + SKIP LOCKED loop', 'latency p50 ms': fmt(b.latency.p50), 'latency p99 ms': fmt(b.latency.p99), 'tasks/s': fmt(b.perSecond, 0) },
    ]);
  } finally {
    await pool.end();
    await orm.close(true);
    await dropDatabase(dbName);
  }
}
