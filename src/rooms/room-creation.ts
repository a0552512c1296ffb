/**
 * `createRoom` request validation and the initial events of a new room, in Synapse's order:
 * create, creator join, power levels, canonical alias, join rules, history visibility, guest
 * access, initial_state, encryption, name, topic, then one invite per invitee.
 */
import { Codes, MatrixError, badRequest, echo } from '../errors';
import { domainOf, isValidUserId } from '../matrix/ids';
import { KNOWN_ROOM_VERSIONS, DEFAULT_ROOM_VERSION, type RoomVersion } from './room-versions';
import type { CreateRoomOptions, Json, RoomPreset } from './room.types';

interface PresetConfig {
  joinRules: string;
  historyVisibility: string;
  originalInviteesHaveOps: boolean;
  guestCanJoin: boolean;
  powerLevelContentOverride: Json;
}

const PRESETS: Record<RoomPreset, PresetConfig> = {
  private_chat: {
    joinRules: 'invite',
    historyVisibility: 'shared',
    originalInviteesHaveOps: false,
    guestCanJoin: true,
    powerLevelContentOverride: { invite: 0 },
  },
  trusted_private_chat: {
    joinRules: 'invite',
    historyVisibility: 'shared',
    originalInviteesHaveOps: true,
    guestCanJoin: true,
    powerLevelContentOverride: { invite: 0 },
  },
  public_chat: {
    joinRules: 'public',
    historyVisibility: 'shared',
    originalInviteesHaveOps: false,
    guestCanJoin: false,
    powerLevelContentOverride: { 'm.call.invite': 50 },
  },
};

/** A planned initial event (sender is always the creator). */
export interface PlannedEvent {
  type: string;
  stateKey: string;
  content: Json;
}

export interface RoomPlan {
  version: RoomVersion;
  isPublic: boolean;
  /** Full alias (`#local:server`) when `roomAliasName` was given. */
  alias: string | null;
  events: PlannedEvent[];
}

/** The preset in force: the given one, else private_chat for private rooms and public_chat for public ones. */
function presetOf(o: CreateRoomOptions): PresetConfig {
  const visibility = o.visibility ?? 'private';
  const name = o.preset ?? (visibility === 'private' ? 'private_chat' : 'public_chat');
  const preset = PRESETS[name as RoomPreset];
  if (!preset) throw new MatrixError(400, `'${echo(name)}' is not a valid preset`, Codes.BAD_JSON);
  return preset;
}

/** Validates the options (Synapse's order and messages) and returns the version and alias. */
export function validateCreateRoom(
  creator: string,
  o: CreateRoomOptions,
  serverName: string,
): { version: RoomVersion; alias: string | null } {
  const versionId = o.roomVersion ?? DEFAULT_ROOM_VERSION;
  const version = KNOWN_ROOM_VERSIONS.get(versionId);
  if (!version) throw new MatrixError(400, 'Your homeserver does not support this room version', Codes.UNSUPPORTED_ROOM_VERSION);
  let alias: string | null = null;
  if (o.roomAliasName !== undefined) {
    if (/\s/.test(o.roomAliasName)) throw badRequest('Invalid characters in room alias');
    if (o.roomAliasName.includes(':')) {
      throw badRequest(
        "':' is not permitted in the room alias name. Please note this expects a local part — 'wombat', not '#wombat:example.com'.",
      );
    }
    alias = `#${o.roomAliasName}:${serverName}`;
  }
  for (const i of o.invite ?? []) if (!isValidUserId(i)) throw badRequest(`Invalid user_id: ${echo(i)}`);
  const users = o.powerLevelContentOverride?.users;
  if (users && typeof users === 'object' && !(creator in (users as Json))) {
    throw badRequest(`Not a valid power_level_content_override: 'users' did not contain ${echo(creator)}`);
  }
  presetOf(o);
  return { version, alias };
}

function defaultPowerLevels(creator: string, invitees: string[], preset: PresetConfig, override: Json | undefined): Json {
  const users: Json = { [creator]: 100 };
  if (preset.originalInviteesHaveOps) for (const i of invitees) users[i] = 100;
  return {
    users,
    users_default: 0,
    events: {
      'm.room.name': 50,
      'm.room.power_levels': 100,
      'm.room.history_visibility': 100,
      'm.room.canonical_alias': 50,
      'm.room.avatar': 50,
      'm.room.tombstone': 100,
      'm.room.server_acl': 100,
      'm.room.encryption': 100,
    },
    events_default: 0,
    state_default: 50,
    ban: 50,
    kick: 50,
    redact: 50,
    invite: 50,
    historical: 100,
    ...preset.powerLevelContentOverride,
    ...(override ?? {}),
  };
}

/**
 * The initial events of a room created by `creator` (join profile `joinContent`), after
 * validateCreateRoom. Invites come last, carrying `is_direct` when asked.
 */
export function planRoom(creator: string, o: CreateRoomOptions, version: RoomVersion, alias: string | null, joinContent: Json): RoomPlan {
  const preset = presetOf(o);
  const initial = new Map<string, PlannedEvent>();
  for (const s of o.initialState ?? []) {
    const stateKey = s.stateKey ?? '';
    initial.set(`${s.type}\u0001${stateKey}`, { type: s.type, stateKey, content: s.content });
  }
  const has = (type: string) => initial.has(`${type}\u0001`);
  const creationContent: Json = { ...(o.creationContent ?? {}), room_version: version.identifier };
  if (!version.implicitRoomCreator) creationContent.creator = creator;
  const events: PlannedEvent[] = [
    { type: 'm.room.create', stateKey: '', content: creationContent },
    { type: 'm.room.member', stateKey: creator, content: { ...joinContent, membership: 'join' } },
  ];
  const pl = initial.get('m.room.power_levels\u0001');
  initial.delete('m.room.power_levels\u0001');
  events.push({
    type: 'm.room.power_levels',
    stateKey: '',
    content: pl ? pl.content : defaultPowerLevels(creator, o.invite ?? [], preset, o.powerLevelContentOverride),
  });
  if (alias && !has('m.room.canonical_alias')) events.push({ type: 'm.room.canonical_alias', stateKey: '', content: { alias } });
  if (!has('m.room.join_rules')) events.push({ type: 'm.room.join_rules', stateKey: '', content: { join_rule: preset.joinRules } });
  if (!has('m.room.history_visibility'))
    events.push({ type: 'm.room.history_visibility', stateKey: '', content: { history_visibility: preset.historyVisibility } });
  if (preset.guestCanJoin && !has('m.room.guest_access'))
    events.push({ type: 'm.room.guest_access', stateKey: '', content: { guest_access: 'can_join' } });
  events.push(...initial.values());
  if (o.name !== undefined) events.push({ type: 'm.room.name', stateKey: '', content: { name: o.name } });
  if (o.topic !== undefined) events.push({ type: 'm.room.topic', stateKey: '', content: { topic: o.topic } });
  for (const invitee of o.invite ?? []) {
    events.push({
      type: 'm.room.member',
      stateKey: invitee,
      content: { membership: 'invite', ...(o.isDirect ? { is_direct: true } : {}) },
    });
  }
  return { version, isPublic: o.visibility === 'public', alias, events };
}

/** Whether a user id belongs to this server. */
export const isLocalUser = (userId: string, serverName: string) => domainOf(userId) === serverName;
