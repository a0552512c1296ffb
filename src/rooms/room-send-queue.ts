/**
 * Group commit for single-event sends: while a write is in flight, further sends (into any room)
 * queue up and go out together in the next write, grouped by room: one lock round trip, one load,
 * one write statement and one commit for the lot, each draft still checked and answered on its
 * own. An idle server's send goes out at once, so this adds no latency under light load; under
 * load the per-write costs (locks, round trips, commits) are shared by every queued send.
 * A room is in at most one write at a time: a send for a room whose write is in flight waits for
 * the next one. Two overlapping writes of one room would both load the room before either
 * committed, so the second would lose its compare-and-set and do all its work again under row
 * locks; with one busy room that was every second write.
 */
import type { Em } from '../infra/orm';
import { runWithoutLockOwner } from '../infra/locks/lock-owner';
import type { EventDraft, PersistedEvent } from './batch-builder';

/** Most sends folded into one write. */
export const MAX_COALESCED_SENDS = 256;
/**
 * Writes in flight at once: a second write (of other rooms) is prepared and sent while the first
 * waits for its commit to reach the disk.
 */
export const MAX_WRITES_IN_FLIGHT = 2;

export interface QueuedSend {
  roomId: string;
  draft: EventDraft;
}

interface Pending extends QueuedSend {
  em: Em;
  resolve(r: PersistedEvent): void;
  reject(e: unknown): void;
}

/** Persists queued sends; a refused draft yields its Error in its slot (same order as given). */
export type SendWriter = (em: Em, sends: QueuedSend[]) => Promise<(PersistedEvent | Error)[]>;

export class SendQueue {
  private readonly pending: Pending[] = [];
  /** Rooms with a write in flight. */
  private readonly busy = new Set<string>();
  private draining = 0;

  constructor(private readonly write: SendWriter) {}

  /** Resolves with the draft's event (or rejects with the rule it broke). */
  submit(em: Em, roomId: string, draft: EventDraft): Promise<PersistedEvent> {
    return new Promise((resolve, reject) => {
      this.pending.push({ em, roomId, draft, resolve, reject });
      // The drain writes other callers' sends too: its locks are nobody's task's (lock-owner.ts).
      if (this.draining < MAX_WRITES_IN_FLIGHT) void runWithoutLockOwner(() => this.drain());
    });
  }

  /**
   * The next write: queued sends of rooms that are not in flight, oldest first, at most
   * MAX_COALESCED_SENDS. What stays queued keeps its order, so a room's sends are written in the
   * order they arrived.
   */
  private take(): Pending[] {
    const batch: Pending[] = [];
    let kept = 0;
    for (const p of this.pending) {
      if (batch.length < MAX_COALESCED_SENDS && !this.busy.has(p.roomId)) batch.push(p);
      else this.pending[kept++] = p;
    }
    this.pending.length = kept;
    for (const p of batch) this.busy.add(p.roomId);
    return batch;
  }

  private async drain(): Promise<void> {
    this.draining += 1;
    try {
      for (let batch = this.take(); batch.length > 0; batch = this.take()) {
        try {
          const results = await this.write(batch[0].em, batch);
          results.forEach((r, i) => (r instanceof Error ? batch[i].reject(r) : batch[i].resolve(r)));
        } catch (err) {
          for (const p of batch) p.reject(err);
        } finally {
          for (const p of batch) this.busy.delete(p.roomId);
        }
      }
    } finally {
      this.draining -= 1;
    }
  }
}
