/**
 * Local users' global profiles as member events carry them. Synapse adds each profile field that
 * is set to a join, invite or knock the user's server writes, and leaves out a field that is not
 * (an erased user's joins carry neither).
 */
import type { Em } from '../infra/orm';
import { sqlPrepared } from '../infra/sql';
import type { Json } from './room.types';

export interface Profile {
  displayname: string | null;
  avatarUrl: string | null;
}

/** The profiles of registered users (unknown users are absent from the map). */
export async function loadProfiles(em: Em, userIds: string[]): Promise<Map<string, Profile>> {
  const out = new Map<string, Profile>();
  if (userIds.length === 0) return out;
  // Prepared, as the event write that follows it: no plan_cache_mode switch in between.
  const rows = await sqlPrepared<{ name: string; displayname: string | null; avatar_url: string | null }>(
    em,
    'SELECT name, displayname, avatar_url FROM users WHERE name = ANY(?::text[])',
    [userIds],
  );
  for (const r of rows) out.set(r.name, { displayname: r.displayname, avatarUrl: r.avatar_url });
  return out;
}

/**
 * The profile keys of a member event's content: those of `profile` that are set and that
 * `content` does not already hold (a client may send its own per-room profile).
 */
export function withProfile(content: Json, profile: Profile | undefined): Json {
  const out: Json = { ...content };
  if (!profile) return out;
  if (!('displayname' in out) && profile.displayname !== null) out.displayname = profile.displayname;
  if (!('avatar_url' in out) && profile.avatarUrl !== null) out.avatar_url = profile.avatarUrl;
  return out;
}
