/**
 * The gateway's real gRPC clients: one HTTP/2 channel shared by a client per service (or a pool of
 * such sets, each on its own connection), and a promise wrapper that forwards the caller's
 * credential and request id.
 *
 * A broken connection must not take other callers down with it. Node's HTTP/2 client can lose a
 * connection without a word: when nghttp2 ends the session on a protocol error (for one, a header
 * field past the 64 KiB its HPACK decoder accepts), the session stops reading and emits neither
 * `goaway`, `error` nor `close`, so every call on it would wait for its deadline. Keepalive pings,
 * sent while the connection is idle too, find such a connection within
 * `KEEPALIVE_TIME_MS + KEEPALIVE_TIMEOUT_MS`; grpc-js then fails its calls as UNAVAILABLE and the
 * next call opens a new connection at once. A call that provably never reached the server (the
 * stream could not be started on a closing connection, or the server refused the stream) is sent
 * again on the new connection; any other failure is the caller's answer, since the server may
 * have run the call.
 */
import * as grpc from '@grpc/grpc-js';
import { AccountDataServiceClient } from '../../gen/synapse/admin/v1/account_data';
import { AuthServiceClient } from '../../gen/synapse/admin/v1/auth';
import { ServerServiceClient } from '../../gen/synapse/admin/v1/server';
import { UserAdminServiceClient } from '../../gen/synapse/admin/v1/user_admin';
import { ProfileServiceClient } from '../../gen/synapse/admin/v1/profile';
import { RoomServiceClient } from '../../gen/synapse/admin/v1/rooms';
import { RoomAdminServiceClient } from '../../gen/synapse/admin/v1/room_admin';
import { PaginationServiceClient } from '../../gen/synapse/admin/v1/pagination';
import { TaskSchedulerServiceClient } from '../../gen/synapse/admin/v1/task_scheduler';
import { ModerationServiceClient, RoomDirectoryServiceClient } from '../../gen/synapse/admin/v1/moderation';
import { HealthClient } from '../../gen/grpc/health/v1/health';

export const KEEPALIVE_TIME_MS = 5_000;
export const KEEPALIVE_TIMEOUT_MS = 5_000;
/** How many times a call that never reached the server is sent again (within its deadline). */
export const MAX_UNSENT_RETRIES = 3;

export interface ChannelTuning {
  /** Pings the connection this long after the last ping answered (default `KEEPALIVE_TIME_MS`). */
  keepaliveTimeMs?: number;
  /** Drops the connection when a ping is not answered within this (default `KEEPALIVE_TIMEOUT_MS`). */
  keepaliveTimeoutMs?: number;
}

/**
 * `ownConnection`: the channel opens its own HTTP/2 connection instead of sharing one with
 * same-address channels.
 */
export function createClients(address: string, ownConnection = false, tuning: ChannelTuning = {}) {
  const creds = grpc.credentials.createInsecure();
  const options: grpc.ChannelOptions = {
    'grpc.max_receive_message_length': 64 * 1024 * 1024,
    'grpc.max_send_message_length': 64 * 1024 * 1024,
    'grpc.enable_channelz': 0,
    // grpc-js's transparent retry wraps every call; the few calls that never left are retried in
    // `unary` instead.
    'grpc.enable_retries': 0,
    'grpc.keepalive_time_ms': tuning.keepaliveTimeMs ?? KEEPALIVE_TIME_MS,
    'grpc.keepalive_timeout_ms': tuning.keepaliveTimeoutMs ?? KEEPALIVE_TIMEOUT_MS,
    'grpc.keepalive_permit_without_calls': 1,
    ...(ownConnection ? { 'grpc.use_local_subchannel_pool': 1 } : {}),
  };
  const channel = new grpc.Channel(address, creds, options);
  const opts = { channelOverride: channel };
  return {
    channel,
    server: new ServerServiceClient(address, creds, opts),
    auth: new AuthServiceClient(address, creds, opts),
    accountData: new AccountDataServiceClient(address, creds, opts),
    userAdmin: new UserAdminServiceClient(address, creds, opts),
    profile: new ProfileServiceClient(address, creds, opts),
    rooms: new RoomServiceClient(address, creds, opts),
    roomAdmin: new RoomAdminServiceClient(address, creds, opts),
    pagination: new PaginationServiceClient(address, creds, opts),
    tasks: new TaskSchedulerServiceClient(address, creds, opts),
    moderation: new ModerationServiceClient(address, creds, opts),
    directory: new RoomDirectoryServiceClient(address, creds, opts),
    health: new HealthClient(address, creds, opts),
    close: () => channel.close(),
  };
}

export type Clients = ReturnType<typeof createClients>;

/**
 * `connections` client sets, each on its own HTTP/2 connection. Behind a port shared by several
 * worker processes, each connection is accepted by one of them, so the calls spread over them.
 */
export function createClientPool(address: string, connections: number, tuning: ChannelTuning = {}): Clients[] {
  if (connections === 1) return [createClients(address, false, tuning)];
  return Array.from({ length: connections }, () => createClients(address, true, tuning));
}

type UnaryMethod<Req, Res> = (
  req: Req,
  md: grpc.Metadata,
  opts: Partial<grpc.CallOptions>,
  cb: (err: grpc.ServiceError | null, res: Res) => void,
) => grpc.ClientUnaryCall;

/**
 * Whether a failed call provably never reached the server: grpc-js could not start its HTTP/2
 * stream (the connection was closing; nothing was sent), or the server refused the stream
 * (REFUSED_STREAM, which HTTP/2 sends only for a stream it did not process).
 */
export function neverReachedServer(err: grpc.ServiceError): boolean {
  const details = err.details ?? '';
  return (
    details.startsWith('Failed to start HTTP/2 stream') || (err.code === grpc.status.UNAVAILABLE && details === 'Stream refused by server')
  );
}

/**
 * Calls a unary method with metadata and a deadline; rejects with the grpc ServiceError. A call
 * that never reached the server is sent again (up to `MAX_UNSENT_RETRIES` times, within the same
 * deadline) on the connection that replaces the broken one.
 */
export function unary<Req, Res>(
  client: grpc.Client,
  method: UnaryMethod<Req, Res>,
  req: Req,
  md: grpc.Metadata,
  timeoutMs: number,
): Promise<Res> {
  const deadline = Date.now() + timeoutMs;
  return new Promise((ok, ko) => {
    const attempt = (retriesLeft: number) =>
      method.call(client, req, md, { deadline }, (err, res) => {
        if (!err) return ok(res);
        // grpc-js has already dropped the connection; the next pick makes a new one.
        if (retriesLeft > 0 && neverReachedServer(err) && Date.now() < deadline) setImmediate(() => attempt(retriesLeft - 1));
        else ko(err);
      });
    attempt(MAX_UNSENT_RETRIES);
  });
}
