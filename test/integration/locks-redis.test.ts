/**
 * Redis lock behaviour that needs real time or real failures: lease maintenance and expiry
 * (test_maintain_lock, test_timeout_lock, test_drop with a holder process killed by SIGKILL),
 * Redis outages (fail fast with 503, resume when Redis returns) and quorums of several nodes.
 * Leases are shortened so expiry is observable; every wait polls a condition.
 *
 * When run as a child process with LOCK_HOLDER_PREFIX set, this file is the lock holder that gets
 * killed: it takes a write lock, prints "held" and waits to be killed.
 */
import { strict as assert } from 'node:assert';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import Redis from 'ioredis';
import { createLogger } from '../../src/logger';
import { MatrixError } from '../../src/errors';
import { RedisLockManager } from '../../src/infra/locks/redis-lock-manager';
import type { RedisLockHandle } from '../../src/infra/locks/redis-lock-handle';
import { runAsLockOwner } from '../../src/infra/locks/lock-owner';
import { TEST_REDIS_URL } from '../support/stack';
import { until } from '../support/until';
import { startRedisServer, type RedisServer } from '../support/redis-server';

const log = createLogger('silent');
const SHORT_TTL_MS = 400;

async function connectRedis(url: string): Promise<Redis> {
  const r = new Redis(url, {
    lazyConnect: false,
    maxRetriesPerRequest: 1,
    enableOfflineQueue: false,
    connectTimeout: 2000,
    retryStrategy: () => 50,
  });
  r.on('error', () => undefined);
  await until(() => r.status === 'ready');
  return r;
}

const is503 = (e: unknown) => e instanceof MatrixError && e.httpStatus === 503 && e.errcode === 'M_UNKNOWN';

