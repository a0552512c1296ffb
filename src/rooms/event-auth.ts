/**
 * Matrix event authorisation rules (the state-dependent part of the spec's auth rules, as Synapse
 * 1.114 applies them), as pure functions over the room state in force before the event. Error
 * texts are Synapse's; Synapse's "unstable spec" auth errors are plain M_FORBIDDEN by default.
 */
import { badRequest, echo, forbidden } from '../errors';
import { domainOf } from '../matrix/ids';
import type { RoomVersion } from './room-versions';
import type { Json, Membership } from './room.types';

/** One current-state entry, with what the rules need of its event. */
export interface StateEntry {
  eventId: string;
  type: string;
  stateKey: string;
  sender: string;
  content: Json;
  membership: Membership | null;
  /** Known for stored entries and entries written earlier in the same batch. */
  streamOrdering?: number;
  depth?: number;
}

/** Current state keyed by stateMapKey(type, stateKey). */
export type StateMap = Map<string, StateEntry>;

export const stateMapKey = (type: string, stateKey: string) => `${type}\u0001${stateKey}`;

/** What the rules look at in the event being authorised. */
export interface EventToAuth {
  roomId: string;
  type: string;
  stateKey: string | null;
  sender: string;
  content: Json;
  redacts: string | null;
  prevEvents: string[];
}

const CREATE = 'm.room.create';
const MEMBER = 'm.room.member';
const POWER_LEVELS = 'm.room.power_levels';
const JOIN_RULES = 'm.room.join_rules';

const get = (state: StateMap, type: string, stateKey = '') => state.get(stateMapKey(type, stateKey));

