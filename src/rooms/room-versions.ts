/** The room versions this server knows, with the features that change its rules. */

export interface RoomVersion {
  identifier: string;
  /** v1/v2 event ids are `$<random>:<server>`; v3 standard base64; v4+ URL-safe base64. */
  eventIdFormat: 'legacy' | 'base64' | 'urlsafe';
  /** v11: the creator is the create event's sender (no `creator` content key). */
  implicitRoomCreator: boolean;
  /** v11: `redacts` lives in the redaction's content. */
  updatedRedactionRules: boolean;
  knockJoinRule: boolean;
  restrictedJoinRule: boolean;
  knockRestrictedJoinRule: boolean;
  enforceIntPowerLevels: boolean;
  /** v1-v5: `m.room.aliases` has its own auth rule and survives redaction. */
  specialCaseAliasesAuth: boolean;
  /** v9+: `join_authorised_via_users_server` survives redaction. */
  restrictedJoinRuleFix: boolean;
}

const v = (identifier: string, n: number): RoomVersion => ({
  identifier,
  eventIdFormat: n <= 2 ? 'legacy' : n === 3 ? 'base64' : 'urlsafe',
  implicitRoomCreator: n >= 11,
  updatedRedactionRules: n >= 11,
  knockJoinRule: n >= 7,
  restrictedJoinRule: n >= 8,
  knockRestrictedJoinRule: n >= 10,
  enforceIntPowerLevels: n >= 10,
  specialCaseAliasesAuth: n <= 5,
  restrictedJoinRuleFix: n >= 9,
});

export const KNOWN_ROOM_VERSIONS: ReadonlyMap<string, RoomVersion> = new Map(
  Array.from({ length: 11 }, (_, i) => [String(i + 1), v(String(i + 1), i + 1)] as const),
);

/** Synapse 1.114's default. */
export const DEFAULT_ROOM_VERSION = '10';

/** The version of a stored room; unknown identifiers fall back to the default's rules. */
export function roomVersionOf(identifier: string): RoomVersion {
  return KNOWN_ROOM_VERSIONS.get(identifier) ?? (KNOWN_ROOM_VERSIONS.get(DEFAULT_ROOM_VERSION) as RoomVersion);
}
