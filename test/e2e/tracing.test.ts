/**
 * OpenTelemetry export: with OTEL_EXPORTER_OTLP_ENDPOINT set, spans reach a real OTLP/HTTP
 * receiver (a node:http server decoding the JSON export): the REST request's server span (child of
 * the incoming `traceparent`, named by the route template, returned in the `traceparent` header),
 * the gateway's gRPC client span, the RPC's server span and the task run's span (linked to the RPC
 * that scheduled it), with the service's resource attributes; stopping the service flushes them.
 * Without it, a real service process loads none of the SDK (only prom-client's use of the API).
 */
import { strict as assert } from 'node:assert';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import {
  createDatabase,
  dbUrl,
  dropDatabase,
  http as rest,
  registerUser,
  startStack,
  uniq,
  TEST_REDIS_URL,
  SHARED_SECRET,
  type Stack,
} from '../support/stack';
import { spawnService } from '../support/process';
import { createRoom, enc, waitForDelete } from './room-admin.helpers';

interface OtlpValue {
  stringValue?: string;
  intValue?: string | number;
  boolValue?: boolean;
}
interface OtlpSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind: number;
  attributes?: { key: string; value: OtlpValue }[];
  links?: { traceId: string; spanId: string }[];
  status?: { code?: number };
}
interface Exported {
  resource: Record<string, unknown>;
  span: OtlpSpan;
}

const SERVER = 2;
const CLIENT = 3;

function value(v: OtlpValue | undefined): unknown {
  if (!v) return undefined;
  if (v.stringValue !== undefined) return v.stringValue;
  if (v.intValue !== undefined) return Number(v.intValue);
  return v.boolValue;
}

const attr = (s: OtlpSpan, key: string) => value(s.attributes?.find((a) => a.key === key)?.value);

/** An OTLP/HTTP receiver: every span of every JSON export posted to /v1/traces. */
async function startReceiver(): Promise<{ url: string; spans: Exported[]; close(): Promise<void> }> {
  const spans: Exported[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      if (req.method === 'POST' && req.url === '/v1/traces' && /json/.test(req.headers['content-type'] ?? '')) {
        const body = JSON.parse(Buffer.concat(chunks).toString()) as {
          resourceSpans: { resource: { attributes: { key: string; value: OtlpValue }[] }; scopeSpans: { spans: OtlpSpan[] }[] }[];
        };
        for (const rs of body.resourceSpans) {
          const resource = Object.fromEntries(rs.resource.attributes.map((a) => [a.key, value(a.value)]));
          for (const ss of rs.scopeSpans) for (const span of ss.spans) spans.push({ resource, span });
        }
      }
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{}');
    });
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    spans,
    close: () => new Promise<void>((ok) => server.close(() => ok())),
  };
}

