/**
 * Several scheduler instances in separate processes on one database: 1,000 tasks run exactly once
 * each; an instance killed with SIGKILL mid-task has the task resumed from its checkpoint by
 * another (with a short lease, and with every setting at its default); a runner frozen (SIGSTOP)
 * past its lease cannot write once it wakes up. The multi-step task holds a Redis write lock (30 s
 * lease) for its whole run, as a purge holds its room's: the instance that resumes it takes the
 * lock over from the killed or frozen one (a later lease of the same task) instead of waiting for
 * it to expire.
 *
 * When run with SCHED_CHILD_DB set, this file is one scheduler instance (see child()): it prints
 * `ready`, `committed <task> <step>` after each fenced step and `lease-lost <task>` when a write
 * is refused.
 */
import { strict as assert } from 'node:assert';
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { randomBytes } from 'node:crypto';
import Redis from 'ioredis';
import { RedisLockManager } from '../../src/infra/locks/redis-lock-manager';
import type { LockManager } from '../../src/infra/locks/lock.types';
import { createOrm, migrate, type Orm } from '../../src/infra/orm';
import { createLogger } from '../../src/logger';
import { PgTaskScheduler, TASK_LEASE_MS } from '../../src/tasks/task-scheduler';
import { LeaseLostError, type TaskAction } from '../../src/tasks/task.types';
import { TEST_REDIS_URL, createDatabase, dbUrl, dropDatabase } from '../support/stack';
import { until } from '../support/until';

const CHILD_LEASE_MS = 1_000;

/** Effects of runs, written in the runs' fenced transactions. */
const EFFECTS_TABLE =
  'CREATE TABLE test_effects (seq bigserial PRIMARY KEY, task_id text NOT NULL, instance text NOT NULL, step integer NOT NULL)';

function actions(name: string, print: (line: string) => void, locks?: LockManager): Record<string, TaskAction> {
  const effect = (run: Parameters<TaskAction>[0], step: number) =>
    run.fenced((em) =>
      em
        .getConnection()
        .execute(
          'INSERT INTO test_effects (task_id, instance, step) VALUES (?, ?, ?)',
          [run.task.id, name, step],
          'run',
          em.getTransactionContext(),
        ),
    );
  return {
    count_once: async (run) => {
      await effect(run, 0);
      return { status: 'complete' };
    },
    stepper: async (run) => {
      const { steps, stepMs } = run.task.params as { steps: number; stepMs: number };
      if (!locks) throw new Error('the stepper runs under a lock');
      return locks.withReadWrite('stepper', run.task.id, 'write', () => stepThrough(run, steps, stepMs));
    },
  };
  async function stepThrough(run: Parameters<TaskAction>[0], steps: number, stepMs: number) {
    for (let i = Number(run.task.result?.next ?? 0); i < steps; i++) {
      await new Promise((r) => setTimeout(r, stepMs)); // the step's work
      try {
        await run.fenced(async () => {
          await effect(run, i);
          await run.updateResult({ next: i + 1, by: name });
        });
      } catch (err) {
        if (err instanceof LeaseLostError) print(`lease-lost ${run.task.id}`);
        throw err;
      }
      print(`committed ${run.task.id} ${i}`);
    }
    return { status: 'complete' as const, result: { next: steps, finishedBy: name } };
  }
}

async function child(): Promise<void> {
  const name = process.env.SCHED_CHILD_NAME!;
  const orm = await createOrm({ clientUrl: process.env.SCHED_CHILD_DB!, poolSize: 10 });
  const print = (line: string) => process.stdout.write(`${line}\n`);
  const leaseMs = Number(process.env.SCHED_CHILD_LEASE_MS);
  // A lease of 0 means every setting at its default (as the service starts with no configuration).
  const timing = leaseMs > 0 ? { leaseMs, leaseRenewMs: leaseMs / 4, pollIntervalMs: 250 } : {};
  const log = createLogger(process.env.SCHED_CHILD_LOG ?? 'silent', { instance: name });
  const s = new PgTaskScheduler({
    orm,
    log,
    instanceName: name,
    connectionString: process.env.SCHED_CHILD_DB!,
    maxConcurrentTasks: 10,
    ...timing,
  });
  // Locks at their default 30 s lease: longer than any resume this file waits for.
  const locks = new RedisLockManager([new Redis(TEST_REDIS_URL, { maxRetriesPerRequest: 1, enableOfflineQueue: false })], {
    keyPrefix: process.env.SCHED_CHILD_REDIS_PREFIX!,
    log,
  });
  for (const [n, fn] of Object.entries(actions(name, print, locks))) s.registerAction(n, fn);
  await s.start();
  print('ready');
}

