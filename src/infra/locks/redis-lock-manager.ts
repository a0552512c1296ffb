/**
 * Distributed locks over one or more independent Redis nodes (the Redlock quorum algorithm, with
 * read/write and multi-id locks as Lua scripts; see redis-lock-scripts.ts).
 *
 * How it works / things to keep in mind:
 * - Waiters of this instance first queue in a local table (FIFO, writer-preferring); only the
 *   head of the local queue talks to Redis. Hand-off between local holders is direct, and Redis
 *   is not hammered by a crowd of local waiters.
 * - An acquisition succeeds when a majority of nodes granted it within the lease's validity
 *   (TTL minus elapsed time minus clock drift); otherwise whatever was granted is released.
 * - A waiter sleeps until a release of one of its ids is published (pub/sub on
 *   `<prefix>lock:released`) or WAIT_POLL_MS passes (covers holders that died without releasing
 *   and messages lost while a subscriber reconnected). There is no growing back-off.
 * - Leases are extended every ttl/3 while held. When an extension is refused (the lease was lost)
 *   or the lease runs out while Redis does not answer, the handle's signal aborts.
 * - When a majority of nodes cannot be reached, acquisitions fail at once with 503 M_UNKNOWN and
 *   nothing is held; ioredis reconnects by itself and service resumes.
 * - Redis locks are efficiency locks. Destructive work also checks a lease in PostgreSQL in the
 *   same transaction as its writes (TaskRun.fenced), so a paused holder cannot do damage.
 */
import { randomBytes } from 'node:crypto';
import { setMaxListeners } from 'node:events';
import type Redis from 'ioredis';
import { MatrixError, unavailable } from '../../errors';
import type { Logger } from '../../logger';
import { BaseLockManager } from './base-lock-manager';
import { LocalLockTable, lockTimeoutError } from './local-lock-table';
import type { AcquireOptions, LockHandle, LockMode } from './lock.types';
import { ACQUIRE, EXTEND, RELEASE, runScript } from './redis-lock-scripts';
import { RedisLockHandle } from './redis-lock-handle';

/** Lease of a lock in Redis; extended every LOCK_TTL_MS / 3 while held. */
export const LOCK_TTL_MS = 30_000;
/** Longest sleep of a waiter between attempts when no release is published. */
export const WAIT_POLL_MS = 1_000;
/** A waiter's registration (and a writer's intent) lives this long unless refreshed by its next attempt. */
const WAITER_TTL_MS = 3 * WAIT_POLL_MS;
/** Poll interval of waiters while a release channel is not subscribed (start-up, reconnects). */
const UNSUBSCRIBED_POLL_MS = 50;
/** Per-node answer deadline: small against the TTL, as the Redlock algorithm asks. */
const NODE_TIMEOUT_MS = 500;
/** Redlock's clock-drift allowance: 1% of the TTL plus 2 ms. */
const CLOCK_DRIFT_FACTOR = 0.01;

export interface RedisLockOptions {
  keyPrefix: string;
  log: Logger;
  /** Overrides LOCK_TTL_MS (tests use short leases to observe expiry). */
  ttlMs?: number;
  /** Overrides WAIT_POLL_MS. */
  waitPollMs?: number;
}

type Vote = 'granted' | 'taken' | 'error';

export class RedisLockManager extends BaseLockManager {
  readonly ttlMs: number;
  private readonly waitPollMs: number;
  private readonly quorum: number;
  private readonly channel: string;
  private readonly local = new LocalLockTable();
  private readonly held = new Set<RedisLockHandle>();
  private readonly wakers = new Map<string, Set<() => void>>();
  private readonly subscribers: Redis[];
  private readonly liveSubscribers = new Set<Redis>();
  private readonly closing = new AbortController();

  constructor(
    private readonly nodes: Redis[],
    private readonly opts: RedisLockOptions,
  ) {
    super();
    this.ttlMs = opts.ttlMs ?? LOCK_TTL_MS;
    this.waitPollMs = opts.waitPollMs ?? WAIT_POLL_MS;
    this.quorum = Math.floor(nodes.length / 2) + 1;
    this.channel = `${opts.keyPrefix}lock:released`;
    setMaxListeners(0, this.closing.signal);
    this.subscribers = nodes.map((node) => this.subscribe(node));
  }

