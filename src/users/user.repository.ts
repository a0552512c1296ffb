import type { Em } from '../infra/orm';
import { AccessTokenEntity, DeviceEntity, RegistrationNonceEntity, UserEntity } from './user.entity';
import { hashToken } from './credentials';

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
}

/** Queries over users, devices, tokens and nonces. */
export class UserRepository {
  findUser(em: Em, userId: string): Promise<UserEntity | null> {
    return em.findOne(UserEntity, { name: userId });
  }

  /** Resolves an access token (by its SHA-256 hash) to its owner in one indexed lookup. */
  async findTokenOwner(em: Em, tokenHash: Buffer): Promise<TokenOwner | null> {
    const rows = await em.getConnection().execute<{ id: string; user_id: string; device_id: string | null; valid_until_ms: string | null; puppets_user_id: string | null; admin: boolean; deactivated: boolean; is_guest: boolean }[]>(
      `SELECT t.id, t.user_id, t.device_id, t.valid_until_ms, t.puppets_user_id, u.admin, u.deactivated, u.is_guest
         FROM access_tokens t JOIN users u ON u.name = t.user_id WHERE t.token_hash = ?`,
      [tokenHash],
    );
    const r = rows[0];
    if (!r) return null;
    return { tokenId: Number(r.id), userId: r.user_id, authenticatedEntity: r.puppets_user_id ?? r.user_id, deviceId: r.device_id, validUntilMs: r.valid_until_ms === null ? null : Number(r.valid_until_ms), admin: r.admin, deactivated: r.deactivated, isGuest: r.is_guest };
  }

  async insertToken(em: Em, token: string, userId: string, deviceId: string | null, validUntilMs: number | null = null, puppetsUserId: string | null = null): Promise<void> {
    em.persist(em.create(AccessTokenEntity, { tokenHash: hashToken(token), userId, deviceId, validUntilMs, puppetsUserId, createdTs: Date.now() }));
    await em.flush();
  }

  /** Creates the device if it does not exist yet. */
  async upsertDevice(em: Em, userId: string, deviceId: string, displayName: string | null): Promise<void> {
    await em.getConnection().execute(
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
    const rows = await em.getConnection().execute<unknown[]>('SELECT 1 FROM erased_users WHERE user_id = ?', [userId]);
    return rows.length > 0;
  }

  /** Whether `userId` ignores `otherId` (their `m.ignored_user_list`). */
  async ignores(em: Em, userId: string, otherId: string): Promise<boolean> {
    const rows = await em.getConnection().execute<unknown[]>('SELECT 1 FROM ignored_users WHERE ignorer_user_id = ? AND ignored_user_id = ?', [userId, otherId], 'all', em.getTransactionContext());
    return rows.length > 0;
  }

  /** Lifts an erasure (the account is reactivated); deactivate() sets it. */
  async clearErased(em: Em, userId: string): Promise<void> {
    await em.getConnection().execute('DELETE FROM erased_users WHERE user_id = ?', [userId], 'run', em.getTransactionContext());
  }

  /** Records that `userId` was seen at `now` (a no-op when a later time is already stored). */
  async touchLastSeen(em: Em, userId: string, now: number): Promise<void> {
    await em.getConnection().execute('UPDATE users SET last_seen_ts = ? WHERE name = ? AND (last_seen_ts IS NULL OR last_seen_ts < ?)', [now, userId, now], 'run');
  }

  /** Sets one field of the user's global profile; false when there is no such user. */
  async setProfileField(em: Em, userId: string, field: 'displayname' | 'avatar_url', value: string | null): Promise<boolean> {
    // The column name is one of two literals, never caller text.
    const column = field === 'displayname' ? 'displayname' : 'avatar_url';
    const rows = await em.getConnection().execute<unknown[]>(`UPDATE users SET ${column} = ? WHERE name = ? RETURNING 1`, [value, userId], 'all', em.getTransactionContext());
    return rows.length > 0;
  }

  /** Deactivation's account changes, atomically (one statement). The profile is ProfileService's. */
  async deactivate(em: Em, userId: string, erase: boolean): Promise<void> {
    await em.getConnection().execute(
      `WITH tokens AS (DELETE FROM access_tokens WHERE user_id = ?),
        devices AS (DELETE FROM devices WHERE user_id = ?),
        data AS (DELETE FROM account_data WHERE user_id = ?),
        room_data AS (DELETE FROM room_account_data WHERE user_id = ?),
        ignored AS (DELETE FROM ignored_users WHERE ignorer_user_id = ?),
        erased AS (INSERT INTO erased_users (user_id) SELECT ? WHERE ?::boolean ON CONFLICT DO NOTHING)
      UPDATE users SET deactivated = true, password_hash = NULL WHERE name = ?`,
      [userId, userId, userId, userId, userId, userId, erase, userId],
      'run',
      em.getTransactionContext(),
    );
  }

  async insertNonce(em: Em, nonce: string, now: number, maxAgeMs: number): Promise<void> {
    await em.nativeDelete(RegistrationNonceEntity, { createdTs: { $lt: now - maxAgeMs } });
    await em.insert(RegistrationNonceEntity, { nonce, createdTs: now });
  }

  /** Deletes the nonce and tells whether it existed and was still fresh (single use). */
  async consumeNonce(em: Em, nonce: string, now: number, maxAgeMs: number): Promise<boolean> {
    const rows = await em.getConnection().execute<{ created_ts: string }[]>('DELETE FROM registration_nonces WHERE nonce = ? RETURNING created_ts', [nonce]);
    return rows.length > 0 && Number(rows[0].created_ts) >= now - maxAgeMs;
  }
}
