/** Queries over recorded client addresses (`user_ips`, and the last-seen columns of `devices`). */
import type { Em } from '../infra/orm';
import { sql, sqlPrepared } from '../infra/sql';

/** One (user, token, address) sighting, as buffered and written. */
export interface ClientIpRow {
  userId: string;
  tokenId: number;
  ip: string;
  userAgent: string;
  deviceId: string | null;
  lastSeen: number;
}

/** A connection as whois lists it. */
export interface ConnectionRow {
  tokenId: number;
  ip: string;
  userAgent: string;
  lastSeen: number;
}

export class ClientIpsRepository {
  /**
   * Writes a batch in one statement: upserts `user_ips` and moves the last-seen columns of the
   * devices forward (never backward: another instance may have written a later sighting).
   */
  async writeBatch(em: Em, rows: ClientIpRow[]): Promise<void> {
    if (rows.length === 0) return;
    // The latest sighting of each device (a batch may hold several of its tokens or addresses).
    const latest = new Map<string, ClientIpRow>();
    for (const r of rows) {
      if (!r.deviceId) continue;
      const key = `${r.userId}\u0000${r.deviceId}`;
      const seen = latest.get(key);
      if (!seen || seen.lastSeen < r.lastSeen) latest.set(key, r);
    }
    const devices = [...latest.values()];
    await sqlPrepared(
      em,
      `WITH ips AS (
         INSERT INTO user_ips (user_id, access_token_id, ip, user_agent, device_id, last_seen)
         SELECT * FROM unnest($1::text[], $2::bigint[], $3::text[], $4::text[], $5::text[], $6::bigint[])
         ON CONFLICT (user_id, access_token_id, ip) DO UPDATE
           SET user_agent = EXCLUDED.user_agent, device_id = EXCLUDED.device_id, last_seen = EXCLUDED.last_seen
           WHERE user_ips.last_seen <= EXCLUDED.last_seen)
       UPDATE devices d SET ip = v.ip, user_agent = v.user_agent, last_seen_ts = v.last_seen
         FROM unnest($7::text[], $8::text[], $9::text[], $10::text[], $11::bigint[]) AS v(user_id, device_id, ip, user_agent, last_seen)
        WHERE d.user_id = v.user_id AND d.device_id = v.device_id AND (d.last_seen_ts IS NULL OR d.last_seen_ts <= v.last_seen)`,
      [
        rows.map((r) => r.userId),
        rows.map((r) => String(r.tokenId)),
        rows.map((r) => r.ip),
        rows.map((r) => r.userAgent),
        rows.map((r) => r.deviceId),
        rows.map((r) => String(r.lastSeen)),
        devices.map((r) => r.userId),
        devices.map((r) => r.deviceId),
        devices.map((r) => r.ip),
        devices.map((r) => r.userAgent),
        devices.map((r) => String(r.lastSeen)),
      ],
    );
  }

  /** The user's recorded connections, latest first. */
  async connections(em: Em, userId: string): Promise<ConnectionRow[]> {
    const rows = await sqlPrepared<{ access_token_id: string; ip: string; user_agent: string; last_seen: string }>(
      em,
      'SELECT access_token_id, ip, user_agent, last_seen FROM user_ips WHERE user_id = ? ORDER BY last_seen DESC',
      [userId],
    );
    return rows.map((r) => ({ tokenId: Number(r.access_token_id), ip: r.ip, userAgent: r.user_agent, lastSeen: Number(r.last_seen) }));
  }

  /**
   * Deletes at most `limit` of the oldest rows last seen at or before `before` (Synapse's bounded
   * prune, so a large backlog goes in slices). Returns how many went.
   */
  async prune(em: Em, before: number, limit: number): Promise<number> {
    const rows = await sql<{ n: string }>(
      em,
      `WITH gone AS (DELETE FROM user_ips WHERE ctid IN (SELECT ctid FROM user_ips WHERE last_seen <= ? ORDER BY last_seen LIMIT ?) RETURNING 1)
       SELECT count(*) AS n FROM gone`,
      [before, limit],
    );
    return Number(rows[0].n);
  }
}
