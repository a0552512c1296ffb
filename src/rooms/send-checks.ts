/**
 * Checks of client sends that need more than the auth rules: relations (Synapse's
 * _validate_event_relation) and redactions (target rules and the ownership recheck).
 */
import { MatrixError, badRequest, echo, forbidden, notFound } from '../errors';
import type { Em } from '../infra/orm';
import { redactionNeedsOwnership, stateMapKey, type EventToAuth, type StateMap } from './event-auth';
import { redactsOf } from './event-persister';
import type { EventRepository } from './event.repository';
import type { RoomVersion } from './room-versions';
import type { Json, StoredEvent } from './room.types';

/** Longest accepted annotation key. */
const MAX_AGGREGATION_KEY_LENGTH = 500;

/** The parent must be known and in this room; annotations need a fresh key; threads need a plain root. */
export async function validateRelation(
  events: EventRepository,
  em: Em,
  roomId: string,
  sender: string,
  type: string,
  content: Json,
): Promise<void> {
  const rel = content['m.relates_to'];
  if (!rel || typeof rel !== 'object' || Array.isArray(rel)) return;
  const { rel_type: relType, event_id: parentId, key } = rel as Json;
  if (typeof relType !== 'string' || typeof parentId !== 'string') return;
  const parent = await events.getEvent(em, parentId);
  if (parent && parent.roomId !== roomId) throw badRequest('Relations must be in the same room');
  if (!parent && !(await events.isRelationTarget(em, parentId))) throw badRequest("Can't send relation to unknown event");
  if (relType === 'm.annotation') {
    if (key === undefined || key === null) throw badRequest('Missing aggregation key');
    if (typeof key === 'string' && key.length > MAX_AGGREGATION_KEY_LENGTH) throw badRequest('Aggregation key is too long');
    if (typeof key === 'string' && (await events.hasAnnotation(em, parentId, type, key, sender))) {
      throw new MatrixError(400, "Can't send same reaction twice", 'M_DUPLICATE_ANNOTATION');
    }
  } else if (relType === 'm.thread' && (await events.isRelation(em, parentId))) {
    throw badRequest('Cannot start threads from an event with a relation');
  }
}

/** Client sends need the sender joined (Synapse checks this before building the event). */
export function requireJoined(state: StateMap, userId: string, roomId: string): void {
  if (state.get(stateMapKey('m.room.member', userId))?.membership !== 'join')
    throw forbidden(`User ${echo(userId)} not in room ${echo(roomId)}`);
}

export type RedactionShape = Omit<EventToAuth, 'prevEvents'>;

/** Synapse's checks on a redaction once the state is known (under the room lock). */
export function checkRedaction(version: RoomVersion, ev: RedactionShape, state: StateMap, target: StoredEvent | null): void {
  const redacts = redactsOf(version, ev);
  if (!redacts) throw badRequest("Missing 'redacts'");
  if (target && target.eventId === redacts) {
    if (target.type === 'm.room.create') throw forbidden('Redacting create events is not permitted');
    if (target.roomId !== ev.roomId) throw badRequest('Cannot redact event from a different room');
    if (target.type === 'm.room.server_acl') throw forbidden('Redacting server ACL events is not permitted');
  }
  // A locally created redaction's id carries the sender's server (room versions 1-2 compare it).
  const localId = `$redaction:${ev.sender.slice(ev.sender.indexOf(':') + 1)}`;
  if (redactionNeedsOwnership(version, { ...ev, redacts, prevEvents: [] }, state, localId)) {
    if (!target || target.eventId !== redacts) throw notFound(`Could not find event ${echo(redacts)}`);
    if (target.sender !== ev.sender) throw forbidden("You don't have permission to redact events");
  }
}

/**
 * Synapse's canonical alias rules: a new `alias` or `alt_aliases` entry must currently point to
 * this room (400 M_BAD_ALIAS), and `alt_aliases` must be a list (400 M_INVALID_PARAM).
 */
export async function validateCanonicalAlias(
  resolve: (alias: string) => Promise<string | null>,
  roomId: string,
  content: Json,
  current: Json | null,
): Promise<void> {
  const check = async (alias: string) => {
    if ((await resolve(alias)) !== roomId)
      throw new MatrixError(400, `Room alias ${echo(alias)} does not point to the room`, 'M_BAD_ALIAS');
  };
  const alias = content.alias;
  if (typeof alias === 'string' && alias && alias !== current?.alias) await check(alias);
  const alt = content.alt_aliases ?? [];
  if (!Array.isArray(alt)) throw new MatrixError(400, 'The alt_aliases property must be a list.', 'M_INVALID_PARAM');
  const before = Array.isArray(current?.alt_aliases) ? (current?.alt_aliases as unknown[]) : [];
  for (const a of new Set(alt)) if (!before.includes(a)) await check(String(a));
}
