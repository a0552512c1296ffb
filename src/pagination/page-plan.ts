/**
 * What a `/messages` request reads, decided from the room view (spec §5.5 steps 1–4): the `from`
 * token as used (default, or clamped at a departed user's leave), the visible ranges and the
 * retention cut-off. Pure, so the same decision can be taken from a remembered view to start the
 * page query early (see PaginationService), then checked against the fresh view.
 */
import { echo, forbidden } from '../errors';
import type { Dir, RoomView } from './pagination.repository';
import { START_TOKEN, historicToken, roomTokenToString, withRoomKey, type StreamToken } from '../matrix/stream-token';
import { VisibilityTimeline, type Range } from './visibility';

/** Stands for "the end of the room" when the real end is not known yet (a speculative read). */
export const OPEN_END = historicToken(Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER);

export interface PlanInput {
  userId: string;
  roomId: string;
  dir: Dir;
  /** The `from` token of the request, null when absent. */
  given: StreamToken | null;
  asAdmin: boolean;
  /** Retention cut-off for this room (null: nothing expires). */
  minOriginTs: number | null;
}

export interface PagePlan {
  from: StreamToken;
  /** Null for admins (everything is visible). */
  ranges: Range[] | null;
  timeline: VisibilityTimeline | null;
  minOriginTs: number | null;
  /** Senders whose non-state events are left out (empty for admins). */
  ignored: string[];
}

/** The membership gate (step 2); returns whether the user is peeking. Throws the 403. */
export function checkMembership(view: RoomView, userId: string, roomId: string): boolean {
  const m = view.membership;
  if (m?.membership === 'join') return false;
  if (m?.membership === 'leave' && !m.forgotten) return false;
  // Anyone else may only preview a world-readable room (and is then "peeking").
  if (view.currentVisibility === 'world_readable') return true;
  throw forbidden(`User ${echo(userId)} not in room ${echo(roomId)}, and room previews are disabled`);
}

/** Whether planning needs the depth at `from`'s stream position (a departed user's live token). */
export function needsDepthLookup(view: RoomView, input: PlanInput, from: StreamToken): boolean {
  return (
    !input.asAdmin &&
    input.dir === 'b' &&
    view.membership?.membership === 'leave' &&
    !view.membership.forgotten &&
    from.room.topological === null
  );
}

/**
 * Plans the read. `end` is the room's end for a backwards read without `from` (OPEN_END when
 * not known yet); `depthAtFrom` answers needsDepthLookup.
 */
export function planPage(view: RoomView, input: PlanInput, end: StreamToken['room'], depthAtFrom: number | null = null): PagePlan {
  let from = input.given ?? (input.dir === 'f' ? START_TOKEN : withRoomKey(START_TOKEN, end));
  if (input.asAdmin) return { from, ranges: null, timeline: null, minOriginTs: null, ignored: [] };
  const peeking = checkMembership(view, input.userId, input.roomId);
  if (input.dir === 'b' && !peeking && view.membership?.membership === 'leave') {
    // A departed user paginating backwards starts at their leave event at the latest (step 4).
    const leave = view.changes.find((c) => c.eventId === view.membership?.eventId);
    const current = from.room.topological ?? depthAtFrom;
    if (leave && current !== null && leave.depth < current) from = withRoomKey(from, historicToken(leave.depth, leave.stream));
  }
  const timeline = new VisibilityTimeline(view.changes, peeking);
  return { from, ranges: timeline.visibleRanges(), timeline, minOriginTs: input.minOriginTs, ignored: view.ignored };
}

/** Whether two plans read the same rows (their `from` compared by its room key). */
export function samePlan(a: PagePlan, b: PagePlan): boolean {
  return (
    roomTokenToString(a.from.room) === roomTokenToString(b.from.room) &&
    a.minOriginTs === b.minOriginTs &&
    a.ignored.join('\n') === b.ignored.join('\n') &&
    JSON.stringify(a.ranges) === JSON.stringify(b.ranges)
  );
}
