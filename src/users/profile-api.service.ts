/**
 * The client profile API (spec §9): reads of a local user's display name and avatar, and their
 * changes, which go through ProfileService (stored, then written into the user's joined rooms).
 * The profile lives on the user row; an erased user has none (Synapse deletes the profile on
 * erasure).
 */
import { checkProfileChange, shadowBanPause } from '../rooms/restrictions';
import type { Requester } from '../context';
import type { Em } from '../infra/orm';
import { Codes, MatrixError, badRequest, invalidParam, notFound } from '../errors';
import { domainOf, isValidUserId } from '../matrix/ids';
import { parseJsonObject } from '../matrix/json-body';
import { sqlPrepared } from '../infra/sql';
import type { ProfileService } from './profile.service';

export type ProfileField = 'displayname' | 'avatar_url';
export const PROFILE_FIELDS: readonly ProfileField[] = ['displayname', 'avatar_url'];

export interface Profile {
  displayname: string | null;
  avatar_url: string | null;
}

const profileNotFound = () => notFound('Profile was not found');

export class ProfileApiService {
  constructor(
    private readonly serverName: string,
    private readonly profiles: ProfileService,
    /** The longest wait after a shadow-banned user's change (kept out of their rooms) before it answers. */
    private readonly shadowBanMaxDelayMs = 0,
  ) {}

  /**
   * The whole profile (404 when no field is set) or one field (null when unset). 400 M_INVALID_PARAM
   * "Invalid user id"; 404 "Profile was not found" for an unknown or erased user; 502 for a remote
   * user, whose server this one does not ask.
   */
  async getProfile(em: Em, userId: string, field: ProfileField | null): Promise<Partial<Profile>> {
    if (!isValidUserId(userId)) throw invalidParam('Invalid user id');
    if (field !== null && !PROFILE_FIELDS.includes(field)) throw invalidParam(`Unknown profile field: ${field}`);
    if (domainOf(userId) !== this.serverName) throw new MatrixError(502, 'Failed to fetch profile', Codes.UNKNOWN);
    const rows = await sqlPrepared<Profile>(
      em,
      'SELECT displayname, avatar_url FROM users u WHERE name = ? AND NOT EXISTS (SELECT 1 FROM erased_users e WHERE e.user_id = u.name)',
      [userId],
    );
    const profile = rows[0];
    if (!profile) throw profileNotFound();
    if (field !== null) return { [field]: profile[field] };
    if (profile.displayname === null && profile.avatar_url === null) throw profileNotFound();
    return profile;
  }

  /**
   * PUT …/profile/<user_id>/<field>: users change their own profile, server admins anyone's;
   * guests may only change their display name. "" clears the field. Throws 400 M_INVALID_PARAM
   * "Invalid user id", 400 "User is not hosted on this homeserver" for a remote user, 400
   * M_FORBIDDEN "Cannot set another user's <field>" (Synapse's status, not the spec's 403), then
   * ProfileService's length and 404 errors; a guest's avatar is 403 M_GUEST_ACCESS_FORBIDDEN first.
   */
  async setField(
    em: Em,
    requester: Requester,
    userId: string,
    field: ProfileField,
    given: string | { body: Uint8Array },
    signal?: AbortSignal,
  ): Promise<void> {
    // Synapse refuses guests the avatar route at authentication, before anything else.
    if (field === 'avatar_url' && requester.isGuest) throw new MatrixError(403, 'Guest access not allowed', Codes.GUEST_ACCESS_FORBIDDEN);
    if (!isValidUserId(userId)) throw invalidParam('Invalid user id');
    if (!PROFILE_FIELDS.includes(field)) throw invalidParam(`Unknown profile field: ${field}`);
    const value = typeof given === 'string' ? given : fieldOfBody(given.body, field);
    if (domainOf(userId) !== this.serverName) throw badRequest('User is not hosted on this homeserver');
    // Status 400 with M_FORBIDDEN, as Synapse answers (and its tests expect).
    if (requester.userId !== userId && !requester.isAdmin)
      throw new MatrixError(400, `Cannot set another user's ${field}`, Codes.FORBIDDEN);
    checkProfileChange(requester);
    // A shadow-banned user's change is stored but reaches none of their rooms.
    const opts = { propagate: !requester.shadowBanned };
    if (field === 'displayname') await this.profiles.setDisplayname(em, userId, value, opts);
    else await this.profiles.setAvatarUrl(em, userId, value, opts);
    // Synapse waits where it would have written the change into the rooms.
    if (requester.shadowBanned) await shadowBanPause(this.shadowBanMaxDelayMs, signal);
  }
}

/**
 * The value of a PUT profile body (`{"<field>": "<value>"}`), as Synapse reads it: 400 M_NOT_JSON
 * or M_BAD_JSON for a body that is not a JSON object, M_MISSING_PARAM "Missing key '<field>'",
 * M_INVALID_PARAM "'<field>' must be a string".
 */
function fieldOfBody(body: Uint8Array, field: ProfileField): string {
  const json = parseJsonObject(body, false);
  if (!(field in json)) throw new MatrixError(400, `Missing key '${field}'`, Codes.MISSING_PARAM);
  const value = json[field];
  if (typeof value !== 'string') throw invalidParam(`'${field}' must be a string`);
  return value;
}
