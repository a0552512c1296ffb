/**
 * Local users' global profiles (display name and avatar URL), Synapse's ProfileHandler: a change
 * is stored, then written into every room the user is joined to as a join carrying the new
 * profile. Admin user updates and deactivation with erasure use it; the client profile endpoints
 * are meant to call the same methods.
 */
import { MatrixError, notFound } from '../errors';
import type { Em } from '../infra/orm';
import { MAX_AVATAR_URL_LEN, MAX_DISPLAYNAME_LEN } from '../rooms/membership.service';
import { UserRepository } from './user.repository';

/** Writes the user's current profile into their joined rooms; returns the rooms written to. */
export type PropagateProfile = (em: Em, userId: string) => Promise<string[]>;

export class ProfileService {
  constructor(
    /** Writes the new profile into the user's rooms (the rooms domain's propagateProfile). */
    private readonly propagate: PropagateProfile,
    private readonly repo = new UserRepository(),
  ) {}

  /**
   * Sets the display name ("" clears it; others are stored trimmed) and propagates it to the
   * user's joined rooms unless `propagate` is false. Throws 400 "Displayname is too long (max 256)",
   * 404 "Profile was not found" for an unknown user.
   */
  async setDisplayname(em: Em, userId: string, value: string, opts: { propagate?: boolean } = {}): Promise<void> {
    if (value.length > MAX_DISPLAYNAME_LEN) throw new MatrixError(400, `Displayname is too long (max ${MAX_DISPLAYNAME_LEN})`);
    await this.store(em, userId, 'displayname', value === '' ? null : value.trim(), opts.propagate ?? true);
  }

  /**
   * Sets the avatar URL ("" clears it) and propagates it like setDisplayname. Throws 400 "Avatar
   * URL is too long (max 1000)", 404 "Profile was not found" for an unknown user.
   */
  async setAvatarUrl(em: Em, userId: string, value: string, opts: { propagate?: boolean } = {}): Promise<void> {
    if (value.length > MAX_AVATAR_URL_LEN) throw new MatrixError(400, `Avatar URL is too long (max ${MAX_AVATAR_URL_LEN})`);
    await this.store(em, userId, 'avatar_url', value === '' ? null : value, opts.propagate ?? true);
  }

  /**
   * Erasure's part of deactivation, in Synapse's order: the avatar is cleared, then the display
   * name, each change written into the user's joined rooms (so the leave that follows replaces a
   * join without profile). Repeating it changes nothing.
   */
  async erase(em: Em, userId: string): Promise<void> {
    await this.setAvatarUrl(em, userId, '');
    await this.setDisplayname(em, userId, '');
  }

  private async store(
    em: Em,
    userId: string,
    field: 'displayname' | 'avatar_url',
    value: string | null,
    propagate: boolean,
  ): Promise<void> {
    if (!(await this.repo.setProfileField(em, userId, field, value))) throw notFound('Profile was not found');
    if (propagate) await this.propagate(em, userId);
  }
}
