/**
 * The REST gateway: a plain node:http server that maps Synapse's paths onto gRPC calls made
 * through a real gRPC client. No business logic lives here: each route parses, calls one RPC and
 * renders JSON; errors come back as gRPC statuses and are rendered as Synapse's error bodies.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import * as grpc from '@grpc/grpc-js';
import { Codes, MatrixError, unknownToken } from '../errors';
import { FaultLog, type Logger } from '../logger';
import { MatrixClientError } from '../client/errors';
import { HealthCheckResponse_ServingStatus } from '../../gen/grpc/health/v1/health';
import { UNMATCHED_ROUTE, observeHttp } from '../metrics/metrics';
import { METRICS_PATH, sendMetrics } from '../metrics/exposition';
import type { ReadyReport } from '../readiness';
import { requestIdFrom, traceIdOf } from '../request-id';
import { withRequestContext, type RequestContext } from '../request-context';
import { rpcAttributes, startSpan, tracingEnabled, type SpanHandle } from '../tracing/tracing';
import { META_CLIENT_IP, META_CLIENT_USER_AGENT, firstForwardedFor, metadataUserAgent, normaliseAddress } from '../client-address';
import { unary, type Clients } from './grpc-clients';
import { Query } from './params';
import { RawJson, Router, type GatewayRequest, type Route } from './router';

export const CORS_HEADERS: Record<string, string> = {
  'Access-Control-Allow-Origin': '*',
  'Access-Control-Allow-Methods': 'GET, HEAD, POST, PUT, DELETE, OPTIONS',
  'Access-Control-Allow-Headers': 'X-Requested-With, Content-Type, Authorization, Date',
  'Access-Control-Expose-Headers': 'Synapse-Trace-Id, X-Request-Id, Server',
};

const DEFAULT_TIMEOUT_MS = 60_000;

export interface GatewayOptions {
  /** One or more client sets (connections); requests take them in turn. */
  clients: Clients[];
  routes: Route[];
  log: Logger;
  maxBodyBytes: number;
  /** Readiness checks answered on `/ready` (absent: `/ready` asks the upstream's gRPC health). */
  ready?: () => Promise<ReadyReport>;
  /** Serve `GET /metrics` on this listener (false when METRICS_PORT moves it to its own). */
  metrics?: boolean;
  /**
   * The gateway is behind a trusted reverse proxy (HTTP_X_FORWARDED): the client's address is the
   * first of `X-Forwarded-For` rather than the TCP peer.
   */
  xForwarded?: boolean;
}

interface ErrorBody {
  status: number;
  body: Record<string, unknown>;
}

/** Renders any error as Synapse's `{"errcode", "error"}` body with the right HTTP status. */
export function renderError(err: unknown, log: Logger): ErrorBody {
  if (err instanceof MatrixError) return { status: err.httpStatus, body: { errcode: err.errcode, error: err.message, ...err.extra } };
  // Upstream errors are read as the typed client reads them (src/client/errors.ts).
  const e = MatrixClientError.from(err);
  if (e instanceof MatrixClientError) {
    if (!e.fromService && e.code === grpc.status.UNAVAILABLE)
      return { status: 503, body: { errcode: Codes.UNKNOWN, error: 'Service unavailable' } };
    return { status: e.httpStatus, body: { errcode: e.errcode, error: e.message, ...e.extra } };
  }
  log.error({ err }, 'gateway error');
  return { status: 500, body: { errcode: Codes.UNKNOWN, error: 'Internal server error' } };
}

function send(res: http.ServerResponse, status: number, body: unknown, requestId: string): void {
  const payload = body instanceof RawJson ? body.text : JSON.stringify(body);
  res.writeHead(status, {
    ...CORS_HEADERS,
    'Content-Type': 'application/json',
    'Content-Length': typeof payload === 'string' ? Buffer.byteLength(payload) : payload.byteLength,
    'Cache-Control': 'no-cache, no-store, must-revalidate',
    'Synapse-Trace-Id': requestId,
    'X-Request-Id': requestId,
  });
  res.end(payload);
}

/**
 * How much of a refused body is read and thrown away after its 413, so the client, still sending,
 * reads the answer instead of a connection reset. A client sending more than this loses the
 * connection.
 */
const DISCARD_LIMIT_BYTES = 64 * 1024 * 1024;

const tooLarge = () => new MatrixError(413, 'Request body too large', Codes.TOO_LARGE);

