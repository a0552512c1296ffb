/**
 * Group commit for sends into one room: while a write to a room is in flight, further single-event
 * writes to that room queue up and go out together in the next write (one round trip, one commit,
 * each draft still checked on its own). An idle room's send goes out at once, so this adds no
 * latency; a busy room's sends stop paying one serialised commit each.
 */
import type { Em } from '../infra/orm';
import type { EventDraft, PersistedEvent } from './batch-builder';

/** Most sends folded into one write. */
export const MAX_COALESCED_SENDS = 200;

interface Pending {
  em: Em;
  draft: EventDraft;
  resolve(r: PersistedEvent): void;
  reject(e: unknown): void;
}

/** Persists one room's drafts; a failed draft yields its Error in its slot. */
export type RoomWriter = (em: Em, roomId: string, drafts: EventDraft[]) => Promise<(PersistedEvent | Error)[]>;

export class RoomSendQueue {
  private readonly rooms = new Map<string, Pending[]>();

  constructor(private readonly write: RoomWriter) {}

  /** Resolves with the draft's event (or rejects with the rule it broke). */
  submit(em: Em, roomId: string, draft: EventDraft): Promise<PersistedEvent> {
    return new Promise((resolve, reject) => {
      const waiting = this.rooms.get(roomId);
      if (waiting) {
        waiting.push({ em, draft, resolve, reject });
        return;
      }
      const queue: Pending[] = [{ em, draft, resolve, reject }];
      this.rooms.set(roomId, queue);
      void this.drain(roomId, queue);
    });
  }

  private async drain(roomId: string, queue: Pending[]): Promise<void> {
    try {
      while (queue.length > 0) {
        const batch = queue.splice(0, MAX_COALESCED_SENDS);
        try {
          const results = await this.write(batch[0].em, roomId, batch.map((p) => p.draft));
          results.forEach((r, i) => (r instanceof Error ? batch[i].reject(r) : batch[i].resolve(r)));
        } catch (err) {
          for (const p of batch) p.reject(err);
        }
      }
    } finally {
      this.rooms.delete(roomId);
    }
  }
}