  private subscribe(node: Redis): Redis {
    const sub = node.duplicate({ enableOfflineQueue: true, maxRetriesPerRequest: null, lazyConnect: false, autoResubscribe: false });
    sub.on('error', (err: Error) => this.opts.log.debug({ err: err.message }, 'lock subscriber connection error'));
    sub.on('message', (_channel: string, id: string) => this.wake(id));
    // Until SUBSCRIBE is confirmed (at start-up and after every reconnect) releases may be missed,
    // so waiters poll quickly meanwhile.
    sub.on('close', () => this.liveSubscribers.delete(sub));
    sub.on('ready', () => {
      sub.subscribe(this.channel).then(
        () => {
          this.liveSubscribers.add(sub);
          // Whatever was released before the subscription took effect: let everybody look again.
          [...this.wakers.keys()].forEach((id) => this.wake(id));
        },
        (err: Error) => this.opts.log.warn({ err: err.message }, 'lock subscription failed'),
      );
    });
    return sub;
  }

  /** Resolves once every node's release channel is subscribed (tests; waiters poll until then). */
  async whenSubscribed(): Promise<void> {
    while (!this.subscribed) await new Promise((r) => setTimeout(r, 5));
  }

  /** True when every node's release channel is subscribed. */
  private get subscribed(): boolean {
    return this.liveSubscribers.size === this.subscribers.length;
  }

  protected async lock(ids: string[], mode: LockMode, wait: boolean, opts: AcquireOptions): Promise<LockHandle | null> {
    if (this.closing.signal.aborted) throw unavailable('Lock manager is shutting down');
    const deadline = opts.timeoutMs === undefined ? undefined : Date.now() + opts.timeoutMs;
    const signal = opts.signal ? AbortSignal.any([opts.signal, this.closing.signal]) : this.closing.signal;
    if (!wait) {
      if (!this.local.tryTake(ids, mode)) return null;
    } else {
      await this.local.take(ids, mode, signal, opts.timeoutMs);
    }
    const token = randomBytes(16).toString('hex');
    try {
      const fencing = await this.acquireRemote(ids, mode, token, wait, signal, deadline);
      if (fencing === null) {
        this.local.give(ids, mode);
        return null;
      }
      const handle = new RedisLockHandle({ ids, mode, token, fencingToken: fencing, manager: this, onRelease: (h) => this.forget(h, ids, mode) });
      this.held.add(handle);
      return handle;
    } catch (err) {
      this.local.give(ids, mode);
      throw err;
    }
  }

  private forget(h: RedisLockHandle, ids: string[], mode: LockMode): void {
    this.held.delete(h);
    this.local.give(ids, mode);
  }

  /** Attempts until granted (wait) or once (no wait); cleans up its writer intent on the way out. */
  private async acquireRemote(ids: string[], mode: LockMode, token: string, wait: boolean, signal: AbortSignal, deadline?: number): Promise<number | null> {
    for (;;) {
      const woken = this.wakeOn(ids);
      try {
        const fencing = await this.attempt(ids, mode, token, wait);
        if (fencing !== null) return fencing;
        if (!wait) return null;
        await this.sleep(woken.promise, signal, deadline);
      } catch (err) {
        if (wait) await this.releaseRemote(ids, token).catch(() => undefined);
        throw err;
      } finally {
        woken.cancel();
      }
    }
  }

  /** One Redlock round over all nodes. Returns the fencing token, or null when some id is taken. */
  private async attempt(ids: string[], mode: LockMode, token: string, waiting: boolean): Promise<number | null> {
    const started = Date.now();
    const keys = [...this.keysOf(ids), `${this.opts.keyPrefix}lock:fencing`];
    const args = [token, this.ttlMs, mode, waiting ? '1' : '0', Math.max(WAITER_TTL_MS, 3 * this.waitPollMs)];
    const results = await Promise.all(this.nodes.map((node) => this.onNode(node, () => runScript(node, ACQUIRE, keys, args))));
    const votes: Vote[] = results.map((r) => (r instanceof Error ? 'error' : r > 0 ? 'granted' : 'taken'));
    const granted = votes.filter((v) => v === 'granted').length;
    const drift = Math.round(this.ttlMs * CLOCK_DRIFT_FACTOR) + 2;
    if (granted >= this.quorum && this.ttlMs - (Date.now() - started) - drift > 0) {
      return Math.max(...results.filter((r): r is number => typeof r === 'number'));
    }
    // Never keep a minority (or an already-expired majority): give back what was granted.
    if (granted > 0) await this.releaseRemote(ids, token).catch(() => undefined);
    const errors = votes.filter((v) => v === 'error').length;
    if (this.nodes.length - errors < this.quorum) {
      this.opts.log.warn({ errors, nodes: this.nodes.length }, 'lock quorum unreachable');
      throw unavailable('Lock service unavailable');
    }
    return null;
  }

