/**
 * The only reader of process.env. Every setting is validated here; a bad value stops start-up
 * with a message naming the variable.
 */
import { randomBytes } from 'node:crypto';
import { isIP } from 'node:net';
import { isValidServerName } from './matrix/ids';
import { DEFAULT_PASSWORD_HASH_COST } from './users/credentials';

export class ConfigError extends Error {
  constructor(variable: string, problem: string) {
    super(`Invalid configuration: ${variable} ${problem}`);
    this.name = 'ConfigError';
  }
}

export interface RetentionPurgeJob {
  intervalMs: number;
  shortestMaxLifetimeMs: number | null;
  longestMaxLifetimeMs: number | null;
}

export interface RetentionConfig {
  enabled: boolean;
  defaultMinLifetimeMs: number | null;
  defaultMaxLifetimeMs: number | null;
  allowedLifetimeMinMs: number | null;
  allowedLifetimeMaxMs: number | null;
  purgeJobs: RetentionPurgeJob[];
  /** Rooms a retention purge job purges at once (Synapse purges every room at once). */
  purgeConcurrency: number;
}

export interface Config {
  /** PostgreSQL connection string; null means "start an embedded PostgreSQL". */
  databaseUrl: string | null;
  /** Folder of the embedded PostgreSQL's data (used only when databaseUrl is null). */
  dataDir: string;
  /** Redis nodes forming the Redlock quorum; empty means single-instance (in-process) locks. */
  redisUrls: string[];
  /** Prefix of every Redis key, so several deployments (or test runs) can share one Redis. */
  redisKeyPrefix: string;
  serverName: string;
  httpPort: number;
  httpHost: string;
  grpcPort: number;
  grpcHost: string;
  /** Run the REST gateway in this process (default). */
  gatewayEnabled: boolean;
  /** Run the gRPC services in this process (default). */
  grpcEnabled: boolean;
  /** gRPC address the gateway calls; defaults to this process's own gRPC server. */
  gatewayUpstream: string | null;
  /** Processes serving the same ports, each a full instance (1: this process serves alone). */
  workers: number;
  /**
   * Gateway-only processes the primary runs beside the workers (0: every worker serves its own
   * gateway). With 1 or more, the workers run the gRPC services only.
   */
  gatewayWorkers: number;
  /** HTTP/2 connections the gateway keeps to its upstream (several spread its calls over the upstream's workers). */
  gatewayUpstreamConnections: number;
  registrationSharedSecret: string | null;
  instanceName: string;
  logLevel: string;
  /** Concurrent background tasks per instance. */
  maxConcurrentTasks: number;
  /** How long a resolved access token may be served from memory (0: every call asks the database). */
  authCacheTtlMs: number;
  /** Lease of a running task: an instance that stops renewing it loses the task after this long. */
  taskLeaseMs: number;
  /** Finished tasks are deleted this long after their last update. */
  keepTasksForMs: number;
  /** A running task with no update for this long is logged as possibly stuck. */
  taskStuckWarningMs: number;
  /**
   * On SIGTERM/SIGINT: how long in-flight requests may take to finish before their connections are
   * destroyed (running tasks are handed back at once, whatever this is).
   */
  shutdownTimeoutMs: number;
  dbPoolSize: number;
  /** Delay before a room whose last local member forgot it is purged; null disables. */
  forgottenRoomRetentionPeriodMs: number | null;
  retention: RetentionConfig;
  /** Honour the MSC3874 `org.matrix.msc3874.rel_types` / `not_rel_types` event filter fields. */
  msc3874Enabled: boolean;
  /** Largest accepted JSON request body. */
  maxRequestBodyBytes: number;
  /** Port of a listener serving only `GET /metrics`; null serves it on the HTTP listener. */
  metricsPort: number | null;
  /** Address the METRICS_PORT listener binds. */
  metricsHost: string;
  /** `json` (one JSON object a line), `pretty` (readable lines), or `auto`: pretty when stdout is a terminal. */
  logFormat: 'auto' | 'json' | 'pretty';
  /**
   * Where spans are exported (OTLP over HTTP, JSON): `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`, or
   * `OTEL_EXPORTER_OTLP_ENDPOINT` + `/v1/traces`; null (nothing traced, nothing loaded) when
   * neither is set or `OTEL_SDK_DISABLED` is true.
   */
  otelTracesEndpoint: string | null;
  /** The `service.name` resource attribute of exported spans (`OTEL_SERVICE_NAME`). */
  otelServiceName: string;
  /** The gateway is behind a trusted reverse proxy: clients' addresses come from `X-Forwarded-For`. */
  httpXForwarded: boolean;
  /** Peer addresses of gateways whose client-address metadata the gRPC services believe. */
  grpcTrustedGateways: string[];
  /** Recorded client addresses last seen longer ago than this are deleted; null keeps them. */
  userIpsMaxAgeMs: number | null;
  /** Shadow-banned users' sends and invites wait a random time up to this long before answering. */
  shadowBanMaxDelayMs: number;
  /** log2 of scrypt's N for new password hashes (10–20, default 14). */
  passwordHashCost: number;
  /** When the service vacuums and analyzes its own tables: `auto` while the server's autovacuum is off, `on`, or `off`. */
  tableUpkeep: 'auto' | 'on' | 'off';
  /** How often the table upkeep looks at the tables' activity. */
  tableUpkeepIntervalMs: number;
}

