/**
 * History visibility (spec §5.7), computed set-based: instead of loading the state at every event
 * of a page, we load the few events that can change what a user sees — the room's
 * `m.room.history_visibility` events and the user's own `m.room.member` events — and turn them
 * into the ranges of the timeline the user may see. Pagination then queries only inside those
 * ranges, so a user who cannot see a stretch of history skips it in one query instead of being
 * handed page after page of empty chunks (Synapse #13128).
 *
 * Positions are (depth, stream ordering) pairs. Events of a room form one chain (sends to a room
 * are serialised), so "the state after an event" is given by the last change at or before it.
 */

export type HistoryVisibility = 'world_readable' | 'shared' | 'invited' | 'joined';
/** Most permissive first. */
export const VISIBILITY_PRIORITY: readonly HistoryVisibility[] = ['world_readable', 'shared', 'invited', 'joined'];
/** "Most joined" first. */
export const MEMBERSHIP_PRIORITY = ['join', 'invite', 'knock', 'leave', 'ban'] as const;

export interface Pos {
  depth: number;
  stream: number;
}

export function comparePos(a: Pos, b: Pos): number {
  return a.depth !== b.depth ? a.depth - b.depth : a.stream - b.stream;
}

/** A change point: one history-visibility event or one of the user's own member events. */
export interface Change extends Pos {
  eventId: string;
  kind: 'visibility' | 'membership';
  /** The raw `history_visibility` or `membership` content value (null when absent). */
  value: string | null;
}

export interface Bound {
  pos: Pos;
  inclusive: boolean;
}

/** A stretch of the timeline; a null bound is open-ended. */
export interface Range {
  lo: Bound | null;
  hi: Bound | null;
}

export const EVERYTHING: readonly Range[] = [{ lo: null, hi: null }];

function normaliseVisibility(v: string | null): HistoryVisibility {
  return (VISIBILITY_PRIORITY as readonly string[]).includes(v ?? '') ? (v as HistoryVisibility) : 'shared';
}

function normaliseMembership(m: string | null): string {
  return (MEMBERSHIP_PRIORITY as readonly string[]).includes(m ?? '') ? (m as string) : 'leave';
}

function mostPermissive(a: HistoryVisibility, b: HistoryVisibility): HistoryVisibility {
  return VISIBILITY_PRIORITY.indexOf(a) <= VISIBILITY_PRIORITY.indexOf(b) ? a : b;
}

function mostJoined(a: string, b: string): string {
  const ia = MEMBERSHIP_PRIORITY.indexOf(a as never);
  const ib = MEMBERSHIP_PRIORITY.indexOf(b as never);
  return ia <= ib ? a : b;
}

/** Synapse's `_check_history_visibility`: visibility alone lets the user see the event. */
function lax(visibility: HistoryVisibility, peeking: boolean): boolean {
  return visibility === 'world_readable' || (visibility === 'shared' && !peeking);
}

/** Synapse's `_check_membership` for a membership that is not the user's own member event. */
function membershipAllows(visibility: HistoryVisibility, membership: string | null, peeking: boolean): boolean {
  if (membership === 'join') return true;
  if (visibility === 'joined') return false;
  if (visibility === 'invited') return membership === 'invite';
  return !(visibility === 'shared' && peeking);
}

/** Whether an ordinary event is visible given the state after it. */
export function visibleWith(visibility: HistoryVisibility, membership: string | null, peeking: boolean): boolean {
  return lax(visibility, peeking) || membershipAllows(visibility, membership, peeking);
}

interface Piece {
  visible: boolean;
  lo: Bound | null;
  hi: Bound | null;
}

/**
 * The user's view of a room's timeline: built from its change points, answers "which ranges are
 * visible" and "what was the user's membership after this event".
 */
export class VisibilityTimeline {
  private readonly changes: Change[];
  private readonly memberships: Change[];

  /**
   * `changes` in any order; `peeking` is Synapse's is_peeking: for /messages, the user has no
   * membership (a world-readable preview); for the client event context, the user is not joined
   * now (a departed user included).
   */
  constructor(
    changes: Change[],
    private readonly peeking: boolean,
  ) {
    this.changes = [...changes].sort(comparePos);
    this.memberships = this.changes.filter((c) => c.kind === 'membership');
  }

  /** The visible parts of the timeline, ascending, disjoint and maximal. */
  visibleRanges(): Range[] {
    const ranges: Range[] = [];
    let current: Range | null = null;
    for (const piece of this.pieces()) {
      if (!piece.visible) {
        if (current) ranges.push(current);
        current = null;
      } else if (current) current.hi = piece.hi;
      else current = { lo: piece.lo, hi: piece.hi };
    }
    if (current) ranges.push(current);
    return ranges;
  }

  /** Alternating stretches and change points, each with its visibility. */
  private pieces(): Piece[] {
    const out: Piece[] = [];
    let visibility: HistoryVisibility = 'shared';
    let membership: string | null = null;
    let lo: Bound | null = null;
    for (const c of this.changes) {
      out.push({ visible: visibleWith(visibility, membership, this.peeking), lo, hi: { pos: c, inclusive: false } });
      const before = { visibility, membership };
      if (c.kind === 'visibility') visibility = normaliseVisibility(c.value);
      else membership = c.value;
      out.push({
        visible: this.changeVisible(c, before.visibility, before.membership, visibility),
        lo: { pos: c, inclusive: true },
        hi: { pos: c, inclusive: true },
      });
      lo = { pos: c, inclusive: false };
    }
    out.push({ visible: visibleWith(visibility, membership, this.peeking), lo, hi: null });
    return out;
  }

  /** The special rules for a history-visibility event and for the user's own member event. */
  private changeVisible(
    c: Change,
    prevVisibility: HistoryVisibility,
    prevMembership: string | null,
    visibilityAfter: HistoryVisibility,
  ): boolean {
    if (c.kind === 'visibility') {
      // The more permissive of the old and new value opens the boundary; the membership check
      // still uses the new value, as Synapse does.
      return (
        lax(mostPermissive(prevVisibility, visibilityAfter), this.peeking) ||
        membershipAllows(visibilityAfter, prevMembership, this.peeking)
      );
    }
    if (lax(visibilityAfter, this.peeking)) return true;
    const now = normaliseMembership(c.value);
    const prev = normaliseMembership(prevMembership);
    // Users always see their own leave (e.g. rejecting an invite), else the room never disappears.
    if (now === 'leave' && (prev === 'join' || prev === 'invite')) return true;
    return membershipAllows(visibilityAfter, mostJoined(now, prev), this.peeking);
  }

  /** The user's membership just after an event (`unsigned.membership`); `leave` when none. */
  membershipAfter(pos: Pos, ownMembership: string | null): string {
    if (ownMembership !== null) return ownMembership;
    let lo = 0;
    let hi = this.memberships.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (comparePos(this.memberships[mid], pos) <= 0) lo = mid + 1;
      else hi = mid;
    }
    return lo === 0 ? 'leave' : (this.memberships[lo - 1].value ?? 'leave');
  }
}

/** True when `pos` lies inside `r`. */
export function inRange(r: Range, pos: Pos): boolean {
  if (r.lo) {
    const c = comparePos(pos, r.lo.pos);
    if (c < 0 || (c === 0 && !r.lo.inclusive)) return false;
  }
  if (r.hi) {
    const c = comparePos(pos, r.hi.pos);
    if (c > 0 || (c === 0 && !r.hi.inclusive)) return false;
  }
  return true;
}
