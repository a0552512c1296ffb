/**
 * The OpenTelemetry implementation of tracing.ts, loaded only when traces are exported: the SDK's
 * BasicTracerProvider (sampler and limits from the standard OTEL_* variables), a batch processor
 * and the OTLP/HTTP exporter (JSON encoding). The resource names the service, its instance and
 * version; `OTEL_SERVICE_NAME` and `OTEL_RESOURCE_ATTRIBUTES` override or add to it.
 */
import {
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  defaultTextMapGetter,
  trace,
  type Context,
  type Link,
  type Span,
} from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { defaultResource, detectResources, envDetector, resourceFromAttributes } from '@opentelemetry/resources';
import { BasicTracerProvider, BatchSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { ATTR_SERVICE_NAME, ATTR_SERVICE_VERSION } from '@opentelemetry/semantic-conventions';
import type { SpanAttributes, SpanHandle, SpanOptions, Tracer, TracingOptions } from './tracing';

/** `service.instance.id` (still in the incubating part of the semantic conventions). */
const ATTR_SERVICE_INSTANCE_ID = 'service.instance.id';
const TRACER_NAME = 'synapse-room-admin';

const KINDS = { server: SpanKind.SERVER, client: SpanKind.CLIENT, internal: SpanKind.INTERNAL } as const;
const propagator = new W3CTraceContextPropagator();

/** The context holding the span context of a received `traceparent` (ROOT_CONTEXT if invalid). */
function remoteContext(traceparent: string): Context {
  return propagator.extract(ROOT_CONTEXT, { traceparent }, defaultTextMapGetter);
}

function clean(attributes: SpanAttributes | undefined): Record<string, string | number | boolean> {
  const out: Record<string, string | number | boolean> = {};
  if (attributes) for (const [k, v] of Object.entries(attributes)) if (v !== null && v !== undefined) out[k] = v;
  return out;
}

class OtelSpan implements SpanHandle {
  readonly traceId: string;
  readonly traceparent: string;

  constructor(readonly span: Span) {
    const c = span.spanContext();
    this.traceId = c.traceId;
    this.traceparent = `00-${c.traceId}-${c.spanId}-${(c.traceFlags & 0xff).toString(16).padStart(2, '0')}`;
  }

  rename(name: string): void {
    this.span.updateName(name);
  }

  setAttributes(attributes: SpanAttributes): void {
    this.span.setAttributes(clean(attributes));
  }

  end(error?: string): void {
    if (error !== undefined) this.span.setStatus({ code: SpanStatusCode.ERROR, message: error });
    this.span.end();
  }
}

export function createOtelTracer(opts: TracingOptions): Tracer {
  const resource = defaultResource()
    .merge(
      resourceFromAttributes({
        [ATTR_SERVICE_NAME]: opts.serviceName,
        [ATTR_SERVICE_INSTANCE_ID]: opts.serviceInstanceId,
        [ATTR_SERVICE_VERSION]: opts.serviceVersion,
      }),
    )
    .merge(detectResources({ detectors: [envDetector] }));
  const provider = new BasicTracerProvider({
    resource,
    spanProcessors: [new BatchSpanProcessor(new OTLPTraceExporter({ url: opts.tracesEndpoint }))],
  });
  const tracer = provider.getTracer(TRACER_NAME);
  return {
    startSpan(name: string, o: SpanOptions): SpanHandle {
      const parent =
        o.parent instanceof OtelSpan
          ? trace.setSpan(ROOT_CONTEXT, o.parent.span)
          : typeof o.parent === 'string'
            ? remoteContext(o.parent)
            : ROOT_CONTEXT;
      const links: Link[] = [];
      for (const tp of o.links ?? []) {
        const context = tp ? trace.getSpanContext(remoteContext(tp)) : undefined;
        if (context) links.push({ context });
      }
      return new OtelSpan(tracer.startSpan(name, { kind: KINDS[o.kind], attributes: clean(o.attributes), links }, parent));
    },
    shutdown: () => provider.shutdown(),
  };
}
