/**
 * Ports of Synapse's lock tests (tests/handlers/test_worker_lock.py,
 * tests/storage/databases/main/test_lock.py) run against both lock implementations: in-process
 * and Redis (real Redis, private key prefix). Expiry, outage and multi-process tests are in
 * locks-redis.test.ts.
 */
import { strict as assert } from 'node:assert';
import { randomBytes } from 'node:crypto';
import Redis from 'ioredis';
import { createLogger } from '../../src/logger';
import { MatrixError } from '../../src/errors';
import { InProcessLockManager } from '../../src/infra/locks/in-process-lock-manager';
import { RedisLockManager } from '../../src/infra/locks/redis-lock-manager';
import type { LockHandle, LockManager } from '../../src/infra/locks/lock.types';
import { TEST_REDIS_URL } from '../support/stack';

const log = createLogger('silent');

/** A waiting acquisition whose settlement can be observed without sleeping. */
function track<T>(p: Promise<T>) {
  const t = { done: false, value: undefined as T | undefined, error: undefined as unknown, promise: p };
  p.then(
    (v) => Object.assign(t, { done: true, value: v }),
    (e) => Object.assign(t, { done: true, error: e }),
  );
  return t;
}

/** Lets pending I/O and timers of the event loop run once (not a wait for a condition). */
const tick = () => new Promise((r) => setImmediate(r));

export async function connectRedis(url = TEST_REDIS_URL): Promise<Redis> {
  const r = new Redis(url, { lazyConnect: false, maxRetriesPerRequest: 1, enableOfflineQueue: false, connectTimeout: 2000 });
  r.on('error', () => undefined);
  if (r.status !== 'ready') await new Promise((ok) => r.once('ready', ok));
  return r;
}

interface Impl {
  title: string;
  /** Two managers sharing the same locks (two instances; the same one for in-process). */
  make(): Promise<{ a: LockManager; b: LockManager; cleanup(): Promise<void> }>;
}

const impls: Impl[] = [
  {
    title: 'in-process',
    async make() {
      const m = new InProcessLockManager();
      return { a: m, b: m, cleanup: () => m.close() };
    },
  },
  {
    title: 'redis',
    async make() {
      const prefix = `sra-locktest-${randomBytes(4).toString('hex')}:`;
      const [ra, rb] = [await connectRedis(), await connectRedis()];
      // A poll interval of an hour: only published releases can wake a waiter in these tests.
      const a = new RedisLockManager([ra], { keyPrefix: prefix, log, waitPollMs: 3_600_000 });
      const b = new RedisLockManager([rb], { keyPrefix: prefix, log, waitPollMs: 3_600_000 });
      await Promise.all([a.whenSubscribed(), b.whenSubscribed()]);
      return {
        a,
        b,
        async cleanup() {
          await a.close();
          await b.close();
          ra.disconnect();
          rb.disconnect();
        },
      };
    },
  },
];

