/**
 * Room history as clients and admins read it: `/messages` (spec §5) and the admin event context
 * (spec §2.13).
 *
 * How it works / things to keep in mind:
 * - One statement loads everything the membership gate and history visibility need (the
 *   requester's membership, the room's history-visibility changes and the requester's own member
 *   events); visibility becomes a handful of visible ranges of the timeline, and the page is read
 *   inside them only. A user who cannot see a stretch of history never receives empty pages for
 *   it: the query skips it.
 * - Filters, rejected/soft-failed events, hidden event types and retention-expired messages are
 *   excluded in SQL, so a page is short only when the room has nothing more to show.
 * - No lock is taken: a page is read by one statement, so it never shows a half-purged batch.
 */
import type { Ctx } from '../context';
import { forbidden, MatrixError, Codes } from '../errors';
import type { Em } from '../infra/orm';
import type { EventView } from '../rooms/event.serializer';
import type { RoomService } from '../rooms/room.service';
import type { StoredEvent } from '../rooms/room.types';
import { attachAggregations, bundledAggregations } from './aggregations';
import { isNoop, matchesFilter, parseRoomEventFilter, type RoomEventFilter } from './event-filter';
import { PaginationRepository, posOf, type Dir, type RoomView } from './pagination.repository';
import type { RetentionService } from './retention.service';
import { START_TOKEN, historicToken, isBeforeOrEq, parseTokenParam, streamTokenToString, withRoomKey, type RoomStreamToken, type StreamToken } from './stream-token';
import { VisibilityTimeline, type Range } from './visibility';

/** Events per page when the request does not say. */
export const DEFAULT_PAGE_LIMIT = 10;
/** Largest page served; larger limits are capped silently, as Synapse does. */
export const MAX_PAGE_LIMIT = 1000;

type Json = Record<string, unknown>;

export interface MessagesRequest {
  roomId: string;
  dir: Dir;
  from: string | null;
  to: string | null;
  limit: number | null;
  filter: Json | null;
  /** `raw` was given: federation format. */
  federationFormat: boolean;
}

export interface MessagesPage {
  chunk: EventView[];
  start: string;
  end: string | null;
  state: EventView[];
  federationFormat: boolean;
}

export interface EventContext {
  eventsBefore: EventView[];
  event: EventView;
  eventsAfter: EventView[];
  state: EventView[];
  start: string;
  end: string;
}

/** The requester as pagination needs it (null for nobody: never the case for /messages). */
interface Reader {
  userId: string;
  deviceId: string | null;
  tokenId: number;
}

export class PaginationService {
  private readonly repo = new PaginationRepository();

  constructor(
    private readonly rooms: RoomService,
    private readonly retention: RetentionService,
    private readonly opts: { msc3874Enabled: boolean },
  ) {}

  /** Parses a RoomEventFilter JSON object (400 M_BAD_JSON for wrongly-typed fields). */
  parseFilter(json: Json | null): RoomEventFilter | null {
    return json ? parseRoomEventFilter(json, { msc3874Enabled: this.opts.msc3874Enabled }) : null;
  }

  /**
   * A page of the room's timeline. Clients: 403 "User <u> not in room <r>, and room previews are
   * disabled" unless joined, departed (and not forgotten) or the room is world-readable; events
   * filtered by history visibility and retention. Admins (`asAdmin`): no gate, no visibility.
   * Throws 400 for bad tokens and filters.
   */
  async getMessages(ctx: Ctx, reader: Reader, req: MessagesRequest, asAdmin: boolean): Promise<MessagesPage> {
    const em = ctx.em;
    const given = parseTokenParam(req.from, 'from');
    const to = parseTokenParam(req.to, 'to');
    const limit = Math.min(req.limit ?? DEFAULT_PAGE_LIMIT, MAX_PAGE_LIMIT);
    const filter = this.parseFilter(req.filter);
    const federationFormat = req.federationFormat || (filter?.federationFormat ?? false);
    const view = await this.repo.loadRoomView(em, req.roomId, asAdmin ? null : reader.userId);
    let from = given ?? (req.dir === 'f' ? START_TOKEN : withRoomKey(START_TOKEN, historicToken(view.maxDepth, view.maxStream)));
    let ranges: Range[] | null = null;
    let timeline: VisibilityTimeline | null = null;
    if (!asAdmin) {
      const peeking = this.checkMembership(view, reader.userId, req.roomId);
      if (req.dir === 'b' && !peeking && view.membership?.membership === 'leave') from = await this.clampToLeave(em, req.roomId, from, view);
      timeline = new VisibilityTimeline(view.changes, peeking);
      ranges = timeline.visibleRanges();
    }
    const page: MessagesPage = { chunk: [], start: streamTokenToString(from), end: null, state: [], federationFormat };
    if (to && (req.dir === 'f' ? isBeforeOrEq(to.room, from.room) : isBeforeOrEq(from.room, to.room))) return page;
    const rows = await this.repo.page(em, {
      roomId: req.roomId,
      dir: req.dir,
      from: from.room,
      to: to?.room ?? null,
      limit,
      filter,
      ranges,
      client: asAdmin ? null : { minOriginTs: this.retention.visibleSince(view.retention) },
    });
    if (rows.length === 0) return page;
    const last = rows[rows.length - 1];
    page.end = streamTokenToString(withRoomKey(from, historicToken(last.depth, req.dir === 'b' ? last.streamOrdering - 1 : last.streamOrdering)));
    const events = filter && !isNoop(filter) ? rows.filter((e) => matchesFilter(filter, e)) : rows;
    if (events.length === 0) return page;
    page.chunk = await this.present(em, reader, events, timeline);
    if (filter?.lazyLoadMembers) {
      const senders = [...new Set(events.map((e) => e.sender))];
      page.state = await this.rooms.serializeEvents(em, await this.repo.membersAt(em, req.roomId, senders, posOf(events[0])), { requester: reader });
    }
    return page;
  }

