/**
 * The one adapter every RPC goes through: request id (every line logged during the call carries
 * it, see request-context.ts), its server span when traces are exported, authentication from metadata
 * (`authorization: Bearer <token>`), an EntityManager fork per call, cancellation/deadline as an
 * AbortSignal, and the single place where errors become gRPC statuses.
 */
import * as grpc from '@grpc/grpc-js';
import { DriverException } from '@mikro-orm/core';
import { isDatabaseUnavailable } from '../infra/transient';
import type { Ctx, Requester } from '../context';
import { Codes, MatrixError, echo, invalidParam } from '../errors';
import type { Orm } from '../infra/orm';
import { FaultLog, type Logger } from '../logger';
import type { UserService } from '../users/user.service';
import { META_CLIENT_IP, META_CLIENT_USER_AGENT, normaliseAddress, type ClientAddress } from '../client-address';
import { observeRpc } from '../metrics/metrics';
import { requestIdFrom, traceIdOf } from '../request-id';
import { withRequestContext, type RequestContext } from '../request-context';
import { rpcAttributes, startSpan, tracingEnabled, type SpanHandle } from '../tracing/tracing';
import { hasNul } from '../json-text';
import { FieldLimits } from './field-limits';
import { META_ERRCODE, META_ERROR_EXTRA, META_HTTP_STATUS, boundStatusDetails, grpcCodeForHttp } from './status';

/** Who may call a method: anyone, any user with a valid token, or server admins only. */
/** 'session': a user, locked or not (logout, as Synapse's allow_locked). */
export type AuthLevel = 'none' | 'user' | 'session' | 'admin';

export interface AdapterDeps {
  orm: Orm;
  users: UserService;
  log: Logger;
  /** The bound on JSON text fields of a request: the REST gateway's body limit. */
  maxJsonTextBytes: number;
  /**
   * Peer addresses whose `x-client-ip` / `x-client-user-agent` metadata is believed (the REST
   * gateways, which pass on their HTTP client's address); default loopback only.
   */
  trustedGateways?: ReadonlySet<string>;
}

export const DEFAULT_TRUSTED_GATEWAYS: ReadonlySet<string> = new Set(['127.0.0.1', '::1']);

/** grpc-js's peer (`host:port`, IPv6 unbracketed) → the address. */
function peerAddress(peer: string): string {
  if (peer === 'unknown') return '';
  return normaliseAddress(peer.startsWith('[') ? peer : peer.replace(/:\d+$/, ''));
}

/**
 * The client of a call: the address and user agent a trusted gateway passes on, or else the gRPC
 * peer's address and its `user-agent` metadata.
 */
export function clientOf(peer: string, md: grpc.Metadata, trusted: ReadonlySet<string> = DEFAULT_TRUSTED_GATEWAYS): ClientAddress {
  const address = peerAddress(peer);
  const forwarded = md.get(META_CLIENT_IP)[0];
  if (typeof forwarded === 'string' && forwarded && trusted.has(address)) {
    const ua = md.get(META_CLIENT_USER_AGENT)[0];
    return { ip: normaliseAddress(forwarded), userAgent: typeof ua === 'string' ? ua : '' };
  }
  const ua = md.get('user-agent')[0];
  return { ip: address, userAgent: typeof ua === 'string' ? ua : '' };
}

export type UnaryFn<Req, Res> = (req: Req, ctx: Ctx) => Promise<Res>;
export type StreamFn<Req, Res> = (req: Req, ctx: Ctx, write: (res: Res) => void) => Promise<void>;

/** Extracts the bearer token; throws Synapse's 401 M_MISSING_TOKEN errors. */
export function tokenFromMetadata(md: grpc.Metadata): string | null {
  const values = md.get('authorization');
  if (values.length === 0) return null;
  if (values.length > 1) throw new MatrixError(401, 'Too many Authorization headers.', Codes.MISSING_TOKEN);
  const parts = String(values[0]).split(' ');
  if (parts.length !== 2 || parts[0] !== 'Bearer' || !parts[1])
    throw new MatrixError(401, 'Invalid Authorization header.', Codes.MISSING_TOKEN);
  return parts[1];
}

/** Checks the credential against the method's auth level (spec §0.5 order). */
export async function authorize(
  users: UserService,
  ctx: Ctx,
  md: grpc.Metadata,
  level: AuthLevel,
  client?: () => ClientAddress,
): Promise<Requester | null> {
  const token = tokenFromMetadata(md);
  // The EntityManager is forked only if the token has to be looked up (not for a cached one).
  const em = () => ctx.em;
  if (level === 'none') return token ? users.authenticate(em, token, false, client?.()).catch(() => null) : null;
  if (!token) throw new MatrixError(401, 'Missing access token', Codes.MISSING_TOKEN);
  const requester = await users.authenticate(em, token, level === 'session', client?.());
  if (level === 'admin') {
    if (requester.isGuest) throw new MatrixError(403, 'Guest access not allowed', Codes.GUEST_ACCESS_FORBIDDEN);
    if (!requester.isAdmin) throw new MatrixError(403, 'You are not a server admin', Codes.FORBIDDEN);
  }
  return requester;
}

