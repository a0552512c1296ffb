/**
 * Prometheus metrics of this process (prom-client's global registry, so node:cluster workers can
 * be aggregated by the primary, see ./exposition.ts).
 *
 * Things to keep in mind:
 * - Labels never carry user data or raw ids: gRPC methods are the service's own method paths,
 *   REST routes are path templates (`/_synapse/admin/v1/rooms/{roomId}`), lock labels are lock
 *   names (`purge_pagination_lock`), never their keys (room ids).
 * - The request paths (adapter, gateway) call the `observe*` functions below, which cache the
 *   labelled child of each series, so a request allocates no label object.
 * - Gauges that describe state (pools, the scheduler, Redis) are read when scraped, from the
 *   sources registered in ./sources.ts.
 */
import client from 'prom-client';
import { setRequestContexts } from '../request-context';

export const PREFIX = 'synapse_room_admin_';
export const register = client.register;

/** Latency buckets in seconds, from 0.5 ms (a cached read) to 60 s (the default deadline). */
const LATENCY_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];
/** Task timings in seconds, from 10 ms to an hour. */
const TASK_BUCKETS = [0.01, 0.05, 0.1, 0.5, 1, 5, 15, 60, 300, 900, 3600];

let instrumented = true;
/**
 * Turns the per-request instrumentation (the RPC and REST series, and the request contexts that
 * put request ids on log lines) off and on again. Only the instrumentation-overhead benchmark
 * (`npm run bench -- gateway --instrumentation`) turns it off, to compare the two in one run.
 */
export function setInstrumentation(on: boolean): void {
  instrumented = on;
  setRequestContexts(on);
}

let defaultsOn = false;
/** Process metrics (CPU, memory, GC, event-loop lag, handles) once per process. */
export function enableDefaultMetrics(): void {
  if (defaultsOn) return;
  defaultsOn = true;
  client.collectDefaultMetrics({ register, eventLoopMonitoringPrecision: 20 });
}

const seconds = (startedNs: bigint) => Number(process.hrtime.bigint() - startedNs) / 1e9;

/** A labelled child per key, made once. */
function cached<C>(make: (key: string) => C): (key: string) => C {
  const children = new Map<string, C>();
  return (key) => {
    let c = children.get(key);
    if (c === undefined) children.set(key, (c = make(key)));
    return c;
  };
}

// --- gRPC (src/grpc/adapter.ts) ---

const grpcHandled = new client.Counter({
  name: `${PREFIX}grpc_server_handled_total`,
  help: 'RPCs completed, by method and gRPC status code',
  labelNames: ['method', 'code'] as const,
});
const grpcSeconds = new client.Histogram({
  name: `${PREFIX}grpc_server_handling_seconds`,
  help: 'Time from the start of an RPC to its status',
  labelNames: ['method'] as const,
  buckets: LATENCY_BUCKETS,
});
const GRPC_CODE_NAMES = [
  'OK',
  'CANCELLED',
  'UNKNOWN',
  'INVALID_ARGUMENT',
  'DEADLINE_EXCEEDED',
  'NOT_FOUND',
  'ALREADY_EXISTS',
  'PERMISSION_DENIED',
  'RESOURCE_EXHAUSTED',
  'FAILED_PRECONDITION',
  'ABORTED',
  'OUT_OF_RANGE',
  'UNIMPLEMENTED',
  'INTERNAL',
  'UNAVAILABLE',
  'DATA_LOSS',
  'UNAUTHENTICATED',
];
const grpcHandledChild = cached((key) => {
  const [method, code] = key.split(' ');
  return grpcHandled.labels(method, code);
});
const grpcSecondsChild = cached((method) => grpcSeconds.labels(method));

/** Records a finished RPC (`method` is the call path, `/synapse.admin.v1.RoomService/ListRooms`). */
export function observeRpc(method: string, code: number, startedNs: bigint): void {
  if (!instrumented) return;
  grpcHandledChild(`${method} ${GRPC_CODE_NAMES[code] ?? 'UNKNOWN'}`).inc();
  grpcSecondsChild(method).observe(seconds(startedNs));
}

// --- REST gateway (src/gateway/http.ts) ---

const httpRequests = new client.Counter({
  name: `${PREFIX}http_requests_total`,
  help: 'REST requests answered, by route template, method and status',
  labelNames: ['route', 'method', 'status'] as const,
});
const httpSeconds = new client.Histogram({
  name: `${PREFIX}http_request_duration_seconds`,
  help: 'Time from a REST request to its answer, by route template and method',
  labelNames: ['route', 'method'] as const,
  buckets: LATENCY_BUCKETS,
});
const HTTP_METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'OPTIONS']);
/** The route label of a request that matched no route (its raw path is never a label). */
export const UNMATCHED_ROUTE = 'unmatched';
const httpRequestsChild = cached((key) => {
  const [method, status, route] = key.split(' ');
  return httpRequests.labels(route, method, status);
});
const httpSecondsChild = cached((key) => {
  const [method, route] = key.split(' ');
  return httpSeconds.labels(route, method);
});

