import { TaskSchedulerServiceService } from '../../gen/synapse/admin/v1/task_scheduler';
import { taskSchedulerHandler } from '../grpc/handlers/task-scheduler.handler';
import { taskRoutes } from '../gateway/routes/tasks.routes';
import { createLockManager } from '../infra/locks/lock-manager';
import type { AppModule, ModuleDeps } from '../module';
import { PgTaskScheduler } from './task-scheduler';
import { STOP_GRACE_MS } from './scheduler-options';

/**
 * Background infrastructure other modules build on: the lock manager ('locks') and the task
 * scheduler ('scheduler'). Modules created later register their actions on the scheduler at
 * creation; claiming starts with start(), once every action is known.
 */
export function createTasksModule(d: ModuleDeps): AppModule {
  const locks = createLockManager({ redis: d.redis, keyPrefix: d.config.redisKeyPrefix, log: d.log });
  const scheduler = new PgTaskScheduler({
    orm: d.orm,
    log: d.log.child({ component: 'tasks' }),
    instanceName: d.config.instanceName,
    connectionString: d.orm.config.get('clientUrl')!,
    maxConcurrentTasks: d.config.maxConcurrentTasks,
    leaseMs: d.config.taskLeaseMs,
    leaseRenewMs: Math.max(250, Math.floor(d.config.taskLeaseMs / 5)),
    keepTasksForMs: d.config.keepTasksForMs,
    warnAfterMs: d.config.taskStuckWarningMs,
    // Aborted actions get at most the shutdown timeout to checkpoint before their tasks go back.
    stopGraceMs: Math.min(STOP_GRACE_MS, d.config.shutdownTimeoutMs),
  });
  d.registry.set('locks', locks);
  d.registry.set('scheduler', scheduler);
  return {
    name: 'tasks',
    bindings: [{ name: 'synapse.admin.v1.TaskSchedulerService', definition: TaskSchedulerServiceService, implementation: taskSchedulerHandler(d.adapter, scheduler) }],
    routes: taskRoutes,
    async start() {
      await scheduler.start();
    },
    async stop() {
      await scheduler.stop();
    },
    async close() {
      await locks.close();
    },
  };
}
