/**
 * A held Redis lock: extends its lease every ttl/3 and aborts its signal as soon as it can no
 * longer prove that it holds the lock (an extension was refused, or the lease ran out while Redis
 * did not answer). Extensions are scheduled on the manager's shared timer queue, and the signal's
 * AbortController is only created once somebody looks at the signal or it must abort: most locks
 * are released long before their first extension.
 */
import { unavailable } from '../../errors';
import { locks as lockMetrics } from '../../metrics/metrics';
import type { LockHandle, LockMode } from './lock.types';
import type { RedisLockManager } from './redis-lock-manager';

/** Retry interval of an extension that failed because Redis did not answer. */
const EXTEND_RETRY_MS = 250;

export interface RedisLockHandleInit {
  ids: string[];
  mode: LockMode;
  token: string;
  fencingToken: number;
  manager: RedisLockManager;
  onRelease(h: RedisLockHandle): void;
}

export class RedisLockHandle implements LockHandle {
  readonly fencingToken: number;
  /** Successful extensions so far (observable by tests). */
  extensions = 0;
  private controller: AbortController | null = null;
  private released = false;
  private validUntil: number;

  constructor(private readonly init: RedisLockHandleInit) {
    this.fencingToken = init.fencingToken;
    this.validUntil = Date.now() + init.manager.ttlMs;
    this.schedule(Math.floor(init.manager.ttlMs / 3));
  }

  get signal(): AbortSignal {
    return (this.controller ??= new AbortController()).signal;
  }

  async isStillValid(): Promise<boolean> {
    if (this.released || this.controller?.signal.aborted) return false;
    try {
      return await this.init.manager.extend(this.init.ids, this.init.mode, this.init.token, true);
    } catch {
      return false;
    }
  }

  async release(): Promise<void> {
    if (this.released) return;
    this.released = true;
    this.init.manager.timers.cancel(this);
    try {
      await this.init.manager.releaseRemote(this.init.ids, this.init.token, this.init.mode);
    } catch {
      // Redis unreachable: the lease expires by itself.
    } finally {
      this.init.onRelease(this);
    }
  }

  /** Shutdown: tell the holder to stop, then give the lock back. */
  async revoke(reason: unknown): Promise<void> {
    this.abort(reason);
    await this.release();
  }

  private abort(reason: unknown): void {
    const c = (this.controller ??= new AbortController());
    if (!c.signal.aborted) c.abort(reason);
  }

  private schedule(ms: number): void {
    if (this.released) return;
    this.init.manager.timers.schedule(this, ms, () => void this.extendOnce());
  }

  private async extendOnce(): Promise<void> {
    const started = Date.now();
    let ok: boolean | null;
    try {
      ok = await this.init.manager.extend(this.init.ids, this.init.mode, this.init.token, false);
    } catch {
      ok = null; // no quorum answered: retry while the lease may still be ours
    }
    if (this.released) return;
    if (ok === true) {
      this.extensions += 1;
      this.validUntil = started + this.init.manager.ttlMs;
      this.schedule(Math.floor(this.init.manager.ttlMs / 3));
    } else if (ok === false || Date.now() + EXTEND_RETRY_MS >= this.validUntil) {
      this.lose();
    } else {
      this.schedule(EXTEND_RETRY_MS);
    }
  }

  private lose(): void {
    const err = unavailable('Lock lease was lost');
    lockMetrics.leaseLost();
    this.init.manager.leaseLost(this.init.ids, err);
    this.abort(err);
  }
}
