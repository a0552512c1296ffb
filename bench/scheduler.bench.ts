/**
 * Task scheduler: schedule→start latency (p50/p99) of a task due now, no-op tasks/second drained
 * by one instance, and how long a task whose instance was killed (SIGKILL) takes to resume on
 * another one, all at the default settings (lease, renewal, poll, prefetch).
 *
 * Baselines on the same database in the same run (the floor any PostgreSQL queue pays):
 * - bare INSERT + SKIP LOCKED loop: latency is its INSERT then its claim by the same client (no
 *   wake-up at all); throughput is one claim and one completion per transaction, with as many
 *   workers as the scheduler's concurrency (one commit per task).
 * - bare batched loop: the scheduler's batching without the scheduler. The scheduler claims ahead
 *   of free slots (a prefetch queue of PREFETCH_PER_SLOT tasks per slot) and records the outcomes
 *   of finished tasks in the statement that claims their replacements; this loop does the same
 *   with one statement per batch that completes the previous batch and claims up to
 *   slots × (1 + PREFETCH_PER_SLOT) jobs with SKIP LOCKED, one batch in flight.
 * Targets: latency p50 ≤ 5 ms, p99 ≤ 50 ms; ≥ 2,000 no-op tasks/s per instance; a killed
 * instance's task resumes elsewhere within 10 s.
 */
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { performance } from 'node:perf_hooks';
import { Pool } from 'pg';
import { createOrm, migrate, type Orm } from '../src/infra/orm';
import { createLogger } from '../src/logger';
import { PgTaskScheduler } from '../src/tasks/task-scheduler';
import { PREFETCH_PER_SLOT, TASK_LEASE_MS } from '../src/tasks/scheduler-options';
import { createDatabase, dbUrl, dropDatabase } from '../test/support/stack';
import { fmt, options, stats, table } from './support';

/** The default maxConcurrentTasks (DB pool 10 / 2); a wider setting is measured too. */
const DEFAULT_CONCURRENCY = 5;

