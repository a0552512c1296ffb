/**
 * The gateway's real gRPC clients: one HTTP/2 channel shared by a client per service (or a pool of
 * such sets, each on its own connection), and a promise wrapper that forwards the caller's
 * credential and request id.
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
import { HealthClient } from '../../gen/grpc/health/v1/health';

/** `ownConnection`: the channel opens its own HTTP/2 connection instead of sharing one with same-address channels. */
export function createClients(address: string, ownConnection = false) {
  const creds = grpc.credentials.createInsecure();
  const options: grpc.ChannelOptions = {
    'grpc.max_receive_message_length': 64 * 1024 * 1024,
    'grpc.max_send_message_length': 64 * 1024 * 1024,
    'grpc.enable_channelz': 0,
    'grpc.enable_retries': 0,
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
    health: new HealthClient(address, creds, opts),
    close: () => channel.close(),
  };
}

export type Clients = ReturnType<typeof createClients>;

/**
 * `connections` client sets, each on its own HTTP/2 connection. Behind a port shared by several
 * worker processes, each connection is accepted by one of them, so the calls spread over them.
 */
export function createClientPool(address: string, connections: number): Clients[] {
  if (connections === 1) return [createClients(address)];
  return Array.from({ length: connections }, () => createClients(address, true));
}

type UnaryMethod<Req, Res> = (req: Req, md: grpc.Metadata, opts: Partial<grpc.CallOptions>, cb: (err: grpc.ServiceError | null, res: Res) => void) => grpc.ClientUnaryCall;

/** Calls a unary method with metadata and a deadline; rejects with the grpc ServiceError. */
export function unary<Req, Res>(client: grpc.Client, method: UnaryMethod<Req, Res>, req: Req, md: grpc.Metadata, timeoutMs: number): Promise<Res> {
  return new Promise((ok, ko) => {
    method.call(client, req, md, { deadline: Date.now() + timeoutMs }, (err, res) => (err ? ko(err) : ok(res)));
  });
}
