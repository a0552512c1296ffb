import { RoomAdminServiceService } from '../../gen/synapse/admin/v1/room_admin';
import { roomAdminHandler } from '../grpc/handlers/room-admin.handler';
import { roomAdminRoutes } from '../gateway/routes/room-admin.routes';
import type { LockManager } from '../infra/locks/lock.types';
import type { AppModule, ModuleDeps } from '../module';
import type { RoomService } from '../rooms/room.service';
import type { TaskScheduler } from '../tasks/task.types';
import { RoomAdminService } from './room-admin.service';
import { RoomDeleteService } from './room-delete.service';
import { RoomMembershipAdminService } from './room-membership-admin.service';
import { RoomPurgeService } from './room-purge.service';
import { RoomShutdownService } from './room-shutdown.service';

function required<T>(d: ModuleDeps, name: string): T {
  const service = d.registry.get(name) as T | undefined;
  if (!service) throw new Error(`the room admin module needs '${name}' (create its module first)`);
  return service;
}

/**
 * Room administration: RoomAdminService and its REST paths. Registers the room purge as
 * 'purgeRoom' and the `purge_room` / `shutdown_and_purge_room` task actions.
 */
export function createRoomAdminModule(d: ModuleDeps): AppModule {
  const rooms = required<RoomService>(d, 'rooms');
  const scheduler = required<TaskScheduler>(d, 'scheduler');
  const locks = required<LockManager>(d, 'locks');
  const log = d.log.child({ module: 'room-admin' });
  const serverName = d.config.serverName;
  const purger = new RoomPurgeService(d.orm, locks, log);
  d.registry.set('purgeRoom', purger);
  const admin = new RoomAdminService(rooms);
  const shutdown = new RoomShutdownService(rooms, serverName, log);
  const deletes = new RoomDeleteService({ orm: d.orm, scheduler, locks, purger, shutdown, serverName, log });
  deletes.registerActions();
  const memberships = new RoomMembershipAdminService(rooms, admin, d.users, serverName);
  return {
    name: 'room-admin',
    bindings: [{ name: 'synapse.admin.v1.RoomAdminService', definition: RoomAdminServiceService, implementation: roomAdminHandler(d.adapter, { admin, deletes, memberships }) }],
    routes: roomAdminRoutes,
    async start() {
      const unlisted = await purger.unlistedRoomTables(d.orm.em.fork());
      if (unlisted.length > 0) log.error({ tables: unlisted }, 'tables with a room_id column are missing from the purge table list: purged rooms would leave rows behind');
    },
  };
}
