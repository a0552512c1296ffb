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
 * - Filters, rejected/soft-failed events, hidden event types, ignored senders and retention-expired
 *   messages are excluded in SQL, so a page is short only when the room has nothing more to show.
 * - No lock is taken: a page is read by one statement, so it never shows a half-purged batch.
 */
import type { Ctx } from '../context';
import { MatrixError, Codes, forbidden } from '../errors';
import type { Em } from '../infra/orm';
import { pruneView, type EventView } from '../rooms/event.serializer';
import type { RoomService } from '../rooms/room.service';
import type { ClientReadService } from '../rooms/client-read.service';
import type { EventSerializer } from '../rooms/event.serializer';
import type { StoredEvent } from '../rooms/room.types';
import { isNoop, matchesFilter, parseRoomEventFilter, type RoomEventFilter } from './event-filter';
import { stateRowsAt, stateRowsAtComputed, type ExtrasOptions, type PageRow } from './page-rows';
import { PagePresenter } from './page-presenter';
import { OPEN_END, needsDepthLookup, planPage, samePlan, type PagePlan, type PlanInput } from './page-plan';
import { PaginationRepository, lastPagePosition, posOf, type Dir, type PageQuery, type RoomView } from './pagination.repository';
import type { RetentionService } from './retention.service';
import { parseChoiceParam, parseIntParam, parseJsonParam } from '../matrix/query-params';
import {
  START_TOKEN,
  historicToken,
  isBeforeOrEq,
  parseTokenParam,
  streamTokenToString,
  withRoomKey,
  type RoomStreamToken,
} from '../matrix/stream-token';
import { VisibilityTimeline, type Range } from './visibility';

/** Events per page when the request does not say. */
export const DEFAULT_PAGE_LIMIT = 10;
/** Largest page served; larger limits are capped silently, as Synapse does. */
export const MAX_PAGE_LIMIT = 1000;

type Json = Record<string, unknown>;

/**
 * A `/messages` request. Each parameter comes either typed or as the query parameter was given
 * (`*Param`, `filterJson`); the service checks them in Synapse's order: dir, from, to, limit, filter.
 */
export interface MessagesRequest {
  roomId: string;
  dir: Dir;
  /** The `dir` parameter as given; replaces `dir` when given. */
  dirParam?: string | null;
  from: string | null;
  to: string | null;
  limit: number | null;
  /** The `limit` parameter as given; replaces `limit` when given. */
  limitParam?: string | null;
  /** The filter as JSON text; replaces `filter` when given. */
  filterJson?: string | null;
  filter: Json | null;
  /** `raw` was given: federation format. */
  federationFormat: boolean;
}

/** The paging parameters of an event context, typed or as given (checked in this order). */
export interface ContextParams {
  limit: number | null;
  limitParam?: string | null;
  filterJson?: string | null;
  filter: Json | null;
}

const DIRS = ['b', 'f'] as const;
const limitOf = (limit: number | null, param: string | null | undefined): number | null =>
  param != null ? parseIntParam('limit', param) : limit;
const filterOf = (filter: Json | null, text: string | null | undefined): Json | null =>
  text != null ? (parseJsonParam('filter', text) ?? null) : filter;

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

/** Remembered room views (per requester and room) used to start page queries early. */
const MAX_VIEW_HINTS = 10_000;
/** State events carry no bundled aggregations, and clients see no DAG fields. */
const STATE_EXTRAS: ExtrasOptions = { dagFields: false, aggregationsFor: null };
const EMPTY_VIEW: RoomView = {
  exists: true,
  maxDepth: 0,
  maxStream: 0,
  membership: null,
  currentVisibility: null,
  retention: null,
  changes: [],
  ignored: [],
};

/**
 * The early read's rows when the current plan reads the same rows: same plan, or the early read
 * ran to the open end of the room and found nothing past the end the current view knows.
 */
async function reusableRows(early: { plan: PagePlan; rows: Promise<PageRow[]> }, plan: PagePlan, dir: Dir): Promise<PageRow[] | null> {
  if (samePlan(early.plan, plan)) return early.rows;
  if (early.plan.from.room !== OPEN_END || !samePlan({ ...early.plan, from: plan.from }, plan)) return null;
  const rows = await early.rows;
  const end = plan.from.room;
  const beyond = (r: PageRow) =>
    end.topological === null || r.depth > end.topological || (r.depth === end.topological && r.streamOrdering > end.stream);
  return dir === 'b' && rows.some(beyond) ? null : rows;
}

