/**
 * Keeps the leases of this instance's running tasks alive, and tells a run when its lease is gone
 * (taken over after an expiry, or its task cancelled) or can no longer be proven (the database
 * has not answered for a whole lease). Also reports running tasks that have made no update for a
 * long time (possibly stuck, though alive).
 */
import type { Orm } from '../infra/orm';
import { FaultLog, type Logger } from '../logger';
import type { Clock } from './clock';
import type { ActiveRun } from './task-run';
import type { TaskListener } from './task-listener';
import { execOn, type Exec, type TaskRepository } from './task.repository';
import { LeaseLostError } from './task.types';

export interface LeaseKeeperDeps {
  orm: Orm;
  repo: TaskRepository;
  listener: TaskListener;
  log: Logger;
  clock: Clock;
  leaseMs: number;
  warnAfterMs: number;
}

export class LeaseKeeper {
  private lastRenewal = Date.now();
  /** Failing renewals (database down): logged when they start, summarised, and when they end. */
  private readonly fault: FaultLog;

  constructor(private readonly d: LeaseKeeperDeps) {
    this.fault = new FaultLog(
      d.log,
      'task lease renewal',
      {},
      { messages: { down: 'task lease renewal failed', still: 'task lease renewals still failing', up: 'task lease renewals work again' } },
    );
  }

  close(): void {
    this.fault.close();
  }

  /** Renews the leases of `runs`; aborts the runs whose lease is lost. */
  async renew(runs: ActiveRun[]): Promise<void> {
    const live = runs.filter((r) => !r.signal.aborted);
    if (live.length === 0) return void (this.lastRenewal = Date.now());
    try {
      // On the listener's own connection when it is up: renewals must not queue behind the pool.
      const pooled = execOn(this.d.orm.em.fork());
      const exec: Exec = async (text, params) => (await this.d.listener.query(text, params)) ?? pooled(text, params);
      const renewed = await this.d.repo.renew(
        exec,
        live.map((r) => r.lease),
        this.d.leaseMs,
      );
      this.lastRenewal = Date.now();
      this.fault.ok();
      live.filter((r) => !renewed.has(r.task.id)).forEach((r) => r.abort(new LeaseLostError(r.task.id)));
    } catch (err) {
      this.fault.failed(err);
      // Past the lease, another instance may own these tasks: stop before doing damage.
      if (Date.now() - this.lastRenewal >= this.d.leaseMs) live.forEach((r) => r.abort(new LeaseLostError(r.task.id)));
    }
    this.warnStuck(live);
  }

  private warnStuck(runs: ActiveRun[]): void {
    const now = this.d.clock.now();
    for (const r of runs) {
      if (now - r.lastUpdate < this.d.warnAfterMs || now - r.warnedAt < this.d.warnAfterMs) continue;
      r.warnedAt = now;
      this.d.log.warn(
        { taskId: r.task.id, action: r.task.action, sinceMs: now - r.lastUpdate },
        'running task has made no update for a long time; it may be stuck',
      );
    }
  }
}