/** Python's repr of a scalar, for messages that embed one. */
export function pyRepr(v: unknown): string {
  if (typeof v === 'string') return `'${v.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
  if (v === null || v === undefined) return 'None';
  if (v === true) return 'True';
  if (v === false) return 'False';
  return JSON.stringify(v);
}

/** Python int() on a JSON value (accepts numeric strings and booleans); NaN when it would raise. */
function pyInt(v: unknown): number {
  if (typeof v === 'boolean') return v ? 1 : 0;
  if (typeof v === 'number') return Number.isFinite(v) ? Math.trunc(v) : NaN;
  if (typeof v === 'string' && /^\s*[-+]?\d+\s*$/.test(v)) return Number(v);
  return NaN;
}

function asObject(v: unknown): Json {
  return v && typeof v === 'object' && !Array.isArray(v) ? (v as Json) : {};
}

/** The room creator as the rules see it (v11: the create event's sender). */
export function creatorOf(version: RoomVersion, create: StateEntry | undefined): string | null {
  if (!create) return null;
  if (version.implicitRoomCreator) return create.sender;
  return typeof create.content.creator === 'string' ? create.content.creator : null;
}

/** A user's power level in the room (creator 100 when there is no power levels event). */
export function userPowerLevel(version: RoomVersion, userId: string, state: StateMap): number {
  const pl = get(state, POWER_LEVELS);
  if (pl) {
    let level = asObject(pl.content.users)[userId];
    if (level === undefined || level === null) level = pl.content.users_default ?? 0;
    const n = pyInt(level);
    return Number.isNaN(n) ? 0 : n;
  }
  return creatorOf(version, get(state, CREATE)) === userId ? 100 : 0;
}

/** A named level (`invite`, `kick`, `ban`, `redact`) or its default. */
export function namedLevel(state: StateMap, name: string, fallback: number): number {
  const pl = get(state, POWER_LEVELS);
  const v = pl?.content[name];
  if (v === undefined || v === null) return fallback;
  const n = pyInt(v);
  return Number.isNaN(n) ? fallback : n;
}

/** The level needed to send `type` (state_default 50 / events_default 0 unless listed). */
export function sendLevel(state: StateMap, type: string, isState: boolean): number {
  const content = get(state, POWER_LEVELS)?.content ?? {};
  const listed = asObject(content.events)[type];
  const raw = listed ?? (isState ? (content.state_default ?? 50) : (content.events_default ?? 0));
  const n = pyInt(raw);
  return Number.isNaN(n) ? 0 : n;
}

function membershipOf(entry: StateEntry | undefined): Membership | null {
  return entry?.membership ?? null;
}

/** Synapse's repr of a member event (embedded in "not in room" errors). */
function memberRepr(entry: StateEntry | undefined): string {
  if (!entry) return 'None';
  return `<FrozenEventV3 event_id=${entry.eventId}, type=${entry.type}, state_key=${entry.stateKey}, outlier=False>`;
}

function checkJoinedRoom(entry: StateEntry | undefined, userId: string, roomId: string): void {
  if (!entry || entry.membership !== 'join') throw forbidden(`User ${echo(userId)} not in room ${echo(roomId)} (${memberRepr(entry)})`);
}

function checkCreate(ev: EventToAuth, knownVersion: (id: string) => boolean, version: RoomVersion): void {
  if (ev.prevEvents.length > 0) throw forbidden('Create event has prev events');
  if (domainOf(ev.roomId) !== domainOf(ev.sender)) throw forbidden("Creation event's room_id domain does not match sender's");
  const rv = ev.content.room_version ?? '1';
  if (typeof rv !== 'string' || !knownVersion(rv)) throw forbidden(`room appears to have unsupported version ${echo(String(rv))}`);
  if (!version.implicitRoomCreator && !('creator' in ev.content)) throw forbidden("Create event lacks a 'creator' property");
}

/**
 * Authorises `ev` against `state` (the state before it). Throws MatrixError 403 (or 400 for a
 * malformed power levels event), with Synapse's messages.
 */
export function checkEventAuth(version: RoomVersion, ev: EventToAuth, state: StateMap, knownVersion: (id: string) => boolean): void {
  if (ev.type === CREATE && ev.stateKey === '') return checkCreate(ev, knownVersion, version);
  const create = get(state, CREATE);
  if (!create) throw forbidden('No create event in auth events');
  if (domainOf(ev.roomId) !== domainOf(ev.sender) && create.content['m.federate'] === false) {
    throw forbidden('This room has been marked as unfederatable.');
  }
  if (ev.type === 'm.room.aliases' && version.specialCaseAliasesAuth) return checkAliases(ev);
  if (ev.type === MEMBER) return checkMembership(version, ev, state);
  checkJoinedRoom(get(state, MEMBER, ev.sender), ev.sender, ev.roomId);
  if (ev.type === 'm.room.third_party_invite') {
    if (userPowerLevel(version, ev.sender, state) < namedLevel(state, 'invite', 0))
      throw forbidden("You don't have permission to invite users");
    return;
  }
  checkCanSend(version, ev, state);
  if (ev.type === POWER_LEVELS) checkPowerLevels(version, ev, state);
}

function checkAliases(ev: EventToAuth): void {
  if (ev.stateKey === null) throw forbidden('Alias event must be a state event');
  if (!ev.stateKey) throw forbidden('Alias event must have non-empty state_key');
  if (ev.stateKey !== domainOf(ev.sender)) throw forbidden("Alias event's state_key does not match sender's domain");
}

function checkCanSend(version: RoomVersion, ev: EventToAuth, state: StateMap): void {
  const needed = sendLevel(state, ev.type, ev.stateKey !== null);
  const level = userPowerLevel(version, ev.sender, state);
  if (level < needed) throw forbidden(`You don't have permission to post that to the room. user_level (${level}) < send_level (${needed})`);
  if (ev.stateKey !== null && ev.stateKey.startsWith('@') && ev.stateKey !== ev.sender)
    throw forbidden('You are not allowed to set others state');
}

/**
 * Whether the sender may redact without further checks. Returns true when the redaction is only
 * allowed if the sender also sent the target (checked by the caller against the stored target).
 */
export function redactionNeedsOwnership(version: RoomVersion, ev: EventToAuth, state: StateMap, redactionEventId: string): boolean {
  if (userPowerLevel(version, ev.sender, state) >= namedLevel(state, 'redact', 50)) return false;
  if (version.eventIdFormat === 'legacy') {
    if (typeof ev.redacts !== 'string') return false;
    if (domainOf(redactionEventId) === domainOf(ev.redacts)) return true;
    throw forbidden("You don't have permission to redact events");
  }
  return true;
}

