/**
 * The public LockManager surface expressed once over a single primitive, `lock(ids, mode, ...)`,
 * which both implementations provide. Exclusive locks and read/write locks live in separate
 * namespaces (as Synapse's two lock tables do): an exclusive lock on (name, key) never conflicts
 * with a read/write lock on the same pair.
 */
import { locks as lockMetrics } from '../../metrics/metrics';
import { lockTimeoutError } from './local-lock-table';
import type { AcquireOptions, LockHandle, LockKey, LockManager, LockMode } from './lock.types';

const TIMEOUT_MESSAGE = lockTimeoutError().message;

/** Lock id of an exclusive lock. Components are encoded so ids never collide. */
export const exclusiveId = (name: string, key: string) => `x:${encodeURIComponent(name)}:${encodeURIComponent(key)}`;
/** Lock id of a read/write lock. */
export const readWriteId = (name: string, key: string) => `rw:${encodeURIComponent(name)}:${encodeURIComponent(key)}`;

export abstract class BaseLockManager implements LockManager {
  /**
   * Takes every id in `mode` (all or nothing). With `wait` false, resolves null instead of
   * waiting; with `wait` true, waits (bounded by opts) and never resolves null.
   */
  protected abstract lock(ids: string[], mode: LockMode, wait: boolean, opts: AcquireOptions): Promise<LockHandle | null>;

  abstract close(): Promise<void>;

  async acquire(name: string, key: string, opts: AcquireOptions = {}): Promise<LockHandle> {
    return (await this.measured(name, 'exclusive', [exclusiveId(name, key)], 'write', true, opts))!;
  }

  tryAcquire(name: string, key: string): Promise<LockHandle | null> {
    return this.measured(name, 'exclusive', [exclusiveId(name, key)], 'write', false, {});
  }

  async acquireReadWrite(name: string, key: string, mode: LockMode, opts: AcquireOptions = {}): Promise<LockHandle> {
    return (await this.measured(name, mode, [readWriteId(name, key)], mode, true, opts))!;
  }

  tryAcquireReadWrite(name: string, key: string, mode: LockMode): Promise<LockHandle | null> {
    return this.measured(name, mode, [readWriteId(name, key)], mode, false, {});
  }

  async acquireMulti(keys: LockKey[], mode: LockMode, opts: AcquireOptions = {}): Promise<LockHandle> {
    return (await this.measured(labelOf(keys), mode, idsOf(keys), mode, true, opts))!;
  }

  tryAcquireMulti(keys: LockKey[], mode: LockMode): Promise<LockHandle | null> {
    return this.measured(labelOf(keys), mode, idsOf(keys), mode, false, {});
  }

  /** lock(), counted and timed under the lock's name (never its key) for the metrics. */
  private measured(
    label: string,
    modeLabel: string,
    ids: string[],
    mode: LockMode,
    wait: boolean,
    opts: AcquireOptions,
  ): Promise<LockHandle | null> {
    const started = process.hrtime.bigint();
    return this.lock(ids, mode, wait, opts).then(
      (h) => {
        lockMetrics.done(label, modeLabel, h ? 'acquired' : 'busy', started, wait);
        return h;
      },
      (err: unknown) => {
        const result = opts.signal?.aborted ? 'aborted' : (err as Error)?.message === TIMEOUT_MESSAGE ? 'timeout' : 'error';
        lockMetrics.done(label, modeLabel, result, started, wait);
        throw err;
      },
    );
  }

  async withReadWrite<T>(
    name: string,
    key: string,
    mode: LockMode,
    fn: (lock: LockHandle) => Promise<T>,
    opts?: AcquireOptions,
  ): Promise<T> {
    return using(await this.acquireReadWrite(name, key, mode, opts), fn);
  }

  async withMulti<T>(keys: LockKey[], mode: LockMode, fn: (lock: LockHandle) => Promise<T>, opts?: AcquireOptions): Promise<T> {
    return using(await this.acquireMulti(keys, mode, opts), fn);
  }
}

/** The metrics label of a multi-lock: its lock names, sorted, joined by "+". */
function labelOf(keys: LockKey[]): string {
  return [...new Set(keys.map((k) => k.name))].sort().join('+');
}

/** Multi-locks are read/write locks; duplicates are taken once and the order is canonical. */
function idsOf(keys: LockKey[]): string[] {
  if (keys.length === 0) throw new Error('acquireMulti needs at least one (name, key)');
  return [...new Set(keys.map((k) => readWriteId(k.name, k.key)))].sort();
}

async function using<T>(handle: LockHandle, fn: (lock: LockHandle) => Promise<T>): Promise<T> {
  try {
    return await fn(handle);
  } finally {
    await handle.release();
  }
}
