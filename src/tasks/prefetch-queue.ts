/**
 * Tasks claimed ahead of free slots: leased by this instance (and renewed like running ones) but
 * not started yet. A slot freed by a finishing action starts the next one at once, without a
 * database round trip, while the finished run's outcome and the claim that refills the queue share
 * one statement in the background.
 *
 * Things to keep in mind:
 * - Bounded: at most `depth` tasks wait here.
 * - Prefetching only pays off when actions are short. It is on while they are: a run that ends
 *   within `holdMs` of its start turns it on; a queued task that waited `holdMs` without a slot is
 *   handed back (so long actions elsewhere cannot hoard tasks another instance could start) and
 *   turns it off again until the next short run.
 * - A queued run that was cancelled or lost its lease (its signal aborted) is dropped, never
 *   started.
 */
import type { ActiveRun } from './task-run';

interface Queued {
  run: ActiveRun;
  /** performance.now() when it was queued. */
  at: number;
}

export class PrefetchQueue {
  private readonly items: Queued[] = [];
  private enabled = false;

  constructor(
    private readonly depth: number,
    private readonly holdMs: number,
  ) {}

  /** Queued runs (aborted ones included until they are dropped). */
  get size(): number {
    return this.items.length;
  }

  /** How many tasks may wait here: `depth` while prefetching is on, otherwise none. */
  capacity(): number {
    return this.enabled ? this.depth : 0;
  }

  /** Queues a claimed run until a slot frees up. */
  push(run: ActiveRun): void {
    this.items.push({ run, at: performance.now() });
  }

  /** The oldest queued run that is still ours, or undefined; aborted ones are dropped. */
  next(): ActiveRun | undefined {
    for (let q = this.items.shift(); q; q = this.items.shift()) {
      if (!q.run.signal.aborted) return q.run;
    }
    return undefined;
  }

  /** The queued run of a task, if any. */
  get(id: string): ActiveRun | undefined {
    return this.items.find((q) => q.run.task.id === id)?.run;
  }

  /** Every queued run (for lease renewal). */
  runs(): ActiveRun[] {
    return this.items.map((q) => q.run);
  }

  /** Reports how long a run's action took: a short one turns prefetching on. */
  ran(ms: number): void {
    if (ms < this.holdMs) this.enabled = true;
  }

  /** Removes and returns the runs queued for `holdMs` or more, and turns prefetching off if any. */
  takeStale(): ActiveRun[] {
    const limit = performance.now() - this.holdMs;
    let n = 0;
    while (n < this.items.length && this.items[n].at <= limit) n += 1;
    if (n === 0) return [];
    this.enabled = false;
    return this.items.splice(0, n).map((q) => q.run);
  }

  /** Milliseconds until the oldest queued run becomes stale, or null when the queue is empty. */
  untilStale(): number | null {
    return this.items.length === 0 ? null : Math.max(0, this.items[0].at + this.holdMs - performance.now());
  }

  /** Removes and returns every queued run (shutdown). */
  takeAll(): ActiveRun[] {
    this.enabled = false;
    return this.items.splice(0).map((q) => q.run);
  }
}
