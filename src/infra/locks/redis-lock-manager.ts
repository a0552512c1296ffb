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
 * - The uncontended path is one script call to acquire and one to release, and is kept cheap on
 *   the JS side too: tokens are a random per-manager prefix and a counter, the Redis keys of an id
 *   are computed once, and the per-node deadlines and lease extensions share one timer
 *   (timer-queue.ts) instead of arming and clearing a timer per call.
 */
import { randomBytes } from 'node:crypto';
import { setMaxListeners } from 'node:events';
import type Redis from 'ioredis';
import { MatrixError, unavailable } from '../../errors';
import { FaultLog, type Logger } from '../../logger';
import { BaseLockManager } from './base-lock-manager';
import { LocalLockTable, lockTimeoutError } from './local-lock-table';
import type { AcquireOptions, LockHandle, LockMode } from './lock.types';
import { ACQUIRE_SCRIPT, EXTEND_SCRIPT, RELEASE_SCRIPT, runScript, type Script } from './redis-lock-scripts';
import { RedisLockHandle } from './redis-lock-handle';
import { TimerQueue } from './timer-queue';
import { currentLockOwner, ownerTokenPrefix } from './lock-owner';

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
/** Lock ids whose Redis key names are kept computed (the cache is emptied when it is full). */
const KEY_CACHE_SIZE = 1_024;

export interface RedisLockOptions {
  keyPrefix: string;
  log: Logger;
  /** Overrides LOCK_TTL_MS (tests use short leases to observe expiry). */
  ttlMs?: number;
  /** Overrides WAIT_POLL_MS. */
  waitPollMs?: number;
}

type Vote = 'granted' | 'taken' | 'error';

/** A waiter's interest in releases of its ids, registered before each attempt so none is missed. */
interface Waker {
  fired: boolean;
  wake: (() => void) | null;
}

/** The Redis keys of one lock id (see redis-lock-scripts.ts), and the same with the takeover and fencing counters. */
interface IdKeys {
  keys: string[];
  withFencing: string[];
}

export class RedisLockManager extends BaseLockManager {
  readonly ttlMs: number;
  private readonly waitPollMs: number;
  private readonly quorum: number;
  private readonly channel: string;
  private readonly local = new LocalLockTable();
  private readonly held = new Set<RedisLockHandle>();
  private readonly wakers = new Map<string, Set<Waker>>();
  private readonly keyCache = new Map<string, IdKeys>();
  private readonly fencingKey: string;
  /** Counts locks taken over from an earlier lease of the same task (see redis-lock-scripts.ts). */
  readonly takeoversKey: string;
  /** Tokens are this random prefix and a counter: unique without a CSPRNG call per acquisition. */
  private readonly tokenPrefix = randomBytes(12).toString('hex');
  private tokenSeq = 0;
  /** Per-node answer deadlines and lease extensions (RedisLockHandle). */
  readonly timers = new TimerQueue();
  private readonly subscribers: Redis[];
  private readonly liveSubscribers = new Set<Redis>();
  private readonly closing = new AbortController();
  /** Per node: its outage (first failure, summaries, recovery with its duration), not every failed call. */
  private readonly nodeFaults: FaultLog[];
  /** Lock requests refused because too few nodes answer. */
  private readonly quorumFault: FaultLog;

  constructor(
    private readonly nodes: Redis[],
    private readonly opts: RedisLockOptions,
  ) {
    super();
    this.ttlMs = opts.ttlMs ?? LOCK_TTL_MS;
    this.waitPollMs = opts.waitPollMs ?? WAIT_POLL_MS;
    this.quorum = Math.floor(nodes.length / 2) + 1;
    this.channel = `${opts.keyPrefix}lock:released`;
    this.fencingKey = `${opts.keyPrefix}lock:fencing`;
    this.takeoversKey = `${opts.keyPrefix}lock:takeovers`;
    setMaxListeners(0, this.closing.signal);
    this.nodeFaults = nodes.map((_, i) => new FaultLog(opts.log, 'lock node', { node: i, nodes: nodes.length }));
    this.quorumFault = new FaultLog(
      opts.log,
      'lock quorum',
      { nodes: nodes.length },
      { messages: { down: 'lock quorum unreachable', still: 'lock quorum still unreachable', up: 'lock quorum reachable again' } },
    );
    this.subscribers = nodes.map((node, i) => this.subscribe(node, i));
  }

