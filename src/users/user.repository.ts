import type { Em } from '../infra/orm';
import { sql, sqlPrepared } from '../infra/sql';
import { AccessTokenEntity, DeviceEntity, RegistrationNonceEntity, UserEntity } from '../infra/entities';
import { hashToken } from './credentials';

/** An id of the user at an external auth provider. */
export interface ExternalId {
  authProvider: string;
  externalId: string;
}

/** The fields of a user row the admin API shows. */
export type UserFields = Pick<
  UserEntity,
  | 'name'
  | 'displayname'
  | 'admin'
  | 'deactivated'
  | 'isGuest'
  | 'creationTs'
  | 'userType'
  | 'avatarUrl'
  | 'lastSeenTs'
  | 'locked'
  | 'suspended'
  | 'shadowBanned'
>;

export interface Threepid {
  medium: string;
  address: string;
  /** ms since the epoch */
  validatedAt: number;
  addedAt: number;
}

export interface TokenOwner {
  tokenId: number;
  userId: string;
  /** The admin acting through a login-as token, else the user. */
  authenticatedEntity: string;
  deviceId: string | null;
  validUntilMs: number | null;
  admin: boolean;
  deactivated: boolean;
  isGuest: boolean;
  locked: boolean;
  suspended: boolean;
  shadowBanned: boolean;
}

/** Queries over users, devices, tokens and nonces. */
export class UserRepository {
  findUser(em: Em, userId: string): Promise<UserEntity | null> {
    return em.findOne(UserEntity, { name: userId });
  }

  /**
   * What the admin API shows of a user (the user row, whether they are erased, their third-party
   * and external ids, in the orders their own reads use) in one prepared statement; null when the
   * user is not registered.
   */
  async findUserView(
    em: Em,
    userId: string,
  ): Promise<{ user: UserFields; erased: boolean; threepids: Threepid[]; externalIds: ExternalId[] } | null> {
    const [r] = await sqlPrepared<{
      name: string;
      displayname: string | null;
      admin: boolean;
      deactivated: boolean;
      is_guest: boolean;
      creation_ts: string;
      user_type: string | null;
      avatar_url: string | null;
      last_seen_ts: string | null;
      locked: boolean;
      suspended: boolean;
      shadow_banned: boolean;
      erased: boolean;
      threepids: [string, string, number, number][];
      external_ids: [string, string][];
    }>(
      em,
      `SELECT u.name, u.displayname, u.admin, u.deactivated, u.is_guest, u.creation_ts, u.user_type, u.avatar_url, u.last_seen_ts,
              u.locked, u.suspended, u.shadow_banned,
              EXISTS (SELECT 1 FROM erased_users e WHERE e.user_id = u.name) AS erased,
              (SELECT coalesce(json_agg(json_build_array(t.medium, t.address, t.validated_at, t.added_at) ORDER BY t.medium, t.address), '[]')
                 FROM user_threepids t WHERE t.user_id = u.name) AS threepids,
              (SELECT coalesce(json_agg(json_build_array(x.auth_provider, x.external_id) ORDER BY x.auth_provider, x.external_id), '[]')
                 FROM user_external_ids x WHERE x.user_id = u.name) AS external_ids
         FROM users u WHERE u.name = ?`,
      [userId],
    );
    if (!r) return null;
    return {
      user: {
        name: r.name,
        displayname: r.displayname,
        admin: r.admin,
        deactivated: r.deactivated,
        isGuest: r.is_guest,
        creationTs: Number(r.creation_ts),
        userType: r.user_type,
        avatarUrl: r.avatar_url,
        lastSeenTs: r.last_seen_ts === null ? null : Number(r.last_seen_ts),
        locked: r.locked,
        suspended: r.suspended,
        shadowBanned: r.shadow_banned,
      },
      erased: r.erased,
      threepids: r.threepids.map(([medium, address, validatedAt, addedAt]) => ({ medium, address, validatedAt, addedAt })),
      externalIds: r.external_ids.map(([authProvider, externalId]) => ({ authProvider, externalId })),
    };
  }

