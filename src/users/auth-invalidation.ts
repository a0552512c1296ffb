/**
 * Keeps a TokenCache in step with credential changes announced by PostgreSQL on `sra_auth`
 * (migration 20261201000007): `t|<hex token hash>` evicts a token, `u|<user id>` every token of a
 * user. While the subscription is down the cache serves nothing.
 */
import { PgListener } from '../infra/pg-listener';
import type { Logger } from '../logger';
import type { TokenCache } from './token-cache';

export const AUTH_CHANNEL = 'sra_auth';

export function listenForAuthChanges(connectionString: string, cache: TokenCache, log: Logger): PgListener {
  return new PgListener(
    connectionString,
    AUTH_CHANNEL,
    {
      onState: (up) => cache.setLive(up),
      onPayload: (payload) => {
        const sep = payload.indexOf('|');
        const kind = payload.slice(0, sep);
        const value = payload.slice(sep + 1);
        if (kind === 't') cache.evictToken(value);
        else if (kind === 'u') cache.evictUser(value);
        else cache.clear();
      },
    },
    log,
  );
}