describe('Tracing (OpenTelemetry export)', function () {
  this.timeout(120_000);

  it('exports the REST request, the gRPC client call, the RPC and the task run as one trace, continuing the caller’s traceparent', async () => {
    const receiver = await startReceiver();
    let s: Stack | null = null;
    try {
      s = await startStack({ OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url });
      const admin = await registerUser(s, uniq('admin'), { admin: true });
      const roomId = await createRoom(s, admin.token);
      const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
      const callerSpanId = '00f067aa0ba902b7';
      const requestId = `trace-${uniq('r')}`;
      const del = await rest(s, 'DELETE', `/_synapse/admin/v2/rooms/${enc(roomId)}`, {
        token: admin.token,
        body: { purge: true },
        headers: { 'x-request-id': requestId, traceparent: `00-${traceId}-${callerSpanId}-01` },
      });
      assert.equal(del.status, 200);
      // The answer names the gateway's span, in the caller's trace.
      const answered = /^00-([0-9a-f]{32})-([0-9a-f]{16})-01$/.exec(del.headers.get('traceparent') ?? '');
      assert.ok(answered, `traceparent answered: ${del.headers.get('traceparent')}`);
      assert.equal(answered[1], traceId);
      assert.notEqual(answered[2], callerSpanId);
      await waitForDelete(s, admin.token, del.body.delete_id as string);
      const instance = s.config.instanceName;
      await s.stop();
      s = null;

      // Everything was exported by the time the service stopped.
      const inTrace = receiver.spans.filter((e) => e.span.traceId === traceId);
      const http1 = inTrace.find((e) => e.span.kind === SERVER && e.span.name === 'DELETE /_synapse/admin/v2/rooms/{roomId}');
      assert.ok(http1, JSON.stringify(inTrace.map((e) => e.span.name)));
      assert.equal(http1.span.parentSpanId, callerSpanId);
      assert.equal(http1.span.spanId, answered[2]);
      assert.equal(attr(http1.span, 'http.route'), '/_synapse/admin/v2/rooms/{roomId}');
      assert.equal(attr(http1.span, 'http.request.method'), 'DELETE');
      assert.equal(attr(http1.span, 'http.response.status_code'), 200);
      assert.equal(attr(http1.span, 'request.id'), requestId);
      assert.equal(http1.resource['service.name'], 'synapse-room-admin');
      assert.equal(http1.resource['service.instance.id'], instance);
      assert.equal(typeof http1.resource['service.version'], 'string');

      const rpcName = 'synapse.admin.v1.RoomAdminService/StartDeleteRoom';
      const client = inTrace.find((e) => e.span.kind === CLIENT && e.span.name === rpcName);
      assert.ok(client, 'no client span for the gRPC call');
      assert.equal(client.span.parentSpanId, http1.span.spanId);
      assert.equal(attr(client.span, 'rpc.system'), 'grpc');
      assert.equal(attr(client.span, 'rpc.grpc.status_code'), 0);

      const server = inTrace.find((e) => e.span.kind === SERVER && e.span.name === rpcName);
      assert.ok(server, 'no server span for the RPC');
      assert.equal(server.span.parentSpanId, client.span.spanId);
      assert.equal(attr(server.span, 'rpc.service'), 'synapse.admin.v1.RoomAdminService');
      assert.equal(attr(server.span, 'rpc.method'), 'StartDeleteRoom');
      assert.equal(attr(server.span, 'rpc.grpc.status_code'), 0);
      assert.equal(attr(server.span, 'request.id'), requestId);

      // The task runs in a trace of its own, linked to the RPC that scheduled it.
      const task = receiver.spans.find(
        (e) => e.span.name === 'task shutdown_and_purge_room' && attr(e.span, 'task.id') === del.body.delete_id,
      );
      assert.ok(task, JSON.stringify(receiver.spans.map((e) => e.span.name)));
      assert.deepEqual(
        task.span.links?.map((l) => [l.traceId, l.spanId]),
        [[traceId, server.span.spanId]],
      );
      assert.equal(attr(task.span, 'request.id'), requestId);
      assert.equal(attr(task.span, 'task.status'), 'complete');
    } finally {
      await s?.stop();
      await receiver.close();
    }
  });

  it('loads no OpenTelemetry SDK module unless OTEL_EXPORTER_OTLP_ENDPOINT is set', async () => {
    const receiver = await startReceiver();
    const dbName = await createDatabase();
    const loadedBy = async (extra: Record<string, string>) => {
      const svc = await spawnService({
        DATABASE_URL: dbUrl(dbName),
        REDIS_URL: TEST_REDIS_URL,
        REDIS_KEY_PREFIX: `sra-test-${uniq('otel')}:`,
        REGISTRATION_SHARED_SECRET: SHARED_SECRET,
        LOG_FORMAT: 'json',
        NODE_OPTIONS: `--require ${join(__dirname, '../support/report-otel-modules.cjs')}`,
        ...extra,
      });
      // A request through the gateway and the gRPC server.
      const res = await fetch(`http://127.0.0.1:${svc.httpPort}/_matrix/client/versions`, {
        headers: { traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01' },
      });
      assert.equal(res.status, 200);
      svc.child.kill('SIGTERM');
      await svc.exited;
      const line = svc.output.find((l) => l.startsWith('otel-modules '));
      assert.ok(line, svc.output.join('\n'));
      return JSON.parse(line.slice('otel-modules '.length)) as string[];
    };
    try {
      // prom-client loads the OpenTelemetry API (a no-op facade, for its exemplars) whatever the
      // configuration; the SDK, the exporter and everything else are not loaded.
      const untraced = await loadedBy({});
      assert.deepEqual(
        untraced.filter((k) => !k.includes('/node_modules/@opentelemetry/api/')),
        [],
      );
      // The probe does see them when tracing is on.
      const loaded = await loadedBy({ OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url });
      assert.ok(
        loaded.some((k) => k.includes('@opentelemetry/sdk-trace-base')),
        JSON.stringify(loaded),
      );
    } finally {
      await dropDatabase(dbName);
      await receiver.close();
    }
  });
});
