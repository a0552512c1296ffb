/**
 * Group commit for single-event sends: while a write is in flight, further sends (into any room)
 * queue up and go out together in the next write, grouped by room: one lock round trip, one load,
 * one write statement and one commit for the lot, each draft still checked and answered on its
 * own. An idle server's send goes out at once, so this adds no latency under light load; under
 * load the per-write costs (locks, round trips, commits) are shared by every queued send.
 */
import type { Em } from '../infra/orm';
import type { EventDraft, PersistedEvent } from './batch-builder';

/** Most sends folded into one write. */
export const MAX_COALESCED_SENDS = 256;
/**
 * Writes in flight at once: a second write is prepared and sent while the first waits for its
 * commit to reach the disk. Their room rows are locked in room id order, so they cannot deadlock.
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
  private draining = 0;

  constructor(private readonly write: SendWriter) {}

  /** Resolves with the draft's event (or rejects with the rule it broke). */
  submit(em: Em, roomId: string, draft: EventDraft): Promise<PersistedEvent> {
    return new Promise((resolve, reject) => {
      this.pending.push({ em, roomId, draft, resolve, reject });
      if (this.draining < MAX_WRITES_IN_FLIGHT) void this.drain();
    });
  }

  private async drain(): Promise<void> {
    this.draining += 1;
    try {
      while (this.pending.length > 0) {
        const batch = this.pending.splice(0, MAX_COALESCED_SENDS);
        try {
          const results = await this.write(batch[0].em, batch);
          results.forEach((r, i) => (r instanceof Error ? batch[i].reject(r) : batch[i].resolve(r)));
        } catch (err) {
          for (const p of batch) p.reject(err);
        }
      }
    } finally {
      this.draining -= 1;
    }
  }
}
