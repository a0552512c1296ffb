/**
 * The typed client for other services: `createClient({ address, token })` returns a promise client
 * for every gRPC service of the contract, over one HTTP/2 connection (the gateway's own
 * `createClients`, src/gateway/grpc-clients.ts).
 *
 * - The connection is kept alive with pings (createClients' keep-alive), also while idle.
 * - Every call has a deadline (`deadlineMs`, default DEFAULT_DEADLINE_MS), overridable per call.
 * - Reads (methods named Get*, List*, Check*, Watch*: they change nothing, so sending one twice is
 *   harmless) are retried on UNAVAILABLE, up to `retries` times with exponential back-off and
 *   jitter, within the call's deadline. Other calls are never retried: the server may have run them.
 * - A failure rejects with MatrixClientError (gRPC code, Matrix errcode and HTTP status).
 * - Server-streaming methods (TaskSchedulerService.WatchTask) return an async iterable; breaking
 *   out of the loop cancels the stream.
 * - Requests may omit fields: the message's defaults fill them (nested messages are taken as given).
 */
import { randomUUID } from 'node:crypto';
import * as grpc from '@grpc/grpc-js';
import { createClients, type ChannelTuning, type Clients } from '../gateway/grpc-clients';
import { MatrixClientError } from './errors';

export { MatrixClientError } from './errors';

export const DEFAULT_DEADLINE_MS = 30_000;
export const DEFAULT_RETRIES = 3;
const FIRST_BACKOFF_MS = 100;
const MAX_BACKOFF_MS = 2_000;
/** Reads: sending one again cannot change anything. */
const IDEMPOTENT = /^(get|list|check|watch)[A-Z]/;

export interface ClientOptions {
  /** host:port of the gRPC server. */
  address: string;
  /** Access token sent as `authorization: Bearer <token>` on every call. */
  token?: string;
  /** Deadline of each call (default 30 s). */
  deadlineMs?: number;
  /** Retries of a read that failed with UNAVAILABLE (default 3; 0 disables). */
  retries?: number;
  /** Open a connection of its own instead of sharing one with other clients of the same address. */
  ownConnection?: boolean;
  /**
   * Keep-alive pings, idle too (defaults of createClients: every 5 s, 5 s to answer), so a
   * connection that died silently is replaced instead of stalling calls until their deadline.
   */
  keepalive?: ChannelTuning;
}

export interface CallOptions {
  deadlineMs?: number;
  /** Aborting cancels the call (the promise rejects with CANCELLED). */
  signal?: AbortSignal;
  /** Sent as `x-request-id` (the server's log lines carry it); one is made when absent. */
  requestId?: string;
}

/** A server stream as an async iterable; `cancel()` (or leaving a for-await loop) ends it. */
export interface CallStream<T> extends AsyncIterable<T> {
  cancel(): void;
}

type Last<T> = T extends { (...a: infer A): infer R } ? (...a: A) => R : never;
type UnaryOf<F> =
  Last<F> extends (
    req: infer Q,
    md: grpc.Metadata,
    opts: Partial<grpc.CallOptions>,
    cb: (e: grpc.ServiceError | null, r: infer R) => void,
  ) => grpc.ClientUnaryCall
    ? [Q, R]
    : never;
type StreamOf<F> =
  Last<F> extends (req: infer Q, md?: grpc.Metadata, opts?: Partial<grpc.CallOptions>) => grpc.ClientReadableStream<infer R>
    ? [Q, R]
    : never;
// Streams first: a stream method's signature would also match the unary pattern.
type Method<F> = [StreamOf<F>] extends [never]
  ? [UnaryOf<F>] extends [never]
    ? never
    : (req: Partial<UnaryOf<F>[0]>, opts?: CallOptions) => Promise<UnaryOf<F>[1]>
  : (req: Partial<StreamOf<F>[0]>, opts?: CallOptions) => CallStream<StreamOf<F>[1]>;

/** The promise face of a generated grpc-js client. */
export type Service<C> = { [K in Exclude<keyof C, keyof grpc.Client> as [Method<C[K]>] extends [never] ? never : K]: Method<C[K]> };

type ServiceKeys = 'server' | 'auth' | 'accountData' | 'userAdmin' | 'rooms' | 'roomAdmin' | 'pagination' | 'tasks' | 'health';

export type AdminClient = { [K in ServiceKeys]: Service<Clients[K]> } & {
  /** Closes the connection (calls in flight fail with CANCELLED/UNAVAILABLE). */
  close(): void;
};

interface MethodDefinition {
  path: string;
  responseStream: boolean;
  requestDeserialize(b: Buffer): object;
}

const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((ok) => {
    const t = setTimeout(ok, ms);
    signal?.addEventListener('abort', () => (clearTimeout(t), ok()), { once: true });
  });

