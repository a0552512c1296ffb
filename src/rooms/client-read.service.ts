/**
 * Reads of the client API, gated as Synapse gates them: current members see current state;
 * users who left (and did not forget) see the state as of their leave; anyone may preview a
 * world-readable room; everyone else gets 403.
 */
import { refuseGuest, type Requester } from '../context';
import type { Config } from '../config';
import { Codes, MatrixError, badRequest, echo, forbidden, notFound } from '../errors';
import { parseChoiceParam, parseIntParam } from '../matrix/query-params';
import { findEventAtTimestamp, type EventAtTimestamp } from './timestamp-lookup';
import type { Em } from '../infra/orm';
import { currentStateRows, pageRowWithSight, sightOf, type ExtrasOptions, type PageRow, type SightRow } from '../pagination/page-rows';
import { PagePresenter } from '../pagination/page-presenter';
import { InvalidTokenError, parseStreamToken, maxStreamPos, type StreamToken } from '../matrix/stream-token';
import { EventRepository } from './event.repository';
import { pruneView, type EventSerializer, type EventView } from './event.serializer';
import { isEventVisible } from './event-visibility';
import { RoomRepository } from './room.repository';
import type { JoinedMember, Json, StoredEvent } from './room.types';

export interface RoomAccess {
  /** 'join' when peeking a world-readable room too. */
  membership: 'join' | 'leave';
  /** The user's own member event (null when peeking). */
  memberEventId: string | null;
}

export interface MembersQuery {
  at?: string;
  membership?: string;
  notMembership?: string;
}

export class ClientReadService {
  private readonly presenter: PagePresenter;

  constructor(
    private readonly config: Config,
    private readonly serializer: EventSerializer,
    private readonly rooms = new RoomRepository(),
    private readonly events = new EventRepository(),
  ) {
    this.presenter = new PagePresenter(serializer);
  }

  /**
   * Synapse's check_user_in_room_or_world_readable: joined users, departed users (when allowed
   * and not forgotten) and previews of world-readable rooms pass; otherwise 403 "User <u> not in
   * room <r>, and room previews are disabled".
   */
  async access(em: Em, userId: string, roomId: string, allowDeparted: boolean): Promise<RoomAccess> {
    const m = await this.rooms.getLocalMembership(em, roomId, userId);
    if (m?.membership === 'join') return { membership: 'join', memberEventId: m.eventId };
    if (allowDeparted && m?.membership === 'leave' && !m.forgotten) return { membership: 'leave', memberEventId: m.eventId };
    const hv = await this.events.getStateEvent(em, roomId, 'm.room.history_visibility', '');
    if (hv?.content.history_visibility === 'world_readable') return { membership: 'join', memberEventId: null };
    throw forbidden(`User ${echo(userId)} not in room ${echo(roomId)}, and room previews are disabled`);
  }

  /** The state visible to the user (current, or as of their leave). */
  private async visibleState(em: Em, userId: string, roomId: string, filter: { types?: string[] } = {}): Promise<StoredEvent[]> {
    const a = await this.access(em, userId, roomId, true);
    if (a.membership === 'join') {
      if (filter.types?.length === 1) return this.events.getCurrentState(em, roomId, filter.types[0]);
      return this.events.getCurrentState(em, roomId);
    }
    const leave = await this.events.getEvent(em, a.memberEventId as string);
    if (!leave) return [];
    return this.events.getStateAt(em, roomId, leave.streamOrdering, { types: filter.types ?? null });
  }

  /**
   * `GET /rooms/{roomId}/state`. `dagFields`: the events carry prev_events and auth_events (typed
   * answers); the client format never shows them, so its body need not read them.
   */
  async getRoomState(em: Em, requester: Requester, roomId: string, dagFields = true): Promise<EventView[]> {
    const current = await this.currentState(em, requester, roomId, null, null, dagFields);
    if (current) return this.views(current, requester);
    return this.serializer.serialize(em, await this.visibleState(em, requester.userId, roomId), { requester });
  }

