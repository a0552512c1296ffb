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
 * a profile change is stored but not written into the user's rooms. Joins and leaves work.
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
  if (action !== 'leave' && action !== 'kick' && action !== 'unban') throw suspendedError('Changing membership while account is suspended is not allowed.');
}

export function checkRoomCreation(r: Restricted): void {
  if (r.suspended) throw suspendedError('Sending messages while account is suspended is not allowed.');
}

export function checkProfileChange(r: Restricted): void {
  if (r.suspended) throw suspendedError('Updating profile while account is suspended is not allowed.');
}

export const othersRedactionError = () => suspendedError('You can only redact your own events while account is suspended.');

/** Whether the send is swallowed: it answers a made-up event id and stores nothing. */
export function swallowsEvent(r: Restricted): boolean {
  return r.shadowBanned === true;
}

/** Whether a membership change is swallowed (shadow-banned invites only). */
export function swallowsMembership(r: Restricted, action: string): boolean {
  return r.shadowBanned === true && action === 'invite';
}