  /** Resolves an access token (by its SHA-256 hash) to its owner in one indexed lookup. */
  async findTokenOwner(em: Em, tokenHash: Buffer): Promise<TokenOwner | null> {
    const rows = await sqlPrepared<{
      id: string;
      user_id: string;
      device_id: string | null;
      valid_until_ms: string | null;
      puppets_user_id: string | null;
      admin: boolean;
      deactivated: boolean;
      is_guest: boolean;
      locked: boolean;
      suspended: boolean;
      shadow_banned: boolean;
    }>(
      em,
      `SELECT t.id, t.user_id, t.device_id, t.valid_until_ms, t.puppets_user_id, u.admin, u.deactivated, u.is_guest, u.locked, u.suspended, u.shadow_banned
         FROM access_tokens t JOIN users u ON u.name = t.user_id WHERE t.token_hash = ?`,
      [tokenHash],
    );
    const r = rows[0];
    if (!r) return null;
    return {
      tokenId: Number(r.id),
      userId: r.user_id,
      authenticatedEntity: r.puppets_user_id ?? r.user_id,
      deviceId: r.device_id,
      validUntilMs: r.valid_until_ms === null ? null : Number(r.valid_until_ms),
      admin: r.admin,
      deactivated: r.deactivated,
      isGuest: r.is_guest,
      locked: r.locked,
      suspended: r.suspended,
      shadowBanned: r.shadow_banned,
    };
  }

  async insertToken(
    em: Em,
    token: string,
    userId: string,
    deviceId: string | null,
    validUntilMs: number | null = null,
    puppetsUserId: string | null = null,
  ): Promise<void> {
    em.persist(
      em.create(AccessTokenEntity, { tokenHash: hashToken(token), userId, deviceId, validUntilMs, puppetsUserId, createdTs: Date.now() }),
    );
    await em.flush();
  }

  /** Creates the device if it does not exist yet. */
  async upsertDevice(em: Em, userId: string, deviceId: string, displayName: string | null): Promise<void> {
    await sql(
      em,
      `INSERT INTO devices (user_id, device_id, display_name, last_seen_ts) VALUES (?, ?, ?, ?)
       ON CONFLICT (user_id, device_id) DO UPDATE SET last_seen_ts = EXCLUDED.last_seen_ts`,
      [userId, deviceId, displayName, Date.now()],
    );
  }

  async deleteToken(em: Em, tokenId: number): Promise<void> {
    await em.nativeDelete(AccessTokenEntity, { id: tokenId });
  }

  async deleteDevice(em: Em, userId: string, deviceId: string): Promise<void> {
    await em.nativeDelete(AccessTokenEntity, { userId, deviceId });
    await em.nativeDelete(DeviceEntity, { userId, deviceId });
  }

  /** Removes every token and device of a user (password change, deactivation). */
  async deleteAllSessions(em: Em, userId: string, exceptTokenId?: number): Promise<void> {
    await em.nativeDelete(AccessTokenEntity, exceptTokenId === undefined ? { userId } : { userId, id: { $ne: exceptTokenId } });
    if (exceptTokenId === undefined) await em.nativeDelete(DeviceEntity, { userId });
  }

  async isErased(em: Em, userId: string): Promise<boolean> {
    const rows = await sqlPrepared(em, 'SELECT 1 FROM erased_users WHERE user_id = ?', [userId]);
    return rows.length > 0;
  }

  /** Lifts an erasure (the account is reactivated); deactivate() sets it. */
  async clearErased(em: Em, userId: string): Promise<void> {
    await sql(em, 'DELETE FROM erased_users WHERE user_id = ?', [userId]);
  }

  /** Records that `userId` was seen at `now` (a no-op when a later time is already stored). */
  async touchLastSeen(em: Em, userId: string, now: number): Promise<void> {
    await sql(em, 'UPDATE users SET last_seen_ts = ? WHERE name = ? AND (last_seen_ts IS NULL OR last_seen_ts < ?)', [now, userId, now]);
  }

  /** Sets one field of the user's global profile; false when there is no such user. */
  async setProfileField(em: Em, userId: string, field: 'displayname' | 'avatar_url', value: string | null): Promise<boolean> {
    // The column name is one of two literals, never caller text.
    const column = field === 'displayname' ? 'displayname' : 'avatar_url';
    const rows = await sqlPrepared(em, `UPDATE users SET ${column} = ? WHERE name = ? RETURNING 1`, [value, userId]);
    return rows.length > 0;
  }

