/**
 * The composition root of the services: every domain service built once, in dependency order,
 * by plain constructor injection. A service can only be given what was built before it, so the
 * compiler enforces the order. The gRPC bindings (src/grpc/bindings.ts), the app and the tests
 * all read the same typed object.
 *
 * Background work: task actions are registered while the services are built (the scheduler
 * claims nothing before start(), so a task found in the database always finds its action);
 * start() starts the scheduler, checks the purge table list and starts the retention jobs;
 * stop() stops the retention jobs and hands running tasks back; close() releases the locks, once
 * the servers' last calls are done.
 */
import type Redis from 'ioredis';
import type { Config } from './config';
import type { Orm } from './infra/orm';
import type { Logger } from './logger';
import { createLockManager } from './infra/locks/lock-manager';
import type { LockManager } from './infra/locks/lock.types';
import { systemClock, type Clock } from './tasks/clock';
import { PgTaskScheduler } from './tasks/task-scheduler';
import { STOP_GRACE_MS } from './tasks/scheduler-options';
import { UserService } from './users/user.service';
import { TokenCache } from './users/token-cache';
import { ClientIpRecorder } from './users/client-ips';
import { ProfileService } from './users/profile.service';
import { ProfileApiService } from './users/profile-api.service';
import { AccountDataService } from './users/account-data.service';
import { DeviceAdminService } from './users/device-admin.service';
import { UserListService } from './users/user-list.service';
import { UserReadsService } from './users/user-reads.service';
import { createRooms } from './rooms/rooms';
import type { RoomService } from './rooms/room.service';
import type { ClientReadService } from './rooms/client-read.service';
import type { OutOfBandMemberships } from './rooms/out-of-band';
import type { EventSerializer } from './rooms/event.serializer';
import type { EventPersister } from './rooms/event-persister';
import { RoomAdminService } from './admin/room-admin.service';
import { RoomDeleteService } from './admin/room-delete.service';
import { RoomMembershipAdminService } from './admin/room-membership-admin.service';
import { RoomPurgeService } from './admin/room-purge.service';
import { RoomShutdownService } from './admin/room-shutdown.service';
import { PaginationService } from './pagination/pagination.service';
import { PurgeHistoryService } from './pagination/purge-history.service';
import { RetentionService } from './pagination/retention.service';
import { EventReportService } from './moderation/event-reports.service';
import { PublicRoomsService } from './moderation/public-rooms.service';
import { RoomSizeRepository } from './moderation/room-sizes.repository';
import { UserRedactionService } from './moderation/user-redaction.service';

/** What the services run on, made by the app before them. */
export interface Infra {
  orm: Orm;
  log: Logger;
  /** Redis nodes of the lock quorum (empty in single-instance mode: in-process locks). */
  redis: Redis[];
  /** The registration shared secret in force (configured, or generated at first start). */
  registrationSharedSecret: string;
  /** The scheduler's and the retention jobs' time (default: the system clock). */
  clock?: Clock;
}

export interface Services {
  users: UserService;
  /** Client addresses and last-seen times; the app starts and closes it beside the servers. */
  clientIps: ClientIpRecorder;
  profiles: ProfileService;
  profileApi: ProfileApiService;
  accountData: AccountDataService;
  userList: UserListService;
  userReads: UserReadsService;
  devices: DeviceAdminService;
  locks: LockManager;
  scheduler: PgTaskScheduler;
  rooms: RoomService;
  clientReads: ClientReadService;
  outOfBand: OutOfBandMemberships;
  serializer: EventSerializer;
  persister: EventPersister;
  roomAdmin: RoomAdminService;
  roomPurge: RoomPurgeService;
  roomShutdown: RoomShutdownService;
  roomDeletes: RoomDeleteService;
  roomMemberships: RoomMembershipAdminService;
  pagination: PaginationService;
  purges: PurgeHistoryService;
  retention: RetentionService;
  reports: EventReportService;
  roomSizes: RoomSizeRepository;
  redactions: UserRedactionService;
  publicRooms: PublicRoomsService;
  /** Starts background work once the servers listen. */
  start(): Promise<void>;
  /**
   * Stops background work at the start of a shutdown, while the servers still drain their calls:
   * stops the retention jobs, checkpoints running tasks and hands them back. Settles with each
   * part's outcome (a part that failed does not keep the others from stopping).
   */
  stop(): Promise<PromiseSettledResult<void>[]>;
  /** Releases what the servers' last calls may still need (locks), once the servers are closed. */
  close(): Promise<void>;
}

