import { PaginationServiceService } from '../../gen/synapse/admin/v1/pagination';
import { paginationHandler } from '../grpc/handlers/pagination.handler';
import { paginationRoutes } from '../gateway/routes/pagination.routes';
import type { LockManager } from '../infra/locks/lock.types';
import type { AppModule, ModuleDeps } from '../module';
import type { RoomService } from '../rooms/room.service';
import type { Clock } from '../tasks/clock';
import type { TaskScheduler } from '../tasks/task.types';
import { PaginationService } from './pagination.service';
import { PurgeHistoryService } from './purge-history.service';
import { RetentionService } from './retention.service';

function required<T>(d: ModuleDeps, name: string): T {
  const service = d.registry.get(name) as T | undefined;
  if (!service) throw new Error(`the pagination module needs '${name}' (create its module first)`);
  return service;
}

/** The services of this module, as registered under 'pagination' (for other modules and tests). */
export interface PaginationModuleServices {
  pagination: PaginationService;
  purges: PurgeHistoryService;
  retention: RetentionService;
}

/**
 * Room history: PaginationService (/messages, event context, purge history) and its REST paths;
 * registers the `purge_history` and `retention_purge` task actions and runs the retention jobs.
 */
export function createPaginationModule(d: ModuleDeps): AppModule {
  const rooms = required<RoomService>(d, 'rooms');
  const scheduler = required<TaskScheduler>(d, 'scheduler');
  const locks = required<LockManager>(d, 'locks');
  const log = d.log.child({ module: 'pagination' });
  // Follow the scheduler's clock so retention cut-offs and task timestamps agree.
  const clock = (scheduler as { clock?: Clock }).clock;
  const now = () => clock?.now() ?? Date.now();
  const purges = new PurgeHistoryService(d.orm, locks, scheduler, d.config.serverName, log);
  const retention = new RetentionService(d.config.retention, d.orm, locks, scheduler, purges, now, log);
  const pagination = new PaginationService(rooms, retention, { msc3874Enabled: d.config.msc3874Enabled });
  purges.register();
  retention.register();
  d.registry.set('pagination', { pagination, purges, retention } satisfies PaginationModuleServices);
  return {
    name: 'pagination',
    bindings: [{ name: 'synapse.admin.v1.PaginationService', definition: PaginationServiceService, implementation: paginationHandler(d.adapter, { pagination, purges }) }],
    routes: paginationRoutes,
    async start() {
      retention.start();
    },
    async stop() {
      retention.stop();
    },
  };
}
