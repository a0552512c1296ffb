/**
 * A LISTEN subscription on a dedicated PostgreSQL connection (a pooled connection would be handed
 * to other work and lose it). The connection is re-opened after any failure; `onState` tells when
 * the subscription is up (anything published while it was down may have been missed) or down.
 */
import { Client } from 'pg';
import { FaultLog, type Logger } from '../logger';
import { sources } from '../metrics/sources';
import { bindPlain } from './sql';

/** Delay before re-opening a failed LISTEN connection. */
const RECONNECT_DELAY_MS = 1_000;

export interface ListenerHandlers {
  onPayload(payload: string): void;
  onState(up: boolean): void;
}

export class PgListener {
  private client: Client | null = null;
  private stopped = false;
  private up = false;
  private retry: NodeJS.Timeout | null = null;
  /** The subscription's outage: its start, summaries of the failed reconnects, its end. */
  private readonly fault: FaultLog;
  private unregisterMetrics: (() => void) | null = null;

  constructor(
    private readonly connectionString: string,
    private readonly channel: string,
    private readonly handlers: ListenerHandlers,
    private readonly log: Logger,
    /** Names the connection in pg_stat_activity. */
    private readonly applicationName = `synapse-room-admin/${channel}-listener`,
  ) {
    if (!/^[a-z_][a-z0-9_]*$/.test(channel)) throw new Error(`invalid channel name ${channel}`);
    this.fault = new FaultLog(
      log,
      'listener',
      { channel },
      { messages: { down: 'listener disconnected; retrying', still: 'listener still disconnected; retrying', up: 'listener reconnected' } },
    );
  }

  /** Opens the subscription; failures are retried in the background. */
  async start(): Promise<void> {
    this.unregisterMetrics ??= sources.listener({ channel: this.channel, connected: () => this.up && !this.stopped });
    await this.connect();
  }

  /**
   * Runs a query on the listening connection (kept away from the pool, so it never queues behind
   * busy pooled connections; `?` placeholders bound as `sql` binds them); null when that connection is down.
   */
  async query<T>(text: string, params: unknown[]): Promise<T[] | null> {
    const c = this.client;
    if (!c || !this.up) return null;
    const res = await c.query(bindPlain(text, params));
    return res.rows as T[];
  }

  private async connect(): Promise<void> {
    const client = new Client({ connectionString: this.connectionString, application_name: this.applicationName });
    client.on('error', (err) => this.failed(err, client));
    client.on('end', () => this.failed(new Error('connection ended'), client));
    client.on('notification', (msg) => msg.payload && this.handlers.onPayload(msg.payload));
    this.client = client;
    try {
      await client.connect();
      await client.query(`LISTEN ${this.channel}`);
    } catch (err) {
      return this.failed(err as Error, client);
    }
    if (this.stopped) return void client.end().catch(() => undefined);
    this.up = true;
    this.fault.ok();
    this.handlers.onState(true);
  }

  private failed(err: Error, client: Client): void {
    if (client !== this.client) return;
    this.client = null;
    const wasUp = this.up;
    this.up = false;
    if (wasUp) this.handlers.onState(false);
    client.removeAllListeners('end');
    client.end().catch(() => undefined);
    if (this.stopped || this.retry) return;
    this.fault.failed(err);
    this.retry = setTimeout(() => {
      this.retry = null;
      if (!this.stopped) void this.connect();
    }, RECONNECT_DELAY_MS);
    this.retry.unref();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.fault.close();
    this.unregisterMetrics?.();
    this.unregisterMetrics = null;
    if (this.retry) clearTimeout(this.retry);
    const c = this.client;
    this.client = null;
    if (this.up) this.handlers.onState(false);
    this.up = false;
    if (c) {
      c.removeAllListeners('end');
      await c.end().catch(() => undefined);
    }
  }
}
