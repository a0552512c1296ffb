import { ModerationServiceService, RoomDirectoryServiceService } from '../../gen/synapse/admin/v1/moderation';
import { moderationRoutes } from '../gateway/routes/moderation.routes';
import { moderationHandler, roomDirectoryHandler } from '../grpc/handlers/moderation.handler';
import type { AppModule, ModuleDeps } from '../module';
import type { RoomService } from '../rooms/room.service';
import type { TaskScheduler } from '../tasks/task.types';
import { EventReportService } from './event-reports.service';
import { PublicRoomsService } from './public-rooms.service';
import { RoomSizeRepository } from './room-sizes.repository';
import { UserRedactionService } from './user-redaction.service';

function required<T>(d: ModuleDeps, name: string): T {
  const service = d.registry.get(name) as T | undefined;
  if (!service) throw new Error(`the moderation module needs '${name}' (create its module first)`);
  return service;
}

/**
 * Moderation (ModerationService: fetch_event, event reports, room sizes, user redaction, with the
 * `redact_all_events` task action) and the public room directory (RoomDirectoryService).
 */
export function createModerationModule(d: ModuleDeps): AppModule {
  const rooms = required<RoomService>(d, 'rooms');
  const scheduler = required<TaskScheduler>(d, 'scheduler');
  const log = d.log.child({ module: 'moderation' });
  const redactions = new UserRedactionService({ orm: d.orm, scheduler, rooms, serverName: d.config.serverName, log });
  redactions.registerActions();
  const services = { rooms, reports: new EventReportService(rooms), sizes: new RoomSizeRepository(), redactions };
  return {
    name: 'moderation',
    bindings: [
      { name: 'synapse.admin.v1.ModerationService', definition: ModerationServiceService, implementation: moderationHandler(d.adapter, services) },
      { name: 'synapse.admin.v1.RoomDirectoryService', definition: RoomDirectoryServiceService, implementation: roomDirectoryHandler(d.adapter, new PublicRoomsService(d.config.serverName)) },
    ],
    routes: moderationRoutes,
  };
}