async function schedulerLatency(orm: Orm, url: string, n: number) {
  const s = new PgTaskScheduler({
    orm,
    log: createLogger('silent'),
    instanceName: 'bench',
    connectionString: url,
    maxConcurrentTasks: DEFAULT_CONCURRENCY,
  });
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
  const s = new PgTaskScheduler({
    orm,
    log: createLogger('silent'),
    instanceName: 'bench',
    connectionString: url,
    maxConcurrentTasks: concurrency,
  });
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
  while ((await s.getTasks(orm.em.fork(), { statuses: ['complete'], actions: ['noop'] })).length < n)
    await new Promise((r) => setTimeout(r, 1));
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

/** The bare batched loop: one statement completes the previous batch and claims the next one. */
async function bareBatched(pool: Pool, n: number, batch: number): Promise<number> {
  await pool.query(`INSERT INTO bare_jobs (status) SELECT 'scheduled' FROM generate_series(1, $1)`, [n]);
  const t0 = performance.now();
  let ids: string[] = [];
  for (;;) {
    const r = await pool.query<{ id: string }>(
      `WITH done AS (UPDATE bare_jobs SET status = 'complete' WHERE id = ANY($1::bigint[]))
       UPDATE bare_jobs SET status = 'active' WHERE id IN (SELECT id FROM bare_jobs WHERE status = 'scheduled' ORDER BY id LIMIT $2 FOR UPDATE SKIP LOCKED) RETURNING id`,
      [ids, batch],
    );
    if (r.rowCount === 0) break;
    ids = r.rows.map((row) => row.id);
  }
  return (n / (performance.now() - t0)) * 1000;
}

/** Set in the victim process of the resume measurement (see victim()). */
const VICTIM_DB = 'SCHEDULER_BENCH_VICTIM_DB';

/**
 * The instance that gets killed: default settings, one `resumable` action that checkpoints every
 * 100 ms until it is stopped. Prints `ready`, then `running <task id>` once it runs the task.
 */
async function victim(): Promise<void> {
  const url = process.env[VICTIM_DB]!;
  const orm = await createOrm({ clientUrl: url, poolSize: 10 });
  const s = new PgTaskScheduler({
    orm,
    log: createLogger('silent'),
    instanceName: 'victim',
    connectionString: url,
    maxConcurrentTasks: DEFAULT_CONCURRENCY,
  });
  s.registerAction('resumable', async (run) => {
    process.stdout.write(`running ${run.task.id}\n`);
    for (let i = 0; !run.signal.aborted; i++) {
      await new Promise((r) => setTimeout(r, 100));
      await run.updateResult({ step: i });
    }
    return { status: 'active' };
  });
  await s.start();
  process.stdout.write('ready\n');
}

/** Waits for a line of a child's output. */
function lineOf(out: NodeJS.ReadableStream, pred: (line: string) => boolean): Promise<string> {
  return new Promise((ok) => {
    const rl = createInterface({ input: out });
    rl.on('line', (line) => {
      if (!pred(line)) return;
      rl.close();
      ok(line);
    });
  });
}

/**
 * Kills (SIGKILL) an instance running a task, at a random point of its renewal period, while a
 * second instance (this process, default settings) runs; returns the milliseconds from the kill to
 * the start of the task on the second instance.
 */
async function resumeAfterKill(orm: Orm, url: string): Promise<number> {
  const proc = spawn(process.execPath, ['--import', 'tsx', __filename], {
    env: { ...process.env, [VICTIM_DB]: url },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const heir = new PgTaskScheduler({
    orm,
    log: createLogger('silent'),
    instanceName: 'heir',
    connectionString: url,
    maxConcurrentTasks: DEFAULT_CONCURRENCY,
  });
  try {
    await lineOf(proc.stdout!, (l) => l === 'ready');
    let resumed!: (at: number) => void;
    const resumedAt = new Promise<number>((r) => (resumed = r));
    heir.registerAction('resumable', async () => (resumed(performance.now()), { status: 'complete' }));
    const running = lineOf(proc.stdout!, (l) => l.startsWith('running '));
    const id = await heir.scheduleTask(orm.em.fork(), 'resumable');
    if ((await running) !== `running ${id}`) throw new Error('the victim runs another task');
    await heir.start();
    await new Promise((r) => setTimeout(r, 1_000 + Math.random() * 1_000));
    proc.kill('SIGKILL');
    const killedAt = performance.now();
    return (await resumedAt) - killedAt;
  } finally {
    proc.kill('SIGKILL');
    await heir.stop();
  }
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

export async function run(args: string[]): Promise<void> {
  const o = options(args, { latency: 500, tasks: 5000, wide: 20, rounds: 3, kills: 3 });
  const dbName = await createDatabase();
  const url = dbUrl(dbName);
  const orm = await createOrm({ clientUrl: url, poolSize: Math.max(10, o.wide + 4) });
  const pool = new Pool({ connectionString: url, max: o.wide + 1 });
  const r = {
    lat: [] as ReturnType<typeof stats>[],
    bareLat: [] as ReturnType<typeof stats>[],
    tput: [] as number[],
    tputWide: [] as number[],
    bare: [] as number[],
    bareWide: [] as number[],
    batched: [] as number[],
    batchedWide: [] as number[],
  };
  const resumes: number[] = [];
  const batch = (slots: number) => slots * (1 + PREFETCH_PER_SLOT);
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
      r.batched.push(await bareBatched(pool, o.tasks, batch(DEFAULT_CONCURRENCY)));
      r.batchedWide.push(await bareBatched(pool, o.tasks, batch(o.wide)));
      await orm.em.fork().getConnection().execute('TRUNCATE scheduled_tasks');
      await pool.query('TRUNCATE bare_jobs');
    }
    for (let i = 0; i < o.kills; i++) {
      resumes.push(await resumeAfterKill(orm, url));
      await orm.em.fork().getConnection().execute('TRUNCATE scheduled_tasks');
    }
    table(
      `scheduler: schedule→start latency (n=${o.latency}) and no-op tasks/s drained by one instance (n=${o.tasks}); medians of ${o.rounds} rounds`,
      [
        {
          what: 'TaskScheduler',
          'latency p50 ms': fmt(median(r.lat.map((x) => x.p50))),
          'latency p99 ms': fmt(median(r.lat.map((x) => x.p99))),
          [`tasks/s (×${DEFAULT_CONCURRENCY})`]: fmt(median(r.tput), 0),
          [`tasks/s (×${o.wide})`]: fmt(median(r.tputWide), 0),
        },
        {
          what: 'bare INSERT + SKIP LOCKED loop',
          'latency p50 ms': fmt(median(r.bareLat.map((x) => x.p50))),
          'latency p99 ms': fmt(median(r.bareLat.map((x) => x.p99))),
          [`tasks/s (×${DEFAULT_CONCURRENCY})`]: fmt(median(r.bare), 0),
          [`tasks/s (×${o.wide})`]: fmt(median(r.bareWide), 0),
        },
        {
          what: `bare batched loop (claims of ${batch(DEFAULT_CONCURRENCY)} / ${batch(o.wide)})`,
          'latency p50 ms': '-',
          'latency p99 ms': '-',
          [`tasks/s (×${DEFAULT_CONCURRENCY})`]: fmt(median(r.batched), 0),
          [`tasks/s (×${o.wide})`]: fmt(median(r.batchedWide), 0),
        },
      ],
    );
    if (resumes.length > 0) {
      const sorted = [...resumes].sort((a, b) => a - b);
      table(
        `scheduler: SIGKILL of the instance running a task → the task starts on another instance (default lease ${TASK_LEASE_MS} ms; n=${resumes.length})`,
        [
          {
            what: 'resume after kill -9',
            'min ms': fmt(sorted[0], 0),
            'median ms': fmt(median(sorted), 0),
            'max ms': fmt(sorted[sorted.length - 1], 0),
          },
        ],
      );
    }
  } finally {
    await pool.end();
    await orm.close(true);
    await dropDatabase(dbName);
  }
}

if (process.env[VICTIM_DB]) void victim();
