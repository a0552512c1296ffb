/**
 * Readiness: whether this process should receive traffic now. Liveness (`/health`) only says the
 * process answers; readiness (`/ready`, and the gRPC health status of every service) also needs
 * the schema migrations applied, PostgreSQL and a Redis quorum answering, the upstream gRPC
 * services serving (gateway-only processes), and the process not shutting down.
 */
import type Redis from 'ioredis';
import type { Orm } from './infra/orm';
import { MIGRATIONS } from './infra/migrations';
import { sql } from './infra/sql';

/** A check that has not answered after this long fails (a probe must not hang). */
export const READY_CHECK_TIMEOUT_MS = 2_000;

export interface CheckResult {
  ok: boolean;
  detail?: string;
}

export interface ReadyReport {
  ready: boolean;
  checks: Record<string, CheckResult>;
}

export interface ReadinessDeps {
  orm: Orm;
  redis: Redis[];
  stopping(): boolean;
  /** Gateway-only processes: whether the upstream gRPC services report SERVING. */
  upstream?: () => Promise<boolean>;
}

function bounded(p: Promise<CheckResult>): Promise<CheckResult> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<CheckResult>(
    (ok) => (timer = setTimeout(() => ok({ ok: false, detail: `no answer within ${READY_CHECK_TIMEOUT_MS} ms` }), READY_CHECK_TIMEOUT_MS)),
  );
  return Promise.race([p.catch((err: Error) => ({ ok: false, detail: err.message })), timeout]).finally(() => clearTimeout(timer));
}

/** Databases whose migrations were all seen applied (they cannot become unapplied). */
const migrated = new WeakSet<Orm>();

/** Every migration this build knows is recorded in the migrations table (a plain read, no DDL). */
async function migrations(orm: Orm): Promise<CheckResult> {
  if (migrated.has(orm)) return { ok: true };
  const rows = await sql<{ name: string }>(orm.em.fork(), 'SELECT name FROM mikro_orm_migrations');
  const applied = new Set(rows.map((r) => r.name));
  const pending = MIGRATIONS.filter((m) => !applied.has(m.name)).length;
  if (pending > 0) return { ok: false, detail: `${pending} migration(s) not applied` };
  migrated.add(orm);
  return { ok: true };
}

async function postgres(orm: Orm): Promise<CheckResult> {
  await sql(orm.em.fork(), 'SELECT 1');
  return { ok: true };
}

/** Locks need a majority of the Redis nodes (Redlock quorum). */
async function redisQuorum(nodes: Redis[]): Promise<CheckResult> {
  if (nodes.length === 0) return { ok: true, detail: 'not configured (in-process locks)' };
  const answers = await Promise.all(
    nodes.map((r) =>
      r.ping().then(
        () => true,
        () => false,
      ),
    ),
  );
  const up = answers.filter(Boolean).length;
  return { ok: up > nodes.length / 2, detail: `${up}/${nodes.length} nodes answer` };
}

/** Runs every check at once; each is bounded by READY_CHECK_TIMEOUT_MS. */
export async function checkReadiness(d: ReadinessDeps): Promise<ReadyReport> {
  const entries: [string, Promise<CheckResult>][] = [
    ['shutting_down', Promise.resolve(d.stopping() ? { ok: false, detail: 'shutting down' } : { ok: true })],
    ['migrations', bounded(migrations(d.orm))],
    ['postgres', bounded(postgres(d.orm))],
    ['redis', bounded(redisQuorum(d.redis))],
  ];
  if (d.upstream)
    entries.push([
      'upstream',
      bounded(d.upstream().then((ok) => (ok ? { ok } : { ok, detail: 'upstream gRPC services are not serving' }))),
    ]);
  const results = await Promise.all(entries.map(([, p]) => p));
  const checks: Record<string, CheckResult> = {};
  entries.forEach(([name], i) => (checks[name] = results[i]));
  return { ready: results.every((r) => r.ok), checks };
}