export class PaginationService {
  private readonly repo = new PaginationRepository();
  private readonly viewHints = new Map<string, RoomView>();
  private readonly presenter: PagePresenter;

  constructor(
    private readonly rooms: RoomService,
    private readonly clientReads: ClientReadService,
    serializer: EventSerializer,
    private readonly retention: RetentionService,
    private readonly opts: { msc3874Enabled: boolean },
  ) {
    this.presenter = new PagePresenter(serializer);
  }

  /** Parses a RoomEventFilter JSON object (400 M_BAD_JSON for wrongly-typed fields). */
  parseFilter(json: Json | null): RoomEventFilter | null {
    return json ? parseRoomEventFilter(json, { msc3874Enabled: this.opts.msc3874Enabled }) : null;
  }

  /**
   * A page of the room's timeline. Clients: 403 "User <u> not in room <r>, and room previews are
   * disabled" unless joined, departed (and not forgotten) or the room is world-readable; events
   * filtered by history visibility and retention. Admins (`asAdmin`): no gate, no visibility.
   * Throws 400 for bad parameters, in Synapse's order (see MessagesRequest).
   */
  async getMessages(ctx: Ctx, reader: Reader, req: MessagesRequest, asAdmin: boolean): Promise<MessagesPage> {
    const em = ctx.em;
    const dir = req.dirParam != null ? parseChoiceParam('dir', req.dirParam, DIRS) : req.dir;
    const given = parseTokenParam(req.from, 'from');
    const to = parseTokenParam(req.to, 'to');
    const limit = Math.min(limitOf(req.limit, req.limitParam) ?? DEFAULT_PAGE_LIMIT, MAX_PAGE_LIMIT);
    const filter = this.parseFilter(filterOf(req.filter, req.filterJson));
    const federationFormat = req.federationFormat || (filter?.federationFormat ?? false);
    const extras: ExtrasOptions = { dagFields: federationFormat, aggregationsFor: reader.userId };
    const read = (plan: PagePlan): Promise<PageRow[]> => {
      if (to && (dir === 'f' ? isBeforeOrEq(to.room, plan.from.room) : isBeforeOrEq(plan.from.room, to.room))) return Promise.resolve([]);
      const client = asAdmin ? null : { minOriginTs: plan.minOriginTs, ignoredSenders: plan.ignored };
      return this.repo.page(
        em,
        { roomId: req.roomId, dir, from: plan.from.room, to: to?.room ?? null, limit, filter, ranges: plan.ranges, client },
        extras,
      );
    };
    const { plan, rows } = await this.readPage(
      em,
      { userId: reader.userId, roomId: req.roomId, dir, given, asAdmin, minOriginTs: null },
      read,
    );
    const page: MessagesPage = { chunk: [], start: streamTokenToString(plan.from), end: null, state: [], federationFormat };
    if (rows.length === 0) return page;
    const last = rows[rows.length - 1];
    page.end = streamTokenToString(
      withRoomKey(plan.from, historicToken(last.depth, dir === 'b' ? last.streamOrdering - 1 : last.streamOrdering)),
    );
    const events = filter && !isNoop(filter) ? rows.filter((e) => matchesFilter(filter, e)) : rows;
    if (events.length === 0) return page;
    page.chunk = this.present(reader, events, plan.timeline);
    if (filter?.lazyLoadMembers) {
      const senders = [...new Set(events.map((e) => e.sender))];
      page.state = await this.rooms.serializeEvents(em, await this.repo.membersAt(em, req.roomId, senders, posOf(events[0])), {
        requester: reader,
      });
    }
    return page;
  }

