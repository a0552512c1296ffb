/**
 * THE write path for events: every event of every room (client sends, room creation, membership
 * changes, bulk import, shutdown) is persisted here.
 *
 * How it works, per call (a list of per-room batches):
 * 1. the read side of `new_event_during_purge_lock` is held for each room (a room purge takes the
 *    write side, so no event can slip into a room being deleted);
 * 2. one query loads each existing room's `last_depth` and version, the state entries the auth
 *    rules need, the forward extremities, earlier sends with the same transaction ids, and fresh
 *    stream orderings;
 * 3. each draft is folded (BatchBuilder): checked against the state before it, numbered, applied;
 * 4. one statement writes everything, guarded by a compare-and-set on every existing room's row
 *    (`UPDATE rooms SET last_depth = <new> WHERE last_depth = <loaded>`): the row lock it takes
 *    serialises writers of a room, and a writer that lost the race writes nothing.
 * A call with at most one existing room runs optimistically in autocommit (two round trips); if
 * its guard fails, or it spans several existing rooms, it runs again in a transaction that first
 * locks the rooms' rows (`SELECT ... FOR UPDATE`, room id order), so the guard then always holds.
 * Depth is therefore gap-free per room, and since a room's stream orderings are allocated after
 * its previous event committed, they increase with depth. Any failure writes nothing.
 * Single-event sends into a room that already has a write in flight are coalesced into the next
 * write (RoomSendQueue): one commit for the lot, each draft accepted or refused on its own.
 */
import { MatrixError } from '../errors';
import type { Em } from '../infra/orm';
import type { LockManager } from '../infra/locks/lock.types';
import { NEW_EVENT_DURING_PURGE_LOCK_NAME } from '../infra/locks/lock.types';
import { authStateKeys, stateMapKey } from './event-auth';
import { BatchBuilder, startWork, type EventDraft, type PersistedEvent, type RoomBatch, type RoomWork } from './batch-builder';
import { EventWriteRepository, type BatchContext, type StateKeyRef, type TxnRef } from './event-write.repository';
import { RoomSendQueue } from './room-send-queue';
import type { Membership } from './room.types';

export { newEventId, redactsOf, type EventDraft, type NewRoom, type PersistedEvent, type RoomBatch } from './batch-builder';

export interface PersistOptions {
  /** Prefix rule violations with the failing draft's position (`rooms[i].events[j]: ...`), for bulk callers. */
  locateErrors?: boolean;
}

interface AttemptOptions extends PersistOptions {
  /** A draft that breaks a rule yields its error in its slot instead of failing the call (coalesced sends). */
  isolateErrors?: boolean;
}

/** Thrown when a batch targets a room with no row. */
export class UnknownRoomError extends Error {
  constructor(readonly roomId: string) {
    super(`Unknown room ${roomId}`);
    this.name = 'UnknownRoomError';
  }
}

const txnKey = (roomId: string, sender: string, scope: string, id: string) => `${roomId}\u0001${sender}\u0001${scope}\u0001${id}`;

export class EventPersister {
  private readonly sends = new RoomSendQueue((em, roomId, drafts) => this.persistIsolated(em, roomId, drafts));

  constructor(
    private readonly serverName: string,
    /** Resolved per call: the lock manager may be registered after this module is built. */
    private readonly locks: () => LockManager | undefined,
    private readonly repo = new EventWriteRepository(),
  ) {}

  /**
   * Persists the batches atomically and returns, per batch, one result per draft. Throws the first
   * rule violation (MatrixError) or UnknownRoomError; nothing is written then.
   */
  async persist(em: Em, batches: RoomBatch[], opts: PersistOptions = {}): Promise<PersistedEvent[][]> {
    const [only] = batches;
    if (batches.length === 1 && !only.newRoom && only.drafts.length === 1 && !opts.locateErrors && !em.getTransactionContext()) {
      return [[await this.sends.submit(em, only.roomId, only.drafts[0])]];
    }
    return (await this.run(em, batches, opts)) as PersistedEvent[][];
  }

  /** Several single-event sends into one room in one write; each draft succeeds or fails alone. */
  private async persistIsolated(em: Em, roomId: string, drafts: EventDraft[]): Promise<(PersistedEvent | Error)[]> {
    return (await this.run(em, [{ roomId, drafts }], { isolateErrors: true }))[0];
  }

