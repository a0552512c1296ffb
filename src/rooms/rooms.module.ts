import { RoomServiceService } from '../../gen/synapse/admin/v1/rooms';
import { roomsHandler } from '../grpc/handlers/rooms.handler';
import { roomRoutes } from '../gateway/routes/rooms.routes';
import type { LockManager } from '../infra/locks/lock.types';
import type { AppModule, ModuleDeps } from '../module';
import type { TaskScheduler } from '../tasks/task.types';
import { RoomService } from './room.service';

/**
 * Rooms, events, membership and the directory. Registers RoomService as 'rooms' for the modules
 * created after it (room admin, pagination).
 */
export function createRoomsModule(d: ModuleDeps): AppModule {
  const service = new RoomService({
    serverName: d.config.serverName,
    config: d.config,
    locks: () => d.registry.get('locks') as LockManager | undefined,
    scheduler: () => d.registry.get('scheduler') as TaskScheduler | undefined,
  });
  d.registry.set('rooms', service);
  return {
    name: 'rooms',
    bindings: [{ name: 'synapse.admin.v1.RoomService', definition: RoomServiceService, implementation: roomsHandler(d.adapter, service, d.config.shadowBanMaxDelayMs) }],
    routes: roomRoutes,
  };
}