for (const impl of impls) {
  describe(`locks (${impl.title})`, () => {
    let a: LockManager;
    let b: LockManager;
    let cleanup: () => Promise<void>;

    beforeEach(async () => ({ a, b, cleanup } = await impl.make()));
    afterEach(async () => cleanup());

    describe('WorkerLockTestCase', () => {
      it('test_wait_for_lock_locally', async () => {
        const lock1 = await a.acquire('name', 'key');
        const lock2 = track(a.acquire('name', 'key'));
        await tick();
        assert.equal(lock2.done, false);
        await lock1.release();
        const h = await lock2.promise;
        await h.release();
      });

      it('test_wait_for_lock_worker (across instances)', async () => {
        const lock1 = await a.acquire('name', 'key');
        const lock2 = track(b.acquire('name', 'key'));
        await tick();
        assert.equal(lock2.done, false);
        await lock1.release();
        await (await lock2.promise).release();
      });

      it('test_lock_contention: 500 waiting locks are all acquired in turn, woken by releases', async () => {
        const got: number[] = [];
        await Promise.all(
          Array.from({ length: 500 }, async (_, i) => {
            const h = await (i % 2 ? a : b).acquire('test_lock', '');
            got.push(i);
            await h.release();
          }),
        );
        assert.equal(got.length, 500);
      });
    });

    describe('LockTestCase', () => {
      it('test_acquire_contention: at most one holder at a time', async () => {
        let current = 0;
        let max = 0;
        await Promise.all(
          [a, b, a].map(async (m) => {
            const h = await m.tryAcquire('name', 'key');
            if (!h) return;
            current += 1;
            max = Math.max(max, current);
            await tick();
            current -= 1;
            await h.release();
          }),
        );
        assert.equal(max, 1);
      });

      it('test_simple_lock', async () => {
        const lock = await a.tryAcquire('name', 'key');
        assert.ok(lock);
        assert.equal(await b.tryAcquire('name', 'key'), null);
        assert.equal(await a.tryAcquire('name', 'key'), null);
        assert.equal(await lock.isStillValid(), true);
        await lock.release();
        assert.equal(await lock.isStillValid(), false);
        const again = await b.tryAcquire('name', 'key');
        assert.ok(again);
        await again.release();
      });

      it('release is idempotent and fencing tokens increase', async () => {
        const l1 = (await a.tryAcquire('name', 'key'))!;
        await l1.release();
        await l1.release();
        const l2 = (await b.tryAcquire('name', 'key'))!;
        assert.ok(l2.fencingToken > l1.fencingToken);
        await l2.release();
      });

      it('exclusive and read/write locks on the same (name, key) are independent', async () => {
        const x = (await a.tryAcquire('name', 'key'))!;
        const w = await b.tryAcquireReadWrite('name', 'key', 'write');
        assert.ok(w);
        await Promise.all([x.release(), w.release()]);
      });

      it('acquire with a timeout rejects with 503 M_UNKNOWN and holds nothing', async () => {
        const held = await a.acquire('name', 'key');
        await assert.rejects(
          b.acquire('name', 'key', { timeoutMs: 20 }),
          (e: MatrixError) => e.httpStatus === 503 && e.errcode === 'M_UNKNOWN',
        );
        await held.release();
        await (await b.acquire('name', 'key')).release();
      });

      it('acquire rejects when its signal aborts', async () => {
        const held = await a.acquire('name', 'key');
        const ac = new AbortController();
        const waiting = track(b.acquire('name', 'key', { signal: ac.signal }));
        await tick();
        ac.abort(new Error('gave up'));
        await assert.rejects(waiting.promise, /gave up/);
        await held.release();
        await (await b.acquire('name', 'key')).release();
      });

      it('test_shutdown: close() releases held locks and aborts their signals', async () => {
        const l1 = (await a.tryAcquire('name', 'key1'))!;
        const l2 = (await a.tryAcquireReadWrite('name', 'key2', 'write'))!;
        await a.close();
        assert.equal(l1.signal.aborted, true);
        assert.equal(l2.signal.aborted, true);
        assert.equal(await l1.isStillValid(), false);
        if (b !== a) {
          const w = await b.tryAcquireReadWrite('name', 'key2', 'write');
          assert.ok(w, 'the other instance can take the lock at once');
          await w.release();
        }
      });
    });

    describe('ReadWriteLockTestCase', () => {
      it('test_acquire_write_contention: max one writer', async () => {
        let current = 0;
        let max = 0;
        await Promise.all(
          [a, b, a].map(async (m) => {
            const h = await m.acquireReadWrite('name', 'key', 'write');
            current += 1;
            max = Math.max(max, current);
            await tick();
            current -= 1;
            await h.release();
          }),
        );
        assert.equal(max, 1);
      });

      it('test_acquire_multiple_reads: three concurrent readers', async () => {
        const hs = await Promise.all([a, b, a].map((m) => m.tryAcquireReadWrite('name', 'key', 'read')));
        assert.ok(hs.every(Boolean));
        await Promise.all(hs.map((h) => h!.release()));
      });

      it('test_write_lock_acquired', async () => {
        const w = (await a.tryAcquireReadWrite('name', 'key', 'write'))!;
        assert.equal(await b.tryAcquireReadWrite('name', 'key', 'write'), null);
        assert.equal(await b.tryAcquireReadWrite('name', 'key', 'read'), null);
        assert.equal(await w.isStillValid(), true);
        await w.release();
        const w2 = (await b.tryAcquireReadWrite('name', 'key', 'write'))!;
        assert.ok(w2);
        await w2.release();
      });

      it('test_read_lock_acquired', async () => {
        const r1 = (await a.tryAcquireReadWrite('name', 'key', 'read'))!;
        assert.equal(await b.tryAcquireReadWrite('name', 'key', 'write'), null);
        const r2 = (await b.tryAcquireReadWrite('name', 'key', 'read'))!;
        assert.ok(r2);
        await r1.release();
        assert.equal(await b.tryAcquireReadWrite('name', 'key', 'write'), null);
        await r2.release();
        const w = (await b.tryAcquireReadWrite('name', 'key', 'write'))!;
        assert.ok(w);
        await w.release();
      });

      it('writer-preferring: once a writer waits, new readers queue behind it', async () => {
        const order: string[] = [];
        const r1 = await a.acquireReadWrite('name', 'key', 'read');
        const writer = track(b.acquireReadWrite('name', 'key', 'write').then((h) => (order.push('writer'), h)));
        await waitUntil(async () => (await a.tryAcquireReadWrite('name', 'key', 'read').then(releaseIfHeld)) === false);
        const reader2 = track(a.acquireReadWrite('name', 'key', 'read').then((h) => (order.push('reader2'), h)));
        await tick();
        assert.equal(writer.done, false);
        assert.equal(reader2.done, false);
        await r1.release();
        const w = await writer.promise;
        assert.equal(reader2.done, false);
        await w.release();
        await (await reader2.promise).release();
        assert.deepEqual(order, ['writer', 'reader2']);
      });

      it('test_acquire_multiple_locks: multi-locks are all-or-nothing', async () => {
        const multi = (await a.tryAcquireMulti(
          [
            { name: 'name1', key: 'key1' },
            { name: 'name2', key: 'key2' },
          ],
          'write',
        ))!;
        assert.ok(multi);
        assert.equal(await b.tryAcquireReadWrite('name1', 'key1', 'write'), null);
        assert.equal(await b.tryAcquireReadWrite('name2', 'key2', 'read'), null);
        assert.equal(
          await b.tryAcquireMulti(
            [
              { name: 'name1', key: 'key1' },
              { name: 'name3', key: 'key3' },
            ],
            'write',
          ),
          null,
        );
        const n3 = (await b.tryAcquireReadWrite('name3', 'key3', 'write'))!;
        assert.ok(n3, 'a failed multi-lock holds nothing');
        await n3.release();
        await multi.release();
        const n1 = (await b.tryAcquireReadWrite('name1', 'key1', 'write'))!;
        assert.ok(n1);
        await n1.release();
      });

      it('a waiting multi-lock holds no subset', async () => {
        const held = await a.acquireReadWrite('name2', 'k', 'write');
        const multi = track(
          b.acquireMulti(
            [
              { name: 'name1', key: 'k' },
              { name: 'name2', key: 'k' },
            ],
            'write',
          ),
        );
        await tick();
        const free = await a.tryAcquireReadWrite('name1', 'k', 'write');
        assert.ok(free, 'name1 stays free while the multi-lock waits');
        await free.release();
        await held.release();
        const h = await multi.promise;
        assert.equal(await a.tryAcquireReadWrite('name1', 'k', 'read'), null);
        await h.release();
      });

      it('withMulti releases even when the body throws', async () => {
        const keys = [
          { name: 'purge_pagination_lock', key: '!r:test' },
          { name: 'new_event_during_purge_lock', key: '!r:test' },
        ];
        await assert.rejects(
          a.withMulti(keys, 'write', async () => Promise.reject(new Error('boom'))),
          /boom/,
        );
        const h = (await b.tryAcquireMulti(keys, 'read'))!;
        assert.ok(h);
        await h.release();
      });
    });
  });
}

async function releaseIfHeld(h: LockHandle | null): Promise<boolean> {
  if (!h) return false;
  await h.release();
  return true;
}

/** Polls a condition in a bounded loop (no fixed sleeps). */
export async function waitUntil(cond: () => Promise<boolean> | boolean, maxTries = 10_000): Promise<void> {
  for (let i = 0; i < maxTries; i++) {
    if (await cond()) return;
    await new Promise((r) => setTimeout(r, 5));
  }
  throw new Error('condition never became true');
}