  private run(em: Em, batches: RoomBatch[], opts: AttemptOptions): Promise<(PersistedEvent | Error)[][]> {
    return this.withEventLocks(
      batches.map((b) => b.roomId),
      async () => {
        if (batches.filter((b) => !b.newRoom).length <= 1) {
          const done = await this.attempt(em, batches, opts, false);
          if (done) return done;
        }
        return em.transactional(async (tem) => (await this.attempt(tem, batches, opts, true)) as (PersistedEvent | Error)[][]);
      },
    );
  }

  /** Runs `fn` holding the read side of the new-event-during-purge lock of every room. */
  async withEventLocks<T>(roomIds: string[], fn: () => Promise<T>): Promise<T> {
    const locks = this.locks();
    if (!locks) return fn();
    const unique = [...new Set(roomIds)];
    if (unique.length === 1) return locks.withReadWrite(NEW_EVENT_DURING_PURGE_LOCK_NAME, unique[0], 'read', fn);
    return locks.withMulti(unique.map((key) => ({ name: NEW_EVENT_DURING_PURGE_LOCK_NAME, key })), 'read', fn);
  }

  /** One load-fold-write pass; null when an optimistic pass lost a room to a concurrent writer. */
  private async attempt(em: Em, batches: RoomBatch[], opts: AttemptOptions, lockFirst: boolean): Promise<(PersistedEvent | Error)[][] | null> {
    const existing = batches.filter((b) => !b.newRoom).map((b) => b.roomId);
    if (lockFirst) await this.repo.lockRooms(em, existing);
    const ctx = await this.load(em, batches, existing);
    const works = this.startWorks(batches, ctx);
    const builder = new BatchBuilder(this.serverName);
    const txnHits = new Map<string, PersistedEvent>(
      ctx.txns.map((t) => [txnKey(t.room_id, t.sender, t.txn_scope, t.txn_id), { eventId: t.event_id, roomId: t.room_id, depth: Number(t.depth), streamOrdering: Number(t.stream_ordering), deduplicated: true }]),
    );
    let next = 0;
    const results = works.map((w, bi) =>
      w.batch.drafts.map((d, di): PersistedEvent | Error => {
        const key = d.txn ? txnKey(w.batch.roomId, d.sender, d.txn.scope, d.txn.id) : null;
        const hit = key ? txnHits.get(key) : undefined;
        if (hit) return { ...hit, deduplicated: true };
        try {
          const r = builder.fold(w, d, ctx.streams[next++]);
          if (key) txnHits.set(key, r);
          return r;
        } catch (err) {
          if (opts.isolateErrors && err instanceof Error) return err;
          if (opts.locateErrors && err instanceof MatrixError) throw new MatrixError(err.httpStatus, `rooms[${bi}].events[${di}]: ${err.message}`, err.errcode);
          throw err;
        }
      }),
    );
    for (const w of works) builder.finish(w);
    const guarded = await this.repo.write(em, builder.out);
    return guarded === builder.out.guards.length ? results : null;
  }

  private load(em: Em, batches: RoomBatch[], existing: string[]): Promise<BatchContext> {
    const keys = new Map<string, StateKeyRef>();
    const txns: TxnRef[] = [];
    for (const b of batches) {
      for (const d of b.drafts) {
        if (d.txn) txns.push({ room_id: b.roomId, sender: d.sender, txn_scope: d.txn.scope, txn_id: d.txn.id });
        if (b.newRoom) continue;
        for (const [type, stateKey] of [...authStateKeys(d), ...(d.needsState ?? [])]) keys.set(`${b.roomId}\u0001${type}\u0001${stateKey}`, { room_id: b.roomId, type, state_key: stateKey });
      }
    }
    const total = batches.reduce((n, b) => n + b.drafts.length, 0);
    return this.repo.loadContext(em, [...keys.values()], existing, txns, total);
  }

  private startWorks(batches: RoomBatch[], ctx: BatchContext): RoomWork[] {
    const works = batches.map((b) => {
      const room = ctx.rooms.get(b.roomId);
      if (!b.newRoom && !room) throw new UnknownRoomError(b.roomId);
      return startWork(b, room?.lastDepth ?? 0, room?.roomVersion);
    });
    const byRoom = new Map(works.map((w) => [w.batch.roomId, w]));
    for (const r of ctx.state) {
      byRoom.get(r.room_id)?.state.set(stateMapKey(r.type, r.state_key), {
        eventId: r.event_id, type: r.type, stateKey: r.state_key, sender: r.sender, content: r.content,
        membership: r.membership as Membership | null, streamOrdering: Number(r.stream_ordering), depth: Number(r.depth),
      });
    }
    for (const x of ctx.extremities) byRoom.get(x.room_id)?.prev.push(x.event_id);
    return works;
  }
}
