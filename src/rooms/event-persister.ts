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
 * A call runs optimistically in autocommit first (two round trips): if only some of its rooms'
 * guards hold, the statement raises and writes nothing, so a partly held multi-room guard can
 * never commit alone. If a guard fails, the call runs again in a transaction that first locks the
 * rooms' rows (`SELECT ... FOR UPDATE`, room id order), so the guards then hold. Inside a
 * caller's transaction only single-room calls take the optimistic pass.
 * Depth is therefore gap-free per room, and since a room's stream orderings are allocated after
 * its previous event committed, they increase with depth. Any failure writes nothing.
 * Single-event sends that arrive while a write is in flight are coalesced into the next
 * write (SendQueue), grouped by room: one commit for the lot, each draft accepted or refused
 * on its own.
 */
import { MatrixError } from '../errors';
import type { Em } from '../infra/orm';
import type { LockManager } from '../infra/locks/lock.types';
import { NEW_EVENT_DURING_PURGE_LOCK_NAME } from '../infra/locks/lock.types';
import { authStateKeys, stateMapKey } from './event-auth';
import { BatchBuilder, startWork, type EventDraft, type PersistedEvent, type RoomBatch, type RoomWork } from './batch-builder';
import { EventWriteRepository, type BatchContext, type StateKeyRef, type TxnRef } from './event-write.repository';
import { SendQueue, type QueuedSend } from './room-send-queue';
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

const asError = (err: unknown) => (err instanceof Error ? err : new Error(String(err)));

const txnKey = (roomId: string, sender: string, scope: string, id: string) => `${roomId}\u0001${sender}\u0001${scope}\u0001${id}`;

export class EventPersister {
  private readonly sends = new SendQueue((em, queued) => this.persistCoalesced(em, queued));

  constructor(
    private readonly serverName: string,
    /** The rooms' new-event-during-purge locks; null where nothing purges (the seed tool, some tests). */
    private readonly locks: LockManager | null,
    private readonly repo = new EventWriteRepository(),
  ) {}

  /**
   * Persists the batches atomically and returns, per batch, one result per draft. Throws the first
   * rule violation (MatrixError) or UnknownRoomError; nothing is written then.
   */
  async persist(em: Em, batches: RoomBatch[], opts: PersistOptions = {}): Promise<PersistedEvent[][]> {
    // Nothing to write takes no lock (the lock manager refuses an empty set of names).
    if (batches.length === 0) return [];
    const [only] = batches;
    if (batches.length === 1 && !only.newRoom && only.drafts.length === 1 && !opts.locateErrors && !em.getTransactionContext()) {
      return [[await this.sends.submit(em, only.roomId, only.drafts[0])]];
    }
    return (await this.run(em, batches, opts)) as PersistedEvent[][];
  }

  /**
   * Queued single-event sends of any rooms in one write, grouped by room (queue order kept within
   * a room); each draft succeeds or fails alone. If a room's purge lock is taken, the rooms go out
   * one by one instead, so a room being purged never holds up the others.
   */
  private async persistCoalesced(em: Em, queued: QueuedSend[]): Promise<(PersistedEvent | Error)[]> {
    const byRoom = new Map<string, number[]>();
    queued.forEach((q, i) => byRoom.set(q.roomId, [...(byRoom.get(q.roomId) ?? []), i]));
    const groups = [...byRoom.entries()];
    const batches: RoomBatch[] = groups.map(([roomId, idx]) => ({ roomId, drafts: idx.map((i) => queued[i].draft) }));
    const out: (PersistedEvent | Error)[] = new Array(queued.length);
    const place = (g: number, results: (PersistedEvent | Error)[]) => results.forEach((r, k) => (out[groups[g][1][k]] = r));
    const locks = this.locks;
    const handle =
      locks && batches.length > 1
        ? await locks.tryAcquireMulti(
            batches.map((b) => ({ name: NEW_EVENT_DURING_PURGE_LOCK_NAME, key: b.roomId })),
            'read',
          )
        : null;
    try {
      if (batches.length === 1 || handle || !locks) {
        const results = await (
          handle ? this.write(em, batches, { isolateErrors: true }) : this.run(em, batches, { isolateErrors: true })
        ).catch(() => null);
        if (results) {
          results.forEach((r, g) => place(g, r));
          return out;
        }
      }
    } finally {
      await handle?.release();
    }
    // A room's purge lock is taken, or the shared write failed (a constraint another instance won):
    // rooms go out one by one, and a room that still fails, one send at a time.
    const each = await Promise.all(batches.map((b) => this.persistRoomAlone(em, b)));
    each.forEach((r, g) => place(g, r));
    return out;
  }

  private async persistRoomAlone(em: Em, batch: RoomBatch): Promise<(PersistedEvent | Error)[]> {
    const whole = await this.run(em, [batch], { isolateErrors: true }).then(
      (r) => r[0],
      () => null,
    );
    if (whole) return whole;
    const one = (d: EventDraft) =>
      this.run(em, [{ roomId: batch.roomId, drafts: [d] }], { isolateErrors: true }).then((r) => r[0][0], asError);
    const results: (PersistedEvent | Error)[] = [];
    for (const d of batch.drafts) results.push(await one(d));
    return results;
  }

