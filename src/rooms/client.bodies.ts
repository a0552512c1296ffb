/**
 * The JSON bodies of the client endpoints that create rooms and events, read as Synapse reads them:
 * the body is parsed first, then each parameter in Synapse's order, each refused with Synapse's
 * error. The RPCs that carry a `body_json` field read it with these after authentication.
 */
import { Codes, MatrixError, badJson, badRequest } from '../errors';
import { Body, parseJsonObject, type Json } from '../matrix/json-body';
import type { CreateRoomOptions, InitialStateEvent, MembershipAction } from './room.types';

function initialState(b: Body): InitialStateEvent[] {
  const v = b.json.initial_state;
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) throw badJson("Param 'initial_state' must be a list of state events");
  return v.map((s: unknown) => {
    if (!s || typeof s !== 'object' || Array.isArray(s)) throw badJson("Param 'initial_state' must be a list of state events");
    const e = s as Json;
    if (typeof e.type !== 'string') throw badJson("'type' of an initial state event must be a string");
    if (e.state_key !== undefined && typeof e.state_key !== 'string')
      throw badJson("'state_key' of an initial state event must be a string");
    if (!e.content || typeof e.content !== 'object' || Array.isArray(e.content))
      throw badJson("'content' of an initial state event must be an object");
    return { type: e.type, stateKey: e.state_key as string | undefined, content: e.content as Json };
  });
}

/** POST /createRoom: every field of the room's configuration. */
export function createRoomBody(raw: Uint8Array): CreateRoomOptions {
  const b = new Body(parseJsonObject(raw, false));
  return {
    preset: b.string('preset', "Param 'preset' must be a string"),
    visibility: b.string('visibility', "Param 'visibility' must be a string"),
    name: b.string('name', "Param 'name' must be a string"),
    topic: b.string('topic', "Param 'topic' must be a string"),
    roomAliasName: b.string('room_alias_name', "Param 'room_alias_name' must be a string"),
    invite: b.stringList('invite', "Param 'invite' must be a list of user ids") ?? [],
    initialState: initialState(b),
    creationContent: b.object('creation_content', "Param 'creation_content' must be an object"),
    powerLevelContentOverride: b.object('power_level_content_override', "Param 'power_level_content_override' must be an object"),
    roomVersion: b.string('room_version', 'room_version must be a string'),
    isDirect: b.truthy('is_direct'),
  };
}

/**
 * PUT /send, PUT /state and PUT /redact: the content. For an m.room.member state event Synapse then
 * requires `membership` to be a string.
 */
export function eventContentBody(raw: Uint8Array, memberState = false): Json {
  const content = parseJsonObject(raw, false);
  if (memberState && typeof content.membership !== 'string') throw badRequest('Invalid membership (must be a string)');
  return content;
}

/** The membership changes that name their target in `user_id`. */
const TARGETED: ReadonlySet<MembershipAction> = new Set(['invite', 'kick', 'ban', 'unban']);

export interface MembershipBody {
  userId?: string;
  reason?: string;
  /** A join's extra member event content: the body without the keys that are not content. */
  content?: Json;
}

/**
 * POST /rooms/{roomId}/<action> (an empty body is {}): `user_id` for invite, kick, ban and unban,
 * then `reason`. POST /join/{roomIdOrAlias} (empty allowed) and /knock/{roomIdOrAlias} (body
 * required) read `reason`, and a join takes the rest of the body as member event content.
 */
export function membershipBody(raw: Uint8Array, action: MembershipAction, byIdOrAlias: boolean): MembershipBody {
  const b = new Body(parseJsonObject(raw, action !== 'knock'));
  let userId: string | undefined;
  if (!byIdOrAlias && TARGETED.has(action)) {
    b.require('user_id');
    userId = b.string('user_id', "Param 'user_id' must be a string");
  }
  const reason = b.string('reason', "Param 'reason' must be a string");
  if (!byIdOrAlias || action !== 'join') return { userId, reason };
  const { reason: _r, third_party_signed: _t, membership: _m, ...content } = b.json;
  return { reason, content };
}

/**
 * PUT /directory/room/{roomAlias}: `room_id` required (a string), `servers` an optional list of
 * strings. Synapse's body model: a missing `room_id` alone is M_MISSING_PARAM, together with
 * another error (a bad `servers`) the catch-all M_BAD_JSON.
 */
export function aliasBody(raw: Uint8Array): string {
  const b = new Body(parseJsonObject(raw, false));
  if (!('room_id' in b.json)) {
    b.stringList('servers', 'room_id: field required');
    throw new MatrixError(400, 'room_id: field required', Codes.MISSING_PARAM);
  }
  if (b.json.room_id === null) throw badJson('room_id: none is not an allowed value');
  const roomId = b.string('room_id', 'room_id: str type expected') ?? '';
  b.stringList('servers', 'servers: value is not a valid list');
  return roomId;
}
