import { Codes, MatrixError } from './errors';
import type { Em } from './infra/orm';
import type { Logger } from './logger';

/** Who is calling, resolved from the access token. */
export interface Requester {
  userId: string;
  deviceId: string | null;
  tokenId: number;
  isAdmin: boolean;
  isGuest: boolean;
  /** The account is suspended (see restrictions.ts); absent means no. */
  suspended?: boolean;
  /** The account is shadow-banned (see restrictions.ts); absent means no. */
  shadowBanned?: boolean;
}

/** Everything a service method needs about the current call. */
export interface Ctx {
  /** An EntityManager fork private to this call. */
  em: Em;
  requester: Requester | null;
  /** Aborted when the caller cancels or the deadline passes. */
  signal: AbortSignal;
  requestId: string;
  log: Logger;
}

/** The requester of a call that required authentication (the adapter guarantees it is set). */
export function requesterOf(ctx: Ctx): Requester {
  if (!ctx.requester) throw new Error('authenticated call without requester');
  return ctx.requester;
}

/**
 * Refuses guests where Synapse authenticates without allow_guest: 403 M_GUEST_ACCESS_FORBIDDEN,
 * before any other check.
 */
export function refuseGuest(requester: Pick<Requester, 'isGuest'>): void {
  if (requester.isGuest) throw new MatrixError(403, 'Guest access not allowed', Codes.GUEST_ACCESS_FORBIDDEN);
}
