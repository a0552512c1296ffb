import type { Config } from './config';
import type { ServiceBinding } from './grpc/server';
import type { CallAdapter } from './grpc/adapter';
import type { Route } from './gateway/router';
import type { Orm } from './infra/orm';
import type { Logger } from './logger';
import type { UserService } from './users/user.service';
import type Redis from 'ioredis';

/** What every domain module receives from the composition root. */
export interface ModuleDeps {
  config: Config;
  orm: Orm;
  log: Logger;
  adapter: CallAdapter;
  users: UserService;
  /** Redis nodes of the lock quorum (empty in single-instance mode). */
  redis: Redis[];
  /** Services exported by modules created earlier (by name). */
  registry: Map<string, unknown>;
}

/** A domain module: its gRPC services, its REST routes, and its background work. */
export interface AppModule {
  name: string;
  bindings: ServiceBinding[];
  routes: Route[];
  /** Starts background work once the servers listen. */
  start?(): Promise<void>;
  /**
   * Stops background work at the start of a shutdown, while the servers still drain their calls:
   * checkpoint running tasks and hand them back.
   */
  stop?(): Promise<void>;
  /** Releases what the servers' last calls may still need (locks), once the servers are closed. */
  close?(): Promise<void>;
}
