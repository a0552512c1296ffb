import { createLockManager } from '../infra/locks/lock-manager';
import type { AppModule, ModuleDeps } from '../module';

/** Background infrastructure other modules build on: the lock manager ('locks'). */
export function createTasksModule(d: ModuleDeps): AppModule {
  const locks = createLockManager({ redis: d.redis, keyPrefix: d.config.redisKeyPrefix, log: d.log });
  d.registry.set('locks', locks);
  return {
    name: 'tasks',
    bindings: [],
    routes: [],
    async stop() {
      await locks.close();
    },
  };
}