  /** The membership gate (spec §5.5 step 2); returns whether the user is peeking. */
  private checkMembership(view: RoomView, userId: string, roomId: string): boolean {
    const m = view.membership;
    if (m?.membership === 'join') return false;
    if (m?.membership === 'leave' && !m.forgotten) return false;
    // Anyone else may only preview a world-readable room (and is then "peeking").
    if (view.currentVisibility === 'world_readable') return true;
    throw forbidden(`User ${userId} not in room ${roomId}, and room previews are disabled`);
  }

  /** A departed user paginating backwards starts at their leave event at the latest (step 4). */
  private async clampToLeave(em: Em, roomId: string, from: StreamToken, view: RoomView): Promise<StreamToken> {
    const leave = view.changes.find((c) => c.eventId === view.membership?.eventId);
    if (!leave) return from;
    const current = from.room.topological ?? (await this.repo.depthAtStream(em, roomId, from.room.stream));
    return leave.depth < current ? withRoomKey(from, historicToken(leave.depth, leave.stream)) : from;
  }

  /** Serialises events with `unsigned.membership` (clients) and bundled aggregations. */
  private async present(em: Em, reader: Reader, events: StoredEvent[], timeline: VisibilityTimeline | null): Promise<EventView[]> {
    const [views, aggregations] = await Promise.all([this.rooms.serializeEvents(em, events, { requester: reader }), bundledAggregations(em, events, reader.userId)]);
    if (timeline) {
      views.forEach((v, i) => {
        const e = events[i];
        const own = e.type === 'm.room.member' && e.stateKey === reader.userId ? (typeof e.content.membership === 'string' ? e.content.membership : 'leave') : null;
        v.unsigned.membership = timeline.membershipAfter(posOf(e), own);
      });
    }
    await attachAggregations(em, this.rooms, views, aggregations, reader);
    return views;
  }

  /**
   * The events around an event, for admins (spec §2.13): 404 "Event not found." for unknown
   * events, 404 M_UNKNOWN "No row found (events)" for an event of another room.
   */
  async getContext(ctx: Ctx, reader: Reader, roomId: string, eventId: string, limit: number | null, filterJson: Json | null): Promise<EventContext> {
    const em = ctx.em;
    const filter = this.parseFilter(filterJson);
    const event = await this.rooms.getEvent(em, eventId);
    if (!event || event.rejectedReason !== null) throw new MatrixError(404, 'Event not found.', Codes.NOT_FOUND);
    if (event.roomId !== roomId) throw new MatrixError(404, 'No row found (events)', Codes.UNKNOWN);
    const total = Math.min(limit ?? DEFAULT_PAGE_LIMIT, 2 * MAX_PAGE_LIMIT);
    const beforeLimit = Math.floor(total / 2);
    const beforeFrom = historicToken(event.depth - 1, event.streamOrdering);
    const afterFrom = historicToken(event.depth, event.streamOrdering);
    const side = (dir: Dir, from: RoomStreamToken, n: number) => this.repo.page(em, { roomId, dir, from, to: null, limit: n, filter, ranges: null, client: null });
    const [before, after] = await Promise.all([side('b', beforeFrom, beforeLimit), side('f', afterFrom, total - beforeLimit)]);
    const start = before.length ? historicToken(before[before.length - 1].depth, before[before.length - 1].streamOrdering - 1) : beforeFrom;
    const end = after.length ? historicToken(after[after.length - 1].depth, after[after.length - 1].streamOrdering) : afterFrom;
    const keep = (list: StoredEvent[]) => (filter && !isNoop(filter) ? list.filter((e) => matchesFilter(filter, e)) : list);
    const eventsBefore = keep(before);
    const eventsAfter = keep(after);
    const lastEvent = eventsAfter.length ? eventsAfter[eventsAfter.length - 1] : event;
    const members = filter?.lazyLoadMembers ? [...new Set([...eventsBefore, event, ...eventsAfter].map((e) => e.sender))] : null;
    const state = keep(await this.rooms.getStateAtStream(em, roomId, lastEvent.streamOrdering, { memberKeys: members }));
    const all = await this.present(em, reader, [...eventsBefore, event, ...eventsAfter], null);
    return {
      eventsBefore: all.slice(0, eventsBefore.length),
      event: all[eventsBefore.length],
      eventsAfter: all.slice(eventsBefore.length + 1),
      state: await this.rooms.serializeEvents(em, state, { requester: reader }),
      start: streamTokenToString(withRoomKey(START_TOKEN, start)),
      end: streamTokenToString(withRoomKey(START_TOKEN, end)),
    };
  }
}