function checkMembership(version: RoomVersion, ev: EventToAuth, state: StateMap): void {
  const membership = ev.content.membership as Membership;
  const target = ev.stateKey ?? '';
  const create = get(state, CREATE);
  if (
    ev.prevEvents.length === 1 &&
    membership === 'join' &&
    create &&
    ev.prevEvents[0] === create.eventId &&
    creatorOf(version, create) === target
  )
    return;
  if (domainOf(ev.roomId) !== domainOf(target) && create?.content['m.federate'] === false)
    throw forbidden('This room has been marked as unfederatable.');
  const caller = membershipOf(get(state, MEMBER, ev.sender));
  const targetMembership = membershipOf(get(state, MEMBER, target));
  const callerInRoom = caller === 'join';
  const callerInvited = caller === 'invite';
  const callerKnocked = version.knockJoinRule && caller === 'knock';
  const targetBanned = targetMembership === 'ban';
  const joinRuleEvent = get(state, JOIN_RULES);
  const joinRule = joinRuleEvent ? (joinRuleEvent.content.join_rule ?? 'invite') : 'invite';
  const userLevel = userPowerLevel(version, ev.sender, state);
  const targetLevel = userPowerLevel(version, target, state);
  const banLevel = namedLevel(state, 'ban', 50);
  if (membership !== 'join' && membership !== 'knock') {
    if ((callerInvited || callerKnocked) && membership === 'leave' && target === ev.sender) return;
    if (!callerInRoom) throw forbidden(`${echo(ev.sender)} not in room ${echo(ev.roomId)}.`);
  }
  switch (membership) {
    case 'invite':
      if (targetBanned) throw forbidden(`${echo(target)} is banned from the room`);
      if (targetMembership === 'join') throw forbidden(`${echo(target)} is already in the room.`);
      if (userLevel < namedLevel(state, 'invite', 0)) throw forbidden("You don't have permission to invite users");
      return;
    case 'join':
      return checkJoin(version, ev, state, { target, targetBanned, callerInRoom, callerInvited, joinRule });
    case 'leave':
      if (targetBanned && userLevel < banLevel) throw forbidden(`You cannot unban user ${echo(target)}.`);
      if (target !== ev.sender) {
        const kickLevel = namedLevel(state, 'kick', 50);
        if (userLevel < kickLevel || userLevel <= targetLevel) throw forbidden(`You cannot kick user ${echo(target)}.`);
      }
      return;
    case 'ban':
      if (userLevel < banLevel) throw forbidden("You don't have permission to ban");
      if (userLevel <= targetLevel) throw forbidden("You don't have permission to ban this user");
      return;
    case 'knock':
      // Synapse answers 500 "Unknown membership" here (rooms before v7 have no knock); refuse instead.
      if (!version.knockJoinRule) throw forbidden("You don't have permission to knock");
      if (joinRule !== 'knock' && !(version.knockRestrictedJoinRule && joinRule === 'knock_restricted'))
        throw forbidden("You don't have permission to knock");
      if (target !== ev.sender) throw forbidden('You cannot knock for other users');
      if (targetMembership === 'join') throw forbidden('You cannot knock on a room you are already in');
      if (callerInvited) throw forbidden('You are already invited to this room');
      if (targetBanned) throw forbidden('You are banned from this room');
      return;
  }
  throw badRequest('Invalid membership key');
}

interface JoinFacts {
  target: string;
  targetBanned: boolean;
  callerInRoom: boolean;
  callerInvited: boolean;
  joinRule: unknown;
}

function checkJoin(version: RoomVersion, ev: EventToAuth, state: StateMap, f: JoinFacts): void {
  if (ev.sender !== f.target) throw forbidden('Cannot force another user to join.');
  if (f.targetBanned) throw forbidden('You are banned from this room');
  if (f.joinRule === 'public') return;
  const restricted =
    (version.restrictedJoinRule && f.joinRule === 'restricted') || (version.knockRestrictedJoinRule && f.joinRule === 'knock_restricted');
  if (restricted) {
    if (f.callerInRoom || f.callerInvited) return;
    const authorising = ev.content.join_authorised_via_users_server;
    if (authorising === undefined || authorising === null) throw forbidden('Join event is missing authorising user.');
    checkJoinedRoom(get(state, MEMBER, String(authorising)), String(authorising), ev.roomId);
    if (userPowerLevel(version, String(authorising), state) < namedLevel(state, 'invite', 0))
      throw forbidden('Join event authorised by invalid server.');
    return;
  }
  if (f.joinRule === 'invite' || (version.knockJoinRule && f.joinRule === 'knock')) {
    if (!f.callerInRoom && !f.callerInvited) throw forbidden('You are not invited to this room.');
    return;
  }
  throw forbidden('You are not allowed to join this room');
}

