/**
 * The body of `POST /publicRooms`, read as Synapse reads it, with a 400 where Synapse answers 500
 * (a non-integer `limit`, a non-object `filter`, a non-string search term). The RPC that carries a
 * `body_json` field reads it with this after authentication.
 */
import { badJson } from '../errors';
import { Body, parseJsonObject } from '../matrix/json-body';
import type { PublicRoomsQuery } from './public-rooms.service';

/** Synapse's default page size for a POST without `limit`. */
const DEFAULT_POST_LIMIT = 100;

const isInt = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v);

/** Everything but `server`, which is a query parameter of the POST too. */
export function publicRoomsBody(raw: Uint8Array): Omit<PublicRoomsQuery, 'server'> {
  const b = new Body(parseJsonObject(raw, false));
  const j = b.json;
  if (j.limit !== undefined && j.limit !== null && !isInt(j.limit)) throw badJson("Param 'limit' must be an integer");
  if (isInt(j.limit) && j.limit < 0) throw badJson("Param 'limit' must be a non-negative integer");
  const since = b.string('since', "Param 'since' must be a string");
  const filter = b.object('filter', "Param 'filter' must be an object") ?? {};
  const term = filter.generic_search_term;
  if (term !== undefined && term !== null && typeof term !== 'string') throw badJson("Param 'generic_search_term' must be a string");
  const types = filter.room_types;
  if (types !== undefined && types !== null && (!Array.isArray(types) || types.some((t) => t !== null && typeof t !== 'string')))
    throw badJson("Param 'room_types' must be a list of strings or nulls");
  const instance = j.third_party_instance_id;
  if (instance !== undefined && instance !== null && typeof instance !== 'string')
    throw badJson("Param 'third_party_instance_id' must be a string");
  const limit = isInt(j.limit) ? j.limit : DEFAULT_POST_LIMIT;
  return {
    limit: limit || null,
    since: since || null,
    searchTerm: (term as string | null | undefined) || null,
    roomTypes: (types ?? null) as (string | null)[] | null,
    includeAllNetworks: b.truthy('include_all_networks'),
    thirdPartyInstanceId: (instance as string | null | undefined) ?? null,
  };
}