/** Records an answered REST request; `route` is a path template or UNMATCHED_ROUTE. */
export function observeHttp(route: string, method: string, status: number, startedNs: bigint): void {
  if (!instrumented) return;
  const m = HTTP_METHODS.has(method) ? method : 'other';
  httpRequestsChild(`${m} ${status} ${route}`).inc();
  httpSecondsChild(`${m} ${route}`).observe(seconds(startedNs));
}

// --- Task scheduler (src/tasks/task-scheduler.ts) ---

const taskStartDelay = new client.Histogram({
  name: `${PREFIX}task_start_delay_seconds`,
  help: 'Time from a task being due to its action starting (resumed tasks excluded)',
  labelNames: ['action'] as const,
  buckets: TASK_BUCKETS,
});
const taskRunSeconds = new client.Histogram({
  name: `${PREFIX}task_run_seconds`,
  help: 'Time an action ran before returning (one run of a task)',
  labelNames: ['action'] as const,
  buckets: TASK_BUCKETS,
});
const taskOutcomes = new client.Counter({
  name: `${PREFIX}task_outcomes_total`,
  help: 'Runs ended, by action and outcome (complete, failed, cancelled, rerun, handed_back, lease_lost)',
  labelNames: ['action', 'outcome'] as const,
});
const taskRetries = new client.Counter({
  name: `${PREFIX}task_retries_total`,
  help: 'Claims of a task that was already active: resumed after a hand-back, a lost lease or a crashed instance, or a staged step run again',
  labelNames: ['action'] as const,
});
const taskLeaseLost = new client.Counter({
  name: `${PREFIX}task_lease_lost_total`,
  help: 'Runs stopped because their lease was taken over or could not be renewed',
  labelNames: ['action'] as const,
});

export const tasks = {
  started(action: string, dueAtMs: number | null, nowMs: number, resumed: boolean): void {
    if (resumed) taskRetries.labels(action).inc();
    else if (dueAtMs !== null) taskStartDelay.labels(action).observe(Math.max(0, nowMs - dueAtMs) / 1000);
  },
  ran(action: string, ms: number): void {
    taskRunSeconds.labels(action).observe(ms / 1000);
  },
  ended(action: string, outcome: string): void {
    taskOutcomes.labels(action, outcome).inc();
    if (outcome === 'lease_lost') taskLeaseLost.labels(action).inc();
  },
};

// --- Locks (src/infra/locks/) ---

const lockAcquisitions = new client.Counter({
  name: `${PREFIX}lock_acquisitions_total`,
  help: 'Lock requests by lock name, mode and result (acquired, busy, timeout, aborted, error)',
  labelNames: ['lock', 'mode', 'result'] as const,
});
const lockWait = new client.Histogram({
  name: `${PREFIX}lock_wait_seconds`,
  help: 'Time spent waiting for a lock (acquired or not)',
  labelNames: ['lock', 'mode'] as const,
  buckets: LATENCY_BUCKETS,
});
const lockTimeouts = new client.Counter({
  name: `${PREFIX}lock_timeouts_total`,
  help: 'Lock waits that gave up at their timeout',
  labelNames: ['lock', 'mode'] as const,
});
const lockLeasesLost = new client.Counter({
  name: `${PREFIX}lock_leases_lost_total`,
  help: 'Held Redis locks whose lease could not be extended (the holder was told to stop)',
});

export const locks = {
  /** A lock request ended; `startedNs` from process.hrtime.bigint() when it began. */
  done(
    lock: string,
    mode: string,
    result: 'acquired' | 'busy' | 'timeout' | 'aborted' | 'error',
    startedNs: bigint,
    waited: boolean,
  ): void {
    lockAcquisitions.labels(lock, mode, result).inc();
    if (waited) lockWait.labels(lock, mode).observe(seconds(startedNs));
    if (result === 'timeout') lockTimeouts.labels(lock, mode).inc();
  },
  leaseLost(): void {
    lockLeasesLost.inc();
  },
};

// --- Database (src/infra/sql.ts) ---

const dbPlanSwitches = new client.Counter({
  name: `${PREFIX}db_plan_switches_total`,
  help: 'SET plan_cache_mode round trips: a connection went from prepared statements (generic plans) to plain ones with parameters, or back',
  labelNames: ['to'] as const,
});

export const db = {
  planSwitched(to: 'generic' | 'default'): void {
    dbPlanSwitches.labels(to).inc();
  },
};

const upkeepSeconds = new client.Histogram({
  name: `${PREFIX}table_upkeep_seconds`,
  help: 'Vacuums and analyzes of the service tables run by the service itself (TABLE_UPKEEP), by action, and their time',
  labelNames: ['action'] as const,
  buckets: [0.005, 0.025, 0.1, 0.5, 2.5, 10, 60, 300],
});

export const upkeep = {
  ran(action: string, ms: number): void {
    upkeepSeconds.labels(action).observe(ms / 1000);
  },
};
