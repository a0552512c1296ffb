/**
 * What suspended and shadow-banned users may do, as Synapse decides it for client requests (the
 * server's own actions, such as an admin's profile change or a deactivation's leaves, are not
 * restricted).
 *
 * Suspended (403 M_USER_SUSPENDED): no event other than a membership or a redaction (room creation
 * included), no membership other than leave (invites, joins, knocks and bans each with Synapse's
 * own message), no redaction of someone else's event, no profile change. Reading, leaving, kicking
 * and unbanning (both leaves) and redacting one's own events stay allowed.
 *
 * Shadow-banned: sends (messages, state, redactions) and invites look successful to the user, with
 * a made-up event id, and nothing is stored; a room created with invites is created without them;
 * a profile change is stored but not written into the user's rooms; a membership change carries the
 * global profile, never a per-room one. Joins and leaves work. Each swallowed request (and a room
 * creation that dropped invites, and a profile change kept out of the rooms) first waits a random
 * time, as Synapse does "to annoy the requester": between 1 s and SHADOW_BAN_MAX_DELAY (10 s).
 */
import { Codes, MatrixError } from '../errors';
import { randomLetters } from '../matrix/ids';

export interface Restricted {
  suspended?: boolean;
  shadowBanned?: boolean;
}

const suspendedError = (msg: string) => new MatrixError(403, msg, Codes.USER_SUSPENDED);

/** The made-up id a shadow-banned user's send returns (Synapse: '$' and 43 random letters). */
export function fakeEventId(): string {
  return `$${randomLetters(43)}`;
}

/** A non-membership event (a redaction's target is checked by the sender with `onlyOwnRedactions`). */
export function checkEvent(r: Restricted, type: string): void {
  if (r.suspended && type !== 'm.room.redaction') throw suspendedError('Sending messages while account is suspended is not allowed.');
}

/** A membership change: the action asked for, or the membership of an m.room.member event sent as state. */
export function checkMembership(r: Restricted, action: string): void {
  if (!r.suspended) return;
  if (action === 'invite') throw suspendedError('Sending invites while account is suspended is not allowed.');
  if (action === 'join') throw suspendedError('Joining rooms while account is suspended is not allowed.');
  if (action === 'knock') throw suspendedError('Knocking on rooms while account is suspended is not allowed.');
  // kick and unban are leaves.
  if (action !== 'leave' && action !== 'kick' && action !== 'unban')
    throw suspendedError('Changing membership while account is suspended is not allowed.');
}

export function checkRoomCreation(r: Restricted): void {
  if (r.suspended) throw suspendedError('Sending messages while account is suspended is not allowed.');
}

export function checkProfileChange(r: Restricted): void {
  if (r.suspended) throw suspendedError('Updating profile while account is suspended is not allowed.');
}

export const othersRedactionError = () => suspendedError('You can only redact your own events while account is suspended.');

/** The shortest wait before a shadow-banned user's swallowed request answers (Synapse: 1 s). */
export const SHADOW_BAN_MIN_DELAY_MS = 1000;

/**
 * Waits a random time between min(SHADOW_BAN_MIN_DELAY_MS, maxMs) and maxMs (Synapse:
 * random.randint(1, 10) seconds); 0 does not wait. A cancelled call stops waiting (rejects with
 * the signal's reason).
 */
export function shadowBanPause(maxMs: number, signal?: AbortSignal): Promise<void> {
  if (maxMs <= 0) return Promise.resolve();
  const min = Math.min(SHADOW_BAN_MIN_DELAY_MS, maxMs);
  const ms = min + Math.floor(Math.random() * (maxMs - min + 1));
  return new Promise((ok, ko) => {
    if (signal?.aborted) return ko(signal.reason);
    const onAbort = () => {
      clearTimeout(timer);
      ko(signal?.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      ok();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/**
 * A membership's content without a per-room display name or avatar for a shadow-banned user (the
 * global profile is filled in instead), as Synapse strips them.
 */
export function withoutRoomProfile<T extends Record<string, unknown> | undefined>(r: Restricted, content: T): T {
  if (!r.shadowBanned || !content || !('displayname' in content || 'avatar_url' in content)) return content;
  const { displayname: _d, avatar_url: _a, ...rest } = content;
  return rest as T;
}

/** Whether the send is swallowed: it answers a made-up event id and stores nothing. */
export function swallowsEvent(r: Restricted): boolean {
  return r.shadowBanned === true;
}

/** Whether a membership change is swallowed (shadow-banned invites only). */
export function swallowsMembership(r: Restricted, action: string): boolean {
  return r.shadowBanned === true && action === 'invite';
}
