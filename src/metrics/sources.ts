/**
 * Gauges read at scrape time from the live parts of this process: the PostgreSQL pool, LISTEN
 * connections, Redis nodes and the task scheduler. Each part registers itself while it runs
 * (several app instances may share one process, as in tests: the gauges add them up).
 *
 * The task counts by action and status come from two aggregate queries on `scheduled_tasks` per
 * scrape (scrapes arriving while they run share their answer), on pooled connections.
 */
import client from 'prom-client';
import type Redis from 'ioredis';
import type { Orm } from '../infra/orm';
import { sql } from '../infra/sql';
import { PREFIX } from './metrics';

interface TarnPool {
  numUsed(): number;
  numFree(): number;
  numPendingAcquires(): number;
}

export interface SchedulerSource {
  /** Actions executing now on this instance. */
  running(): number;
  /** Tasks leased ahead of a free slot (claimed, not started). */
  claimedAhead(): number;
}

export interface ListenerSource {
  readonly channel: string;
  connected(): boolean;
}

const orms = new Set<Orm>();
const schedulers = new Set<SchedulerSource>();
const listeners = new Set<ListenerSource>();
const redisNodes = new Set<Redis[]>();

/** Registers a running part; returns the function that unregisters it. */
function add<T>(set: Set<T>, item: T): () => void {
  set.add(item);
  return () => void set.delete(item);
}

export const sources = {
  orm: (orm: Orm) => add(orms, orm),
  scheduler: (s: SchedulerSource) => add(schedulers, s),
  listener: (l: ListenerSource) => add(listeners, l),
  redis: (nodes: Redis[]) => add(redisNodes, nodes),
};

function poolOf(orm: Orm): TarnPool | null {
  try {
    return (orm.em.getConnection().getKnex().client as { pool?: TarnPool }).pool ?? null;
  } catch {
    return null;
  }
}

new client.Gauge({
  name: `${PREFIX}db_pool_connections`,
  help: 'PostgreSQL pool connections by state (used, idle, waiting = acquisitions queued for a connection)',
  labelNames: ['state'] as const,
  collect() {
    let used = 0;
    let idle = 0;
    let waiting = 0;
    for (const orm of orms) {
      const p = poolOf(orm);
      if (!p) continue;
      used += p.numUsed();
      idle += p.numFree();
      waiting += p.numPendingAcquires();
    }
    this.set({ state: 'used' }, used);
    this.set({ state: 'idle' }, idle);
    this.set({ state: 'waiting' }, waiting);
  },
});

new client.Gauge({
  name: `${PREFIX}pg_listener_up`,
  help: 'Whether the LISTEN connection of a notification channel is subscribed (1) or reconnecting (0)',
  labelNames: ['channel'] as const,
  aggregator: 'min',
  collect() {
    this.reset();
    const up = new Map<string, number>();
    for (const l of listeners) up.set(l.channel, Math.min(up.get(l.channel) ?? 1, l.connected() ? 1 : 0));
    for (const [channel, v] of up) this.set({ channel }, v);
  },
});

new client.Gauge({
  name: `${PREFIX}redis_node_up`,
  help: 'Whether each Redis node of the lock quorum is connected (1) or not (0), by position in REDIS_URL',
  labelNames: ['node'] as const,
  aggregator: 'min',
  collect() {
    this.reset();
    for (const nodes of redisNodes) nodes.forEach((r, i) => this.set({ node: String(i) }, r.status === 'ready' ? 1 : 0));
  },
});

new client.Gauge({
  name: `${PREFIX}tasks_running`,
  help: 'Task actions executing on this instance',
  collect() {
    let n = 0;
    for (const s of schedulers) n += s.running();
    this.set(n);
  },
});

new client.Gauge({
  name: `${PREFIX}tasks_claimed_ahead`,
  help: 'Tasks leased by this instance ahead of a free slot (claimed, not started yet)',
  collect() {
    let n = 0;
    for (const s of schedulers) n += s.claimedAhead();
    this.set(n);
  },
});

interface TaskCounts {
  at: number;
  rows: { action: string; status: string; n: string }[];
  oldestDueMs: number | null;
  dueWaiting: number;
}
const taskCounts = new WeakMap<Orm, Promise<TaskCounts>>();

/** The counts of one database (the query in flight, if any, is shared). */
async function countsOf(orm: Orm): Promise<TaskCounts> {
  const inFlight = taskCounts.get(orm);
  if (inFlight) return inFlight;
  const p = (async (): Promise<TaskCounts> => {
    const em = orm.em.fork();
    const now = Date.now();
    const [rows, due] = await Promise.all([
      sql<TaskCounts['rows'][number]>(em, 'SELECT action, status, count(*) AS n FROM scheduled_tasks GROUP BY action, status'),
      sql<{ oldest: string | null; n: string }>(
        em,
        `SELECT min("timestamp") AS oldest, count(*) AS n FROM scheduled_tasks WHERE status = 'scheduled' AND "timestamp" <= ?`,
        [now],
      ),
    ]);
    return { at: now, rows, oldestDueMs: due[0]?.oldest == null ? null : Number(due[0].oldest), dueWaiting: Number(due[0]?.n ?? 0) };
  })();
  taskCounts.set(orm, p);
  void p.then(
    () => taskCounts.delete(orm),
    () => taskCounts.delete(orm),
  );
  return p;
}

/** One value per database, so a deployment's workers (one database) aggregate with `max`, not a sum. */
async function eachDatabase(fn: (c: TaskCounts) => void): Promise<void> {
  const seen = new Set<string>();
  for (const orm of orms) {
    const url = String(orm.config.get('clientUrl'));
    if (seen.has(url)) continue;
    seen.add(url);
    fn(await countsOf(orm).catch(() => ({ at: 0, rows: [], oldestDueMs: null, dueWaiting: 0 })));
  }
}

new client.Gauge({
  name: `${PREFIX}tasks`,
  help: 'Tasks in the database by action and status (every instance of the deployment sees the same rows)',
  labelNames: ['action', 'status'] as const,
  aggregator: 'max',
  async collect() {
    this.reset();
    await eachDatabase((c) => c.rows.forEach((r) => this.inc({ action: r.action, status: r.status }, Number(r.n))));
  },
});

new client.Gauge({
  name: `${PREFIX}tasks_due_waiting`,
  help: 'Tasks due (scheduled, due time passed) that no instance has started yet',
  aggregator: 'max',
  async collect() {
    let n = 0;
    await eachDatabase((c) => (n += c.dueWaiting));
    this.set(n);
  },
});

new client.Gauge({
  name: `${PREFIX}tasks_oldest_due_waiting_seconds`,
  help: 'Age of the oldest task that is due but not started (0 when none)',
  aggregator: 'max',
  async collect() {
    let oldest = 0;
    await eachDatabase((c) => {
      if (c.oldestDueMs !== null) oldest = Math.max(oldest, (c.at - c.oldestDueMs) / 1000);
    });
    this.set(oldest);
  },
});