/**
 * Reads the body, up to `limit` bytes. A longer body (declared, or sent chunked without a length)
 * is refused with 413 M_TOO_LARGE as soon as it is known, and the rest of it is read and discarded
 * (up to DISCARD_LIMIT_BYTES) while the answer goes out: closing the socket on a client still
 * sending would reset the connection before the client reads the 413.
 */
function readBody(req: http.IncomingMessage, limit: number): Promise<Buffer> {
  return new Promise((ok, ko) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let refused = false;
    const refuse = () => {
      refused = true;
      chunks.length = 0;
      ko(tooLarge());
    };
    if (Number(req.headers['content-length'] ?? 0) > limit) refuse();
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (refused) {
        if (size > limit + DISCARD_LIMIT_BYTES) req.socket.destroy();
      } else if (size > limit) refuse();
      else chunks.push(c);
    });
    req.on('end', () => ok(Buffer.concat(chunks)));
    req.on('error', ko);
  });
}

/** Synapse's token extraction rules (spec §0.5 step 1); null when no token was given. */
export function extractToken(req: http.IncomingMessage, query: URLSearchParams): string | null {
  const headers = req.headersDistinct.authorization ?? [];
  const queryToken = query.get('access_token');
  if (headers.length > 0 && queryToken !== null)
    throw new MatrixError(401, 'Mixing Authorization headers and access_token query parameters.', Codes.MISSING_TOKEN);
  if (headers.length > 1) throw new MatrixError(401, 'Too many Authorization headers.', Codes.MISSING_TOKEN);
  if (headers.length === 1) {
    const parts = headers[0].split(' ');
    if (parts.length !== 2 || parts[0] !== 'Bearer') throw new MatrixError(401, 'Invalid Authorization header.', Codes.MISSING_TOKEN);
    return parts[1];
  }
  return queryToken;
}

/**
 * Requests node:http refuses before any route sees them (headers or URL past its 16 KB limit, a
 * malformed request line) get a Matrix error body too, instead of node's bare status line.
 */
function answerClientError(err: NodeJS.ErrnoException, socket: Duplex): void {
  // As node's own handler: no answer on a connection that is gone or already sending a response.
  const inFlight = (socket as Duplex & { _httpMessage?: { headersSent?: boolean } })._httpMessage?.headersSent;
  if (err.code === 'ECONNRESET' || !socket.writable || inFlight) {
    socket.destroy();
    return;
  }
  const [status, errcode, error] =
    err.code === 'HPE_HEADER_OVERFLOW'
      ? [431, Codes.TOO_LARGE, 'Request headers too large']
      : err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
        ? [408, Codes.UNKNOWN, 'Request timed out']
        : [400, Codes.UNKNOWN, 'Malformed HTTP request'];
  const payload = JSON.stringify({ errcode, error });
  socket.end(
    `HTTP/1.1 ${status} ${http.STATUS_CODES[status]}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(payload)}\r\nConnection: close\r\n\r\n${payload}`,
  );
}

/**
 * A gRPC call of the gateway as a client span, child of the request's span; the call's
 * `traceparent` names the client span, so the server's span is its child.
 */
function tracedUnary<Req, Res>(
  parent: SpanHandle,
  client: grpc.Client,
  fn: Parameters<typeof unary<Req, Res>>[1],
  req: Req,
  md: grpc.Metadata,
  timeoutMs: number,
): Promise<Res> {
  const path = (fn as { path?: string }).path ?? '/unknown';
  const span = startSpan(path.slice(1), { kind: 'client', parent, attributes: rpcAttributes(path) });
  // Tracing stopped while the request was served (shutdown): the call goes out untraced.
  if (!span) return unary(client, fn, req, md, timeoutMs);
  const callMd = md.clone();
  callMd.set('traceparent', span.traceparent);
  return unary(client, fn, req, callMd, timeoutMs).then(
    (res) => {
      span.setAttributes({ 'rpc.grpc.status_code': grpc.status.OK });
      span.end();
      return res;
    },
    (err: grpc.ServiceError) => {
      const code = typeof err?.code === 'number' ? err.code : grpc.status.UNKNOWN;
      span.setAttributes({ 'rpc.grpc.status_code': code });
      span.end(err?.details ?? grpc.status[code]);
      throw err;
    },
  );
}

/** Names the request's span by its route template and records its status (5xx is an error). */
function endHttpSpan(span: SpanHandle, method: string, route: string | null, status: number): void {
  if (route !== null) {
    span.rename(`${method} ${route}`);
    span.setAttributes({ 'http.route': route });
  }
  span.setAttributes({ 'http.response.status_code': status });
  span.end(status >= 500 ? `HTTP ${status}` : undefined);
}

