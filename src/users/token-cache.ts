/**
 * Resolved access tokens, kept in memory so an authenticated call does not pay a database round
 * trip. Revocation stays immediate:
 * - this instance evicts on its own writes (logout, password change, deactivation, admin flag);
 * - other instances evict when PostgreSQL announces the change (`sra_auth`, see listenForAuthChanges),
 *   which it does at commit, for changes made by any instance or by hand;
 * - nothing is served from the cache while the announcement channel is down (and the cache is
 *   emptied when it comes back), so a missed announcement can never keep a revoked token alive;
 * - a lookup that raced with an announcement is not cached;
 * - entries expire after `ttlMs` whatever happens, and expiry times (`valid_until_ms`) are
 *   checked on every use by the caller.
 */
import type { TokenOwner } from './user.repository';

interface Entry {
  owner: TokenOwner;
  storedAt: number;
}

export class TokenCache {
  private readonly byHash = new Map<string, Entry>();
  private readonly byUser = new Map<string, Set<string>>();
  /** Bumped by every eviction, so a lookup that started before one can tell. */
  private generation = 0;
  private live = false;

  constructor(
    /** How long an entry may be served; 0 disables the cache. */
    private readonly ttlMs: number,
    /** Entries kept at most (the oldest go first). */
    private readonly maxEntries = 100_000,
    private readonly now: () => number = Date.now,
  ) {}

  /** Whether entries may be served and stored (the announcement channel is up). */
  get enabled(): boolean {
    return this.live && this.ttlMs > 0;
  }

  /** The announcement channel came up (after emptying the cache) or went down. */
  setLive(live: boolean): void {
    this.clear();
    this.live = live;
  }

  /** A marker to pass to `set`, taken before the lookup it caches. */
  mark(): number {
    return this.generation;
  }

  get(hash: string): TokenOwner | null {
    if (!this.enabled) return null;
    const e = this.byHash.get(hash);
    if (!e) return null;
    if (this.now() - e.storedAt >= this.ttlMs) {
      this.drop(hash);
      return null;
    }
    return e.owner;
  }

  /** Stores a lookup's result unless something was evicted since `mark` was taken. */
  set(hash: string, owner: TokenOwner, mark: number): void {
    if (!this.enabled || mark !== this.generation) return;
    if (this.byHash.size >= this.maxEntries) {
      const oldest = this.byHash.keys().next();
      if (!oldest.done) this.drop(oldest.value);
    }
    this.byHash.set(hash, { owner, storedAt: this.now() });
    let hashes = this.byUser.get(owner.userId);
    if (!hashes) this.byUser.set(owner.userId, (hashes = new Set()));
    hashes.add(hash);
  }

  evictToken(hash: string): void {
    this.generation++;
    this.drop(hash);
  }

  /** Evicts every token of a user. */
  evictUser(userId: string): void {
    this.generation++;
    for (const hash of this.byUser.get(userId) ?? []) this.byHash.delete(hash);
    this.byUser.delete(userId);
  }

  clear(): void {
    this.generation++;
    this.byHash.clear();
    this.byUser.clear();
  }

  get size(): number {
    return this.byHash.size;
  }

  private drop(hash: string): void {
    const e = this.byHash.get(hash);
    if (!e) return;
    this.byHash.delete(hash);
    const hashes = this.byUser.get(e.owner.userId);
    hashes?.delete(hash);
    if (hashes?.size === 0) this.byUser.delete(e.owner.userId);
  }
}
