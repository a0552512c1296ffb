/**
 * The body of POST /_synapse/admin/v1/purge_history/<room_id>[/<event_id>], read as Synapse reads
 * it: an empty body counts as {}; the event id of the path wins over `purge_up_to_event_id`;
 * `purge_up_to_ts` is read only without an event id; `delete_local_events` is coerced with
 * Python's truthiness.
 */
import { badJson } from '../errors';
import { Body, parseJsonObject } from '../matrix/json-body';

export interface PurgeHistoryBody {
  eventId: string | undefined;
  upToTs: number | undefined;
  deleteLocalEvents: boolean;
}

export function purgeHistoryBody(raw: Uint8Array, pathEventId: string | undefined): PurgeHistoryBody {
  const b = new Body(parseJsonObject(raw, true));
  let eventId = pathEventId;
  if (eventId === undefined) {
    const v = b.json.purge_up_to_event_id;
    if (v !== undefined && v !== null && typeof v !== 'string') throw badJson('purge_up_to_event_id must be a string');
    eventId = (v as string | null | undefined) ?? undefined;
  }
  let upToTs: number | undefined;
  if (eventId === undefined && 'purge_up_to_ts' in b.json) {
    const v = b.json.purge_up_to_ts;
    if (typeof v !== 'number' || !Number.isSafeInteger(v)) throw badJson('purge_up_to_ts must be an int');
    upToTs = v;
  }
  return { eventId, upToTs, deleteLocalEvents: b.truthy('delete_local_events') };
}
