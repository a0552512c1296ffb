import type { Em } from './infra/orm';
import type { Logger } from './logger';

/** Who is calling, resolved from the access token. */
export interface Requester {
  userId: string;
  deviceId: string | null;
  tokenId: number;
  isAdmin: boolean;
  isGuest: boolean;
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
