/**
 * Spans, when traces are exported. Without `OTEL_EXPORTER_OTLP_ENDPOINT` nothing here loads the
 * OpenTelemetry SDK (otel.ts is required only by startTracing) and startSpan() answers null, so the
 * gateway, the adapter and the scheduler pay one null check per call. With it, each REST request
 * is a server span, each gRPC call the gateway makes a client span, each RPC a server span (child
 * of the caller's `traceparent`) and each task run a span linked to the request that scheduled it.
 *
 * Spans are parented explicitly (from a span of this process or a received `traceparent`), not
 * through OpenTelemetry's global context: the request context (request-context.ts) carries the
 * current span, so no context manager is installed.
 */
export type SpanKind = 'server' | 'client' | 'internal';
export type SpanAttributes = Record<string, string | number | boolean | null | undefined>;

export interface SpanHandle {
  readonly traceId: string;
  /** A W3C `traceparent` naming this span as the parent (sent on, and returned to the caller). */
  readonly traceparent: string;
  /** Names the span once its name is known (the REST route template, after matching). */
  rename(name: string): void;
  setAttributes(attributes: SpanAttributes): void;
  /** Ends the span; with `error`, its status is an error with that description. */
  end(error?: string): void;
}

export interface SpanOptions {
  kind: SpanKind;
  /** The parent: a span of this process or a received `traceparent`; none (or invalid) starts a trace. */
  parent?: SpanHandle | string | null;
  /** `traceparent`s of spans this one follows from without being their child (a task's request). */
  links?: (string | null | undefined)[];
  attributes?: SpanAttributes;
}

export interface Tracer {
  startSpan(name: string, opts: SpanOptions): SpanHandle;
  /** Exports the spans still buffered, then stops exporting. */
  shutdown(): Promise<void>;
}

export interface TracingOptions {
  /** The OTLP/HTTP traces URL (`…/v1/traces`). */
  tracesEndpoint: string;
  serviceName: string;
  serviceInstanceId: string;
  serviceVersion: string;
}

/** `rpc.*` attributes of a gRPC method path `/package.Service/Method`. */
export function rpcAttributes(path: string): Record<string, string> {
  const [, service = '', name = ''] = path.split('/');
  return { 'rpc.system': 'grpc', 'rpc.service': service, 'rpc.method': name };
}

let active: Tracer | null = null;

/** A span, when traces are exported; null otherwise. */
export function startSpan(name: string, opts: SpanOptions): SpanHandle | null {
  return active === null ? null : active.startSpan(name, opts);
}

/** Whether spans are being exported. */
export function tracingEnabled(): boolean {
  return active !== null;
}

/**
 * Loads the OpenTelemetry SDK and exports spans to `opts.tracesEndpoint` from now on (one tracer
 * per process: the spans of every call of the process go to it). The other standard variables
 * (`OTEL_EXPORTER_OTLP_HEADERS`, `OTEL_TRACES_SAMPLER`, `OTEL_BSP_*`, `OTEL_RESOURCE_ATTRIBUTES`, ...)
 * are read by the SDK itself.
 */
export function startTracing(opts: TracingOptions): Tracer {
  // Loaded only here: a process that exports nothing never loads the SDK.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { createOtelTracer } = require('./otel') as typeof import('./otel');
  const tracer = createOtelTracer(opts);
  active = tracer;
  return tracer;
}

/** Flushes and stops `tracer`; spans are no longer made if it was the process's tracer. */
export async function stopTracing(tracer: Tracer): Promise<void> {
  if (active === tracer) active = null;
  await tracer.shutdown();
}