/**
 * PostgreSQL cannot store U+0000 in text, and no string may be longer than its field's limit
 * (see field-limits.ts). Such a request is refused before any work, so it can neither fail a write
 * halfway nor spoil a group commit it would have joined.
 */
function checkStrings(limits: FieldLimits, method: string, req: unknown): void {
  if (hasNul(req)) throw invalidParam('Strings may not contain the NUL character (U+0000)');
  limits.check(method, req);
}

/** The most the JSON of an error's extra body fields (matrix-error-extra trailer) may hold. */
export const MAX_ERROR_EXTRA_BYTES = 4096;
const MAX_ECHO_ERRCODE_CHARS = 128;

/** Metadata values must be printable ASCII: JSON keeps its meaning with every other character escaped. */
const asciiJson = (v: unknown) => JSON.stringify(v).replace(/[^\x20-\x7e]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);

/**
 * Converts any thrown value to a gRPC status object; unexpected errors are logged with their stack
 * (without statement values: see serializeError). A database outage is logged through
 * `databaseFault` (its start, a summary now and then, its end), not once per call.
 */
export function toServiceError(err: unknown, log: Logger, databaseFault?: FaultLog): Partial<grpc.StatusObject> {
  let m: MatrixError;
  if (err instanceof MatrixError) m = err;
  else if (isDatabaseUnavailable(err)) {
    if (databaseFault) databaseFault.failed(err);
    else log.error({ err }, 'database unavailable');
    m = new MatrixError(503, 'Database unavailable', Codes.UNKNOWN);
  } else if (err instanceof DriverException && (err as { code?: string }).code === '57014') {
    m = new MatrixError(504, 'Request timed out', Codes.UNKNOWN);
  } else {
    log.error({ err }, 'unexpected error');
    m = new MatrixError(500, 'Internal server error', Codes.UNKNOWN);
  }
  // The last line of defence: whatever a message or its extra fields hold, the trailer is bounded.
  const metadata = new grpc.Metadata();
  metadata.set(META_ERRCODE, echo(m.errcode, MAX_ECHO_ERRCODE_CHARS).replace(/[^\x20-\x7e]/g, '?'));
  metadata.set(META_HTTP_STATUS, String(m.httpStatus));
  if (Object.keys(m.extra).length > 0) {
    const extra = asciiJson(m.extra);
    if (extra.length <= MAX_ERROR_EXTRA_BYTES) metadata.set(META_ERROR_EXTRA, extra);
    else log.warn({ bytes: extra.length }, 'error body fields dropped: too large for a trailer');
  }
  return { code: grpcCodeForHttp(m.httpStatus), details: boundStatusDetails(m.message), metadata };
}

export class CallAdapter {
  /** Calls failing because the database is unreachable; over once a summary period passes without one. */
  private readonly databaseFault: FaultLog;
  private readonly limits: FieldLimits;

  constructor(private readonly deps: AdapterDeps) {
    this.limits = new FieldLimits(deps.maxJsonTextBytes);
    this.databaseFault = new FaultLog(
      deps.log,
      'database',
      {},
      {
        level: 'error',
        recoverWhenQuiet: true,
        messages: { down: 'database unavailable', still: 'database still unavailable', up: 'calls no longer fail on the database' },
      },
    );
  }

  /** Stops the fault log's timer (shutdown). */
  close(): void {
    this.databaseFault.close();
  }

  /**
   * The call's context. The EntityManager fork, the child logger and the abort signal are made on
   * first use (many calls need none of them); the abort reason is only built for a call that is
   * really cancelled (grpc-js also reports the end of a finished call as a cancellation).
   */
  private async begin(
    call: grpc.ServerUnaryCall<unknown, unknown> | grpc.ServerWritableStream<unknown, unknown>,
    method: string,
    level: AuthLevel,
    finished: () => boolean,
    rc: RequestContext,
  ) {
    const { requestId } = rc;
    // The AbortController is made only for a call whose handler asks for its signal.
    let controller: AbortController | null = null;
    let cancelled = false;
    call.on('cancelled', () => {
      if (finished()) return;
      cancelled = true;
      controller?.abort(new MatrixError(499, 'Request cancelled'));
    });
    const { orm, log } = this.deps;
    let em: Ctx['em'] | null = null;
    let child: Logger | null = null;
    const ctx: Ctx = {
      get em() {
        return (em ??= orm.em.fork());
      },
      get log() {
        // requestId and traceId come from the request context (the logger's mixin).
        return (child ??= log.child({ method }));
      },
      requester: null,
      get signal() {
        if (!controller) {
          controller = new AbortController();
          if (cancelled) controller.abort(new MatrixError(499, 'Request cancelled'));
        }
        return controller.signal;
      },
      requestId,
    };
    ctx.requester = await authorize(this.deps.users, ctx, call.metadata, level, () =>
      clientOf(call.getPeer(), call.metadata, this.deps.trustedGateways),
    );
    return ctx;
  }

