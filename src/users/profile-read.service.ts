/**
 * The client profile API's reads (spec §9): a local user's display name and avatar. The profile
 * lives on the user row; an erased user has none (Synapse deletes the profile on erasure).
 */
import type { Em } from '../infra/orm';
import { Codes, MatrixError, invalidParam, notFound } from '../errors';
import { domainOf, isValidUserId } from '../ids';
import { sql } from '../rooms/sql';

export type ProfileField = 'displayname' | 'avatar_url';
export const PROFILE_FIELDS: readonly ProfileField[] = ['displayname', 'avatar_url'];

export interface Profile {
  displayname: string | null;
  avatar_url: string | null;
}

const profileNotFound = () => notFound('Profile was not found');

export class ProfileReadService {
  constructor(private readonly serverName: string) {}

  /**
   * The whole profile (404 when no field is set) or one field (null when unset). 400 M_INVALID_PARAM
   * "Invalid user id"; 404 "Profile was not found" for an unknown or erased user; 502 for a remote
   * user, whose server this one does not ask.
   */
  async getProfile(em: Em, userId: string, field: ProfileField | null): Promise<Partial<Profile>> {
    if (!isValidUserId(userId)) throw invalidParam('Invalid user id');
    if (field !== null && !PROFILE_FIELDS.includes(field)) throw invalidParam(`Unknown profile field: ${field}`);
    if (domainOf(userId) !== this.serverName) throw new MatrixError(502, 'Failed to fetch profile', Codes.UNKNOWN);
    const rows = await sql<Profile>(
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
}
