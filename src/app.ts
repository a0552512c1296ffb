/**
 * The process: config → storage (embedded PostgreSQL when no DATABASE_URL) → migrations → Redis →
 * services (src/container.ts) → gRPC server (src/grpc/bindings.ts) → gateway (src/gateway/routes).
 * `stop()` undoes it in reverse order.
 */
import cluster from 'node:cluster';
import { randomBytes } from 'node:crypto';
import Redis from 'ioredis';
import type { Config } from './config';
import { createLogger, FaultLog, type Logger } from './logger';
import { createOrm, migrate, type Orm } from './infra/orm';
import { sql } from './infra/sql';
import { startEmbeddedPostgres, type EmbeddedPostgresHandle } from './infra/embedded-postgres';
import { CallAdapter } from './grpc/adapter';
import { startGrpcServer, type GrpcServerHandle } from './grpc/server';
import { grpcBindings } from './grpc/bindings';
import { Gateway } from './gateway/http';
import { createClientPool, type Clients } from './gateway/grpc-clients';
import { ROUTES } from './gateway/routes';
import { listenForAuthChanges } from './users/auth-invalidation';
import { TableUpkeep } from './infra/table-upkeep';
import { createServices, type Services } from './container';
import { checkReadiness, type ReadyReport } from './readiness';
import { enableDefaultMetrics } from './metrics/metrics';
import { sources } from './metrics/sources';
import { joinClusterAggregation, startMetricsServer, type MetricsServer } from './metrics/exposition';
import { HealthCheckResponse_ServingStatus } from '../gen/grpc/health/v1/health';
import type { Route } from './gateway/router';
import { startTracing, stopTracing } from './tracing/tracing';
import { SERVER_VERSION } from './version';

const HEALTH_INTERVAL_MS = 5_000;
const REDIS_READY_TIMEOUT_MS = 5_000;

function waitReady(r: Redis, timeoutMs: number): Promise<void> {
  if (r.status === 'ready') return Promise.resolve();
  return new Promise((ok, ko) => {
    const timer = setTimeout(() => ko(new Error('redis not ready')), timeoutMs);
    r.once('ready', () => {
      clearTimeout(timer);
      ok();
    });
  });
}

/** Waits for `p`, for at most `ms`. */
async function untilOrTimeout(p: Promise<unknown>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([p, new Promise((ok) => (timer = setTimeout(ok, ms)))]);
  clearTimeout(timer);
}

export interface App {
  config: Config;
  log: Logger;
  orm: Orm;
  redis: Redis[];
  /** Every domain service, as the gRPC handlers use them. */
  services: Services;
  /** Every REST route the gateway serves. */
  routes: Route[];
  grpcPort: number;
  httpPort: number | null;
  /** Port of the METRICS_PORT listener (null: metrics are on the HTTP listener, or served by the primary). */
  metricsPort: number | null;
  /** Runs the readiness checks (the answer of `/ready`). */
  ready(): Promise<ReadyReport>;
  databaseUrl: string;
  /** The shared secret in force (from the environment or generated at first start). */
  registrationSharedSecret: string;
  /** Vacuums and analyzes the service's tables when autovacuum does not (null in a gateway-only process). */
  upkeep: TableUpkeep | null;
  /**
   * Graceful shutdown, bounded by SHUTDOWN_TIMEOUT: stops accepting, hands running tasks back at
   * once, lets in-flight calls finish (HTTP answers say `Connection: close`; idle keep-alive
   * connections are closed at once), destroys whatever connection is still busy at the timeout,
   * then closes the pools.
   */
  stop(opts?: StopOptions): Promise<void>;
}

export interface StopOptions {
  /**
   * Keeps the gRPC server accepting calls until this settles (or the timeout): a gRPC-only worker
   * whose callers are gateway processes draining their own requests.
   */
  keepServingUntil?: Promise<void>;
}

async function ensureSharedSecret(orm: Orm, config: Config): Promise<{ secret: string; generated: boolean }> {
  if (config.registrationSharedSecret) return { secret: config.registrationSharedSecret, generated: false };
  const fresh = randomBytes(24).toString('base64url');
  const rows = await sql<{ value: string; inserted: boolean }>(
    orm.em.fork(),
    `WITH ins AS (INSERT INTO server_secrets (name, value) VALUES ('registration_shared_secret', ?) ON CONFLICT DO NOTHING RETURNING value)
     SELECT value, true AS inserted FROM ins UNION ALL SELECT value, false FROM server_secrets WHERE name = 'registration_shared_secret' LIMIT 1`,
    [fresh],
  );
  return { secret: rows[0].value, generated: rows[0].inserted };
}