  /**
   * Applies the string checks of `method`'s request (NUL characters, field limits) to a request a
   * handler built from a `body_json` field, so values read from a body are bounded as the typed
   * fields they stand for are (keys that are no field of the request, such as parsed JSON content,
   * are not limited). Returns the request.
   */
  checkRequest<T>(method: string, req: T): T {
    checkStrings(this.limits, method, req);
    return req;
  }

  /** Wraps a unary implementation. */
  unary<Req, Res>(level: AuthLevel, fn: UnaryFn<Req, Res>): grpc.handleUnaryCall<Req, Res> {
    return (call, callback) => {
      const method = call.getPath();
      const started = process.hrtime.bigint();
      let finished = false;
      const rc = requestContextOf(call.metadata, method);
      withRequestContext(rc, () =>
        this.begin(call as grpc.ServerUnaryCall<unknown, unknown>, method, level, () => finished, rc)
          .then(async (ctx) => {
            checkStrings(this.limits, method, call.request);
            const res = await fn(call.request, ctx);
            if (this.deps.log.isLevelEnabled('debug'))
              ctx.log.debug({ ms: Number(process.hrtime.bigint() - started) / 1e6, user: ctx.requester?.userId }, 'ok');
            finished = true;
            callback(null, res);
            observeRpc(method, grpc.status.OK, started);
            endRpcSpan(rc.span, grpc.status.OK);
          })
          .catch((err) => {
            finished = true;
            const status = toServiceError(err, this.deps.log.child({ method }), this.databaseFault);
            callback(status);
            observeRpc(method, status.code ?? grpc.status.UNKNOWN, started);
            endRpcSpan(rc.span, status.code ?? grpc.status.UNKNOWN, status.details);
          }),
      );
    };
  }

  /** Wraps a server-streaming implementation. */
  serverStream<Req, Res>(level: AuthLevel, fn: StreamFn<Req, Res>): grpc.handleServerStreamingCall<Req, Res> {
    return (call) => {
      const method = call.getPath();
      const started = process.hrtime.bigint();
      let finished = false;
      const rc = requestContextOf(call.metadata, method);
      withRequestContext(rc, () =>
        this.begin(call as grpc.ServerWritableStream<unknown, unknown>, method, level, () => finished, rc)
          .then(async (ctx) => {
            checkStrings(this.limits, method, call.request);
            await fn(call.request, ctx, (res) => call.write(res));
            finished = true;
            call.end();
            observeRpc(method, grpc.status.OK, started);
            endRpcSpan(rc.span, grpc.status.OK);
          })
          .catch((err) => {
            finished = true;
            const status = toServiceError(err, this.deps.log.child({ method }), this.databaseFault);
            call.emit('error', { ...status, name: 'Error', message: status.details ?? '' });
            observeRpc(method, status.code ?? grpc.status.UNKNOWN, started);
            endRpcSpan(rc.span, status.code ?? grpc.status.UNKNOWN, status.details);
          }),
      );
    };
  }
}

/** gRPC codes a server span reports as errors (the others are the caller's mistakes). */
const SERVER_ERROR_CODES = new Set<number>([
  grpc.status.UNKNOWN,
  grpc.status.DEADLINE_EXCEEDED,
  grpc.status.UNIMPLEMENTED,
  grpc.status.INTERNAL,
  grpc.status.UNAVAILABLE,
  grpc.status.DATA_LOSS,
]);

/**
 * The call's request id (the caller's when sane) and trace: with traces exported, a server span,
 * child of the caller's `traceparent`; otherwise the trace id of that `traceparent`, if valid.
 */
function requestContextOf(md: grpc.Metadata, method: string): RequestContext {
  const requestId = requestIdFrom(md.get('x-request-id')[0]);
  const traceparent = md.get('traceparent')[0];
  const span =
    tracingEnabled() &&
    startSpan(method.slice(1), {
      kind: 'server',
      parent: typeof traceparent === 'string' ? traceparent : null,
      attributes: { ...rpcAttributes(method), 'request.id': requestId },
    });
  return span ? { requestId, traceId: span.traceId, span } : { requestId, traceId: traceIdOf(traceparent) };
}

function endRpcSpan(span: SpanHandle | null | undefined, code: number, details?: string): void {
  if (!span) return;
  span.setAttributes({ 'rpc.grpc.status_code': code });
  span.end(SERVER_ERROR_CODES.has(code) ? (details ?? grpc.status[code]) : undefined);
}