  private run(em: Em, batches: RoomBatch[], opts: AttemptOptions): Promise<(PersistedEvent | Error)[][]> {
    return this.withEventLocks(
      batches.map((b) => b.roomId),
      () => this.write(em, batches, opts),
    );
  }

  /**
   * An optimistic pass without row locks (a lost guard leaves nothing behind: with several rooms
   * the statement fails as a whole), then, if a guard was lost, a pass in a transaction that locks
   * the rows first. Inside a caller's transaction a failed statement would abort it, so there
   * only single-room writes are tried optimistically.
   */
  private async write(em: Em, batches: RoomBatch[], opts: AttemptOptions): Promise<(PersistedEvent | Error)[][]> {
    if (!em.getTransactionContext() || batches.filter((b) => !b.newRoom).length <= 1) {
      const done = await this.attempt(em, batches, opts, false);
      if (done) return done;
    }
    return em.transactional(async (tem) => (await this.attempt(tem, batches, opts, true)) as (PersistedEvent | Error)[][]);
  }

  /** Runs `fn` holding the read side of the new-event-during-purge lock of every room. */
  async withEventLocks<T>(roomIds: string[], fn: () => Promise<T>): Promise<T> {
    const locks = this.locks;
    if (!locks) return fn();
    const unique = [...new Set(roomIds)];
    if (unique.length === 1) return locks.withReadWrite(NEW_EVENT_DURING_PURGE_LOCK_NAME, unique[0], 'read', fn);
    return locks.withMulti(
      unique.map((key) => ({ name: NEW_EVENT_DURING_PURGE_LOCK_NAME, key })),
      'read',
      fn,
    );
  }

  /** One load-fold-write pass; null when an optimistic pass lost a room to a concurrent writer. */
  private async attempt(
    em: Em,
    batches: RoomBatch[],
    opts: AttemptOptions,
    lockFirst: boolean,
  ): Promise<(PersistedEvent | Error)[][] | null> {
    const existing = batches.filter((b) => !b.newRoom).map((b) => b.roomId);
    if (lockFirst) await this.repo.lockRooms(em, existing);
    const ctx = await this.load(em, batches, existing);
    const works = this.startWorks(batches, ctx, !!opts.isolateErrors);
    const builder = new BatchBuilder(this.serverName);
    const txnHits = new Map<string, PersistedEvent>(
      ctx.txns.map((t) => [
        txnKey(t.room_id, t.sender, t.txn_scope, t.txn_id),
        { eventId: t.event_id, roomId: t.room_id, depth: Number(t.depth), streamOrdering: Number(t.stream_ordering), deduplicated: true },
      ]),
    );
    let next = 0;
    const results = works.map((w, bi) =>
      w.batch.drafts.map((d, di): PersistedEvent | Error => {
        if (w.unknown) return new UnknownRoomError(w.batch.roomId);
        const key = d.txn ? txnKey(w.batch.roomId, d.sender, d.txn.scope, d.txn.id) : null;
        const hit = key ? txnHits.get(key) : undefined;
        if (hit) return { ...hit, deduplicated: true };
        try {
          const r = builder.fold(w, d, ctx.streams[next++]);
          if (key) txnHits.set(key, r);
          return r;
        } catch (err) {
          if (opts.isolateErrors && err instanceof Error) return err;
          if (opts.locateErrors && err instanceof MatrixError)
            throw new MatrixError(err.httpStatus, `rooms[${bi}].events[${di}]: ${err.message}`, err.errcode);
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
        for (const [type, stateKey] of [...authStateKeys(d), ...(d.needsState ?? [])])
          keys.set(`${b.roomId}\u0001${type}\u0001${stateKey}`, { room_id: b.roomId, type, state_key: stateKey });
      }
    }
    const total = batches.reduce((n, b) => n + b.drafts.length, 0);
    return this.repo.loadContext(em, [...keys.values()], existing, txns, total);
  }

  /** The rooms' working state; an unknown room throws, or (isolating errors) is marked and skipped. */
  private startWorks(batches: RoomBatch[], ctx: BatchContext, isolate: boolean): (RoomWork & { unknown?: boolean })[] {
    const works = batches.map((b) => {
      const room = ctx.rooms.get(b.roomId);
      if (!b.newRoom && !room && !isolate) throw new UnknownRoomError(b.roomId);
      return { ...startWork(b, room?.lastDepth ?? 0, room?.roomVersion), unknown: !b.newRoom && !room };
    });
    const byRoom = new Map(works.map((w) => [w.batch.roomId, w]));
    for (const r of ctx.state) {
      byRoom.get(r.room_id)?.state.set(stateMapKey(r.type, r.state_key), {
        eventId: r.event_id,
        type: r.type,
        stateKey: r.state_key,
        sender: r.sender,
        content: r.content,
        membership: r.membership as Membership | null,
        streamOrdering: Number(r.stream_ordering),
        depth: Number(r.depth),
      });
    }
    for (const x of ctx.extremities) byRoom.get(x.room_id)?.prev.push(x.event_id);
    return works;
  }
}
