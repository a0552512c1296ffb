/**
 * The task a lock is taken for. The scheduler runs each action with its task id and lease id as
 * the current lock owner (AsyncLocalStorage), and the Redis lock manager writes both into the
 * tokens of the locks taken under it. A later lease of the same task (the task's PostgreSQL lease
 * moved on: its previous runner stopped renewing for a whole TASK_LEASE, or was cancelled out) may
 * take those locks over at once instead of waiting for their Redis lease to run out; see
 * redis-lock-scripts.ts and docs/failure-modes.md for why that is safe.
 */
import { AsyncLocalStorage } from 'node:async_hooks';

export interface LockOwner {
  taskId: string;
  leaseId: number;
}

const owners = new AsyncLocalStorage<LockOwner>();

/** Runs `fn` with `owner` as the owner of the locks it takes. */
export function runAsLockOwner<T>(owner: LockOwner, fn: () => T): T {
  return owners.run(owner, fn);
}

/** Runs `fn` with no lock owner: for work `fn` does on behalf of others too (a shared write queue). */
export function runWithoutLockOwner<T>(fn: () => T): T {
  return owners.exit(fn);
}

export function currentLockOwner(): LockOwner | undefined {
  return owners.getStore();
}

/** The token prefix naming the owner: `t:<task id>:<lease id>:` (parsed by the acquire script). */
export function ownerTokenPrefix(owner: LockOwner | undefined): string {
  return owner ? `t:${owner.taskId}:${owner.leaseId}:` : '';
}