  /**
   * Plans and reads the page. The page query is started at once from the plan the requester's
   * previous view of the room gives (admins need no view), in parallel with loading the current
   * view; its rows are used only if the current view plans exactly the same read.
   */
  private async readPage(
    em: Em,
    input: PlanInput,
    read: (plan: PagePlan) => Promise<PageRow[]>,
  ): Promise<{ plan: PagePlan; rows: PageRow[] }> {
    const now = this.retention.now();
    const key = `${input.asAdmin ? '' : input.userId}\u0000${input.roomId}`;
    const hint = input.asAdmin ? EMPTY_VIEW : this.viewHints.get(key);
    let early: { plan: PagePlan; rows: Promise<PageRow[]> } | null = null;
    if (hint && !needsDepthLookup(hint, input, input.given ?? START_TOKEN)) {
      try {
        const plan = planPage(
          hint,
          { ...input, minOriginTs: input.asAdmin ? null : this.retention.visibleSince(hint.retention, now) },
          OPEN_END,
        );
        early = { plan, rows: read(plan) };
        early.rows.catch(() => undefined);
      } catch {
        // The remembered view refuses the user: decide from the current one.
      }
    }
    if (input.asAdmin && input.given && early) return { plan: early.plan, rows: await early.rows };
    const view = await this.repo.loadRoomView(em, input.roomId, input.asAdmin ? null : input.userId);
    const from = input.given ?? START_TOKEN;
    const depthAtFrom = needsDepthLookup(view, input, from) ? await this.repo.depthAtStream(em, input.roomId, from.room.stream) : null;
    const plan = planPage(
      view,
      { ...input, minOriginTs: input.asAdmin ? null : this.retention.visibleSince(view.retention, now) },
      historicToken(view.maxDepth, view.maxStream),
      depthAtFrom,
    );
    if (!input.asAdmin) this.rememberView(key, view);
    if (early) {
      const reusable = await reusableRows(early, plan, input.dir);
      if (reusable) return { plan, rows: reusable };
    }
    return { plan, rows: await read(plan) };
  }

  private rememberView(key: string, view: RoomView): void {
    this.viewHints.delete(key);
    this.viewHints.set(key, view);
    if (this.viewHints.size > MAX_VIEW_HINTS) this.viewHints.delete(this.viewHints.keys().next().value as string);
  }

  /**
   * Presents rows with bundled aggregations and, for clients, `unsigned.membership`; an erased
   * sender's event is pruned for a client who was not joined when it was sent (spec §5.7 step 7).
   */
  private present(reader: Reader, rows: PageRow[], timeline: VisibilityTimeline | null): EventView[] {
    const views = this.presenter.present(rows, reader);
    if (timeline) {
      views.forEach((v, i) => {
        const e = rows[i];
        const own =
          e.type === 'm.room.member' && e.stateKey === reader.userId
            ? typeof e.content.membership === 'string'
              ? e.content.membership
              : 'leave'
            : null;
        v.unsigned.membership = timeline.membershipAfter(posOf(e), own);
        if (e.erasedSenderRoomVersion !== null && v.unsigned.membership !== 'join') pruneView(v, e.erasedSenderRoomVersion, e);
      });
    }
    return views;
  }

