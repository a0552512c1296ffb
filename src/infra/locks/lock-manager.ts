/**
 * Chooses the lock implementation: Redis (Redlock quorum over every configured node) when Redis
 * is configured, in-process otherwise (single-instance mode).
 */
import type Redis from 'ioredis';
import type { Logger } from '../../logger';
import { InProcessLockManager } from './in-process-lock-manager';
import type { LockManager } from './lock.types';
import { RedisLockManager } from './redis-lock-manager';

export interface LockManagerDeps {
  redis: Redis[];
  keyPrefix: string;
  log: Logger;
}

export function createLockManager(d: LockManagerDeps): LockManager {
  if (d.redis.length === 0) return new InProcessLockManager();
  return new RedisLockManager(d.redis, { keyPrefix: d.keyPrefix, log: d.log.child({ component: 'locks' }) });
}
