/**
 * The request a piece of work is done for. The gRPC adapter and the REST gateway run each call,
 * and the task scheduler each task run, inside a context (AsyncLocalStorage) naming the request id
 * (and the trace id, when the call has one); every logger adds both to each line it writes within
 * it (see createLogger's mixin), whichever child logger writes the line. Background work that
 * serves no single request (summaries of faults, claim passes) runs outside any context, even
 * when a request happened to start it.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import type { SpanHandle } from './tracing/tracing';

export interface RequestContext {
  /** Empty for work no request asked for (a task the service scheduled itself, traced). */
  readonly requestId: string;
  /** The W3C trace id of the call: its incoming `traceparent`'s, or its span's when tracing is on. */
  readonly traceId?: string | null;
  /** The call's span when traces are exported (the parent of spans started within the call). */
  readonly span?: SpanHandle | null;
}

const store = new AsyncLocalStorage<RequestContext>();
let contexts = true;

/**
 * Turns request contexts off (log lines then carry no request id) and on again. Only the
 * instrumentation-overhead benchmark turns them off, to measure what they cost.
 */
export function setRequestContexts(on: boolean): void {
  contexts = on;
}

/** Runs `fn` (and everything it starts) as work for the request `ctx`. */
export function withRequestContext<T>(ctx: RequestContext, fn: () => T): T {
  return contexts ? store.run(ctx, fn) : fn();
}

/** Runs `fn` (and everything it starts) as work for no request. */
export function outsideRequest<T>(fn: () => T): T {
  return store.exit(fn);
}

/** The request the current work is done for, if any. */
export function currentRequest(): RequestContext | undefined {
  return store.getStore();
}

/** The fields the current request adds to a log line (a new object: pino merges into it). */
export function requestLogFields(): Record<string, string> {
  const ctx = store.getStore();
  const fields: Record<string, string> = {};
  if (ctx?.requestId) fields.requestId = ctx.requestId;
  if (ctx?.traceId) fields.traceId = ctx.traceId;
  return fields;
}
