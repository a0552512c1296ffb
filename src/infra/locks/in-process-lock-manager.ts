/**
 * Locks for single-instance mode (no Redis configured): the local table is the lock. Nothing can
 * outlive the process, so there is no lease to extend; a handle's signal aborts only when the
 * manager is closed under it.
 */
import { setMaxListeners } from 'node:events';
import { unavailable } from '../../errors';
import { BaseLockManager } from './base-lock-manager';
import { LocalLockTable } from './local-lock-table';
import type { AcquireOptions, LockHandle, LockMode } from './lock.types';

class InProcessHandle implements LockHandle {
  private readonly controller = new AbortController();
  private released = false;

  constructor(
    readonly fencingToken: number,
    private readonly onRelease: (h: InProcessHandle) => void,
  ) {}

  get signal(): AbortSignal {
    return this.controller.signal;
  }

  async isStillValid(): Promise<boolean> {
    return !this.released;
  }

  async release(): Promise<void> {
    if (this.released) return;
    this.released = true;
    this.onRelease(this);
  }

  /** Called on shutdown: the holder is told to stop, then the lock is released. */
  revoke(reason: unknown): void {
    this.controller.abort(reason);
    void this.release();
  }
}

export class InProcessLockManager extends BaseLockManager {
  private readonly table = new LocalLockTable();
  private readonly held = new Set<InProcessHandle>();
  private readonly closing = new AbortController();
  private fencing = 0;

  constructor() {
    super();
    // Every waiter listens to the shutdown signal.
    setMaxListeners(0, this.closing.signal);
  }

  protected async lock(ids: string[], mode: LockMode, wait: boolean, opts: AcquireOptions): Promise<LockHandle | null> {
    if (this.closing.signal.aborted) throw unavailable('Lock manager is shutting down');
    if (!wait) {
      if (!this.table.tryTake(ids, mode)) return null;
    } else {
      const signal = opts.signal ? AbortSignal.any([opts.signal, this.closing.signal]) : this.closing.signal;
      await this.table.take(ids, mode, signal, opts.timeoutMs);
    }
    const handle = new InProcessHandle(++this.fencing, (h) => {
      this.held.delete(h);
      this.table.give(ids, mode);
    });
    this.held.add(handle);
    return handle;
  }

  /** Number of lock ids currently held (tests, shutdown checks). */
  heldCount(): number {
    return this.table.heldCount();
  }

  async close(): Promise<void> {
    this.closing.abort(unavailable('Lock manager is shutting down'));
    for (const h of [...this.held]) h.revoke(unavailable('Lock manager is shutting down'));
  }
}
