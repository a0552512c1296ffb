/**
 * An in-memory table of read/write locks over opaque lock ids, shared by the in-process lock
 * manager (as the lock itself) and the Redis lock manager (as a local gate in front of Redis, so
 * waiters of one instance queue here instead of hammering Redis).
 *
 * Rules:
 * - Writer-preferring: a reader never overtakes a writer that waits for one of its ids, so a
 *   stream of readers cannot starve a purge. Writers are not reserved against each other: a
 *   waiting writer (possibly a multi-lock) blocks no other writer, so a holder of one id that
 *   asks for another cannot deadlock against a waiting multi-lock.
 * - Waiters are served in arrival order whenever they are compatible.
 * - A request for several ids is granted all at once or not at all; a waiting request holds none.
 * - Hand-off is direct: a release grants the next compatible waiters synchronously.
 * - Consequence of writer preference (as with any fair read/write lock): a holder of a read lock
 *   that asks for another read lock a waiting writer wants can deadlock. Take several locks
 *   together with a multi-lock instead of nesting them.
 */
import type { LockMode } from './lock.types';
import { unavailable } from '../../errors';

interface Entry {
  writer: boolean;
  readers: number;
}

interface Waiter {
  ids: string[];
  mode: LockMode;
  grant(): void;
}

/** The error of an acquisition that gave up after `timeoutMs`. */
export const lockTimeoutError = () => unavailable('Timed out waiting for lock');

export class LocalLockTable {
  private readonly entries = new Map<string, Entry>();
  private readonly queue: Waiter[] = [];

  /** Takes the ids now if nobody holds them incompatibly (and, for a reader, no writer waits for them). */
  tryTake(ids: string[], mode: LockMode): boolean {
    if (mode === 'read' && this.queue.length > 0 && this.queue.some((w) => w.mode === 'write' && w.ids.some((id) => ids.includes(id))))
      return false;
    if (!this.compatible(ids, mode)) return false;
    this.apply(ids, mode, +1);
    return true;
  }

  /** Waits until the ids are granted; rejects (holding nothing) on abort or timeout. */
  take(ids: string[], mode: LockMode, signal?: AbortSignal, timeoutMs?: number): Promise<void> {
    if (signal?.aborted) return Promise.reject(signal.reason);
    if (this.tryTake(ids, mode)) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      let timer: NodeJS.Timeout | undefined;
      const cleanup = () => {
        if (timer) clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
      };
      const waiter: Waiter = {
        ids,
        mode,
        grant: () => {
          cleanup();
          resolve();
        },
      };
      const giveUp = (err: unknown) => {
        const i = this.queue.indexOf(waiter);
        if (i < 0) return; // already granted
        this.queue.splice(i, 1);
        cleanup();
        // Leaving the queue may unblock requests that were queued behind this one.
        this.pump();
        reject(err);
      };
      const onAbort = () => giveUp(signal?.reason);
      signal?.addEventListener('abort', onAbort, { once: true });
      if (timeoutMs !== undefined) timer = setTimeout(() => giveUp(lockTimeoutError()), timeoutMs);
      this.queue.push(waiter);
    });
  }

  /** Releases ids taken in `mode` and grants whatever can now run. */
  give(ids: string[], mode: LockMode): void {
    this.apply(ids, mode, -1);
    this.pump();
  }

  /** Number of ids currently held (for tests and shutdown checks). */
  heldCount(): number {
    return this.entries.size;
  }

  private compatible(ids: string[], mode: LockMode): boolean {
    return ids.every((id) => {
      const e = this.entries.get(id);
      if (!e) return true;
      return mode === 'read' ? !e.writer : !e.writer && e.readers === 0;
    });
  }

  private apply(ids: string[], mode: LockMode, delta: 1 | -1): void {
    for (const id of ids) {
      const e = this.entries.get(id) ?? { writer: false, readers: 0 };
      if (mode === 'write') e.writer = delta > 0;
      else e.readers += delta;
      if (!e.writer && e.readers <= 0) this.entries.delete(id);
      else this.entries.set(id, e);
    }
  }

  private pump(): void {
    if (this.queue.length === 0) return;
    const writersWaiting = new Set<string>();
    for (let i = 0; i < this.queue.length;) {
      const w = this.queue[i];
      const overtakesWriter = w.mode === 'read' && w.ids.some((id) => writersWaiting.has(id));
      if (!overtakesWriter && this.compatible(w.ids, w.mode)) {
        this.queue.splice(i, 1);
        this.apply(w.ids, w.mode, +1);
        w.grant();
        continue;
      }
      if (w.mode === 'write') w.ids.forEach((id) => writersWaiting.add(id));
      i += 1;
    }
  }
}