interface Instance {
  name: string;
  proc: ChildProcess;
  lines: string[];
  waitFor(pred: (line: string) => boolean): Promise<string>;
}

if (process.env.SCHED_CHILD_DB) {
  void child();
} else {
  describe('TaskScheduler: several instances in separate processes', () => {
    let dbName: string;
    let orm: Orm;
    let scheduling: PgTaskScheduler;
    const instances: Instance[] = [];
    const redisPrefix = `sra-test-${randomBytes(4).toString('hex')}:`;
    let redis: Redis;
    const takeovers = async () => Number((await redis.get(`${redisPrefix}lock:takeovers`)) ?? 0);
    const em = () => orm.em.fork();
    const q = <T>(text: string, params: unknown[] = []) => em().getConnection().execute<T[]>(text, params);

    before(async () => {
      dbName = await createDatabase();
      orm = await createOrm({ clientUrl: dbUrl(dbName), poolSize: 5 });
      await migrate(orm);
      await q(EFFECTS_TABLE);
      redis = new Redis(TEST_REDIS_URL);
      // Schedules only (never started, so it claims nothing).
      scheduling = new PgTaskScheduler({
        orm,
        log: createLogger('silent'),
        instanceName: 'scheduler-only',
        connectionString: dbUrl(dbName),
        maxConcurrentTasks: 1,
      });
      for (const [n, fn] of Object.entries(actions('parent', () => undefined))) scheduling.registerAction(n, fn);
    });
    afterEach(async () => {
      for (const i of instances.splice(0)) {
        i.proc.kill('SIGCONT');
        i.proc.kill('SIGKILL');
      }
      await q('TRUNCATE scheduled_tasks, test_effects');
    });
    after(async () => {
      const keys = await redis.keys(`${redisPrefix}*`);
      if (keys.length > 0) await redis.del(...keys);
      redis.disconnect();
      await orm.close(true);
      await dropDatabase(dbName);
    });

    async function instance(name: string, leaseMs = CHILD_LEASE_MS): Promise<Instance> {
      const env = {
        ...process.env,
        SCHED_CHILD_DB: dbUrl(dbName),
        SCHED_CHILD_NAME: name,
        SCHED_CHILD_LEASE_MS: String(leaseMs),
        SCHED_CHILD_REDIS_PREFIX: redisPrefix,
      };
      const proc = spawn(process.execPath, ['--import', 'tsx', __filename], { env, stdio: ['ignore', 'pipe', 'inherit'] });
      const lines: string[] = [];
      const waiters: { pred: (l: string) => boolean; ok: (l: string) => void }[] = [];
      createInterface({ input: proc.stdout! }).on('line', (line) => {
        lines.push(line);
        for (const w of waiters.splice(0)) w.pred(line) ? w.ok(line) : waiters.push(w);
      });
      const waitFor = (pred: (l: string) => boolean) =>
        new Promise<string>((ok) => (lines.find(pred) ? ok(lines.find(pred)!) : waiters.push({ pred, ok })));
      const inst = { name, proc, lines, waitFor };
      instances.push(inst);
      await waitFor((l) => l === 'ready');
      return inst;
    }

    const effectsOf = (id: string) =>
      q<{ seq: string; instance: string; step: number }>('SELECT seq, instance, step FROM test_effects WHERE task_id = ? ORDER BY seq', [
        id,
      ]);
    const statusOf = async (id: string) => (await scheduling.getTask(em(), id))?.status;

    it('1,000 tasks over three instances: each runs exactly once', async () => {
      // The default lease: nothing expires here unless an instance stalls for seconds.
      await Promise.all(['a', 'b', 'c'].map((n) => instance(n, TASK_LEASE_MS)));
      await em().transactional(async (tx) => {
        for (let i = 0; i < 1000; i++) await scheduling.scheduleTask(tx, 'count_once');
      });
      await until(
        async () => (await q<{ n: string }>(`SELECT count(*) AS n FROM scheduled_tasks WHERE status = 'complete'`))[0].n === '1000',
      );
      const [totals] = await q<{ runs: string; tasks: string }>(
        'SELECT count(*) AS runs, count(DISTINCT task_id) AS tasks FROM test_effects',
      );
      const attempts = await q('SELECT attempts, count(*) AS n FROM scheduled_tasks GROUP BY attempts');
      const dups = await q(
        `SELECT e.task_id, array_agg(e.instance ORDER BY seq) AS by, t.attempts FROM test_effects e JOIN scheduled_tasks t ON t.id = e.task_id GROUP BY e.task_id, t.attempts HAVING count(*) > 1 LIMIT 5`,
      );
      assert.deepEqual(totals, { runs: '1000', tasks: '1000' }, JSON.stringify({ attempts, dups }));
      const per = await q<{ instance: string; n: string }>(
        'SELECT instance, count(*) AS n FROM test_effects GROUP BY instance ORDER BY instance',
      );
      assert.deepEqual(
        per.map((r) => r.instance),
        ['a', 'b', 'c'],
        `every instance took part: ${JSON.stringify(per)}`,
      );
    });

    /**
     * Two instances (child lease `leaseMs`, 0 for the defaults) run a `steps`-step task; the one
     * running it is killed after step 3 and the other must finish it from its checkpoint, every
     * step exactly once and in order.
     */
    async function killAndResume(leaseMs: number | undefined, steps: number, leaseLabel: string) {
      const both = await Promise.all([instance('a', leaseMs), instance('b', leaseMs)]);
      const id = await scheduling.scheduleTask(em(), 'stepper', { params: { steps, stepMs: 100 } });
      const victim = await Promise.race(both.map(async (i) => (await i.waitFor((l) => l === `committed ${id} 3`), i)));
      const heir = both.find((i) => i !== victim)!;
      const tookOver = await takeovers();
      victim.proc.kill('SIGKILL');
      const killedAt = Date.now();
      const first = await heir.waitFor((l) => l.startsWith(`committed ${id} `));
      const resumedAfterMs = Date.now() - killedAt;
      await until(async () => (await statusOf(id)) === 'complete');
      const effects = await effectsOf(id);
      assert.deepEqual(
        effects.map((e) => e.step),
        [...Array(steps).keys()],
        'every step exactly once, in order',
      );
      const firstByHeir = effects.findIndex((e) => e.instance === heir.name);
      assert.ok(firstByHeir >= 4 && effects.slice(0, firstByHeir).every((e) => e.instance === victim.name));
      assert.ok(effects.slice(firstByHeir).every((e) => e.instance === heir.name));
      assert.equal(first, `committed ${id} ${firstByHeir}`, 'resumed from the checkpoint, not from scratch');
      assert.deepEqual((await scheduling.getTask(em(), id))!.result, { next: steps, finishedBy: heir.name });
      // The killed run's lock (30 s lease) was taken over, not waited out.
      assert.equal((await takeovers()) - tookOver, 1, 'the heir took the lock over');
      process.stdout.write(
        `      (resumed on the other instance ${resumedAfterMs} ms after SIGKILL, its lock taken over; ${leaseLabel})\n`,
      );
    }

    it('kill -9 mid-task: another instance resumes it from its checkpoint and completes it', async () => {
      await killAndResume(undefined, 12, `lease ${CHILD_LEASE_MS} ms`);
    });

    it('kill -9 at the default settings: another instance resumes the task from its checkpoint', async () => {
      await killAndResume(0, 30, `default lease ${TASK_LEASE_MS} ms`);
    });

    it("a runner frozen past its lease cannot write when it wakes (stale runner's write rejected)", async () => {
      const a = await instance('a');
      const id = await scheduling.scheduleTask(em(), 'stepper', { params: { steps: 8, stepMs: 200 } });
      await a.waitFor((l) => l === `committed ${id} 2`);
      a.proc.kill('SIGSTOP'); // a long GC pause, between two steps
      const tookOver = await takeovers();
      const b = await instance('b');
      await until(async () => (await statusOf(id)) === 'complete');
      a.proc.kill('SIGCONT');
      await a.waitFor((l) => l === `lease-lost ${id}`);
      const effects = await effectsOf(id);
      assert.deepEqual(
        effects.map((e) => e.step),
        [...Array(8).keys()],
      );
      const firstByB = effects.findIndex((e) => e.instance === 'b');
      assert.ok(
        effects.slice(firstByB).every((e) => e.instance === 'b'),
        'nothing from the stale runner after the take-over',
      );
      assert.deepEqual((await scheduling.getTask(em(), id))!.result, { next: 8, finishedBy: 'b' });
      assert.ok(b.lines.includes(`committed ${id} 7`));
      assert.equal((await takeovers()) - tookOver, 1, "b took the frozen runner's lock over");
    });
  });
}