if (process.env.LOCK_HOLDER_PREFIX) {
  void (async () => {
    const node = await connectRedis(TEST_REDIS_URL);
    const m = new RedisLockManager([node], { keyPrefix: process.env.LOCK_HOLDER_PREFIX!, log, ttlMs: SHORT_TTL_MS });
    await m.acquireReadWrite('name', 'key', 'write');
    process.stdout.write('held\n');
    setInterval(() => undefined, 1_000);
  })();
} else {
  describe('locks (redis): leases, failures, quorums', () => {
    const cleanups: (() => Promise<unknown> | void)[] = [];
    afterEach(async () => {
      while (cleanups.length) await cleanups.pop()!();
    });

    async function manager(nodes: Redis[], prefix: string, ttlMs = SHORT_TTL_MS, waitPollMs = 100): Promise<RedisLockManager> {
      const m = new RedisLockManager(nodes, { keyPrefix: prefix, log, ttlMs, waitPollMs });
      cleanups.push(() => m.close());
      return m;
    }
    async function node(url = TEST_REDIS_URL): Promise<Redis> {
      const r = await connectRedis(url);
      cleanups.push(() => r.disconnect());
      return r;
    }
    const prefix = () => `sra-locktest-${randomBytes(4).toString('hex')}:`;

    it('test_maintain_lock: a renewed lease outlives its TTL', async () => {
      const p = prefix();
      const a = await manager([await node()], p);
      const b = await manager([await node()], p);
      const held = (await a.tryAcquireReadWrite('name', 'key', 'write')) as RedisLockHandle;
      await until(() => held.extensions >= 4); // > 1 TTL has passed
      assert.equal(await b.tryAcquireReadWrite('name', 'key', 'write'), null);
      assert.equal(await held.isStillValid(), true);
      assert.equal(held.signal.aborted, false);
      await held.release();
    });

    it('every held lock is extended, whenever it was taken (one timer for all of them)', async () => {
      const p = prefix();
      const a = await manager([await node()], p);
      const first = (await a.tryAcquire('name', 'one')) as RedisLockHandle;
      await until(() => first.extensions >= 1);
      const second = (await a.tryAcquireReadWrite('name', 'two', 'read')) as RedisLockHandle;
      const short = (await a.tryAcquire('name', 'released-early'))!;
      await short.release();
      await until(() => second.extensions >= 3);
      assert.ok(first.extensions >= 3);
      assert.deepEqual(
        [await first.isStillValid(), await second.isStillValid(), first.signal.aborted, second.signal.aborted],
        [true, true, false, false],
      );
      await Promise.all([first.release(), second.release()]);
    });

    it('test_timeout_lock: a holder cut off from Redis is told (signal) and the lease expires for others', async () => {
      const p = prefix();
      const holderNode = await node();
      const a = await manager([holderNode], p);
      const b = await manager([await node()], p);
      const held = (await a.tryAcquire('name', 'key'))!;
      holderNode.disconnect(); // renewals now fail
      await until(() => held.signal.aborted);
      assert.ok(is503(held.signal.reason));
      await until(async () => {
        const h = await b.tryAcquire('name', 'key');
        if (h) await h.release();
        return h !== null;
      });
      assert.equal(await held.isStillValid(), false);
      await held.release(); // idempotent and harmless without Redis
    });

    it('test_drop: a holder killed with SIGKILL blocks a waiter only until its lease expires', async () => {
      const p = prefix();
      const child = spawn(process.execPath, ['--import', 'tsx', __filename], {
        env: { ...process.env, LOCK_HOLDER_PREFIX: p },
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      cleanups.push(() => void child.kill('SIGKILL'));
      await new Promise<void>((ok, ko) => {
        child.stdout!.on('data', (d: Buffer) => d.toString().includes('held') && ok());
        child.once('exit', (code) => ko(new Error(`holder exited early (${code})`)));
      });
      const b = await manager([await node()], p);
      assert.equal(await b.tryAcquireReadWrite('name', 'key', 'read'), null);
      child.kill('SIGKILL');
      const h = await b.acquireReadWrite('name', 'key', 'write');
      await h.release();
    });

    it("a later lease of the same task takes over the task's locks at once; nobody else can", async () => {
      const p = prefix();
      const nodeA = await node();
      const a = await manager([nodeA], p, 30_000);
      const b = await manager([await node()], p, 30_000);
      const c = await manager([await node()], p, 30_000);
      const first = { taskId: 'TaskTaskTaskTask', leaseId: 7 };
      // The runner of lease 7 holds the purge's write lock and an event read lock, then stops
      // (its node is cut, as by kill -9: no release, the 30 s leases stay in Redis).
      const write = (await runAsLockOwner(first, () =>
        a.tryAcquireMulti(
          [
            { name: 'purge', key: '!r' },
            { name: 'event', key: '!r' },
          ],
          'write',
        ),
      ))!;
      const read = (await runAsLockOwner(first, () => a.tryAcquireReadWrite('event', '!s', 'read')))!;
      assert.ok(write && read);
      nodeA.disconnect();
      const takeovers = async () => Number((await c['nodes'][0].get(c.takeoversKey)) ?? 0);
      // Not for another task, an earlier lease, the same lease, or a caller without a task.
      for (const owner of [{ taskId: 'OtherTaskOtherTa', leaseId: 8 }, { taskId: first.taskId, leaseId: 6 }, first]) {
        assert.equal(
          await runAsLockOwner(owner, () =>
            b.tryAcquireMulti(
              [
                { name: 'purge', key: '!r' },
                { name: 'event', key: '!r' },
              ],
              'write',
            ),
          ),
          null,
          JSON.stringify(owner),
        );
      }
      assert.equal(
        await b.tryAcquireMulti(
          [
            { name: 'purge', key: '!r' },
            { name: 'event', key: '!r' },
          ],
          'write',
        ),
        null,
      );
      assert.equal(await b.tryAcquireReadWrite('event', '!s', 'write'), null);
      assert.equal(await takeovers(), 0);
      // Lease 8 of the same task gets both at once, long before the 30 s leases could run out.
      const next = { taskId: first.taskId, leaseId: 8 };
      const w2 = await runAsLockOwner(next, () =>
        b.tryAcquireMulti(
          [
            { name: 'purge', key: '!r' },
            { name: 'event', key: '!r' },
          ],
          'write',
        ),
      );
      const r2 = await runAsLockOwner(next, () => b.tryAcquireReadWrite('event', '!s', 'write'));
      assert.ok(w2 && r2);
      assert.equal(await takeovers(), 3);
      // The new holder holds them like any other.
      assert.equal(await c.tryAcquireReadWrite('event', '!s', 'read'), null);
      await Promise.all([w2.release(), r2.release()]);
      const again = await c.tryAcquireReadWrite('event', '!s', 'read');
      assert.ok(again);
      await again.release();
    });

    describe('with private Redis servers', () => {
      async function redisServer(port?: number): Promise<RedisServer> {
        const server = await startRedisServer(port);
        cleanups.push(() => server.kill());
        return server;
      }

      it('fails fast with 503 M_UNKNOWN while Redis is down, holds nothing, and resumes when it returns', async () => {
        const server = await redisServer();
        const n = await node(server.url);
        const m = await manager([n], prefix(), 2_000);
        const held = await m.acquireReadWrite('name', 'key', 'write');
        await server.kill();
        await until(() => n.status !== 'ready');
        await assert.rejects(m.acquireReadWrite('name', 'other', 'write'), is503);
        await assert.rejects(
          m.acquireMulti(
            [
              { name: 'a', key: 'k' },
              { name: 'b', key: 'k' },
            ],
            'write',
          ),
          is503,
        );
        assert.equal(await m.tryAcquireReadWrite('name', 'other', 'read').catch((e) => (is503(e) ? 'unavailable' : e)), 'unavailable');
        assert.equal(m.heldCount(), 1, 'only the lock held before the outage');
        await until(() => held.signal.aborted); // its lease could not be extended
        await held.release();
        await redisServer(server.port);
        await until(() => n.status === 'ready');
        const again = await m.acquireReadWrite('name', 'key', 'write');
        assert.ok(again.fencingToken > 0);
        await again.release();
        assert.equal(m.heldCount(), 0);
      });

      it('a node that stops answering (SIGSTOP) counts as down once its deadline passes', async () => {
        const servers = [await redisServer(), await redisServer(), await redisServer()];
        const nodes = await Promise.all(servers.map((s) => node(s.url)));
        const m = await manager(nodes, prefix(), 2_000);
        cleanups.push(() => servers.forEach((s) => s.child.kill('SIGCONT')));
        servers[0].child.kill('SIGSTOP'); // connected, but silent
        const h = await m.acquireReadWrite('name', 'key', 'write');
        assert.ok(await h.isStillValid());
        await h.release();
        servers[1].child.kill('SIGSTOP');
        await assert.rejects(m.acquireReadWrite('name', 'key', 'write'), is503);
        assert.equal(m.heldCount(), 0);
      });

      it('works with a majority of a 3-node quorum and refuses with 503 below it', async () => {
        const servers = [await redisServer(), await redisServer(), await redisServer()];
        const nodes = await Promise.all(servers.map((s) => node(s.url)));
        const p = prefix();
        const a = await manager(nodes, p, 2_000);
        const b = await manager(await Promise.all(servers.map((s) => node(s.url))), p, 2_000);
        await servers[0].kill();
        const h = await a.acquireReadWrite('name', 'key', 'write');
        assert.equal(await b.tryAcquireReadWrite('name', 'key', 'read'), null);
        await h.release();
        const h2 = (await b.tryAcquireReadWrite('name', 'key', 'read'))!;
        assert.ok(h2);
        await h2.release();
        await servers[1].kill();
        await assert.rejects(a.acquireReadWrite('name', 'key', 'write'), is503);
      });
    });
  });
}