  /** Extends (or, with checkOnly, verifies) a lease on a majority of nodes. */
  async extend(ids: string[], mode: LockMode, token: string, checkOnly: boolean): Promise<boolean> {
    const keys = this.keysOf(ids);
    const results = await Promise.all(this.nodes.map((node) => this.onNode(node, () => runScript(node, EXTEND, keys, [token, this.ttlMs, mode, checkOnly ? '1' : '0']))));
    const ok = results.filter((r) => r === 1).length;
    if (ok >= this.quorum) return true;
    const errors = results.filter((r) => r instanceof Error).length;
    if (this.nodes.length - errors < this.quorum) throw unavailable('Lock service unavailable');
    return false;
  }

  /**
   * Releases on every node (best effort: a node that does not answer lets the lease expire).
   * `any` also withdraws the token's waiter registrations (a waiter giving up, a failed round).
   */
  async releaseRemote(ids: string[], token: string, mode: LockMode | 'any' = 'any'): Promise<void> {
    const keys = this.keysOf(ids);
    const results = await Promise.all(this.nodes.map((node) => this.onNode(node, () => runScript(node, RELEASE, keys, [token, this.channel, mode, ...ids]))));
    if (results.some((r) => r instanceof Error)) this.opts.log.warn({ ids }, 'lock release did not reach every node; the lease will expire');
    // Local waiters need no round trip through the subscriber.
    ids.forEach((id) => this.wake(id));
  }

  private keysOf(ids: string[]): string[] {
    return ids.flatMap((id) => {
      const base = `${this.opts.keyPrefix}lock:${id}`;
      return [`${base}:w`, `${base}:r`, `${base}:ww`, `${base}:wt`];
    });
  }

  private async onNode<T>(node: Redis, fn: () => Promise<T>): Promise<T | Error> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<Error>((resolve) => (timer = setTimeout(() => resolve(new Error('redis node timed out')), NODE_TIMEOUT_MS)));
    try {
      return await Promise.race([fn().catch((err: unknown) => (err instanceof Error ? err : new Error(String(err)))), timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Registers interest in releases of `ids` before an attempt, so a release in between is not missed. */
  private wakeOn(ids: string[]): { promise: Promise<void>; cancel(): void } {
    let fire!: () => void;
    const promise = new Promise<void>((resolve) => (fire = resolve));
    for (const id of ids) {
      let set = this.wakers.get(id);
      if (!set) this.wakers.set(id, (set = new Set()));
      set.add(fire);
    }
    const cancel = () => {
      for (const id of ids) {
        const set = this.wakers.get(id);
        set?.delete(fire);
        if (set?.size === 0) this.wakers.delete(id);
      }
    };
    return { promise, cancel };
  }

  private wake(id: string): void {
    this.wakers.get(id)?.forEach((fire) => fire());
  }

  private sleep(woken: Promise<void>, signal: AbortSignal, deadline?: number): Promise<void> {
    if (signal.aborted) return Promise.reject(signal.reason);
    if (deadline !== undefined && Date.now() >= deadline) return Promise.reject(lockTimeoutError());
    const ms = Math.min(this.subscribed ? this.waitPollMs : UNSUBSCRIBED_POLL_MS, deadline === undefined ? Infinity : Math.max(0, deadline - Date.now()));
    return new Promise<void>((resolve, reject) => {
      const done = (err?: unknown) => {
        clearTimeout(timer);
        signal.removeEventListener('abort', onAbort);
        if (err === undefined) resolve();
        else reject(err);
      };
      const onAbort = () => done(signal.reason);
      const timer = setTimeout(done, ms);
      signal.addEventListener('abort', onAbort, { once: true });
      void woken.then(() => done());
    });
  }

  /** Number of lock ids held or being acquired by this instance (tests, shutdown checks). */
  heldCount(): number {
    return this.local.heldCount();
  }

  async close(): Promise<void> {
    if (this.closing.signal.aborted) return;
    const reason = unavailable('Lock manager is shutting down');
    this.closing.abort(reason);
    await Promise.all([...this.held].map((h) => h.revoke(reason)));
    await Promise.all(this.subscribers.map((s) => s.quit().catch(() => s.disconnect())));
  }

  /** Logged when a held lease is lost; the holder learns it through its signal. */
  leaseLost(ids: string[], err: MatrixError | Error): void {
    this.opts.log.warn({ ids, err: err.message }, 'lock lease lost');
  }
}