type Env = Record<string, string | undefined>;

const UNITS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000, y: 31_536_000_000 };

/** Parses a Synapse duration: an integer of ms, or an integer followed by s, m, h, d, w or y. */
export function parseDuration(value: string | number, variable: string): number {
  if (typeof value === 'number' && Number.isInteger(value) && value >= 0) return value;
  const m = /^(\d+)([smhdwy]?)$/.exec(String(value).trim());
  if (!m) throw new ConfigError(variable, `must be a duration such as 30000, 10s, 5m, 1h, 1d, 1w or 1y (got ${JSON.stringify(value)})`);
  return Number(m[1]) * (m[2] ? UNITS[m[2]] : 1);
}

function int(env: Env, name: string, fallback: number, min: number, max: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  if (!/^\d+$/.test(raw.trim())) throw new ConfigError(name, `must be an integer (got ${JSON.stringify(raw)})`);
  const n = Number(raw);
  if (n < min || n > max) throw new ConfigError(name, `must be between ${min} and ${max} (got ${n})`);
  return n;
}

function bool(env: Env, name: string, fallback: boolean): boolean {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  if (/^(1|true|yes|on)$/i.test(raw)) return true;
  if (/^(0|false|no|off)$/i.test(raw)) return false;
  throw new ConfigError(name, `must be true or false (got ${JSON.stringify(raw)})`);
}

function optionalDuration(env: Env, name: string): number | null {
  const raw = env[name];
  return raw === undefined || raw === '' ? null : parseDuration(raw, name);
}

function url(env: Env, name: string, protocols: string[]): string | null {
  const raw = env[name];
  if (raw === undefined || raw === '') return null;
  let parsed: URL;
  try {
    parsed = new URL(raw);
  } catch {
    throw new ConfigError(name, 'must be a URL');
  }
  if (!protocols.includes(parsed.protocol)) throw new ConfigError(name, `must use one of ${protocols.join(', ')}`);
  return raw;
}

