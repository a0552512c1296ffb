/**
 * LISTEN on the tasks channel over a dedicated PostgreSQL connection (a pooled connection would
 * be handed to other work and lose the subscription). Payloads:
 * - `n|<timestamp>|<id>|<action>`: a task was scheduled (due at `timestamp`), or tasks of the
 *   action were handed back (no id, timestamp 0);
 * - `c|<id>`: a task was cancelled (its runner, wherever it is, stops).
 * The connection is re-opened after a failure; the scheduler's polling covers the gap.
 */
import { PgListener } from '../infra/pg-listener';
import type { Logger } from '../logger';
import { TASKS_CHANNEL } from './task.repository';

export interface TaskEvents {
  onNew(action: string, timestamp: number, id: string): void;
  onCancel(id: string): void;
  /** The subscription (re)started: anything may have been missed. */
  onConnected(): void;
}

export class TaskListener {
  private readonly pg: PgListener;

  constructor(connectionString: string, events: TaskEvents, log: Logger) {
    this.pg = new PgListener(
      connectionString,
      TASKS_CHANNEL,
      {
        onPayload: (payload) => {
          const [kind, a, b, ...rest] = payload.split('|');
          if (kind === 'n') events.onNew(rest.join('|'), Number(a), b);
          else if (kind === 'c') events.onCancel(a);
        },
        onState: (up) => {
          if (up) events.onConnected();
          else log.warn('task listener disconnected; polling until it is back');
        },
      },
      log,
      'synapse-room-admin/tasks-listener',
    );
  }

  /** Opens the subscription; failures are retried in the background. */
  start(): Promise<void> {
    return this.pg.start();
  }

  /**
   * Runs a query on the listening connection (kept away from the pool, so it never queues behind
   * busy pooled connections); null when that connection is down.
   */
  query<T>(text: string, params: unknown[]): Promise<T[] | null> {
    return this.pg.query<T>(text, params);
  }

  stop(): Promise<void> {
    return this.pg.stop();
  }
}