  /**
   * The current state (optionally of one type, and one key of it) as page rows, read in one statement when the user
   * is joined or previews the room; null when they see the state as of their leave instead.
   */
  private async currentState(
    em: Em,
    requester: Requester,
    roomId: string,
    type: string | null,
    stateKey: string | null,
    dagFields: boolean,
  ): Promise<PageRow[] | null> {
    const a = await this.access(em, requester.userId, roomId, true);
    if (a.membership !== 'join') return null;
    return currentStateRows(em, roomId, type, { dagFields, aggregationsFor: null }, stateKey);
  }

  private views(rows: PageRow[], requester: Requester): EventView[] {
    const now = Date.now();
    return rows.map((r) => this.presenter.view(r, now, requester));
  }

  /** `GET /rooms/{roomId}/state/{type}/{stateKey}`: 404 "Event not found." when absent. */
  async getStateEvent(em: Em, requester: Requester, roomId: string, type: string, stateKey: string): Promise<EventView> {
    const current = await this.currentState(em, requester, roomId, type, stateKey, true);
    if (current) {
      const row = current.find((e) => e.stateKey === stateKey);
      if (!row) throw notFound('Event not found.');
      return this.views([row], requester)[0];
    }
    const state = await this.visibleState(em, requester.userId, roomId, { types: [type] });
    const hit = state.find((e) => e.type === type && e.stateKey === stateKey);
    if (!hit) throw notFound('Event not found.');
    return (await this.serializer.serialize(em, [hit], { requester }))[0];
  }

  /**
   * `GET /_matrix/client/v1/rooms/{roomId}/timestamp_to_event`, in Synapse's order: the caller must be
   * joined (or the room world-readable), then `ts` (required integer) and `dir` (`f` by default) are
   * checked; 404 when no event lies in that direction.
   */
  async timestampToEvent(
    em: Em,
    requester: Requester,
    roomId: string,
    tsParam: string | null,
    dirParam: string | null,
  ): Promise<EventAtTimestamp> {
    await this.access(em, requester.userId, roomId, false);
    if (tsParam === null) throw new MatrixError(400, 'Missing required integer query parameter ts', Codes.MISSING_PARAM);
    const ts = parseIntParam('ts', tsParam);
    const dir = dirParam === null ? 'f' : parseChoiceParam('dir', dirParam, ['f', 'b'] as const);
    return findEventAtTimestamp(em, roomId, ts, dir);
  }

  /**
   * `GET /rooms/{roomId}/event/{eventId}`: the event if it is in this room and visible to the
   * user (history visibility, retention); 404 "Event not found." otherwise.
   */
  async getEvent(em: Em, requester: Requester, roomId: string, eventId: string): Promise<EventView> {
    // The row /messages presents, bundled aggregations included (Synapse bundles them here too).
    const read = await this.readEvent(em, requester.userId, eventId, { dagFields: false, aggregationsFor: requester.userId });
    const e = read?.row;
    const seen = e && e.roomId === roomId ? read : null;
    if (!e || !seen?.visible) throw notFound('Event not found.');
    const [view] = this.presenter.present([e], requester);
    // The requester's membership after the event (spec §5.7 step 8): their own member event's,
    // else the state's (an out-of-band membership has no state: it is always their own event).
    const own = e.type === 'm.room.member' && e.stateKey === requester.userId;
    view.unsigned.membership = own
      ? typeof e.content.membership === 'string'
        ? e.content.membership
        : 'leave'
      : (seen.membership ?? 'leave');
    // An erased sender's event is pruned for a user who was not joined when it was sent (spec §5.7 step 7).
    if (seen.membership !== 'join' && e.erasedSenderRoomVersion !== null) pruneView(view, e.erasedSenderRoomVersion, e);
    return view;
  }

  /**
   * One event as a page row, with whether it passes the client visibility rules for the user and
   * the user's membership after it (null when none), in one statement; null when it is not stored.
   */
  async readEvent(
    em: Em,
    userId: string,
    eventId: string,
    extras: ExtrasOptions,
  ): Promise<{ row: PageRow; visible: boolean; membership: string | null } | null> {
    const read = await pageRowWithSight(em, eventId, userId, extras);
    return read && { row: read.row, ...this.decide(userId, read.row, read.row.prevContent, read.sight) };
  }