const PL_SCALARS = ['users_default', 'events_default', 'state_default', 'ban', 'redact', 'kick', 'invite'];

function checkPowerLevels(version: RoomVersion, ev: EventToAuth, state: StateMap): void {
  const users = asObject(ev.content.users);
  for (const [k, v] of Object.entries(users)) {
    if (!/^@[^:]*:.+$/.test(k)) throw badRequest(`Not a valid user_id: ${echo(k)}`);
    if (Number.isNaN(pyInt(v))) throw badRequest(`Not a valid power level: ${echo(typeof v === 'string' ? v : JSON.stringify(v))}`);
  }
  if (version.enforceIntPowerLevels) {
    for (const [k, v] of Object.entries(ev.content)) {
      if (PL_SCALARS.includes(k) && !Number.isInteger(v)) throw badRequest(`${echo(pyRepr(v))} must be an integer.`);
      if (['events', 'notifications', 'users'].includes(k)) {
        const ok = v && typeof v === 'object' && !Array.isArray(v) && Object.values(v).every((x) => Number.isInteger(x));
        if (!ok) throw badRequest(`${echo(JSON.stringify(v))} must be a dict wherein all the values are integers.`);
      }
    }
  }
  const current = get(state, POWER_LEVELS);
  if (!current) return;
  const userLevel = userPowerLevel(version, ev.sender, state);
  const checks: [string, string | null][] = PL_SCALARS.map((k) => [k, null]);
  const union = (dir: string) => new Set([...Object.keys(asObject(current.content[dir])), ...Object.keys(asObject(ev.content[dir]))]);
  for (const u of union('users')) checks.push([u, 'users']);
  for (const e of union('events')) checks.push([e, 'events']);
  for (const n of union('notifications')) checks.push([n, 'notifications']);
  for (const [key, dir] of checks) {
    const oldLoc = dir ? asObject(current.content[dir]) : current.content;
    const newLoc = dir ? asObject(ev.content[dir]) : ev.content;
    const oldLevel = key in oldLoc ? pyInt(oldLoc[key]) : null;
    const newLevel = key in newLoc ? pyInt(newLoc[key]) : null;
    if (oldLevel !== null && newLevel !== null && oldLevel === newLevel) continue;
    if (dir === 'users' && key !== ev.sender && oldLevel === userLevel)
      throw forbidden("You don't have permission to remove ops level equal to your own");
    if ((oldLevel !== null && oldLevel > userLevel) || (newLevel !== null && newLevel > userLevel)) {
      throw forbidden("You don't have permission to add ops level greater than your own");
    }
  }
}

/** The auth events of an event: create, power levels, sender's member, and for memberships the target's member and join rules. */
export function authEventIds(ev: EventToAuth, state: StateMap): string[] {
  if (ev.type === CREATE) return [];
  const keys: [string, string][] = [
    [CREATE, ''],
    [POWER_LEVELS, ''],
    [MEMBER, ev.sender],
  ];
  if (ev.type === MEMBER) {
    const m = ev.content.membership;
    if (m === 'join' || m === 'invite' || m === 'knock') keys.push([JOIN_RULES, '']);
    keys.push([MEMBER, ev.stateKey ?? '']);
  }
  const ids = new Set<string>();
  for (const [t, k] of keys) {
    const e = get(state, t, k);
    if (e) ids.add(e.eventId);
  }
  return [...ids];
}

/** The state keys the rules (and the membership bookkeeping) read for an event. */
export function authStateKeys(ev: { type: string; stateKey: string | null; sender: string; content: Json }): [string, string][] {
  const keys: [string, string][] = [
    [CREATE, ''],
    [POWER_LEVELS, ''],
    [JOIN_RULES, ''],
    [MEMBER, ev.sender],
  ];
  if (ev.stateKey !== null) keys.push([ev.type, ev.stateKey]);
  const via = ev.content.join_authorised_via_users_server;
  if (ev.type === MEMBER && typeof via === 'string') keys.push([MEMBER, via]);
  return keys;
}
