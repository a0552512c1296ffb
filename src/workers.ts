/**
 * `WORKERS=N`: the primary process runs N worker processes that share the HTTP and gRPC ports
 * (node:cluster hands each accepted connection to a worker). Each worker is a full instance of
 * the service (own database pool, task scheduler slots, lock manager), exactly as if N instances
 * had been started by hand, so a single host uses all of its cores. The primary:
 * - starts the embedded PostgreSQL when no DATABASE_URL is given, and applies the migrations
 *   once, before any worker starts;
 * - names the workers `<INSTANCE_NAME>-<i>` (the names leases and logs show);
 * - replaces a worker that exits unexpectedly (after RESTART_DELAY_MS);
 * - on SIGTERM/SIGINT stops every worker gracefully (each hands its tasks back), then exits 0.
 */
import cluster, { type Worker } from 'node:cluster';
import type { Config } from './config';
import { startEmbeddedPostgres, type EmbeddedPostgresHandle } from './infra/embedded-postgres';
import { createOrm, migrate } from './infra/orm';
import type { Logger } from './logger';

const RESTART_DELAY_MS = 1_000;
/** How long workers get to stop before they are killed. */
const STOP_TIMEOUT_MS = 30_000;

export async function runPrimary(config: Config, log: Logger): Promise<void> {
  let embedded: EmbeddedPostgresHandle | null = null;
  let databaseUrl = config.databaseUrl;
  let stopping = false;
  const workers = new Map<number, Worker>();
  const stopAll = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal, workers: workers.size }, 'stopping workers');
    const exits = [...workers.values()].map((w) => new Promise((ok) => (w.isDead() ? ok(null) : w.once('exit', ok))));
    for (const w of workers.values()) w.process.kill('SIGTERM');
    const timer = setTimeout(() => [...workers.values()].forEach((w) => w.process.kill('SIGKILL')), STOP_TIMEOUT_MS);
    await Promise.all(exits);
    clearTimeout(timer);
    await embedded?.stop();
    process.exit(0);
  };
  process.once('SIGTERM', () => void stopAll('SIGTERM'));
  process.once('SIGINT', () => void stopAll('SIGINT'));

  if (!databaseUrl) {
    embedded = await startEmbeddedPostgres(config.dataDir, log);
    databaseUrl = embedded.url;
  }
  const orm = await createOrm({ clientUrl: databaseUrl, poolSize: 1, applicationName: `synapse-room-admin/${config.instanceName}` });
  try {
    const applied = await migrate(orm);
    if (applied.length) log.info({ applied }, 'migrations applied');
  } finally {
    await orm.close(true);
  }
  const start = (i: number) => {
    if (stopping) return;
    const w = cluster.fork({ DATABASE_URL: databaseUrl, INSTANCE_NAME: `${config.instanceName}-${i}`, WORKERS: '1' });
    workers.set(i, w);
    w.once('exit', (code, signal) => {
      workers.delete(i);
      if (stopping) return;
      log.error({ worker: i, code, signal }, 'worker exited; starting a new one');
      setTimeout(() => start(i), RESTART_DELAY_MS).unref();
    });
  };
  for (let i = 1; i <= config.workers; i++) start(i);
  log.info({ workers: config.workers, httpPort: config.httpPort, grpcPort: config.grpcPort }, 'workers started');
}
