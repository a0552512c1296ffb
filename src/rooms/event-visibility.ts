/**
 * Whether one event may be shown to a user (spec §5.7, Synapse's filter_events_for_client for a
 * single event), used by `GET /rooms/{roomId}/event/{eventId}`. Pure: the caller supplies the
 * state after the event (history visibility and the user's member event, with the values they
 * replaced) and the room's effective retention `max_lifetime`.
 */
import type { StoredEvent } from './room.types';

const VISIBILITY = ['world_readable', 'shared', 'invited', 'joined'] as const;
type Visibility = (typeof VISIBILITY)[number];
const MEMBERSHIP_ORDER = ['join', 'invite', 'knock', 'leave', 'ban'];

export interface VisibilityFacts {
  /** `history_visibility` in force after the event (null when unset). */
  visibility: string | null;
  /** For an m.room.history_visibility event: the value it replaced. */
  previousVisibility: string | null;
  /** The user's membership after the event (null when none). */
  membership: string | null;
  /** For the user's own member event: the membership it replaced. */
  previousMembership: string | null;
  /** The user is not in the room now (a world-readable preview). */
  peeking: boolean;
  /** The user ignores the event's sender (`m.ignored_user_list`). */
  senderIgnored: boolean;
  /** Effective retention max_lifetime of the room (null: nothing expires). */
  maxLifetimeMs: number | null;
  now: number;
}

const normalise = (v: string | null): Visibility => ((VISIBILITY as readonly string[]).includes(v ?? '') ? (v as Visibility) : 'shared');

function mostPermissive(a: Visibility, b: Visibility): Visibility {
  return VISIBILITY.indexOf(a) <= VISIBILITY.indexOf(b) ? a : b;
}

function mostJoined(a: string, b: string): string {
  const ia = MEMBERSHIP_ORDER.indexOf(a);
  const ib = MEMBERSHIP_ORDER.indexOf(b);
  return ia !== -1 && (ib === -1 || ia <= ib) ? a : b;
}

/** Synapse's visibility decision for one event. */
export function isEventVisible(e: StoredEvent, userId: string, f: VisibilityFacts): boolean {
  if (e.softFailed || e.rejectedReason !== null) return false;
  if (e.type === 'org.matrix.dummy_event' || e.type === 'm.room.aliases') return false;
  // An ignored user's state events stay visible (the room's state must make sense).
  if (e.stateKey === null && f.senderIgnored) return false;
  if (e.stateKey === null && f.maxLifetimeMs !== null && e.originServerTs < f.now - f.maxLifetimeMs) return false;
  if (e.outlier) return e.type === 'm.room.member' && e.stateKey === userId;
  let visibility = normalise(f.visibility);
  if (e.type === 'm.room.history_visibility' && e.stateKey === '') visibility = mostPermissive(visibility, normalise(f.previousVisibility));
  if (visibility === 'world_readable' || (visibility === 'shared' && !f.peeking)) return true;
  let membership = f.membership ?? 'leave';
  if (e.type === 'm.room.member' && e.stateKey === userId) {
    const prev = f.previousMembership ?? 'leave';
    if (membership === 'leave' && (prev === 'join' || prev === 'invite')) return true;
    membership = mostJoined(membership, prev);
  }
  if (membership === 'join') return true;
  if (visibility === 'joined') return false;
  if (visibility === 'invited') return membership === 'invite';
  return !(visibility === 'shared' && f.peeking);
}
