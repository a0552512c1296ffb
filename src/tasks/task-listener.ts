/**
 * LISTEN on the tasks channel over a dedicated PostgreSQL connection (a pooled connection would
 * be handed to other work and lose the subscription). Payloads:
 * - `n|<timestamp>|<id>|<action>`: a task was scheduled (due at `timestamp`), or tasks of the
 *   action were handed back (no id, timestamp 0);
 * - `c|<id>`: a task was cancelled (its runner, wherever it is, stops).
 * The connection is re-opened after a failure; the scheduler's polling covers the gap.
 */
import { Client } from 'pg';
import type { Logger } from '../logger';
import { TASKS_CHANNEL } from './task.repository';

/** Delay before re-opening a failed LISTEN connection. */
const RECONNECT_DELAY_MS = 1_000;

export interface TaskEvents {
  onNew(action: string, timestamp: number, id: string): void;
  onCancel(id: string): void;
  /** The subscription (re)started: anything may have been missed. */
  onConnected(): void;
}

export class TaskListener {
  private client: Client | null = null;
  private stopped = false;
  private connected = false;
  private retry: NodeJS.Timeout | null = null;

  constructor(
    private readonly connectionString: string,
    private readonly events: TaskEvents,
    private readonly log: Logger,
  ) {}

  /** Opens the subscription; failures are retried in the background. */
  async start(): Promise<void> {
    await this.connect();
  }

  /** Never throws: a failure schedules a retry. */
  private async connect(): Promise<void> {
    const client = new Client({ connectionString: this.connectionString, application_name: 'synapse-room-admin/tasks-listener' });
    client.on('error', (err) => this.failed(err, client));
    client.on('end', () => this.failed(new Error('connection ended'), client));
    client.on('notification', (msg) => msg.payload && this.dispatch(msg.payload));
    this.client = client;
    try {
      await client.connect();
      await client.query(`LISTEN ${TASKS_CHANNEL}`);
    } catch (err) {
      return this.failed(err as Error, client);
    }
    if (this.stopped) return void client.end().catch(() => undefined);
    this.connected = true;
    this.events.onConnected();
  }

  /**
   * Runs a query on the listening connection (kept away from the pool, so it never queues behind
   * busy pooled connections); null when that connection is down.
   */
  async query<T>(text: string, params: unknown[]): Promise<T[] | null> {
    const c = this.client;
    if (!c || !this.connected) return null;
    let i = 0;
    const res = await c.query(text.replace(/\?/g, () => `$${++i}`), params);
    return res.rows as T[];
  }

  private dispatch(payload: string): void {
    const [kind, a, b, ...rest] = payload.split('|');
    if (kind === 'n') this.events.onNew(rest.join('|'), Number(a), b);
    else if (kind === 'c') this.events.onCancel(a);
  }

  private failed(err: Error, client: Client): void {
    if (client !== this.client) return;
    this.client = null;
    this.connected = false;
    client?.removeAllListeners('end');
    client?.end().catch(() => undefined);
    if (this.stopped || this.retry) return;
    this.log.warn({ err: err.message }, 'task listener disconnected; polling until it is back');
    this.retry = setTimeout(() => {
      this.retry = null;
      if (!this.stopped) void this.connect();
    }, RECONNECT_DELAY_MS);
    this.retry.unref();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.retry) clearTimeout(this.retry);
    const c = this.client;
    this.client = null;
    this.connected = false;
    if (c) {
      c.removeAllListeners('end');
      await c.end().catch(() => undefined);
    }
  }
}
