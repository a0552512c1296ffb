/**
 * Serving the metrics: `GET /metrics` in the Prometheus text format, on the gateway's listener or
 * on a listener of its own (METRICS_PORT).
 *
 * With WORKERS > 1 (node:cluster), every worker is asked for its metrics and the answer is their
 * aggregate (prom-client's AggregatorRegistry: counters and histograms summed, gauges by their
 * declared aggregator), so one scrape describes the whole host whichever worker accepted it:
 * a worker forwards the scrape to the primary over the cluster IPC channel, the primary collects
 * from every worker (gateway processes included) and answers. With METRICS_PORT, the primary
 * serves the port itself.
 */
import cluster, { type Worker } from 'node:cluster';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { AggregatorRegistry, type PrometheusContentType } from 'prom-client';

type Aggregator = AggregatorRegistry<PrometheusContentType>;
import { register } from './metrics';

export const METRICS_PATH = '/metrics';
export const CONTENT_TYPE = register.contentType;
/** How long a worker waits for the primary's aggregate before answering 503. */
const AGGREGATE_TIMEOUT_MS = 10_000;

interface MetricsRequest {
  kind: 'metrics-request';
  id: number;
}
interface MetricsResponse {
  kind: 'metrics-response';
  id: number;
  text?: string;
  error?: string;
}

let aggregator: Aggregator | null = null;
/** Makes this process answer the primary's requests for its metrics (workers) or aggregate them (primary). */
export function joinClusterAggregation(): Aggregator {
  return (aggregator ??= new AggregatorRegistry());
}

const pending = new Map<number, (r: MetricsResponse) => void>();
let nextId = 0;
let workerListening = false;

/** Metrics of this process, or of the whole cluster when this process is a cluster worker. */
export async function metricsText(): Promise<string> {
  if (!cluster.isWorker || !process.send) return register.metrics();
  joinClusterAggregation();
  if (!workerListening) {
    workerListening = true;
    process.on('message', (m: MetricsResponse) => {
      if (m?.kind !== 'metrics-response') return;
      pending.get(m.id)?.(m);
    });
  }
  const id = nextId++;
  const res = await new Promise<MetricsResponse>((ok) => {
    const timer = setTimeout(() => ok({ kind: 'metrics-response', id, error: 'the primary did not answer' }), AGGREGATE_TIMEOUT_MS);
    pending.set(id, (r) => {
      clearTimeout(timer);
      ok(r);
    });
    process.send!({ kind: 'metrics-request', id } satisfies MetricsRequest);
  });
  pending.delete(id);
  if (res.error !== undefined || res.text === undefined) throw new Error(`cluster metrics unavailable: ${res.error}`);
  return res.text;
}

/** Answers a scrape on `res` (200 with the text, or 503 when the metrics cannot be gathered). */
export async function sendMetrics(res: http.ServerResponse, headers: Record<string, string> = {}): Promise<number> {
  try {
    const text = await metricsText();
    res.writeHead(200, {
      ...headers,
      'Content-Type': CONTENT_TYPE,
      'Content-Length': Buffer.byteLength(text),
      'Cache-Control': 'no-store',
    });
    res.end(text);
    return 200;
  } catch (err) {
    res.writeHead(503, { ...headers, 'Content-Type': 'text/plain; charset=utf-8' });
    res.end(`# metrics unavailable: ${(err as Error).message}\n`);
    return 503;
  }
}

export interface MetricsServer {
  port: number;
  close(): Promise<void>;
}

/** A listener serving only `GET /metrics` (METRICS_PORT). */
export async function startMetricsServer(port: number, host: string, text: () => Promise<string> = metricsText): Promise<MetricsServer> {
  const server = http.createServer((req, res) => {
    if (req.method !== 'GET' || new URL(req.url ?? '/', 'http://m').pathname !== METRICS_PATH) {
      res.writeHead(404, { 'Content-Type': 'text/plain; charset=utf-8' });
      res.end('not found\n');
      return;
    }
    text().then(
      (t) => {
        res.writeHead(200, { 'Content-Type': CONTENT_TYPE, 'Content-Length': Buffer.byteLength(t), 'Cache-Control': 'no-store' });
        res.end(t);
      },
      (err: Error) => {
        res.writeHead(503, { 'Content-Type': 'text/plain; charset=utf-8' });
        res.end(`# metrics unavailable: ${err.message}\n`);
      },
    );
  });
  await new Promise<void>((ok, ko) => {
    server.once('error', ko);
    server.listen(port, host, () => ok());
  });
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((ok) => {
        server.close(() => ok());
        server.closeIdleConnections();
      }),
  };
}

/** Primary side: answers workers' forwarded scrapes with the aggregate of every worker. */
export function serveClusterMetrics(): Aggregator {
  const agg = joinClusterAggregation();
  cluster.on('message', (worker: Worker, m: MetricsRequest) => {
    if (m?.kind !== 'metrics-request') return;
    agg.clusterMetrics().then(
      (text: string) => worker.isConnected() && worker.send({ kind: 'metrics-response', id: m.id, text } satisfies MetricsResponse),
      (err: Error) =>
        worker.isConnected() && worker.send({ kind: 'metrics-response', id: m.id, error: err.message } satisfies MetricsResponse),
    );
  });
  return agg;
}