export function createServices(config: Config, infra: Infra): Services {
  const { orm, log } = infra;
  const serverName = config.serverName;
  const clock = infra.clock ?? systemClock;

  const clientIps = new ClientIpRecorder(orm, log, { maxAgeMs: config.userIpsMaxAgeMs });
  const users = new UserService(
    serverName,
    infra.registrationSharedSecret,
    new TokenCache(config.authCacheTtlMs),
    clientIps,
    config.passwordHashCost,
  );
  const locks = createLockManager({ redis: infra.redis, keyPrefix: config.redisKeyPrefix, log });
  const scheduler = new PgTaskScheduler({
    orm,
    log: log.child({ component: 'tasks' }),
    instanceName: config.instanceName,
    connectionString: orm.config.get('clientUrl')!,
    maxConcurrentTasks: config.maxConcurrentTasks,
    leaseMs: config.taskLeaseMs,
    leaseRenewMs: Math.max(250, Math.floor(config.taskLeaseMs / 5)),
    keepTasksForMs: config.keepTasksForMs,
    warnAfterMs: config.taskStuckWarningMs,
    // Aborted actions get at most the shutdown timeout to checkpoint before their tasks go back.
    stopGraceMs: Math.min(STOP_GRACE_MS, config.shutdownTimeoutMs),
    clock,
  });

  const { rooms, clientReads, outOfBand, serializer, persister } = createRooms({ config, locks, scheduler });

  const profiles = new ProfileService((em, userId) => rooms.propagateProfile(em, userId));
  const profileApi = new ProfileApiService(serverName, profiles, config.shadowBanMaxDelayMs);
  const accountData = new AccountDataService();
  const userList = new UserListService();
  const userReads = new UserReadsService(serverName, clientIps);
  const devices = new DeviceAdminService(serverName, users.tokens, clientIps, config.passwordHashCost);

  const adminLog = log.child({ module: 'room-admin' });
  const roomPurge = new RoomPurgeService(orm, locks, adminLog);
  const roomAdmin = new RoomAdminService(rooms);
  const roomShutdown = new RoomShutdownService(rooms, outOfBand, serverName, adminLog);
  const roomDeletes = new RoomDeleteService({
    orm,
    scheduler,
    locks,
    purger: roomPurge,
    shutdown: roomShutdown,
    serverName,
    log: adminLog,
  });
  roomDeletes.registerActions();
  const roomMemberships = new RoomMembershipAdminService(rooms, roomAdmin, users, serverName);

  const paginationLog = log.child({ module: 'pagination' });
  const purges = new PurgeHistoryService(orm, locks, scheduler, serverName, paginationLog);
  // The scheduler's clock, so retention cut-offs and task timestamps agree.
  const retention = new RetentionService(config.retention, orm, locks, scheduler, purges, () => clock.now(), paginationLog);
  const pagination = new PaginationService(rooms, clientReads, serializer, retention, { msc3874Enabled: config.msc3874Enabled });
  purges.register();
  retention.register();

  const redactions = new UserRedactionService({ orm, scheduler, rooms, serverName, log: log.child({ module: 'moderation' }) });
  redactions.registerActions();
  const reports = new EventReportService(rooms, clientReads);
  const roomSizes = new RoomSizeRepository();
  const publicRooms = new PublicRoomsService(serverName);

  return {
    users,
    clientIps,
    profiles,
    profileApi,
    accountData,
    userList,
    userReads,
    devices,
    locks,
    scheduler,
    rooms,
    clientReads,
    outOfBand,
    serializer,
    persister,
    roomAdmin,
    roomPurge,
    roomShutdown,
    roomDeletes,
    roomMemberships,
    pagination,
    purges,
    retention,
    reports,
    roomSizes,
    redactions,
    publicRooms,
    async start() {
      await scheduler.start();
      const unlisted = await roomPurge.unlistedRoomTables(orm.em.fork());
      if (unlisted.length > 0)
        adminLog.error(
          { tables: unlisted },
          'tables with a room_id column are missing from the purge table list: purged rooms would leave rows behind',
        );
      retention.start();
    },
    stop() {
      // The retention jobs first, then the scheduler, both at once (the reverse of start()).
      return Promise.allSettled([(async () => retention.stop())(), scheduler.stop()]);
    },
    async close() {
      await locks.close();
    },
  };
}