  /**
   * The events around an event. Admins (spec §2.13, `asAdmin`) see everything. Clients (Synapse's
   * RoomEventContextServlet): 403 "You don't have permission to access that event." when the event
   * is hidden from them (as `GET /event` decides: history visibility with "peeking" for anyone not
   * joined now, ignored senders, retention); the events around it are read inside the ranges they
   * may see, without ignored senders' messages or expired ones, so each side keeps its full size
   * where Synapse filters after fetching. Both: 404 "Event not found." for unknown events, 404
   * M_UNKNOWN "No row found (events)" for an event of another room.
   */
  async getContext(
    ctx: Ctx,
    reader: Reader,
    roomId: string,
    eventId: string,
    params: ContextParams,
    asAdmin = true,
  ): Promise<EventContext> {
    const em = ctx.em;
    const limit = limitOf(params.limit, params.limitParam);
    const filter = this.parseFilter(filterOf(params.filter, params.filterJson));
    const extras: ExtrasOptions = { dagFields: false, aggregationsFor: reader.userId };
    // A client's view of the room is read beside the event and its visibility; the errors keep their order.
    const sighting = asAdmin ? null : this.clientSight(em, reader.userId, roomId);
    sighting?.catch(() => undefined);
    const read = asAdmin
      ? (await this.repo.eventsById(em, [eventId], extras)).map((row) => ({ row, visible: true }))[0]
      : await this.clientReads.readEvent(em, reader.userId, eventId, extras);
    const event = read?.row;
    if (!event || event.rejectedReason !== null) throw new MatrixError(404, 'Event not found.', Codes.NOT_FOUND);
    if (!read.visible) throw forbidden("You don't have permission to access that event.");
    if (event.roomId !== roomId) throw new MatrixError(404, 'No row found (events)', Codes.UNKNOWN);
    const sight = await sighting;
    const total = Math.min(limit ?? DEFAULT_PAGE_LIMIT, 2 * MAX_PAGE_LIMIT);
    const beforeLimit = Math.floor(total / 2);
    const beforeFrom = historicToken(event.depth - 1, event.streamOrdering);
    const afterFrom = historicToken(event.depth, event.streamOrdering);
    const sideQuery = (dir: Dir, from: RoomStreamToken, n: number): PageQuery => ({
      roomId,
      dir,
      from,
      to: null,
      limit: n,
      filter,
      ranges: sight?.ranges ?? null,
      client: sight?.client ?? null,
    });
    const afterQuery = sideQuery('f', afterFrom, total - beforeLimit);
    // The state after the last event shown is read beside the two sides, at the position of the
    // last event the forward side reads (the statement finds it itself). Lazy-loaded members
    // depend on the senders both sides return, so they wait for them.
    const afterEnd = filter?.lazyLoadMembers ? null : lastPagePosition(afterQuery, event.streamOrdering);
    const earlyState = afterEnd ? stateRowsAtComputed(em, roomId, afterEnd, STATE_EXTRAS) : null;
    earlyState?.catch(() => undefined);
    const [before, after] = await Promise.all([
      this.repo.page(em, sideQuery('b', beforeFrom, beforeLimit), extras),
      this.repo.page(em, afterQuery, extras),
    ]);
    const start = before.length ? historicToken(before[before.length - 1].depth, before[before.length - 1].streamOrdering - 1) : beforeFrom;
    const end = after.length ? historicToken(after[after.length - 1].depth, after[after.length - 1].streamOrdering) : afterFrom;
    const keep = <T extends StoredEvent>(list: T[]) => (filter && !isNoop(filter) ? list.filter((e) => matchesFilter(filter, e)) : list);
    const eventsBefore = keep(before);
    const eventsAfter = keep(after);
    const lastEvent = eventsAfter.length ? eventsAfter[eventsAfter.length - 1] : event;
    const members = filter?.lazyLoadMembers ? [...new Set([...eventsBefore, event, ...eventsAfter].map((e) => e.sender))] : null;
    // The early read stands when it was read at the last event shown (the forward side may have
    // read other rows than the statement saw if the room changed in between, and the filter
    // checked again here may drop the side's last rows).
    const early = earlyState && (await earlyState);
    const state = keep(
      early && early.at === lastEvent.streamOrdering
        ? early.rows
        : await stateRowsAt(em, roomId, lastEvent.streamOrdering, { memberKeys: members }, STATE_EXTRAS),
    );
    const all = this.present(reader, [...eventsBefore, event, ...eventsAfter], sight?.timeline ?? null);
    const now = Date.now();
    return {
      eventsBefore: all.slice(0, eventsBefore.length),
      event: all[eventsBefore.length],
      eventsAfter: all.slice(eventsBefore.length + 1),
      state: state.map((r) => this.presenter.view(r, now, reader)),
      start: streamTokenToString(withRoomKey(START_TOKEN, start)),
      end: streamTokenToString(withRoomKey(START_TOKEN, end)),
    };
  }

  /**
   * What a client may see of a room outside `/messages`' membership gate: Synapse filters each
   * event with "peeking" for anyone not joined now (a departed user included).
   */
  private async clientSight(
    em: Em,
    userId: string,
    roomId: string,
  ): Promise<{ ranges: Range[]; timeline: VisibilityTimeline; client: PageQuery['client'] }> {
    const view = await this.repo.loadRoomView(em, roomId, userId);
    const timeline = new VisibilityTimeline(view.changes, view.membership?.membership !== 'join');
    return {
      ranges: timeline.visibleRanges(),
      timeline,
      client: { minOriginTs: this.retention.visibleSince(view.retention), ignoredSenders: view.ignored },
    };
  }
}