  private subscribe(node: Redis, i: number): Redis {
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
        (err: Error) => this.nodeFaults[i].failed(err, { op: 'subscribe' }),
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
    if (opts.signal?.aborted) throw opts.signal.reason;
    const signal = opts.signal ? AbortSignal.any([opts.signal, this.closing.signal]) : this.closing.signal;
    if (!this.local.tryTake(ids, mode)) {
      if (!wait) return null;
      await this.local.take(ids, mode, signal, opts.timeoutMs);
    }
    // Locks taken for a task name it and its lease, so a later lease of the task may take them over.
    const token = `${ownerTokenPrefix(currentLockOwner())}${this.tokenPrefix}:${(this.tokenSeq++).toString(36)}`;
    try {
      const fencing = await this.acquireRemote(ids, mode, token, wait, signal, deadline);
      if (fencing === null) {
        this.local.give(ids, mode);
        return null;
      }
      const handle = new RedisLockHandle({
        ids,
        mode,
        token,
        fencingToken: fencing,
        manager: this,
        onRelease: (h) => this.forget(h, ids, mode),
      });
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
  private async acquireRemote(
    ids: string[],
    mode: LockMode,
    token: string,
    wait: boolean,
    signal: AbortSignal,
    deadline?: number,
  ): Promise<number | null> {
    // '1': a waiter's first attempt, which has no registration to withdraw when granted; '2' later.
    let waiting = wait ? '1' : '0';
    for (;;) {
      const waker = wait ? this.listen(ids) : null;
      try {
        const fencing = await this.attempt(ids, mode, token, waiting);
        if (fencing !== null) return fencing;
        if (!waker) return null;
        waiting = '2';
        await this.sleep(waker, signal, deadline);
      } catch (err) {
        if (wait) await this.releaseRemote(ids, token).catch(() => undefined);
        throw err;
      } finally {
        if (waker) this.unlisten(ids, waker);
      }
    }
  }

  /** One Redlock round over all nodes. Returns the fencing token, or null when some id is taken. */
  private async attempt(ids: string[], mode: LockMode, token: string, waiting: string): Promise<number | null> {
    const started = Date.now();
    const keys = this.keysOf(ids).withFencing;
    const args = [token, this.ttlMs, mode, waiting, Math.max(WAITER_TTL_MS, 3 * this.waitPollMs)];
    const results = await this.onEveryNode(ACQUIRE_SCRIPT, keys, args);
    const votes: Vote[] = results.map((r) => (r instanceof Error ? 'error' : r > 0 ? 'granted' : 'taken'));
    const granted = votes.filter((v) => v === 'granted').length;
    const drift = Math.round(this.ttlMs * CLOCK_DRIFT_FACTOR) + 2;
    const errors = votes.filter((v) => v === 'error').length;
    if (this.nodes.length - errors >= this.quorum) this.quorumFault.ok();
    if (granted >= this.quorum && this.ttlMs - (Date.now() - started) - drift > 0) {
      return Math.max(...results.filter((r): r is number => typeof r === 'number'));
    }
    // Never keep a minority (or an already-expired majority): give back what was granted.
    if (granted > 0) await this.releaseRemote(ids, token).catch(() => undefined);
    if (this.nodes.length - errors < this.quorum) {
      this.quorumFault.failed(undefined, { errors });
      throw unavailable('Lock service unavailable');
    }
    return null;
  }

  /** Extends (or, with checkOnly, verifies) a lease on a majority of nodes. */
  async extend(ids: string[], mode: LockMode, token: string, checkOnly: boolean): Promise<boolean> {
    const results = await this.onEveryNode(EXTEND_SCRIPT, this.keysOf(ids).keys, [token, this.ttlMs, mode, checkOnly ? '1' : '0']);
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
    await this.onEveryNode(RELEASE_SCRIPT, this.keysOf(ids).keys, [token, this.channel, mode, ...ids]);
    // A node that missed the release lets the lease expire; its outage is logged by onEveryNode.
    // Local waiters need no round trip through the subscriber.
    for (const id of ids) this.wake(id);
  }

  /** The Redis keys of `ids`, four per id (computed once per id for single-id locks). */
  private keysOf(ids: string[]): IdKeys {
    if (ids.length > 1) return this.computeKeys(ids);
    let k = this.keyCache.get(ids[0]);
    if (!k) {
      if (this.keyCache.size >= KEY_CACHE_SIZE) this.keyCache.clear();
      this.keyCache.set(ids[0], (k = this.computeKeys(ids)));
    }
    return k;
  }

  private computeKeys(ids: string[]): IdKeys {
    const keys = ids.flatMap((id) => {
      const base = `${this.opts.keyPrefix}lock:${id}`;
      return [`${base}:w`, `${base}:r`, `${base}:ww`, `${base}:wt`];
    });
    return { keys, withFencing: [...keys, this.takeoversKey, this.fencingKey] };
  }

  /** Runs a script on every node at once; each answer is its result or an Error (also on a timeout). */
  private async onEveryNode(s: Script, keys: string[], args: (string | number)[]): Promise<(number | Error)[]> {
    const results =
      this.nodes.length === 1
        ? [await this.onNode(this.nodes[0], s, keys, args)]
        : await Promise.all(this.nodes.map((node) => this.onNode(node, s, keys, args)));
    results.forEach((r, i) => (r instanceof Error ? this.nodeFaults[i].failed(r) : this.nodeFaults[i].ok()));
    return results;
  }

  /** One script call, answered within NODE_TIMEOUT_MS or turned into an Error. */
  private onNode(node: Redis, s: Script, keys: string[], args: (string | number)[]): Promise<number | Error> {
    return new Promise((resolve) => {
      this.timers.schedule(resolve, NODE_TIMEOUT_MS, () => resolve(new Error('redis node timed out')));
      runScript(node, s, keys, args).then(
        (r) => {
          this.timers.cancel(resolve);
          resolve(r);
        },
        (err: unknown) => {
          this.timers.cancel(resolve);
          resolve(err instanceof Error ? err : new Error(String(err)));
        },
      );
    });
  }

  /** Registers interest in releases of `ids` before an attempt, so a release in between is not missed. */
  private listen(ids: string[]): Waker {
    const w: Waker = { fired: false, wake: null };
    for (const id of ids) {
      let set = this.wakers.get(id);
      if (!set) this.wakers.set(id, (set = new Set()));
      set.add(w);
    }
    return w;
  }

  private unlisten(ids: string[], w: Waker): void {
    for (const id of ids) {
      const set = this.wakers.get(id);
      if (!set) continue;
      set.delete(w);
      if (set.size === 0) this.wakers.delete(id);
    }
  }

  private wake(id: string): void {
    const set = this.wakers.get(id);
    if (!set) return;
    for (const w of set) {
      w.fired = true;
      w.wake?.();
    }
  }

  /** Waits for a release of one of the waker's ids (or one since it was registered), the poll, the deadline or the signal. */
  private sleep(w: Waker, signal: AbortSignal, deadline?: number): Promise<void> {
    if (signal.aborted) return Promise.reject(signal.reason);
    if (deadline !== undefined && Date.now() >= deadline) return Promise.reject(lockTimeoutError());
    if (w.fired) return Promise.resolve();
    const ms = Math.min(
      this.subscribed ? this.waitPollMs : UNSUBSCRIBED_POLL_MS,
      deadline === undefined ? Infinity : Math.max(0, deadline - Date.now()),
    );
    return new Promise<void>((resolve, reject) => {
      const done = (err?: unknown) => {
        clearTimeout(timer);
        signal.removeEventListener('abort', onAbort);
        w.wake = null;
        if (err === undefined) resolve();
        else reject(err);
      };
      const onAbort = () => done(signal.reason);
      const timer = setTimeout(done, ms);
      signal.addEventListener('abort', onAbort, { once: true });
      w.wake = () => done();
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
    // Subscribers have nothing to flush. QUIT could wait forever: with a node down, it queues
    // behind a queued SUBSCRIBE in the offline queue, which never drains.
    for (const s of this.subscribers) s.disconnect();
    [...this.nodeFaults, this.quorumFault].forEach((f) => f.close());
  }

  /** Logged when a held lease is lost; the holder learns it through its signal. */
  leaseLost(ids: string[], err: MatrixError | Error): void {
    this.opts.log.warn({ ids, err: err.message }, 'lock lease lost');
  }
}