  /** Deactivation's account changes, atomically (one statement). The profile is ProfileService's. */
  async deactivate(em: Em, userId: string, erase: boolean): Promise<void> {
    await sql(
      em,
      `WITH tokens AS (DELETE FROM access_tokens WHERE user_id = ?),
        devices AS (DELETE FROM devices WHERE user_id = ?),
        data AS (DELETE FROM account_data WHERE user_id = ?),
        room_data AS (DELETE FROM room_account_data WHERE user_id = ?),
        ignored AS (DELETE FROM ignored_users WHERE ignorer_user_id = ?),
        erased AS (INSERT INTO erased_users (user_id) SELECT ? WHERE ?::boolean ON CONFLICT DO NOTHING)
      UPDATE users SET deactivated = true, password_hash = NULL WHERE name = ?`,
      [userId, userId, userId, userId, userId, userId, erase, userId],
    );
  }

  /**
   * Makes `wanted` the user's third-party ids, in one statement: the others are removed, the new
   * ones added with `now` as their added and validated times (one held by another user moves to
   * this one), the ones kept keep their times.
   */
  async replaceThreepids(em: Em, userId: string, wanted: { medium: string; address: string }[], now: number): Promise<void> {
    await sql(
      em,
      `WITH wanted AS (SELECT DISTINCT * FROM jsonb_to_recordset(?::jsonb) AS w (medium text, address text)),
        removed AS (DELETE FROM user_threepids t WHERE t.user_id = ?
          AND NOT EXISTS (SELECT 1 FROM wanted w WHERE w.medium = t.medium AND w.address = t.address))
      INSERT INTO user_threepids (user_id, medium, address, validated_at, added_at)
        SELECT ?, medium, address, ?, ? FROM wanted
      ON CONFLICT (medium, address) DO UPDATE SET user_id = EXCLUDED.user_id, validated_at = EXCLUDED.validated_at, added_at = EXCLUDED.added_at
        WHERE user_threepids.user_id <> EXCLUDED.user_id`,
      [JSON.stringify(wanted), userId, userId, now, now],
    );
  }

  /**
   * Makes `wanted` the user's external ids, in one statement (so all or nothing): the others are
   * removed, the new ones added. A pair held by another user fails the statement with a unique
   * violation.
   */
  async replaceExternalIds(em: Em, userId: string, wanted: ExternalId[]): Promise<void> {
    await sql(
      em,
      `WITH wanted AS (SELECT * FROM jsonb_to_recordset(?::jsonb) AS w ("authProvider" text, "externalId" text)),
        removed AS (DELETE FROM user_external_ids t WHERE t.user_id = ?
          AND NOT EXISTS (SELECT 1 FROM wanted w WHERE w."authProvider" = t.auth_provider AND w."externalId" = t.external_id))
      INSERT INTO user_external_ids (auth_provider, external_id, user_id)
        SELECT w."authProvider", w."externalId", ? FROM wanted w
         WHERE NOT EXISTS (SELECT 1 FROM user_external_ids t WHERE t.auth_provider = w."authProvider" AND t.external_id = w."externalId" AND t.user_id = ?)`,
      [JSON.stringify(wanted), userId, userId, userId],
    );
  }

  /** The user an external id is mapped to, if any. */
  async userByExternalId(em: Em, authProvider: string, externalId: string): Promise<string | null> {
    const rows = await sqlPrepared<{ user_id: string }>(
      em,
      'SELECT user_id FROM user_external_ids WHERE auth_provider = ? AND external_id = ?',
      [authProvider, externalId],
    );
    return rows[0]?.user_id ?? null;
  }

  /** Sets one of the account restriction flags; false when there is no such user. */
  async setFlag(em: Em, userId: string, flag: 'locked' | 'suspended' | 'shadow_banned', value: boolean): Promise<boolean> {
    // The column name is one of three literals, never caller text.
    const column = flag === 'locked' ? 'locked' : flag === 'suspended' ? 'suspended' : 'shadow_banned';
    const rows = await sqlPrepared(em, `UPDATE users SET ${column} = ? WHERE name = ? RETURNING 1`, [value, userId]);
    return rows.length > 0;
  }

  async insertNonce(em: Em, nonce: string, now: number, maxAgeMs: number): Promise<void> {
    await em.nativeDelete(RegistrationNonceEntity, { createdTs: { $lt: now - maxAgeMs } });
    await em.insert(RegistrationNonceEntity, { nonce, createdTs: now });
  }

  /** Deletes the nonce and tells whether it existed and was still fresh (single use). */
  async consumeNonce(em: Em, nonce: string, now: number, maxAgeMs: number): Promise<boolean> {
    const rows = await sql<{ created_ts: string }>(em, 'DELETE FROM registration_nonces WHERE nonce = ? RETURNING created_ts', [nonce]);
    return rows.length > 0 && Number(rows[0].created_ts) >= now - maxAgeMs;
  }
}