function retentionConfig(env: Env): RetentionConfig {
  const cfg: RetentionConfig = {
    enabled: bool(env, 'RETENTION_ENABLED', false),
    defaultMinLifetimeMs: optionalDuration(env, 'RETENTION_DEFAULT_MIN_LIFETIME'),
    defaultMaxLifetimeMs: optionalDuration(env, 'RETENTION_DEFAULT_MAX_LIFETIME'),
    allowedLifetimeMinMs: optionalDuration(env, 'RETENTION_ALLOWED_LIFETIME_MIN'),
    allowedLifetimeMaxMs: optionalDuration(env, 'RETENTION_ALLOWED_LIFETIME_MAX'),
    purgeJobs: [],
    purgeConcurrency: int(env, 'RETENTION_PURGE_CONCURRENCY', 2, 1, 64),
  };
  if (cfg.defaultMinLifetimeMs !== null && cfg.defaultMaxLifetimeMs !== null && cfg.defaultMinLifetimeMs > cfg.defaultMaxLifetimeMs) {
    throw new ConfigError(
      'RETENTION_DEFAULT_MIN_LIFETIME',
      "is invalid: The default retention policy's 'min_lifetime' can not be greater than its 'max_lifetime'",
    );
  }
  if (cfg.allowedLifetimeMinMs !== null && cfg.allowedLifetimeMaxMs !== null && cfg.allowedLifetimeMinMs > cfg.allowedLifetimeMaxMs) {
    throw new ConfigError(
      'RETENTION_ALLOWED_LIFETIME_MIN',
      "is invalid: Invalid retention policy limits: 'allowed_lifetime_min' can not be greater than 'allowed_lifetime_max'",
    );
  }
  cfg.purgeJobs = parsePurgeJobs(env.RETENTION_PURGE_JOBS);
  return cfg;
}

/** RETENTION_PURGE_JOBS is a JSON list of {interval, shortest_max_lifetime?, longest_max_lifetime?}. */
export function parsePurgeJobs(raw: string | undefined): RetentionPurgeJob[] {
  const name = 'RETENTION_PURGE_JOBS';
  if (raw === undefined || raw.trim() === '') return [{ intervalMs: 86_400_000, shortestMaxLifetimeMs: null, longestMaxLifetimeMs: null }];
  let jobs: unknown;
  try {
    jobs = JSON.parse(raw);
  } catch {
    throw new ConfigError(name, 'must be a JSON list of {"interval", "shortest_max_lifetime", "longest_max_lifetime"}');
  }
  if (!Array.isArray(jobs)) throw new ConfigError(name, 'must be a JSON list');
  if (jobs.length === 0) return parsePurgeJobs(undefined);
  return jobs.map((job, i) => {
    if (typeof job !== 'object' || job === null) throw new ConfigError(`${name}[${i}]`, 'must be an object');
    const j = job as Record<string, string | number | null | undefined>;
    if (j.interval === undefined || j.interval === null) throw new ConfigError(`${name}[${i}]`, "must have an 'interval' key");
    const d = (k: string) => (j[k] === undefined || j[k] === null ? null : parseDuration(j[k] as string | number, `${name}[${i}].${k}`));
    const out = {
      intervalMs: parseDuration(j.interval, `${name}[${i}].interval`),
      shortestMaxLifetimeMs: d('shortest_max_lifetime'),
      longestMaxLifetimeMs: d('longest_max_lifetime'),
    };
    if (out.shortestMaxLifetimeMs !== null && out.longestMaxLifetimeMs !== null && out.shortestMaxLifetimeMs > out.longestMaxLifetimeMs) {
      throw new ConfigError(`${name}[${i}]`, "'shortest_max_lifetime' can not be greater than 'longest_max_lifetime'");
    }
    return out;
  });
}

