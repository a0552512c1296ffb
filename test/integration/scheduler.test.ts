/**
 * Ports of Synapse's tests/util/test_task_scheduler.py (HEAD semantics: tasks due now are inserted
 * `scheduled`; cancel_task exists) with a manual clock instead of sleeps, plus the scheduler's own
 * guarantees within one process: fenced writes, hand-back on stop, unregistered actions, filters,
 * progress. Real PostgreSQL; several scheduler instances share one database.
 */
import { strict as assert } from 'node:assert';
import { createOrm, migrate, type Orm } from '../../src/infra/orm';
import { createLogger } from '../../src/logger';
import { MatrixError, unavailable } from '../../src/errors';
import { retryDelayMs } from '../../src/tasks/task-run';
import { ManualClock } from '../../src/tasks/clock';
import { PgTaskScheduler, type TaskSchedulerOptions } from '../../src/tasks/task-scheduler';
import { LeaseLostError, type ScheduledTask, type TaskAction } from '../../src/tasks/task.types';
import { createDatabase, dbUrl, dropDatabase } from '../support/stack';
import { until } from '../support/until';

const log = createLogger(process.env.TEST_LOG_LEVEL ?? 'silent');

/** Whether the back-off of retries 1..4 (1 s doubling, capped at 4 s) stays within [ceiling / 2, ceiling]. */
function retryDelays(): boolean[] {
  return [1, 2, 3, 4].map((n) => {
    const ceiling = Math.min(4_000, 1_000 * 2 ** (n - 1));
    const [low, high] = [retryDelayMs(n, 1_000, 4_000, () => 0), retryDelayMs(n, 1_000, 4_000, () => 0.999999)];
    return low === ceiling / 2 && high <= ceiling && high > ceiling * 0.99;
  });
}

/** A promise resolved from outside (a test-controlled gate for an action). */
function gate() {
  let open!: () => void;
  const opened = new Promise<void>((r) => (open = r));
  return { open, opened };
}

/** Resolves when the signal aborts, rejecting with its reason (an action waiting "forever"). */
const forever = (signal: AbortSignal) =>
  new Promise<never>((_, ko) => signal.addEventListener('abort', () => ko(signal.reason), { once: true }));

