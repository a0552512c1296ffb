/**
 * Locks: uncontended acquire+release per second and contended hand-off latency (release on one
 * instance → acquisition on another), for the Redis lock manager and the in-process one, beside
 * baselines measured in the same run: a bare `SET NX PX` + compare-and-delete loop on the same
 * Redis, and the redlock 5.0.0-beta.2 library. The Redis CPU column is the server's own time
 * (INFO commandstats, every command) per sequential acquire+release; the Redis server is shared,
 * so anything else using it meanwhile shows up there too.
 * Targets: ≥ 5,000 uncontended acquire+release/s; contended hand-off p50 ≤ 5 ms.
 */
import { randomBytes } from 'node:crypto';
import Redis from 'ioredis';
import Redlock from 'redlock';
import { createLogger } from '../src/logger';
import { InProcessLockManager } from '../src/infra/locks/in-process-lock-manager';
import { RedisLockManager } from '../src/infra/locks/redis-lock-manager';
import type { LockManager } from '../src/infra/locks/lock.types';
import { TEST_REDIS_URL } from '../test/support/stack';
import { fmt, measure, options, stats, table, type LatencyStats } from './support';

const RELEASE_LUA = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) else return 0 end`;

async function connect(): Promise<Redis> {
  const r = new Redis(TEST_REDIS_URL, { maxRetriesPerRequest: 1, enableOfflineQueue: false });
  if (r.status !== 'ready') await new Promise((ok) => r.once('ready', ok));
  return r;
}

/** Total microseconds the Redis server spent in commands so far (INFO commandstats). */
async function redisUsec(r: Redis): Promise<number> {
  const info = await r.info('commandstats');
  return [...info.matchAll(/,usec=(\d+),/g)].reduce((sum, m) => sum + Number(m[1]), 0);
}

/** One manager acquires and releases (name, key_i) in a loop; `concurrency` loops run at once. */
function uncontended(m: LockManager, n: number, concurrency: number): Promise<LatencyStats> {
  return measure(n, concurrency, async (i) => {
    const h = await m.acquireReadWrite('bench', `k${i % concurrency}`, 'write');
    await h.release();
  });
}

/** Two instances pass one lock back and forth; each sample is release start → the other's acquisition. */
async function handOff(a: LockManager, b: LockManager, n: number): Promise<LatencyStats> {
  const samples: number[] = [];
  let holder = await a.acquire('bench-handoff', 'k');
  const t0 = Date.now();
  for (let i = 0; i < n; i++) {
    const next = i % 2 === 0 ? b : a;
    let releasedAt = 0n;
    const waiting = next.acquire('bench-handoff', 'k').then((h) => ((samples[i] = Number(process.hrtime.bigint() - releasedAt)), h));
    // Let the waiter reach its wait (it fails its first attempt) before releasing.
    await new Promise((r) => setTimeout(r, 2));
    releasedAt = process.hrtime.bigint();
    await holder.release();
    holder = await waiting;
  }
  await holder.release();
  return stats(samples, Date.now() - t0);
}

async function bareSetNx(r: Redis, n: number, concurrency: number): Promise<LatencyStats> {
  return measure(n, concurrency, async (i) => {
    const key = `bench-bare:${i % concurrency}`;
    const token = randomBytes(8).toString('hex');
    if ((await r.set(key, token, 'PX', 30_000, 'NX')) !== 'OK') throw new Error('bare lock taken');
    await r.eval(RELEASE_LUA, 1, key, token);
  });
}

async function redlockLoop(r: Redis, n: number, concurrency: number): Promise<LatencyStats> {
  const redlock = new Redlock([r], { retryCount: 0 });
  return measure(n, concurrency, async (i) => {
    const lock = await redlock.acquire([`bench-redlock:${i % concurrency}`], 30_000);
    await lock.release();
  });
}

export async function run(args: string[]): Promise<void> {
  const o = options(args, { n: 20000, handoffs: 1000, concurrency: 16, rounds: 3 });
  const nodes = [await connect(), await connect(), await connect()];
  const prefix = `bench-${randomBytes(4).toString('hex')}:`;
  const log = createLogger('silent');
  const ra = new RedisLockManager([nodes[0]], { keyPrefix: prefix, log });
  const rb = new RedisLockManager([nodes[1]], { keyPrefix: prefix, log });
  const local = new InProcessLockManager();
  try {
    await Promise.all([ra.whenSubscribed(), rb.whenSubscribed()]);
    // Warm-up (scripts loaded, JIT).
    await uncontended(ra, 500, o.concurrency);
    await bareSetNx(nodes[2], 500, o.concurrency);
    await redlockLoop(nodes[2], 500, o.concurrency);
    // The machine is shared: every variant runs once per round, interleaved, and each figure is
    // the median of the rounds.
    const variants: [string, (n: number, c: number) => Promise<LatencyStats>][] = [
      ['RedisLockManager write lock', (n, c) => uncontended(ra, n, c)],
      ['InProcessLockManager write lock', (n, c) => uncontended(local, n, c)],
      ['baseline: bare SET NX PX + Lua DEL', (n, c) => bareSetNx(nodes[2], n, c)],
      ['baseline: redlock 5.0.0-beta.2', (n, c) => redlockLoop(nodes[2], n, c)],
    ];
    const results = new Map<string, { seq: LatencyStats[]; par: LatencyStats[]; usec: number[] }>(
      variants.map(([w]) => [w, { seq: [], par: [], usec: [] }]),
    );
    const handoffs: { redis: LatencyStats[]; local: LatencyStats[] } = { redis: [], local: [] };
    for (let round = 0; round < o.rounds; round++) {
      for (const [what, fn] of variants) {
        const before = await redisUsec(nodes[2]);
        results.get(what)!.seq.push(await fn(o.n / 4, 1));
        results.get(what)!.usec.push((await redisUsec(nodes[2])) - before);
        results.get(what)!.par.push(await fn(o.n, o.concurrency));
      }
      handoffs.redis.push(await handOff(ra, rb, o.handoffs));
      handoffs.local.push(await handOff(local, local, o.handoffs));
    }
    const med = (xs: LatencyStats[], f: (s: LatencyStats) => number) => xs.map(f).sort((a, b) => a - b)[Math.floor(xs.length / 2)];
    table(
      `locks: uncontended acquire+release, median of ${o.rounds} rounds (n=${o.n}; ${o.concurrency} loops on distinct keys when parallel)`,
      variants.map(([what]) => {
        const r = results.get(what)!;
        const usec = [...r.usec].sort((a, b) => a - b)[Math.floor(r.usec.length / 2)] / (o.n / 4);
        return {
          what,
          'sequential ops/s': fmt(
            med(r.seq, (x) => x.perSecond),
            0,
          ),
          'sequential p50 ms': fmt(
            med(r.seq, (x) => x.p50),
            3,
          ),
          'Redis CPU µs/op': fmt(usec, 1),
          [`×${o.concurrency} ops/s`]: fmt(
            med(r.par, (x) => x.perSecond),
            0,
          ),
          [`×${o.concurrency} p99 ms`]: fmt(
            med(r.par, (x) => x.p99),
            3,
          ),
        };
      }),
    );
    table(`locks: contended hand-off latency, release → acquisition by the waiter, median of ${o.rounds} rounds (n=${o.handoffs})`, [
      {
        what: 'RedisLockManager, across two instances (pub/sub wake-up)',
        'p50 ms': fmt(
          med(handoffs.redis, (x) => x.p50),
          3,
        ),
        'p99 ms': fmt(
          med(handoffs.redis, (x) => x.p99),
          3,
        ),
        'mean ms': fmt(
          med(handoffs.redis, (x) => x.mean),
          3,
        ),
      },
      {
        what: 'InProcessLockManager (direct hand-off)',
        'p50 ms': fmt(
          med(handoffs.local, (x) => x.p50),
          3,
        ),
        'p99 ms': fmt(
          med(handoffs.local, (x) => x.p99),
          3,
        ),
        'mean ms': fmt(
          med(handoffs.local, (x) => x.mean),
          3,
        ),
      },
    ]);
  } finally {
    await ra.close();
    await rb.close();
    await local.close();
    nodes.forEach((n) => n.disconnect());
  }
}