export class Gateway {
  private readonly router: Router;
  readonly server: http.Server;
  private turn = 0;
  /** Responses not sent yet (their requests are in flight). */
  private readonly inFlight = new Set<http.ServerResponse>();
  private closing = false;
  /**
   * Requests answered 5xx: logged when they start, summarised while they go on (an outage fails
   * every request that needs the missing dependency), and once a summary period passed without one.
   */
  private readonly failing: FaultLog;

  constructor(private readonly opts: GatewayOptions) {
    this.router = new Router(opts.routes);
    this.failing = new FaultLog(
      opts.log,
      'requests',
      {},
      {
        recoverWhenQuiet: true,
        messages: { down: 'request failed', still: 'requests still failing', up: 'requests no longer failing' },
      },
    );
    this.server = http.createServer({ keepAliveTimeout: 65_000 }, (req, res) => {
      this.track(res);
      void this.handle(req, res);
    });
    this.server.on('clientError', answerClientError);
  }

  async listen(port: number, host: string): Promise<number> {
    await new Promise<void>((ok, ko) => {
      this.server.once('error', ko);
      this.server.listen(port, host, () => ok());
    });
    return (this.server.address() as AddressInfo).port;
  }

  /**
   * Stops accepting connections and closes idle keep-alive ones at once. Requests in flight are
   * answered with `Connection: close`, so each connection closes as soon as its last answer is
   * sent; connections still open after `graceMs` are destroyed.
   */
  async close(graceMs: number): Promise<void> {
    this.closing = true;
    this.failing.close();
    for (const res of this.inFlight) if (!res.headersSent) res.setHeader('Connection', 'close');
    await new Promise<void>((ok) => {
      const timer = setTimeout(() => this.server.closeAllConnections(), graceMs);
      this.server.close(() => {
        clearTimeout(timer);
        ok();
      });
      this.server.closeIdleConnections();
    });
  }

  private track(res: http.ServerResponse): void {
    if (this.closing) {
      res.setHeader('Connection', 'close');
      return;
    }
    this.inFlight.add(res);
    res.once('close', () => this.inFlight.delete(res));
  }

