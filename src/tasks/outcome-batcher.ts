/**
 * Records the outcomes of finished runs in batches, and claims work for the instance's free room
 * (free slots and the prefetch queue) in the same statement. Outcomes that arrive in the same turn
 * of the event loop share one statement (one commit), and a few statements may be in flight at
 * once. A finished action frees its slot before its outcome is written: the next task starts from
 * the prefetch queue while this statement runs.
 */
import type { Orm } from '../infra/orm';
import type { ClaimSpec, TaskClaimsRepository } from './task-claims.repository';
import type { Outcome, TaskRow } from './task.repository';

interface Pending {
  outcome: Outcome;
  resolve(written: boolean): void;
  reject(err: unknown): void;
}

/** Largest batch written in one statement. */
const MAX_BATCH = 500;
/** Statements in flight at once (each holds a pooled connection). */
const MAX_IN_FLIGHT = 3;

export interface SlotRefill {
  /** What to claim for the instance's free room (null: claim nothing); reserves it. */
  claimFor(): ClaimSpec | null;
  /** Ends the reservation of `spec` and starts the tasks claimed with it (none on failure). */
  claimed(spec: ClaimSpec | null, rows: TaskRow[]): void;
}

export class OutcomeBatcher {
  private queue: Pending[] = [];
  private scheduled = false;
  private inFlight = 0;

  constructor(
    private readonly orm: Orm,
    private readonly repo: TaskClaimsRepository,
    private readonly refill: SlotRefill,
  ) {}

  /** Resolves true when the outcome was written, false when the run's lease was lost. */
  record(outcome: Outcome): Promise<boolean> {
    return new Promise((resolve, reject) => {
      this.queue.push({ outcome, resolve, reject });
      this.schedule();
    });
  }

  private schedule(): void {
    if (this.scheduled || this.queue.length === 0 || this.inFlight >= MAX_IN_FLIGHT) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      void this.write(this.queue.splice(0, MAX_BATCH));
    });
  }

  private async write(batch: Pending[]): Promise<void> {
    this.inFlight += 1;
    const spec = this.refill.claimFor();
    try {
      const { finished, claimed } = await this.repo.finishAndClaim(
        this.orm.em.fork(),
        batch.map((p) => p.outcome),
        spec,
      );
      this.refill.claimed(spec, claimed);
      batch.forEach((p) => p.resolve(finished.has(p.outcome.id)));
    } catch (err) {
      this.refill.claimed(spec, []);
      batch.forEach((p) => p.reject(err));
    } finally {
      this.inFlight -= 1;
      this.schedule();
    }
  }
}
