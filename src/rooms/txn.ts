/** Transaction scopes of idempotent sends. */
import type { SenderSession } from './room.types';

/** The scope a transaction id is unique in: the device, or the access token when it has none. */
export function txnScopeOf(s: SenderSession): string | null {
  if (s.deviceId) return s.deviceId;
  if (s.tokenId !== undefined && s.tokenId !== null) return `token:${s.tokenId}`;
  return null;
}

/** The persister's txn key for a send, or null when it carries no transaction id or scope. */
export function txnOf(s: SenderSession & { txnId?: string | null }): { scope: string; id: string } | null {
  const scope = txnScopeOf(s);
  return s.txnId && scope ? { scope, id: s.txnId } : null;
}