describe('TaskScheduler', () => {
  let orm: Orm;
  let dbName: string;
  const schedulers: PgTaskScheduler[] = [];

  before(async () => {
    dbName = await createDatabase();
    orm = await createOrm({ clientUrl: dbUrl(dbName), poolSize: 10 });
    await migrate(orm);
  });
  after(async () => {
    await orm.close(true);
    await dropDatabase(dbName);
  });
  afterEach(async () => {
    await Promise.all(schedulers.splice(0).map((s) => s.stop()));
    await orm.em.fork().getConnection().execute('TRUNCATE scheduled_tasks');
  });

  const em = () => orm.em.fork();

  function scheduler(actions: Record<string, TaskAction>, opts: Partial<TaskSchedulerOptions> = {}): PgTaskScheduler {
    const s = new PgTaskScheduler({
      orm,
      log,
      instanceName: `i${schedulers.length}`,
      connectionString: dbUrl(dbName),
      maxConcurrentTasks: 5,
      pollIntervalMs: 100,
      ...opts,
    });
    for (const [name, fn] of Object.entries(actions)) s.registerAction(name, fn);
    schedulers.push(s);
    return s;
  }

  async function statusOf(s: PgTaskScheduler, id: string): Promise<string | undefined> {
    return (await s.getTask(em(), id))?.status;
  }

  describe('TestTaskScheduler', () => {
    let clock: ManualClock;
    let sleeping: number;
    let s: PgTaskScheduler;

    beforeEach(async () => {
      clock = new ManualClock();
      sleeping = 0;
      s = scheduler(
        {
          _test_task: async (run) => ({ status: 'complete', result: run.task.params }),
          _sleeping_task: async (run) => {
            sleeping += 1;
            await clock.sleep(1000, run.signal);
            return { status: 'complete' };
          },
          _raising_task: async () => {
            throw new Error('raising');
          },
          _resumable_task: async (run) => {
            if (run.task.result?.in_progress) return { status: 'complete', result: { success: true } };
            await run.updateResult({ in_progress: true });
            return forever(run.signal);
          },
        },
        { clock },
      );
      await s.start();
    });

    it('test_schedule_task', async () => {
      const id = await s.scheduleTask(em(), '_test_task', { timestamp: clock.now() + 30_000, params: { val: 1 } });
      const t = (await s.getTask(em(), id))!;
      assert.equal(t.status, 'scheduled');
      assert.equal(t.result, null);
      clock.advance(60_000);
      await until(async () => (await statusOf(s, id)) === 'complete');
      assert.equal((await s.getTask(em(), id))!.result!.val, 1);
      clock.advance(7 * 24 * 3_600_000 + 1_000);
      await until(async () => (await s.getTask(em(), id)) === null);
    });

    it('test_schedule_lot_of_tasks: six tasks with a limit of five', async () => {
      const ids: string[] = [];
      for (let i = 0; i < 6; i++) ids.push(await s.scheduleTask(em(), '_sleeping_task'));
      await until(() => sleeping === 5);
      const statuses = async () => Promise.all(ids.map((id) => statusOf(s, id)));
      const count = (xs: (string | undefined)[], st: string) => xs.filter((x) => x === st).length;
      let st = await statuses();
      assert.deepEqual([count(st, 'active'), count(st, 'scheduled')], [5, 1]);
      clock.advance(1_000);
      await until(() => sleeping === 6);
      st = await statuses();
      assert.deepEqual([count(st, 'complete'), count(st, 'active')], [5, 1]);
      clock.advance(1_000);
      await until(async () => count(await statuses(), 'complete') === 6);
    });

    it('test_schedule_raising_task', async () => {
      const id = await s.scheduleTask(em(), '_raising_task');
      await until(async () => (await statusOf(s, id)) === 'failed');
      assert.equal((await s.getTask(em(), id))!.error, 'raising');
    });

    it('test_schedule_resumable_task: resumed from its checkpoint after a restart', async () => {
      const id = await s.scheduleTask(em(), '_resumable_task');
      await until(async () => (await s.getTask(em(), id))?.result?.in_progress === true);
      assert.equal(await statusOf(s, id), 'active');
      await s.stop(); // the run is aborted and the task handed back, still active
      assert.equal(await statusOf(s, id), 'active');
      const restarted = scheduler(
        {
          _resumable_task: async (run) =>
            run.task.result?.in_progress ? { status: 'complete', result: { success: true } } : { status: 'failed', error: 'not resumed' },
        },
        { clock },
      );
      await restarted.start();
      await until(async () => (await statusOf(restarted, id)) === 'complete');
      assert.deepEqual((await restarted.getTask(em(), id))!.result, { success: true });
    });
  });

  describe('cancellation', () => {
    let clock: ManualClock;
    let counter: number;
    let asleep: boolean;
    let s: PgTaskScheduler;
    const nap = async (signal: AbortSignal) => {
      asleep = true;
      try {
        await clock.sleep(1_000, signal);
      } finally {
        asleep = false;
      }
    };

    beforeEach(async () => {
      clock = new ManualClock();
      counter = 0;
      asleep = false;
      s = scheduler(
        {
          running_loop: async (run) => {
            for (;;) {
              await nap(run.signal);
              counter += 1;
              await run.updateResult({ counter });
            }
          },
          staged: async (run) => {
            await nap(run.signal);
            counter += 1;
            return { status: 'active', result: { counter } };
          },
        },
        { clock },
      );
      await s.start();
    });

    for (const action of ['running_loop', 'staged']) {
      it(`test_cancel_${action === 'staged' ? 'active' : 'running'}_task`, async () => {
        const id = await s.scheduleTask(em(), action);
        for (let i = 1; i <= 3; i++) {
          await until(() => asleep && counter === i - 1);
          clock.advance(1_000);
          await until(() => counter === i);
        }
        const cancelled = await s.cancelTask(em(), id);
        assert.equal(cancelled!.status, 'cancelled');
        await until(() => !s.runningTaskIds().includes(id));
        clock.advance(1_000);
        clock.advance(100_000);
        assert.equal(counter, 3);
        assert.equal(await statusOf(s, id), 'cancelled');
        assert.equal((await s.cancelTask(em(), id))!.status, 'cancelled', 'no-op for a terminal task');
        assert.equal(await s.cancelTask(em(), 'nosuchtask'), null);
      });
    }

    it('cancels a scheduled task before it runs', async () => {
      const id = await s.scheduleTask(em(), 'running_loop', { timestamp: clock.now() + 60_000 });
      assert.equal((await s.cancelTask(em(), id))!.status, 'cancelled');
      clock.advance(120_000);
      assert.equal(await statusOf(s, id), 'cancelled');
      assert.deepEqual(s.runningTaskIds(), []);
    });
  });

  describe('API', () => {
    let clock: ManualClock;
    let s: PgTaskScheduler;
    beforeEach(async () => {
      clock = new ManualClock();
      s = scheduler({ a1: async () => ({ status: 'complete' }), a2: async () => ({ status: 'complete' }) }, { clock });
    });

    it('getTasks filters as Synapse does (a list means IN, even empty), ordered by timestamp', async () => {
      const t0 = clock.now();
      const x = await s.scheduleTask(em(), 'a1', { resourceId: '!r:test', timestamp: t0 + 3_000 });
      const y = await s.scheduleTask(em(), 'a2', { resourceId: '!r:test', timestamp: t0 + 1_000 });
      const z = await s.scheduleTask(em(), 'a1', { resourceId: '!other:test', timestamp: t0 + 2_000 });
      const ids = async (f: Parameters<PgTaskScheduler['getTasks']>[1]) => (await s.getTasks(em(), f)).map((t) => t.id);
      assert.deepEqual(await ids({}), [y, z, x]);
      assert.deepEqual(await ids({ actions: ['a1'] }), [z, x]);
      assert.deepEqual(await ids({ actions: [] }), []);
      assert.deepEqual(await ids({ resourceId: '!r:test' }), [y, x]);
      assert.deepEqual(await ids({ resourceId: '' }), [y, z, x]);
      assert.deepEqual(await ids({ statuses: ['scheduled'], maxTimestamp: t0 + 2_000 }), [y, z]);
      assert.deepEqual(await ids({ statuses: ['complete'] }), []);
      assert.deepEqual(await ids({ limit: 2 }), [y, z]);
    });

    it('scheduleTask refuses unregistered actions; a past timestamp means now', async () => {
      await assert.rejects(s.scheduleTask(em(), 'nope'), /No function associated with action nope/);
      const id = await s.scheduleTask(em(), 'a1', { timestamp: 5 });
      assert.equal((await s.getTask(em(), id))!.timestamp, clock.now());
    });

    it('updateTask refreshes the timestamp, writes only given fields, refuses terminal statuses', async () => {
      const id = await s.scheduleTask(em(), 'a1', { timestamp: clock.now() + 10_000 });
      clock.advance(5);
      assert.equal(await s.updateTask(em(), id, { result: { step: 1 } }), true);
      let t = (await s.getTask(em(), id))!;
      assert.deepEqual([t.timestamp, t.result, t.status], [clock.now(), { step: 1 }, 'scheduled']);
      await s.updateTask(em(), id, { error: 'e' });
      t = (await s.getTask(em(), id))!;
      assert.deepEqual([t.result, t.error], [{ step: 1 }, 'e']);
      await assert.rejects(s.updateTask(em(), id, { status: 'complete' }), (e: MatrixError) => e.httpStatus === 400);
      assert.equal(await s.updateTask(em(), 'missing', {}), false);
    });

    it('deleteTask: 404 when missing, refused while active, deletes otherwise', async () => {
      const g = gate();
      s.registerAction('blocking', async () => {
        await g.opened;
        return { status: 'complete' };
      });
      await s.start();
      const id = await s.scheduleTask(em(), 'blocking');
      await until(async () => (await statusOf(s, id)) === 'active');
      await assert.rejects(s.deleteTask(em(), id), (e: MatrixError) => e.httpStatus === 400);
      await assert.rejects(s.deleteTask(em(), 'missing'), (e: MatrixError) => e.httpStatus === 404 && e.errcode === 'M_NOT_FOUND');
      g.open();
      await until(async () => (await statusOf(s, id)) === 'complete');
      await s.deleteTask(em(), id);
      assert.equal(await s.getTask(em(), id), null);
    });

    it('a thrown MatrixError is recorded as "<code>: <message>" and keeps the last checkpoint', async () => {
      s.registerAction('mx', async (run) => {
        await run.updateResult({ done: 3 });
        throw new MatrixError(400, 'Users are still joined to this room');
      });
      await s.start();
      const id = await s.scheduleTask(em(), 'mx');
      await until(async () => (await statusOf(s, id)) === 'failed');
      const t = (await s.getTask(em(), id))!;
      assert.deepEqual([t.error, t.result], ['400: Users are still joined to this room', { done: 3 }]);
    });

    it('a transient error is retried with back-off, showing progress.retry, until the action succeeds', async () => {
      const conflict = Object.assign(new Error('could not serialize access due to concurrent update'), { code: '40001' });
      const failures: Error[] = [unavailable('Lock service unavailable'), unavailable('Lock service unavailable'), conflict];
      const seen: unknown[] = [];
      const r = scheduler(
        {
          flaky: async (run) => {
            seen.push((run.task.progress?.retry as { retries?: number } | undefined)?.retries);
            if (seen.length === 1) await run.updateResult({ checkpoint: 1 });
            const err = failures.shift();
            if (err) throw err;
            return { status: 'complete' };
          },
        },
        { retryBaseMs: 20, retryMaxMs: 80 },
      );
      await r.start();
      const id = await r.scheduleTask(em(), 'flaky');
      await until(async () => (await statusOf(r, id)) === 'complete');
      // Each run saw the retries before it; the checkpoint of the first run was kept throughout.
      assert.deepEqual(seen, [undefined, 1, 2, 3]);
      const t = (await r.getTask(em(), id))!;
      assert.deepEqual([t.error, t.result], [null, { checkpoint: 1 }]);
      assert.deepEqual(retryDelays(), [true, true, true, true]);
    });

    it('a task waiting to retry shows it in progress.retry, and a permanent error still fails it', async () => {
      const r = scheduler(
        { down: async () => Promise.reject(unavailable('Lock service unavailable')), broken: async () => Promise.reject(new Error('bug')) },
        { retryBaseMs: 60_000, retryMaxMs: 60_000 },
      );
      await r.start();
      const down = await r.scheduleTask(em(), 'down');
      const broken = await r.scheduleTask(em(), 'broken');
      await until(async () => (await r.getTask(em(), down))?.progress?.retry !== undefined);
      const t = (await r.getTask(em(), down))!;
      const retry = t.progress!.retry as { retries: number; next_retry_at: number; last_error: string };
      assert.equal(t.status, 'active');
      assert.deepEqual([retry.retries, retry.last_error], [1, '503: Lock service unavailable']);
      assert.ok(retry.next_retry_at >= Date.now() + 20_000, 'waits at least half of the 60 s first back-off');
      await until(async () => (await statusOf(r, broken)) === 'failed');
      assert.equal((await r.getTask(em(), broken))!.error, 'bug');
    });

    it('progress is visible through getTask and watchTask while the task runs', async () => {
      const step = gate();
      s.registerAction('progressing', async (run) => {
        await run.reportProgress({ done: 1, total: 2 });
        await step.opened;
        await run.reportProgress({ done: 2, total: 2 });
        return { status: 'complete', result: { purged: 2 } };
      });
      await s.start();
      const id = await s.scheduleTask(em(), 'progressing');
      await until(async () => (await s.getTask(em(), id))?.progress?.done === 1);
      const seen: ScheduledTask[] = [];
      const watching = (async () => {
        for await (const t of s.watchTask(em(), id, new AbortController().signal)) {
          seen.push(t);
          if (seen.length === 1) step.open();
        }
      })();
      await watching;
      assert.deepEqual(seen[0].progress, { done: 1, total: 2 });
      const last = seen[seen.length - 1];
      assert.deepEqual([last.status, last.result, last.progress], ['complete', { purged: 2 }, { done: 2, total: 2 }]);
    });
  });

  describe('prefetch queue (tasks claimed ahead of a free slot)', () => {
    /**
     * An instance with one slot and a queue of two: a quick task turns prefetching on, then a
     * blocking task takes the slot and two more tasks are claimed into the queue.
     */
    async function withQueue(opts: Partial<TaskSchedulerOptions> = {}) {
      const g = gate();
      const ran: string[] = [];
      const a = scheduler(
        {
          quick: async (run) => (ran.push(run.task.id), { status: 'complete', result: { by: 'a' } }),
          blocking: async () => (await g.opened, { status: 'complete' }),
        },
        { maxConcurrentTasks: 1, prefetch: 2, prefetchHoldMs: 60_000, ...opts },
      );
      await a.start();
      const warm = await a.scheduleTask(em(), 'quick');
      await until(async () => (await statusOf(a, warm)) === 'complete');
      const blocker = await a.scheduleTask(em(), 'blocking');
      await until(() => a.runningTaskIds().includes(blocker));
      const queued = [await a.scheduleTask(em(), 'quick'), await a.scheduleTask(em(), 'quick')];
      await until(() => a.queuedTaskIds().length === 2);
      assert.deepEqual(a.queuedTaskIds().sort(), [...queued].sort());
      ran.splice(0);
      return { a, g, ran, blocker, queued };
    }
    const leaseOf = async (id: string) =>
      (
        await em()
          .getConnection()
          .execute<{ lease_owner: string | null; lease_id: string | null; lease_expires_at: string | null; status: string }[]>(
            'SELECT status, lease_owner, lease_id, lease_expires_at FROM scheduled_tasks WHERE id = ?',
            [id],
          )
      )[0];

    it('queued tasks are leased by the instance, and start when a slot frees up', async () => {
      const { a, g, ran, queued } = await withQueue();
      for (const id of queued) assert.deepEqual([(await leaseOf(id)).status, (await leaseOf(id)).lease_owner], ['active', 'i0']);
      assert.deepEqual(ran, [], 'not started while the slot is busy');
      g.open();
      await until(async () => (await Promise.all(queued.map((id) => statusOf(a, id)))).every((st) => st === 'complete'));
      assert.deepEqual(ran, queued, 'in claim order');
    });

    it('a cancelled queued task never starts', async () => {
      const { a, g, ran, queued } = await withQueue();
      assert.equal((await a.cancelTask(em(), queued[0]))!.status, 'cancelled');
      assert.deepEqual(a.queuedTaskIds(), [queued[1]]);
      g.open();
      await until(async () => (await statusOf(a, queued[1])) === 'complete');
      assert.deepEqual(ran, [queued[1]]);
      assert.equal(await statusOf(a, queued[0]), 'cancelled');
    });

    it('queued tasks are cancelled through the notification when cancelled by another instance', async () => {
      const { a, g, ran, queued } = await withQueue();
      const other = scheduler({ quick: async () => ({ status: 'complete' }) });
      await other.cancelTask(em(), queued[0]);
      await until(() => a.queuedTaskIds().length === 1);
      g.open();
      await until(async () => (await statusOf(a, queued[1])) === 'complete');
      assert.deepEqual(ran, [queued[1]]);
    });

    it('stop() hands queued tasks back and another instance runs them at once', async () => {
      const { a, g, queued } = await withQueue({ leaseMs: 60_000 });
      const b = scheduler(
        { quick: async () => ({ status: 'complete', result: { by: 'b' } }), blocking: async () => ({ status: 'complete' }) },
        { leaseMs: 60_000 },
      );
      await b.start();
      const stopping = a.stop();
      g.open();
      await stopping;
      // The lease lasts a minute: only the hand-back lets b run them now.
      await until(async () => (await Promise.all(queued.map((id) => statusOf(b, id)))).every((st) => st === 'complete'));
      for (const id of queued) assert.deepEqual((await b.getTask(em(), id))!.result, { by: 'b' });
    });

    it('a queued task that waits too long for a slot is handed back to an instance with a free one', async () => {
      const { a, g, queued } = await withQueue({ leaseMs: 60_000, prefetchHoldMs: 100 });
      const b = scheduler({ quick: async () => ({ status: 'complete', result: { by: 'b' } }) }, { leaseMs: 60_000 });
      await b.start();
      await until(async () => (await Promise.all(queued.map((id) => statusOf(b, id)))).every((st) => st === 'complete'));
      for (const id of queued) assert.deepEqual((await b.getTask(em(), id))!.result, { by: 'b' });
      assert.deepEqual(a.queuedTaskIds(), []);
      g.open();
    });

    it("queued tasks' leases are renewed like running ones", async () => {
      const { a, g, ran, queued } = await withQueue({ leaseMs: 300, leaseRenewMs: 50 });
      const first = await leaseOf(queued[0]);
      const b = scheduler({ quick: async () => ({ status: 'complete', result: { by: 'b' } }) }, { leaseMs: 300 });
      await b.start();
      // Renewed past the end of the lease it was claimed with: another instance could not take it.
      await until(async () => Number((await leaseOf(queued[0])).lease_expires_at) > Number(first.lease_expires_at) + 600);
      assert.equal((await leaseOf(queued[0])).lease_id, first.lease_id);
      g.open();
      await until(async () => (await Promise.all(queued.map((id) => statusOf(a, id)))).every((st) => st === 'complete'));
      assert.deepEqual(ran, queued);
      for (const id of queued) assert.deepEqual((await a.getTask(em(), id))!.result, { by: 'a' });
    });
  });

  describe('several instances on one database', () => {
    it('an instance never claims tasks of actions it has not registered', async () => {
      const a = scheduler({ only_a: async () => ({ status: 'complete' }) });
      const b = scheduler({ only_b: async () => ({ status: 'complete' }) });
      await b.start();
      const id = await a.scheduleTask(em(), 'only_a');
      const marker = await b.scheduleTask(em(), 'only_b', {});
      await until(async () => (await statusOf(b, marker)) === 'complete'); // b has run passes since
      b.kick();
      await until(async () => (await statusOf(b, marker)) === 'complete');
      assert.equal(await statusOf(a, id), 'scheduled');
      await a.start();
      await until(async () => (await statusOf(a, id)) === 'complete');
    });

    it('stop() hands a running task back and another instance resumes it from its checkpoint at once', async () => {
      const resumedFrom: unknown[] = [];
      const action: TaskAction = async (run) => {
        resumedFrom.push(run.task.result);
        if (run.task.result?.phase === 1) return { status: 'complete', result: { phase: 2 } };
        await run.updateResult({ phase: 1 });
        return forever(run.signal);
      };
      const a = scheduler({ resumable: action }, { leaseMs: 60_000 });
      const b = scheduler({ resumable: action }, { leaseMs: 60_000 });
      await a.start();
      const id = await a.scheduleTask(em(), 'resumable');
      await until(() => a.runningTaskIds().includes(id));
      await until(async () => (await a.getTask(em(), id))?.result?.phase === 1);
      await b.start();
      await a.stop();
      // The lease lasts a minute: only the hand-back lets b resume it now.
      await until(async () => (await statusOf(b, id)) === 'complete');
      assert.deepEqual(resumedFrom, [null, { phase: 1 }]);
    });

    it("a stale runner's writes are rejected once its lease was taken over", async () => {
      const resume = gate();
      let staleError: unknown = null;
      const a = scheduler(
        {
          slow: async (run) => {
            await run.updateResult({ by: 'a' });
            await resume.opened; // a long pause: renewals are off, the lease expires meanwhile
            try {
              await run.fenced((tx) =>
                tx
                  .getConnection()
                  .execute(
                    `UPDATE scheduled_tasks SET error = 'stale write' WHERE id = '${run.task.id}'`,
                    [],
                    'run',
                    tx.getTransactionContext(),
                  ),
              );
            } catch (err) {
              staleError = err;
            }
            await run.updateResult({ by: 'a, again' }).catch(() => undefined);
            return { status: 'failed', error: 'stale outcome' };
          },
        },
        { leaseMs: 300, leaseRenewMs: 3_600_000 },
      );
      const b = scheduler(
        { slow: async (run) => ({ status: 'complete', result: { by: 'b', resumedFrom: run.task.result } }) },
        { leaseMs: 300 },
      );
      await a.start();
      const id = await a.scheduleTask(em(), 'slow');
      await until(async () => (await a.getTask(em(), id))?.result?.by === 'a');
      await b.start();
      await until(async () => (await statusOf(b, id)) === 'complete');
      resume.open();
      await until(() => !a.runningTaskIds().includes(id));
      assert.ok(staleError instanceof LeaseLostError);
      const t = (await b.getTask(em(), id))!;
      assert.deepEqual([t.status, t.result, t.error], ['complete', { by: 'b', resumedFrom: { by: 'a' } }, null]);
    });

    it('a run whose lease is taken over is told through its signal', async () => {
      let aborted: unknown = null;
      const a = scheduler(
        {
          long: async (run) => {
            await forever(run.signal).catch((e) => (aborted = e));
            return { status: 'complete' };
          },
        },
        { leaseMs: 300, leaseRenewMs: 50 },
      );
      await a.start();
      const id = await a.scheduleTask(em(), 'long');
      await until(() => a.runningTaskIds().includes(id));
      // Another claimer takes the task over (as after a lease expiry seen elsewhere).
      await orm.em
        .fork()
        .getConnection()
        .execute(`UPDATE scheduled_tasks SET lease_id = nextval('scheduled_tasks_lease_seq') WHERE id = ?`, [id]);
      await until(() => aborted !== null);
      assert.ok(aborted instanceof LeaseLostError);
    });
  });
});