  /** Whether one stored event passes the client visibility rules for the user (one statement). */
  async canSee(em: Em, userId: string, e: StoredEvent): Promise<boolean> {
    const sight = await sightOf(em, e.eventId, userId);
    return sight !== null && this.decide(userId, e, sight.prev_content, sight).visible;
  }

  /** The visibility decision for one event, with the user's membership after it (null when none). */
  private decide(userId: string, e: StoredEvent, prev: Json | null, s: SightRow): { visible: boolean; membership: string | null } {
    const retention = this.config.retention;
    const membership = typeof s.sight_membership === 'string' ? s.sight_membership : null;
    const visible = isEventVisible(e, userId, {
      senderIgnored: s.sight_ignored,
      visibility: typeof s.sight_visibility === 'string' ? s.sight_visibility : null,
      previousVisibility: typeof prev?.history_visibility === 'string' ? prev.history_visibility : null,
      membership,
      previousMembership: typeof prev?.membership === 'string' ? prev.membership : null,
      peeking: s.sight_local !== 'join',
      maxLifetimeMs: retention.enabled
        ? s.sight_max_lifetime !== null
          ? Number(s.sight_max_lifetime)
          : retention.defaultMaxLifetimeMs
        : null,
      now: Date.now(),
    });
    return { visible, membership };
  }

  /**
   * `GET /rooms/{roomId}/members`: member events visible to the user, optionally as of a stream
   * token (`at`) and filtered by membership. 404/403 as Synapse for tokens it cannot serve.
   */
  async getMembers(em: Em, requester: Requester, roomId: string, q: MembersQuery, dagFields = true): Promise<EventView[]> {
    const wanted = (e: StoredEvent) => {
      const m = e.content.membership;
      return !(q.membership && m !== q.membership) && !(q.notMembership && m === q.notMembership);
    };
    // A member (or a previewer) reads the current members with what presents them in one statement.
    const current = q.at === undefined ? await this.currentState(em, requester, roomId, 'm.room.member', null, dagFields) : null;
    if (current) return this.views(current.filter(wanted), requester);
    let events: StoredEvent[];
    if (q.at !== undefined) {
      const token = parseAt(q.at);
      const last = await this.events.getLastEventBefore(em, roomId, token.room.topological, maxStreamPos(token.room));
      if (!last) throw notFound(`Can't find event for token ${echo(q.at)}`);
      if (!(await this.canSee(em, requester.userId, last)))
        throw forbidden(`User ${echo(requester.userId)} not allowed to view events in room ${echo(roomId)} at token ${echo(q.at)}`);
      events = await this.events.getStateAt(em, roomId, last.streamOrdering, { types: ['m.room.member'] });
    } else events = await this.visibleState(em, requester.userId, roomId, { types: ['m.room.member'] });
    return this.serializer.serialize(em, events.filter(wanted), { requester });
  }

  /** `GET /rooms/{roomId}/joined_members`: only for current members (403 otherwise). */
  async getJoinedMembers(em: Em, requester: Requester, roomId: string): Promise<JoinedMember[]> {
    const a = await this.access(em, requester.userId, roomId, true);
    if (a.membership !== 'join') {
      throw forbidden('Getting joined members while not being a current member of the room is forbidden.');
    }
    return this.rooms.getJoinedMembers(em, roomId);
  }

  /**
   * `GET /rooms/{roomId}/aliases`: no guests; server admins always (an unknown room is `[]`), other users as
   * current members or previewers of a world-readable room, as in Synapse.
   */
  async getAliases(em: Em, requester: Requester, roomId: string): Promise<string[]> {
    refuseGuest(requester);
    if (!requester.isAdmin) await this.access(em, requester.userId, roomId, false);
    return this.rooms.getAliasesForRoom(em, roomId);
  }
}

function parseAt(at: string): StreamToken {
  try {
    return parseStreamToken(at);
  } catch (err) {
    if (err instanceof InvalidTokenError) throw badRequest(`Invalid stream token '${echo(at)}'`);
    throw err;
  }
}
