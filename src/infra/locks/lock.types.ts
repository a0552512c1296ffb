/**
 * Lock contracts (implemented by src/infra/locks/: Redlock over ioredis, or in-process in
 * single-instance mode). Names used by the room modules are Synapse's, verbatim.
 */

/** Taken (write) by history and room purges; (read) by backfill/pagination paths that insert history. */
export const PURGE_PAGINATION_LOCK_NAME = 'purge_pagination_lock';
/** Taken (write) by room purges; (read) by every path that creates or persists an event in the room. */
export const NEW_EVENT_DURING_PURGE_LOCK_NAME = 'new_event_during_purge_lock';

export type LockMode = 'read' | 'write';

export interface LockKey {
  name: string;
  key: string;
}

export interface AcquireOptions {
  /** Give up (reject) when aborted. */
  signal?: AbortSignal;
  /** Give up after this long (rejects with a 503 M_UNKNOWN MatrixError). Default: wait forever. */
  timeoutMs?: number;
}

export interface LockHandle {
  /** Aborted if the lease could not be extended: stop before doing further damage. */
  readonly signal: AbortSignal;
  /** A monotonically increasing token for this acquisition (fencing). */
  readonly fencingToken: number;
  isStillValid(): Promise<boolean>;
  /** Idempotent. */
  release(): Promise<void>;
}

export interface LockManager {
  /** Exclusive lock on (name, key); waits until acquired. */
  acquire(name: string, key: string, opts?: AcquireOptions): Promise<LockHandle>;
  /** Returns null instead of waiting. */
  tryAcquire(name: string, key: string): Promise<LockHandle | null>;
  /** Read/write lock, writer-preferring: once a writer waits, new readers queue behind it. */
  acquireReadWrite(name: string, key: string, mode: LockMode, opts?: AcquireOptions): Promise<LockHandle>;
  tryAcquireReadWrite(name: string, key: string, mode: LockMode): Promise<LockHandle | null>;
  /** All-or-nothing over several (name, key) pairs in one mode; never holds a subset while waiting. */
  acquireMulti(keys: LockKey[], mode: LockMode, opts?: AcquireOptions): Promise<LockHandle>;
  tryAcquireMulti(keys: LockKey[], mode: LockMode): Promise<LockHandle | null>;
  /** Runs fn under the lock and always releases it. */
  withReadWrite<T>(name: string, key: string, mode: LockMode, fn: (lock: LockHandle) => Promise<T>, opts?: AcquireOptions): Promise<T>;
  withMulti<T>(keys: LockKey[], mode: LockMode, fn: (lock: LockHandle) => Promise<T>, opts?: AcquireOptions): Promise<T>;
  /** Releases everything this instance holds (shutdown). */
  close(): Promise<void>;
}
