/**
 * Route table of the gateway. A route = method + path template + the auth level the upstream RPC
 * enforces + a handler that parses the request, makes one gRPC call and shapes the JSON answer.
 * Path parameters match `[^/]*` (an empty segment still matches, as in Synapse) and are
 * percent-decoded; ids may contain `!`, `@`, `#` and `:`.
 */
import type * as grpc from '@grpc/grpc-js';
import type { AuthLevel } from '../grpc/adapter';
import type { Logger } from '../logger';
import { Codes, MatrixError } from '../errors';
import type { Clients } from './grpc-clients';
import { Query } from './params';

/** Who may call a route: the auth level of the RPC behind it. */
export type { AuthLevel };

export interface RouteResult {
  status?: number;
  /** Rendered with JSON.stringify, or sent as is when already JSON text (RawJson). */
  body: unknown;
}

/** A body that is already JSON: text, or its UTF-8 bytes (sent as they are). */
export class RawJson {
  constructor(readonly text: string | Uint8Array) {}
}

type Last<T> = T extends { (...a: infer A): infer R } ? (...a: A) => R : never;
type RpcReq<F> =
  Last<F> extends (
    req: infer Q,
    md: grpc.Metadata,
    opts: Partial<grpc.CallOptions>,
    cb: (e: grpc.ServiceError | null, r: infer _R) => void,
  ) => unknown
    ? Q
    : never;
type RpcRes<F> =
  Last<F> extends (
    req: infer _Q,
    md: grpc.Metadata,
    opts: Partial<grpc.CallOptions>,
    cb: (e: grpc.ServiceError | null, r: infer R) => void,
  ) => unknown
    ? R
    : never;

export interface GatewayRequest {
  method: string;
  params: Record<string, string>;
  query: Query;
  rawBody: Buffer;
  requestId: string;
  clients: Clients;
  log: Logger;
  /** One gRPC call, with the caller's credential and request id forwarded. */
  rpc<C extends grpc.Client, K extends keyof C>(client: C, method: K, req: RpcReq<C[K]>, timeoutMs?: number): Promise<RpcRes<C[K]>>;
}

export interface Route {
  method: 'GET' | 'PUT' | 'POST' | 'DELETE';
  path: string;
  auth: AuthLevel;
  /** Upstream deadline for this route (default 60 s). */
  timeoutMs?: number;
  handler(req: GatewayRequest): Promise<RouteResult>;
}

export interface CompiledRoute extends Route {
  regex: RegExp;
  names: string[];
}

export function compile(route: Route): CompiledRoute {
  const names: string[] = [];
  const source = route.path
    .split('/')
    .map((seg) => {
      const m = /^\{(\w+)\}$/.exec(seg);
      if (!m) return seg.replace(/[.*+?^$()|[\]\\]/g, '\\$&');
      names.push(m[1]);
      return '([^/]*)';
    })
    .join('/');
  return { ...route, regex: new RegExp(`^${source}$`), names };
}

/**
 * A matched route. `error` is set when a path parameter is not valid percent-encoding: the gateway
 * raises it only after the credential was checked, as Synapse authenticates before reading input.
 */
export type Match = { route: CompiledRoute; params: Record<string, string>; error?: MatrixError } | { methodNotAllowed: true } | null;

export class Router {
  private readonly routes: CompiledRoute[];

  constructor(routes: Route[]) {
    this.routes = routes.map(compile);
  }

  match(method: string, path: string): Match {
    let pathMatched = false;
    for (const route of this.routes) {
      const m = route.regex.exec(path);
      if (!m) continue;
      if (route.method !== method) {
        pathMatched = true;
        continue;
      }
      const params: Record<string, string> = {};
      let error: MatrixError | undefined;
      route.names.forEach((name, i) => {
        try {
          params[name] = decodeURIComponent(m[i + 1]);
        } catch {
          error ??= new MatrixError(400, `Invalid percent-encoding in path parameter ${name}`, Codes.INVALID_PARAM);
        }
      });
      return { route, params, error };
    }
    return pathMatched ? { methodNotAllowed: true } : null;
  }
}

export { Query };