/**
 * Whether PostgreSQL and every Redis node answer. Each dependency's outage is logged as it starts
 * and ends (with its duration), with a summary now and then, by its FaultLog.
 */
async function dependenciesAnswer(orm: Orm, redis: Redis[], faults: { database: FaultLog; redis: FaultLog[] }): Promise<boolean> {
  const check = (p: Promise<unknown>, fault: FaultLog) =>
    p.then(
      () => (fault.ok(), true),
      (err: unknown) => (fault.failed(err), false),
    );
  const answers = await Promise.all([
    check(sql(orm.em.fork(), 'SELECT 1'), faults.database),
    ...redis.map((r, i) => check(r.ping(), faults.redis[i])),
  ]);
  return answers.every(Boolean);
}

export async function startApp(
  config: Config,
  log: Logger = createLogger(config.logLevel, { instance: config.instanceName }),
): Promise<App> {
  enableDefaultMetrics();
  const tracer = config.otelTracesEndpoint
    ? startTracing({
        tracesEndpoint: config.otelTracesEndpoint,
        serviceName: config.otelServiceName,
        serviceInstanceId: config.instanceName,
        serviceVersion: SERVER_VERSION,
      })
    : null;
  // A cluster worker answers the primary's requests for its metrics (aggregated across workers).
  if (cluster.isWorker) joinClusterAggregation();
  let embedded: EmbeddedPostgresHandle | null = null;
  let databaseUrl = config.databaseUrl;
  if (!databaseUrl) {
    embedded = await startEmbeddedPostgres(config.dataDir, log);
    databaseUrl = embedded.url;
  }
  const orm = await createOrm({
    clientUrl: databaseUrl,
    poolSize: config.dbPoolSize,
    applicationName: `synapse-room-admin/${config.instanceName}`,
  });
  const applied = await migrate(orm);
  if (applied.length) log.info({ applied }, 'migrations applied');
  const { secret, generated } = await ensureSharedSecret(orm, config);
  if (generated) {
    // Printed once, on the console only (never to the structured log).
    process.stderr.write(
      `\nREGISTRATION_SHARED_SECRET was not set; generated one for this deployment:\n  ${secret}\nUse it with /_synapse/admin/v1/register to create the first admin.\n\n`,
    );
  }

  const redis = config.redisUrls.map(
    (u) => new Redis(u, { lazyConnect: false, maxRetriesPerRequest: 1, enableOfflineQueue: false, connectTimeout: 2000 }),
  );
  redis.forEach((r) => r.on('error', (err) => log.debug({ err: err.message }, 'redis connection error')));
  await Promise.all(
    redis.map((r) =>
      waitReady(r, REDIS_READY_TIMEOUT_MS).catch(() => log.warn('redis is not answering yet; health stays NOT_SERVING until it does')),
    ),
  );
  if (redis.length === 0) log.info('REDIS_URL is not set: locks are in-process, running in single-instance mode');

  const services = createServices(config, { orm, log, redis, registrationSharedSecret: secret });
  const authListener = config.authCacheTtlMs > 0 ? listenForAuthChanges(databaseUrl, services.users.tokens, log) : null;
  await authListener?.start();
  const adapter = new CallAdapter({
    orm,
    users: services.users,
    log,
    maxJsonTextBytes: config.maxRequestBodyBytes,
    trustedGateways: new Set(config.grpcTrustedGateways),
  });

  const unregister = [sources.orm(orm), sources.redis(redis)];
  let stopping = false;
  let grpcServer: GrpcServerHandle | null = null;
  let gateway: Gateway | null = null;
  const ready = () =>
    checkReadiness({
      orm,
      redis,
      stopping: () => stopping,
      // A gateway-only process serves only if the services it calls do.
      upstream: config.grpcEnabled
        ? undefined
        : async () => (await gateway?.upstreamStatus()) === HealthCheckResponse_ServingStatus.SERVING,
    });
  let clients: Clients[] = [];
  let httpPort: number | null = null;
  let grpcPort = 0;
  if (config.grpcEnabled) {
    grpcServer = await startGrpcServer(grpcBindings(adapter, services, config.shadowBanMaxDelayMs), config.grpcHost, config.grpcPort);
    grpcPort = grpcServer.port;
  }
  if (config.gatewayEnabled) {
    const upstream = config.gatewayUpstream ?? `127.0.0.1:${grpcPort}`;
    clients = createClientPool(upstream, config.gatewayUpstreamConnections);
    gateway = new Gateway({
      clients,
      routes: ROUTES,
      log,
      maxBodyBytes: config.maxRequestBodyBytes,
      ready,
      metrics: config.metricsPort === null,
      xForwarded: config.httpXForwarded,
    });
    httpPort = await gateway.listen(config.httpPort, config.httpHost);
  }
  // Background work (task scheduler, retention jobs) belongs to the half that serves the services.
  if (config.grpcEnabled) await services.start();
  if (config.grpcEnabled) services.clientIps.start();
  const upkeep = config.grpcEnabled
    ? new TableUpkeep(databaseUrl, log.child({ component: 'upkeep' }), {
        mode: config.tableUpkeep,
        intervalMs: config.tableUpkeepIntervalMs,
      })
    : null;
  upkeep?.start();

  // Under WORKERS, the primary serves METRICS_PORT (the aggregate of every worker).
  const metricsServer: MetricsServer | null =
    config.metricsPort !== null && !cluster.isWorker ? await startMetricsServer(config.metricsPort, config.metricsHost) : null;
  let stopped: Promise<void> | null = null;
  const shutdown = async (opts: StopOptions) => {
    stopping = true;
    const deadline = Date.now() + config.shutdownTimeoutMs;
    const left = () => Math.max(0, deadline - Date.now());
    clearInterval(healthTimer);
    [healthFaults.database, ...healthFaults.redis].forEach((f) => f.close());
    grpcServer?.setServing(false);
    // Tasks go back at once, while the servers drain (another instance resumes them meanwhile).
    const background = config.grpcEnabled ? services.stop() : Promise.resolve([]);
    await gateway?.close(left());
    await metricsServer?.close();
    unregister.forEach((u) => u());
    if (opts.keepServingUntil) await untilOrTimeout(opts.keepServingUntil, left());
    await grpcServer?.shutdown(left());
    for (const r of await background) if (r.status === 'rejected') log.error({ err: r.reason }, 'a background service failed to stop');
    clients.forEach((c) => c.close());
    adapter.close();
    await services.clientIps.close();
    await upkeep?.close();
    await services.close();
    await authListener?.stop();
    await Promise.all(redis.map((r) => r.quit().catch(() => r.disconnect())));
    await orm.close(true);
    await embedded?.stop();
    // The spans still buffered are exported before the process exits.
    if (tracer) await stopTracing(tracer).catch((err: unknown) => log.warn({ err }, 'could not export the last spans'));
    log.info('stopped');
  };
  const healthFaults = {
    database: new FaultLog(log, 'database', { check: 'health' }),
    redis: redis.map((_, i) => new FaultLog(log, 'redis node', { check: 'health', node: i, nodes: redis.length })),
  };
  // Serving = every dependency answers (each outage logged by its FaultLog) and /ready's checks pass.
  const refreshHealth = async () => {
    const [answer, report] = await Promise.all([dependenciesAnswer(orm, redis, healthFaults), ready()]);
    grpcServer?.setServing(!stopping && answer && report.ready);
  };
  await refreshHealth();
  const healthTimer = setInterval(() => void refreshHealth(), HEALTH_INTERVAL_MS);
  healthTimer.unref();
  log.info({ grpcPort, httpPort, metricsPort: metricsServer?.port ?? null, serverName: config.serverName }, 'ready');

  return {
    config,
    log,
    orm,
    redis,
    services,
    routes: ROUTES,
    grpcPort,
    httpPort,
    metricsPort: metricsServer?.port ?? null,
    ready,
    databaseUrl,
    registrationSharedSecret: secret,
    upkeep,
    stop(opts: StopOptions = {}) {
      return (stopped ??= shutdown(opts));
    },
  };
}
