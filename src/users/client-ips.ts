/**
 * Records which address and client each access token is used from, as Synapse's client_ips store
 * does:
 * - one sighting per (user, access token, address) is kept at most once per
 *   LAST_SEEN_GRANULARITY_MS (later requests within that time are not recorded);
 * - sightings are buffered in memory and written in one statement every
 *   CLIENT_IPS_FLUSH_INTERVAL_MS, and once more on shutdown, so a request never waits for the
 *   write;
 * - reads of this instance (whois, device lists) see the buffered sightings as if written;
 * - the devices' `ip`, `user_agent` and `last_seen_ts` follow their tokens' latest sighting;
 * - rows last seen longer ago than USER_IPS_MAX_AGE are pruned, in slices of PRUNE_BATCH.
 */
import { MAX_USER_AGENT_LENGTH, type ClientAddress } from '../client-address';
import type { Orm } from '../infra/orm';
import type { Logger } from '../logger';
import { ClientIpsRepository, type ClientIpRow, type ConnectionRow } from './client-ips.repository';

/** Synapse's LAST_SEEN_GRANULARITY: a sighting repeated within this time is not recorded again. */
export const CLIENT_IP_GRANULARITY_MS = 120_000;
/** How often buffered sightings are written (Synapse: every 5 s). */
export const CLIENT_IPS_FLUSH_INTERVAL_MS = 5_000;
/** Sightings whose last write time is remembered (Synapse's client_ip_last_seen cache size). */
const LAST_SEEN_MEMORY = 50_000;
/** Rows pruned per statement. */
const PRUNE_BATCH = 5_000;
/** How often old rows are pruned. */
const PRUNE_INTERVAL_MS = 60_000;
/** The user agent of the sliding-sync proxy, whose requests Synapse does not record. */
const SYNC_PROXY_USER_AGENT = 'sync-v3-proxy-';

export interface ClientIpOptions {
  /** Rows last seen longer ago than this are deleted; null keeps them. */
  maxAgeMs: number | null;
}

export class ClientIpRecorder {
  /** When each (user, token, address) was last buffered, oldest first. */
  private readonly lastSeen = new Map<string, number>();
  private pending = new Map<string, ClientIpRow>();
  private flushTimer: NodeJS.Timeout | null = null;
  private pruneTimer: NodeJS.Timeout | null = null;
  private flushing: Promise<void> = Promise.resolve();
  private closed = false;

  constructor(
    private readonly orm: Orm,
    private readonly log: Logger,
    private readonly opts: ClientIpOptions,
    private readonly repo = new ClientIpsRepository(),
  ) {}

  /** Starts the periodic writes (and pruning). */
  start(): void {
    this.flushTimer = setInterval(() => void this.flush(), CLIENT_IPS_FLUSH_INTERVAL_MS);
    this.flushTimer.unref();
    if (this.opts.maxAgeMs !== null) {
      this.pruneTimer = setInterval(() => void this.prune(), PRUNE_INTERVAL_MS);
      this.pruneTimer.unref();
    }
  }

  /**
   * Notes that `userId` used the token `tokenId` (of device `deviceId`) from `client`. Costs no
   * database round trip: the sighting is written with the next batch.
   */
  record(userId: string, tokenId: number, deviceId: string | null, client: ClientAddress, now = Date.now()): void {
    if (this.closed || !client.ip || client.userAgent === SYNC_PROXY_USER_AGENT) return;
    const key = `${userId}\u0000${tokenId}\u0000${client.ip}`;
    const last = this.lastSeen.get(key);
    if (last !== undefined && now - last < CLIENT_IP_GRANULARITY_MS) return;
    this.lastSeen.delete(key);
    if (this.lastSeen.size >= LAST_SEEN_MEMORY) {
      const oldest = this.lastSeen.keys().next();
      if (!oldest.done) this.lastSeen.delete(oldest.value);
    }
    this.lastSeen.set(key, now);
    const userAgent = client.userAgent.length > MAX_USER_AGENT_LENGTH ? client.userAgent.slice(0, MAX_USER_AGENT_LENGTH) : client.userAgent;
    this.pending.set(key, { userId, tokenId, ip: client.ip, userAgent, deviceId, lastSeen: now });
  }

  /** The buffered sightings of a user, not yet written. */
  pendingFor(userId: string): ClientIpRow[] {
    return [...this.pending.values()].filter((r) => r.userId === userId);
  }

  /**
   * The user's connections (one per token and address), the buffered ones laid over the written
   * ones, as Synapse's get_user_ip_and_agents.
   */
  async connections(userId: string, read: (repo: ClientIpsRepository) => Promise<ConnectionRow[]>): Promise<ConnectionRow[]> {
    const byKey = new Map<string, ConnectionRow>();
    for (const c of await read(this.repo)) byKey.set(`${c.tokenId}\u0000${c.ip}`, c);
    for (const r of this.pendingFor(userId))
      byKey.set(`${r.tokenId}\u0000${r.ip}`, { tokenId: r.tokenId, ip: r.ip, userAgent: r.userAgent, lastSeen: r.lastSeen });
    return [...byKey.values()].sort((a, b) => b.lastSeen - a.lastSeen);
  }

  /** Writes the buffered sightings (one statement); a failed batch is logged and dropped, as Synapse's. */
  flush(): Promise<void> {
    this.flushing = this.flushing.then(async () => {
      if (this.pending.size === 0) return;
      const batch = [...this.pending.values()];
      this.pending = new Map();
      try {
        await this.repo.writeBatch(this.orm.em.fork(), batch);
      } catch (err) {
        this.log.warn({ err, rows: batch.length }, 'client addresses not recorded');
      }
    });
    return this.flushing;
  }

  /** Deletes rows older than the configured age, one slice at a time. */
  private async prune(): Promise<void> {
    if (this.opts.maxAgeMs === null || this.closed) return;
    try {
      const before = Date.now() - this.opts.maxAgeMs;
      while ((await this.repo.prune(this.orm.em.fork(), before, PRUNE_BATCH)) === PRUNE_BATCH && !this.closed);
    } catch (err) {
      this.log.warn({ err }, 'old client addresses not pruned');
    }
  }

  /** Stops the timers and writes what is buffered (shutdown, before the database pool closes). */
  async close(): Promise<void> {
    this.closed = true;
    if (this.flushTimer) clearInterval(this.flushTimer);
    if (this.pruneTimer) clearInterval(this.pruneTimer);
    await this.flush();
  }
}