/** Builds the promise clients of every service on one connection. */
export function createClient(options: ClientOptions): AdminClient {
  const raw = createClients(options.address, options.ownConnection ?? false, options.keepalive);
  const deadlineMs = options.deadlineMs ?? DEFAULT_DEADLINE_MS;
  const retries = options.retries ?? DEFAULT_RETRIES;

  const metadata = (opts: CallOptions) => {
    const md = new grpc.Metadata();
    if (options.token) md.set('authorization', `Bearer ${options.token}`);
    md.set('x-request-id', opts.requestId ?? randomUUID());
    return md;
  };

  const unary = (client: grpc.Client, name: string, def: MethodDefinition) => {
    const fn = (client as unknown as Record<string, (...a: unknown[]) => grpc.ClientUnaryCall>)[name];
    const idempotent = IDEMPOTENT.test(name);
    return async (req: object, opts: CallOptions = {}) => {
      const message = { ...def.requestDeserialize(Buffer.alloc(0)), ...req };
      const deadline = Date.now() + (opts.deadlineMs ?? deadlineMs);
      const md = metadata(opts);
      for (let attempt = 0; ; attempt++) {
        try {
          return await new Promise((ok, ko) => {
            const call = fn.call(client, message, md, { deadline }, (err: grpc.ServiceError | null, res: unknown) =>
              err ? ko(err) : ok(res),
            );
            if (opts.signal?.aborted) call.cancel();
            opts.signal?.addEventListener('abort', () => call.cancel(), { once: true });
          });
        } catch (err) {
          const e = MatrixClientError.from(err);
          const backoff = Math.min(MAX_BACKOFF_MS, FIRST_BACKOFF_MS * 2 ** attempt) * (0.5 + Math.random() / 2);
          const retry =
            idempotent &&
            attempt < retries &&
            e instanceof MatrixClientError &&
            e.code === grpc.status.UNAVAILABLE &&
            !opts.signal?.aborted &&
            Date.now() + backoff < deadline;
          if (!retry) throw e;
          await sleep(backoff, opts.signal);
        }
      }
    };
  };

  const stream = (client: grpc.Client, name: string, def: MethodDefinition) => {
    const fn = (client as unknown as Record<string, (...a: unknown[]) => grpc.ClientReadableStream<unknown>>)[name];
    return (req: object, opts: CallOptions = {}): CallStream<unknown> => {
      const message = { ...def.requestDeserialize(Buffer.alloc(0)), ...req };
      // A watch has no natural end: its deadline applies only when one is given.
      const callOpts = opts.deadlineMs !== undefined ? { deadline: Date.now() + opts.deadlineMs } : {};
      let current: grpc.ClientReadableStream<unknown> | null = null;
      let cancelled = false;
      const cancel = () => {
        cancelled = true;
        current?.cancel();
      };
      opts.signal?.addEventListener('abort', cancel, { once: true });
      async function* iterate() {
        for (let attempt = 0; ; attempt++) {
          const call = fn.call(client, message, metadata(opts), callOpts);
          current = call;
          let received = false;
          try {
            for await (const item of call) {
              received = true;
              yield item;
            }
            return;
          } catch (err) {
            const e = MatrixClientError.from(err);
            if (cancelled && e instanceof MatrixClientError && e.code === grpc.status.CANCELLED) return;
            // Opened again only when nothing was received: a watch then starts over from the current state.
            if (received || attempt >= retries || !(e instanceof MatrixClientError) || e.code !== grpc.status.UNAVAILABLE) throw e;
            await sleep(Math.min(MAX_BACKOFF_MS, FIRST_BACKOFF_MS * 2 ** attempt), opts.signal);
            if (cancelled) return;
          } finally {
            call.cancel();
          }
        }
      }
      const it = iterate();
      return { [Symbol.asyncIterator]: () => it, cancel };
    };
  };

  const wrap = <C extends grpc.Client>(client: C): Service<C> => {
    const defs = (client.constructor as unknown as { service: Record<string, MethodDefinition> }).service;
    const out: Record<string, unknown> = {};
    for (const [name, def] of Object.entries(defs)) out[name] = def.responseStream ? stream(client, name, def) : unary(client, name, def);
    return out as Service<C>;
  };

  return {
    server: wrap(raw.server),
    auth: wrap(raw.auth),
    accountData: wrap(raw.accountData),
    userAdmin: wrap(raw.userAdmin),
    rooms: wrap(raw.rooms),
    roomAdmin: wrap(raw.roomAdmin),
    pagination: wrap(raw.pagination),
    tasks: wrap(raw.tasks),
    health: wrap(raw.health),
    close: () => raw.close(),
  };
}

export { TaskStatus } from '../../gen/synapse/admin/v1/task_scheduler';
export { RoomDeleteStatus, RoomOrderBy } from '../../gen/synapse/admin/v1/room_admin';
export { Direction } from '../../gen/synapse/admin/v1/common';