/** Reads and validates the configuration; throws ConfigError naming the first bad variable. */
export function loadConfig(env: Env = process.env): Config {
  const serverName = env.SERVER_NAME?.trim() || 'localhost';
  if (!isValidServerName(serverName))
    throw new ConfigError('SERVER_NAME', `must be a valid server name such as example.org (got ${JSON.stringify(serverName)})`);
  const redisRaw = env.REDIS_URL?.trim() ?? '';
  const redisUrls = redisRaw === '' ? [] : redisRaw.split(',').map((u) => u.trim());
  redisUrls.forEach((u) => url({ REDIS_URL: u }, 'REDIS_URL', ['redis:', 'rediss:']));
  const secret = env.REGISTRATION_SHARED_SECRET;
  const dbPoolSize = int(env, 'DB_POOL_SIZE', 10, 2, 200);
  const instanceName = env.INSTANCE_NAME?.trim() || `instance-${randomBytes(3).toString('hex')}`;
  if (!/^[A-Za-z0-9._-]{1,64}$/.test(instanceName))
    throw new ConfigError('INSTANCE_NAME', 'must be 1-64 characters of A-Z, a-z, 0-9, ".", "_" or "-"');
  const gatewayUpstream = env.GATEWAY_UPSTREAM?.trim() || null;
  const workers = int(env, 'WORKERS', 1, 1, 64);
  const gatewayWorkers = int(env, 'GATEWAY_WORKERS', 0, 0, 64);
  if (gatewayWorkers > 0 && !bool(env, 'GATEWAY_ENABLED', true))
    throw new ConfigError('GATEWAY_WORKERS', 'needs the gateway enabled (GATEWAY_ENABLED)');
  if (gatewayWorkers > 0 && !bool(env, 'GRPC_ENABLED', true))
    throw new ConfigError('GATEWAY_WORKERS', 'needs the gRPC services enabled (GRPC_ENABLED): the gateway processes call them');
  if (workers > 1 && redisUrls.length === 0)
    throw new ConfigError('WORKERS', 'more than 1 needs REDIS_URL: the workers are separate instances and must share their locks');
  if (gatewayUpstream !== null && !/^[\w.-]+:\d+$|^\[[0-9a-fA-F:]+\]:\d+$/.test(gatewayUpstream))
    throw new ConfigError('GATEWAY_UPSTREAM', 'must be host:port');
  return {
    databaseUrl: url(env, 'DATABASE_URL', ['postgres:', 'postgresql:']),
    dataDir: env.DATA_DIR?.trim() || '.data',
    redisUrls,
    redisKeyPrefix: env.REDIS_KEY_PREFIX ?? 'sra:',
    serverName,
    httpPort: int(env, 'HTTP_PORT', 8008, 0, 65535),
    httpHost: env.HTTP_HOST?.trim() || '0.0.0.0',
    grpcPort: int(env, 'GRPC_PORT', 50051, 0, 65535),
    grpcHost: env.GRPC_HOST?.trim() || '0.0.0.0',
    gatewayEnabled: bool(env, 'GATEWAY_ENABLED', true),
    grpcEnabled: bool(env, 'GRPC_ENABLED', true),
    gatewayUpstream,
    workers,
    gatewayWorkers,
    gatewayUpstreamConnections: int(env, 'GATEWAY_UPSTREAM_CONNECTIONS', 1, 1, 64),
    registrationSharedSecret: secret === undefined || secret === '' ? null : secret,
    instanceName,
    logLevel: pick(env, 'LOG_LEVEL', 'info', ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']),
    authCacheTtlMs: durationAtLeast(env, 'AUTH_CACHE_TTL', 60_000, 0),
    maxConcurrentTasks: int(env, 'MAX_CONCURRENT_TASKS', Math.max(1, Math.floor(dbPoolSize / 2)), 1, 1000),
    taskLeaseMs: durationAtLeast(env, 'TASK_LEASE', 5_000, 1_000),
    keepTasksForMs: durationAtLeast(env, 'TASK_RETENTION', 7 * 86_400_000, 0),
    taskStuckWarningMs: durationAtLeast(env, 'TASK_STUCK_WARNING', 86_400_000, 1_000),
    shutdownTimeoutMs: durationAtLeast(env, 'SHUTDOWN_TIMEOUT', 10_000, 0),
    dbPoolSize,
    forgottenRoomRetentionPeriodMs: optionalDuration(env, 'FORGOTTEN_ROOM_RETENTION_PERIOD'),
    retention: retentionConfig(env),
    msc3874Enabled: bool(env, 'EXPERIMENTAL_MSC3874_ENABLED', false),
    maxRequestBodyBytes: int(env, 'MAX_REQUEST_BODY_BYTES', 1024 * 1024, 1024, 100 * 1024 * 1024),
    metricsPort: env.METRICS_PORT === undefined || env.METRICS_PORT === '' ? null : int(env, 'METRICS_PORT', 0, 0, 65535),
    metricsHost: env.METRICS_HOST?.trim() || '0.0.0.0',
    logFormat: pick(env, 'LOG_FORMAT', 'auto', ['auto', 'json', 'pretty']) as Config['logFormat'],
    otelTracesEndpoint: otelTracesEndpoint(env),
    otelServiceName: env.OTEL_SERVICE_NAME?.trim() || 'synapse-room-admin',
    httpXForwarded: bool(env, 'HTTP_X_FORWARDED', false),
    grpcTrustedGateways: addressList(env, 'GRPC_TRUSTED_GATEWAYS', ['127.0.0.1', '::1']),
    userIpsMaxAgeMs: userIpsMaxAge(env),
    shadowBanMaxDelayMs: durationAtLeast(env, 'SHADOW_BAN_MAX_DELAY', 10_000, 0),
    passwordHashCost: int(env, 'PASSWORD_HASH_COST', DEFAULT_PASSWORD_HASH_COST, 10, 20),
    tableUpkeep: pick(env, 'TABLE_UPKEEP', 'auto', ['auto', 'on', 'off']) as Config['tableUpkeep'],
    tableUpkeepIntervalMs: durationAtLeast(env, 'TABLE_UPKEEP_INTERVAL', 5_000, 1_000),
  };
}

/** The OTLP/HTTP traces URL, as the OpenTelemetry exporters derive it from the standard variables. */
function otelTracesEndpoint(env: Env): string | null {
  if (env.OTEL_SDK_DISABLED?.trim().toLowerCase() === 'true') return null;
  const traces = env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT?.trim();
  const base = env.OTEL_EXPORTER_OTLP_ENDPOINT?.trim();
  const url = traces || (base ? `${base.replace(/\/+$/, '')}/v1/traces` : null);
  if (url === null) return null;
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new ConfigError(
      traces ? 'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT' : 'OTEL_EXPORTER_OTLP_ENDPOINT',
      `must be an http(s) URL (got ${JSON.stringify(url)})`,
    );
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:')
    throw new ConfigError(
      traces ? 'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT' : 'OTEL_EXPORTER_OTLP_ENDPOINT',
      `must be an http(s) URL (got ${JSON.stringify(url)})`,
    );
  return url;
}

/** A comma-separated list of IP addresses. */
function addressList(env: Env, name: string, fallback: string[]): string[] {
  const raw = env[name];
  if (raw === undefined || raw.trim() === '') return fallback;
  const list = raw
    .split(',')
    .map((a) => a.trim())
    .filter(Boolean);
  for (const a of list)
    if (!isIP(a)) throw new ConfigError(name, `must be a comma-separated list of IP addresses (got ${JSON.stringify(a)})`);
  return list;
}

/** USER_IPS_MAX_AGE: Synapse's user_ips_max_age (28 days); 0 keeps rows forever. */
function userIpsMaxAge(env: Env): number | null {
  const ms = optionalDuration(env, 'USER_IPS_MAX_AGE') ?? 28 * 86_400_000;
  return ms === 0 ? null : ms;
}

/** A duration setting with a default and a lower bound. */
function durationAtLeast(env: Env, name: string, fallback: number, min: number): number {
  const ms = optionalDuration(env, name) ?? fallback;
  if (ms < min) throw new ConfigError(name, `must be at least ${min} ms (got ${ms})`);
  return ms;
}

function pick(env: Env, name: string, fallback: string, allowed: string[]): string {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  if (!allowed.includes(raw)) throw new ConfigError(name, `must be one of ${allowed.join(', ')} (got ${JSON.stringify(raw)})`);
  return raw;
}
