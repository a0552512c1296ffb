/** Jump to date: the event closest to a timestamp, for the admin API and the client API alike. */
import { Codes, MatrixError } from '../errors';
import type { Em } from '../infra/orm';
import { EventRepository } from './event.repository';

export interface EventAtTimestamp {
  eventId: string;
  originServerTs: number;
}

const events = new EventRepository();

/**
 * The room's event closest to `ts` in direction `dir` (see EventRepository.eventNearTimestamp).
 * Throws 404 M_NOT_FOUND "Unable to find event from <ts> in direction Direction.FORWARDS|BACKWARDS".
 */
export async function findEventAtTimestamp(em: Em, roomId: string, ts: number, dir: 'f' | 'b'): Promise<EventAtTimestamp> {
  const found = await events.eventNearTimestamp(em, roomId, ts, dir);
  if (!found)
    throw new MatrixError(
      404,
      `Unable to find event from ${ts} in direction ${dir === 'f' ? 'Direction.FORWARDS' : 'Direction.BACKWARDS'}`,
      Codes.NOT_FOUND,
    );
  return { eventId: found.event_id, originServerTs: found.origin_server_ts };
}