  /**
   * Runs the request inside its request context (every line logged while it is served carries its
   * request id and trace id) and, when traces are exported, its server span: a child of the
   * caller's `traceparent`, named by the route template, returned in the `traceparent` header.
   */
  private handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const requestId = requestIdFrom(req.headers['x-request-id']);
    const traceparent = typeof req.headers.traceparent === 'string' ? req.headers.traceparent : undefined;
    const method = req.method ?? 'GET';
    const span =
      tracingEnabled() &&
      startSpan(method, { kind: 'server', parent: traceparent, attributes: { 'http.request.method': method, 'request.id': requestId } });
    const rc: RequestContext = span ? { requestId, traceId: span.traceId, span } : { requestId, traceId: traceIdOf(traceparent) };
    if (span) res.setHeader('traceparent', span.traceparent);
    return withRequestContext(rc, () => this.serve(req, res, method, rc));
  }

  private async serve(req: http.IncomingMessage, res: http.ServerResponse, method: string, rc: RequestContext): Promise<void> {
    const started = process.hrtime.bigint();
    const { requestId, span } = rc;
    const traceparent = req.headers.traceparent;
    const url = new URL(req.url ?? '/', 'http://gateway');
    let routeLabel = UNMATCHED_ROUTE;
    try {
      if (method === 'OPTIONS') {
        res.writeHead(204, { ...CORS_HEADERS, 'Content-Length': '0', 'X-Request-Id': requestId });
        res.end();
        return;
      }
      if (
        method === 'GET' &&
        (url.pathname === '/health' || url.pathname === '/ready' || (url.pathname === METRICS_PATH && this.opts.metrics !== false))
      ) {
        routeLabel = url.pathname;
        if (url.pathname === METRICS_PATH) return void (await sendMetrics(res, { 'X-Request-Id': requestId }));
        return await (url.pathname === '/health' ? this.health(res, requestId) : this.ready(res, requestId));
      }
      const match = this.router.match(method === 'HEAD' ? 'GET' : method, url.pathname);
      if (!match) throw new MatrixError(404, 'Unrecognized request', Codes.UNRECOGNIZED);
      if ('methodNotAllowed' in match) throw new MatrixError(405, 'Unrecognized request', Codes.UNRECOGNIZED);
      const { route, params } = match;
      routeLabel = route.path;
      const md = new grpc.Metadata();
      md.set('x-request-id', requestId);
      if (typeof traceparent === 'string') md.set('traceparent', traceparent);
      const clientIp = (this.opts.xForwarded ? firstForwardedFor(req.headers['x-forwarded-for']) : null) ?? req.socket.remoteAddress;
      if (clientIp) md.set(META_CLIENT_IP, metadataUserAgent(normaliseAddress(clientIp)));
      md.set(META_CLIENT_USER_AGENT, metadataUserAgent(req.headers['user-agent']));
      if (route.auth !== 'none') {
        const token = extractToken(req, url.searchParams);
        // No token holds characters outside visible ASCII, and gRPC metadata cannot carry them.
        if (token !== null && /[^\x21-\x7e]/.test(token)) throw unknownToken();
        if (token !== null) md.set('authorization', `Bearer ${token}`);
      }
      const rawBody = method === 'GET' ? Buffer.alloc(0) : await readBody(req, this.opts.maxBodyBytes);
      const clients = this.opts.clients[this.turn++ % this.opts.clients.length];
      const greq: GatewayRequest = {
        method,
        params,
        query: new Query(url.searchParams),
        rawBody,
        requestId,
        clients,
        // Lines it writes carry the request id (request context).
        log: this.opts.log,
        rpc: (client, name, request, timeoutMs = route.timeoutMs ?? DEFAULT_TIMEOUT_MS) => {
          const fn = client[name] as unknown as Parameters<typeof unary>[1];
          if (!span) return unary(client as unknown as grpc.Client, fn, request, md, timeoutMs) as never;
          return tracedUnary(span, client as unknown as grpc.Client, fn, request, md, timeoutMs) as never;
        },
      };
      if (match.error) {
        // A path parameter that is not valid percent-encoding: the request cannot be passed on, but
        // a missing credential or a non-admin caller is still answered first, as for every other
        // bad parameter (those are checked by the services, after authentication).
        if (route.auth !== 'none') await greq.rpc(clients.auth, 'checkAccess', { requireAdmin: route.auth === 'admin' });
        throw match.error;
      }
      const result = await route.handler(greq);
      send(res, result.status ?? 200, result.body, requestId);
    } catch (err) {
      const { status, body } = renderError(err, this.opts.log);
      if (status >= 500) this.failing.failed(body.error, { requestId, status, errcode: body.errcode, path: url.pathname });
      send(res, status, body, requestId);
    } finally {
      observeHttp(routeLabel, method, res.statusCode, started);
      if (span) endHttpSpan(span, method, routeLabel === UNMATCHED_ROUTE ? null : routeLabel, res.statusCode);
    }
  }

  /** Readiness: 200 with every check when all pass, else 503 naming the failing ones. */
  private async ready(res: http.ServerResponse, requestId: string): Promise<void> {
    const report: ReadyReport = this.opts.ready
      ? await this.opts.ready()
      : { ready: (await this.upstreamStatus()) === HealthCheckResponse_ServingStatus.SERVING, checks: {} };
    if (!this.opts.ready) report.checks.upstream = { ok: report.ready };
    const payload = JSON.stringify({ status: report.ready ? 'ready' : 'not_ready', checks: report.checks });
    res.writeHead(report.ready ? 200 : 503, {
      'Content-Type': 'application/json',
      'Content-Length': Buffer.byteLength(payload),
      'Cache-Control': 'no-store',
      'X-Request-Id': requestId,
    });
    res.end(payload);
  }

  /** The upstream's overall gRPC health status (0 when it does not answer). */
  upstreamStatus(): Promise<number> {
    const health = this.opts.clients[0].health;
    return new Promise<number>((ok) =>
      health.check({ service: '' }, new grpc.Metadata(), { deadline: Date.now() + 5000 }, (err, r) => ok(err ? 0 : r.status)),
    );
  }

  private async health(res: http.ServerResponse, requestId: string): Promise<void> {
    const serving = (await this.upstreamStatus()) === HealthCheckResponse_ServingStatus.SERVING;
    res.writeHead(serving ? 200 : 503, {
      ...CORS_HEADERS,
      'Content-Type': 'text/plain; charset=utf-8',
      'Synapse-Trace-Id': requestId,
      'X-Request-Id': requestId,
    });
    res.end(serving ? 'OK' : 'NOT SERVING');
  }
}
