/**
 * `WORKERS=N` (and `GATEWAY_WORKERS=M`): the primary process runs N worker processes that share the HTTP and gRPC ports
 * (node:cluster hands each accepted connection to a worker). Each worker is a full instance of
 * the service (own database pool, task scheduler slots, lock manager), exactly as if N instances
 * had been started by hand, so a single host uses all of its cores. The primary:
 * - starts the embedded PostgreSQL when no DATABASE_URL is given, and applies the migrations
 *   once, before any worker starts;
 * - names the workers `<INSTANCE_NAME>-<i>` (the names leases and logs show);
 * - with `GATEWAY_WORKERS=M`, runs the REST gateway in M processes of its own
 *   (`<INSTANCE_NAME>-gateway-<j>`, HTTP port only), started once a worker listens, each with
 *   one connection per worker; the N workers then serve the gRPC services only;
 * - replaces a worker that exits unexpectedly (after RESTART_DELAY_MS);
 * - on SIGTERM/SIGINT stops every process gracefully, each within SHUTDOWN_TIMEOUT (tasks are
 *   handed back at once; the service workers keep serving gRPC until the gateway processes have
 *   drained), then exits 0;
 * - answers `/metrics` with the aggregate of every worker's metrics: a worker that receives a scrape
 *   on the shared HTTP port forwards it here, and METRICS_PORT, when set, is served here.
 */
import cluster, { type Worker } from 'node:cluster';
import { freePort } from './infra/free-port';
import type { Config } from './config';
import { startEmbeddedPostgres, type EmbeddedPostgresHandle } from './infra/embedded-postgres';
import { createOrm, migrate } from './infra/orm';
import type { Logger } from './logger';
import { serveClusterMetrics, startMetricsServer } from './metrics/exposition';

const RESTART_DELAY_MS = 1_000;
/** How long past SHUTDOWN_TIMEOUT a worker gets to finish stopping before it is killed. */
const STOP_MARGIN_MS = 15_000;

export async function runPrimary(config: Config, log: Logger): Promise<void> {
  let embedded: EmbeddedPostgresHandle | null = null;
  let databaseUrl = config.databaseUrl;
  let stopping = false;
  const workers = new Map<string, Worker>();
  const metrics = serveClusterMetrics();
  const stopAll = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal, workers: workers.size }, 'stopping workers');
    const exit = (w: Worker) => new Promise((ok) => (w.isDead() ? ok(null) : w.once('exit', ok)));
    const all = [...workers.entries()];
    // Every process starts stopping at once (each hands its tasks back at once); the service
    // workers keep their gRPC server open until the gateway processes calling them have drained.
    for (const [, w] of all) w.process.kill('SIGTERM');
    const timer = setTimeout(
      () => all.forEach(([, w]) => w.isDead() || w.process.kill('SIGKILL')),
      config.shutdownTimeoutMs + STOP_MARGIN_MS,
    );
    await Promise.all(all.filter(([key]) => key.startsWith('gateway-')).map(([, w]) => exit(w)));
    for (const [, w] of all) if (w.isConnected()) w.send({ kind: 'gateways-stopped' });
    await Promise.all(all.map(([, w]) => exit(w)));
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
  // With GATEWAY_WORKERS, the workers serve the gRPC services only and the gateway processes
  // call them: each process then does one job at the full request rate (better batching than two
  // half-loaded processes doing both), and a busy gateway cannot slow the services' event loop.
  const split = config.gatewayWorkers > 0;
  // Port 0 (any free port) is resolved here: cluster shares one listening socket per address and
  // port among the workers, so two servers asking for port 0 would otherwise get the same one.
  const httpPort = config.httpPort || (await freePort(config.httpHost));
  const grpcPort = config.grpcPort || (await freePort(config.grpcHost));
  let upstream: string | null = config.gatewayUpstream;
  const start = (key: string) => {
    if (stopping) return;
    const gateway = key.startsWith('gateway-');
    const env: Record<string, string> = {
      DATABASE_URL: databaseUrl,
      INSTANCE_NAME: `${config.instanceName}-${key}`,
      WORKERS: '1',
      GATEWAY_WORKERS: '0',
      HTTP_PORT: String(httpPort),
      GRPC_PORT: String(grpcPort),
    };
    if (split && gateway)
      Object.assign(env, {
        GRPC_ENABLED: 'false',
        GATEWAY_UPSTREAM: upstream as string,
        GATEWAY_UPSTREAM_CONNECTIONS: String(Math.max(config.gatewayUpstreamConnections, config.workers)),
      });
    else if (split) env.GATEWAY_ENABLED = 'false';
    const w = cluster.fork(env);
    workers.set(key, w);
    w.on('message', (m: { kind?: string }) => {
      if (m?.kind !== 'ready' || gateway || upstream !== null) return;
      // The gateway processes start once the services listen.
      upstream = `${localAddress(config.grpcHost)}:${grpcPort}`;
      for (let i = 1; i <= config.gatewayWorkers; i++) start(`gateway-${i}`);
    });
    w.once('exit', (code, signal) => {
      workers.delete(key);
      if (stopping) return;
      log.error({ worker: key, code, signal }, 'worker exited; starting a new one');
      setTimeout(() => start(key), RESTART_DELAY_MS).unref();
    });
  };
  if (config.metricsPort !== null) {
    const m = await startMetricsServer(config.metricsPort, config.metricsHost, () => metrics.clusterMetrics());
    log.info({ metricsPort: m.port }, "serving the workers' metrics");
  }
  for (let i = 1; i <= config.workers; i++) start(String(i));
  if (split && upstream !== null) for (let i = 1; i <= config.gatewayWorkers; i++) start(`gateway-${i}`);
  log.info({ workers: config.workers, gatewayWorkers: config.gatewayWorkers, httpPort, grpcPort }, 'workers started');
}

/** The address a local client dials for a server bound to `host` (a wildcard means this host's loopback). */
function localAddress(host: string): string {
  if (host === '0.0.0.0' || host === '') return '127.0.0.1';
  if (host === '::' || host === '[::]') return '[::1]';
  return host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;
}
