/**
 * RoomService: rooms, events, membership and the directory, for the client API handlers and for
 * other domains. Every method takes the caller's EntityManager first; every event is written by
 * the one EventPersister. Built with its collaborators by createRooms (rooms.ts).
 */
import { othersRedactionError } from './restrictions';
import { Codes, MatrixError, badRequest, echo, forbidden, notFound } from '../errors';
import { isValidAlias, randomLetters } from '../matrix/ids';
import type { Em } from '../infra/orm';
import { type EventPersister, UnknownRoomError, type EventDraft, type PersistedEvent, type RoomBatch } from './event-persister';
import { checkRedaction, requireJoined, validateCanonicalAlias, validateRelation } from './send-checks';
import type { ImportService, ImportedRoom, ImportedRoomResult, ImportOptions } from './import.service';
import type { EventRepository } from './event.repository';
import type { EventSerializer, EventView, SerializeOptions } from './event.serializer';
import { validateNewEvent } from './event-validator';
import type { DirectoryService, DirectoryActor } from './directory.service';
import type { MembershipService } from './membership.service';
import { isLocalUser, planRoom, validateCreateRoom } from './room-creation';
import type { RoomRepository } from './room.repository';
import { loadProfiles, withProfile } from './profile';
import { txnOf } from './txn';
import type {
  AliasInfo,
  BlockInfo,
  CreateRoomOptions,
  CreateRoomResult,
  Json,
  JoinedMember,
  MembershipAction,
  MembershipInfo,
  MembershipOptions,
  RoomInfo,
  SendEventInput,
  SendEventResult,
  SenderSession,
  StoredEvent,
} from './room.types';

/** Length of the random part of generated room ids (Synapse's). */
const ROOM_ID_LETTERS = 18;
/** Versions from which event content must be canonical JSON (no floats, bounded integers). */
const STRICT_CANONICAL_JSON_FROM = 6;

export interface RoomServiceDeps {
  serverName: string;
  persister: EventPersister;
  serializer: EventSerializer;
  directory: DirectoryService;
  membership: MembershipService;
  importer: ImportService;
  rooms: RoomRepository;
  events: EventRepository;
}

export class RoomService {
  private readonly persister: EventPersister;
  private readonly serializer: EventSerializer;
  private readonly directory: DirectoryService;
  private readonly membership: MembershipService;
  private readonly importer: ImportService;
  private readonly rooms: RoomRepository;
  private readonly events: EventRepository;

  constructor(private readonly d: RoomServiceDeps) {
    this.persister = d.persister;
    this.serializer = d.serializer;
    this.directory = d.directory;
    this.membership = d.membership;
    this.importer = d.importer;
    this.rooms = d.rooms;
    this.events = d.events;
  }

  get serverName(): string {
    return this.d.serverName;
  }

  /**
   * Creates a room as `creatorUserId` with Synapse's initial events (a public room by one user:
   * create, join, power levels, join rules, history visibility; then alias/guest access/initial
   * state/name/topic/invites as asked). Atomic: the room exists with all of them or not at all.
   * Throws 400 (unsupported version M_UNSUPPORTED_ROOM_VERSION, bad preset M_BAD_JSON, bad alias,
   * alias taken M_ROOM_IN_USE, bad invitee, bad initial state content).
   */
  async createRoom(em: Em, creatorUserId: string, options: CreateRoomOptions = {}): Promise<CreateRoomResult> {
    const { version, alias } = validateCreateRoom(creatorUserId, options, this.d.serverName);
    if (alias && (await this.rooms.getAlias(em, alias))) throw new MatrixError(400, 'Room alias already taken', Codes.ROOM_IN_USE);
    const roomId = `!${randomLetters(ROOM_ID_LETTERS)}:${this.d.serverName}`;
    const locals = [creatorUserId, ...(options.invite ?? [])].filter((u) => isLocalUser(u, this.d.serverName));
    const profiles = await loadProfiles(em, locals);
    const profile = (userId: string): Json => withProfile({}, profiles.get(userId));
    const plan = planRoom(creatorUserId, options, version, alias, options.creatorJoinProfile ?? profile(creatorUserId));
    const drafts: EventDraft[] = plan.events.map((e) => {
      const content =
        e.type === 'm.room.member' && e.content.membership === 'invite' ? { ...profile(e.stateKey), ...e.content } : e.content;
      const draft = { type: e.type, stateKey: e.stateKey, sender: creatorUserId, content };
      validateNewEvent({ roomId, ...draft }, Number(version.identifier) >= STRICT_CANONICAL_JSON_FROM);
      return draft;
    });
    const batch: RoomBatch = {
      roomId,
      newRoom: { roomVersion: version.identifier, isPublic: plan.isPublic },
      drafts,
      aliases: alias ? [{ alias, creator: creatorUserId }] : [],
    };
    await this.persister.persist(em, [batch]);
    return alias ? { roomId, roomAlias: alias } : { roomId };
  }

  /**
   * Sends an event as a local user who is joined to the room. State events of type
   * m.room.member go through updateMembership. Idempotent per (sender, device-or-token, txnId);
   * a state event identical to the current one (same sender and content) returns the current
   * one. Throws 403 "User <u> not in room <r>" (also for unknown rooms), 400 for invalid content
   * (including m.room.retention, spec §8.2) and bad relations, 403/404 for refused redactions,
   * and the auth rules' 403s.
   */
  async sendEvent(em: Em, senderUserId: string, roomId: string, input: SendEventInput): Promise<SendEventResult> {
    const stateKey = input.stateKey ?? null;
    if (input.type === 'm.room.member' && stateKey !== null) return this.sendMemberState(em, senderUserId, roomId, stateKey, input);
    const content = input.content ?? {};
    const shape = { roomId, type: input.type, stateKey, sender: senderUserId, content };
    await validateRelation(this.events, em, roomId, senderUserId, input.type, content);
    if (input.type === 'm.room.canonical_alias' && stateKey === '') await this.checkCanonicalAlias(em, roomId, content);
    const target = input.type === 'm.room.redaction' ? await this.redactionTarget(em, input) : null;
    if (input.onlyOwnRedactions && target && target.sender !== senderUserId) throw othersRedactionError();
    const draft: EventDraft = {
      ...shape,
      redacts: input.redacts ?? null,
      txn: txnOf(input),
      dedupeState: stateKey !== null && !input.allowDuplicateState,
      precheck: (state, version) => {
        requireJoined(state, senderUserId, roomId);
        validateNewEvent(shape, Number(version.identifier) >= STRICT_CANONICAL_JSON_FROM);
        if (input.type === 'm.room.redaction') checkRedaction(version, { ...shape, redacts: input.redacts ?? null }, state, target);
      },
    };
    return this.persistOne(em, roomId, draft, () => forbidden(`User ${echo(senderUserId)} not in room ${echo(roomId)}`));
  }

  /**
   * Redacts `eventId` as `senderUserId` (an m.room.redaction with an optional reason). Same errors
   * as sendEvent, plus 403 "Redacting create events is not permitted" and 400 for another room's
   * event.
   */
  async redactEvent(
    em: Em,
    senderUserId: string,
    roomId: string,
    eventId: string,
    opts: SenderSession & { reason?: string; txnId?: string | null; content?: Json; onlyOwnRedactions?: boolean } = {},
  ): Promise<SendEventResult> {
    const room = await this.rooms.getRoom(em, roomId);
    const content: Json = { ...(opts.content ?? {}) };
    if (opts.reason !== undefined) content.reason = opts.reason;
    if (room && Number(room.roomVersion) >= 11) content.redacts = eventId;
    return this.sendEvent(em, senderUserId, roomId, {
      type: 'm.room.redaction',
      content,
      redacts: eventId,
      txnId: opts.txnId,
      deviceId: opts.deviceId,
      tokenId: opts.tokenId,
      onlyOwnRedactions: opts.onlyOwnRedactions,
    });
  }

  /**
   * Changes a membership ('kick'/'unban' produce leave events). Blocked rooms refuse join, invite
   * and knock with 403 M_UNKNOWN "This room has been blocked on this server". See
   * MembershipService.update for the other errors.
   */
  updateMembership(
    em: Em,
    actorUserId: string,
    targetUserId: string,
    roomId: string,
    action: MembershipAction,
    opts: MembershipOptions = {},
  ): Promise<SendEventResult> {
    return this.membership.update(em, actorUserId, targetUserId, roomId, action, opts);
  }

  /**
   * Membership change on a room given by id or alias (`/join/{idOrAlias}`, `/knock/{idOrAlias}`):
   * resolves the alias first (404 "Room alias <a> not found", 400 "<x> was not legal room ID or
   * room alias"). Returns the room id with the result.
   */
  async updateMembershipByIdOrAlias(
    em: Em,
    actorUserId: string,
    targetUserId: string,
    roomIdOrAlias: string,
    action: MembershipAction,
    opts: MembershipOptions = {},
  ): Promise<SendEventResult & { roomId: string }> {
    const roomId = await this.directory.resolveRoomIdOrAlias(em, roomIdOrAlias);
    return { ...(await this.membership.update(em, actorUserId, targetUserId, roomId, action, opts)), roomId };
  }

  /**
   * Deactivation: the user leaves every room they are joined to, and withdraws every invite and
   * knock, one leave event per room. A room that refuses (it was deleted meanwhile) is skipped.
   * Returns the rooms left.
   */
  async partUser(em: Em, userId: string): Promise<string[]> {
    const parted: string[] = [];
    for (const roomId of await this.rooms.getActiveRoomIds(em, userId)) {
      try {
        await this.membership.update(em, userId, userId, roomId, 'leave');
        parted.push(roomId);
      } catch (err) {
        if (!(err instanceof MatrixError)) throw err;
      }
    }
    return parted;
  }

  /**
   * A local user's global profile changed: writes a join with the new profile into every room the
   * user is joined to, as Synapse does (a join identical to the current one is not repeated). A
   * room that refuses (blocked, deleted meanwhile) is skipped, as Synapse logs and skips it.
   * Returns the rooms written to.
   */
  async propagateProfile(em: Em, userId: string): Promise<string[]> {
    const updated: string[] = [];
    for (const roomId of await this.rooms.getJoinedRoomIds(em, userId)) {
      try {
        await this.membership.update(em, userId, userId, roomId, 'join');
        updated.push(roomId);
      } catch (err) {
        if (!(err instanceof MatrixError)) throw err;
      }
    }
    return updated;
  }

  /**
   * Forgets a room the user left or was banned from (400 "User <u> in room <r>" otherwise); may
   * schedule the forgotten-room purge (see MembershipService.forget).
   */
  forgetRoom(em: Em, userId: string, roomId: string, opts: { scheduleForgottenPurge: boolean }): Promise<void> {
    return this.membership.forget(em, userId, roomId, opts);
  }

  /**
   * Persists pre-built batches through the one write path (internal callers: bulk import,
   * shutdown). Returns one result per draft. Throws UnknownRoomError or the rules' MatrixErrors.
   */
  persistBatches(em: Em, batches: RoomBatch[]): Promise<PersistedEvent[][]> {
    return this.persister.persist(em, batches);
  }

  /**
   * Bulk import of many rooms' events in one atomic, set-based call through the same rules and
   * write path as sends (see ImportService.importRooms for the input and errors).
   */
  importRooms(em: Em, rooms: ImportedRoom[], opts: ImportOptions = {}): Promise<ImportedRoomResult[]> {
    return this.importer.importRooms(em, rooms, opts);
  }

  // ---- reads ----

  /** The room row, or null. */
  getRoom(em: Em, roomId: string): Promise<RoomInfo | null> {
    return this.rooms.getRoom(em, roomId);
  }

  /** An event by id (any room), or null. */
  getEvent(em: Em, eventId: string): Promise<StoredEvent | null> {
    return this.events.getEvent(em, eventId);
  }

  /** Events by id (missing ones skipped). */
  getEvents(em: Em, eventIds: string[]): Promise<StoredEvent[]> {
    return this.events.getEvents(em, eventIds);
  }

  /** The room's current state (optionally one type), sorted by type and state key. */
  getCurrentState(em: Em, roomId: string, type?: string): Promise<StoredEvent[]> {
    return this.events.getCurrentState(em, roomId, type);
  }

  /** The current state event for (type, stateKey), or null. */
  getStateEvent(em: Em, roomId: string, type: string, stateKey = ''): Promise<StoredEvent | null> {
    return this.events.getStateEvent(em, roomId, type, stateKey);
  }

  /**
   * The state of the room just after `eventId` (inclusive). `types`/`memberKeys` narrow it (see
   * EventRepository.getStateAt). Throws 404 when the event is unknown or in another room.
   */
  async getStateAtEvent(
    em: Em,
    roomId: string,
    eventId: string,
    filter: { types?: string[] | null; memberKeys?: string[] | null } = {},
  ): Promise<StoredEvent[]> {
    const ev = await this.events.getEvent(em, eventId);
    if (!ev || ev.roomId !== roomId) throw notFound('Event not found.');
    return this.events.getStateAt(em, roomId, ev.streamOrdering, filter);
  }

  /** Serialises events to the proto Event shape with unsigned computed. */
  serializeEvents(em: Em, events: StoredEvent[], opts: SerializeOptions = {}): Promise<EventView[]> {
    return this.serializer.serialize(em, events, opts);
  }

  /** Whether the room is blocked, and by whom. */
  isBlocked(em: Em, roomId: string): Promise<BlockInfo> {
    return this.rooms.getBlock(em, roomId);
  }

  /** Blocks a room (works for unknown rooms); re-blocking keeps the first blocker. */
  blockRoom(em: Em, roomId: string, byUserId: string): Promise<void> {
    return this.rooms.block(em, roomId, byUserId);
  }

  /** Removes a block (idempotent). */
  unblockRoom(em: Em, roomId: string): Promise<void> {
    return this.rooms.unblock(em, roomId);
  }

  /** A local user's current membership (with its forgotten flag), or null. */
  getLocalMembership(em: Em, roomId: string, userId: string): Promise<MembershipInfo | null> {
    return this.rooms.getLocalMembership(em, roomId, userId);
  }

  /** Rooms a local user is joined to. */
  getJoinedRooms(em: Em, userId: string): Promise<string[]> {
    return this.rooms.getJoinedRoomIds(em, userId);
  }

  /** Joined members of a room with their room profile. */
  getJoinedMembers(em: Em, roomId: string): Promise<JoinedMember[]> {
    return this.rooms.getJoinedMembers(em, roomId);
  }

  // ---- directory ----

  /** Resolves an alias to its room and the servers in it (400 M_INVALID_PARAM bad alias, 404 unknown). */
  resolveAlias(em: Em, alias: string): Promise<AliasInfo> {
    return this.directory.resolveAlias(em, alias);
  }

  /** A room id as is, or the room an alias points to (404 / 400 as Synapse's admin API). */
  resolveRoomIdOrAlias(em: Em, roomIdOrAlias: string): Promise<string> {
    return this.directory.resolveRoomIdOrAlias(em, roomIdOrAlias);
  }

  /** Creates a local alias for a room the actor is joined to (see DirectoryService.setAlias). */
  setAlias(em: Em, actor: DirectoryActor, alias: string, roomId: string): Promise<void> {
    return this.directory.setAlias(em, actor, alias, roomId);
  }

  /**
   * Deletes an alias, then drops it from the room's canonical alias event when it is there (as
   * the actor; skipped silently when the actor may not send that event).
   */
  async deleteAlias(em: Em, actor: DirectoryActor, alias: string): Promise<void> {
    const roomId = await this.directory.deleteAlias(em, actor, alias);
    const canonical = await this.events.getStateEvent(em, roomId, 'm.room.canonical_alias', '');
    if (!canonical) return;
    const content = { ...canonical.content };
    let changed = false;
    if (content.alias === alias) {
      delete content.alias;
      changed = true;
    }
    if (Array.isArray(content.alt_aliases) && content.alt_aliases.includes(alias)) {
      content.alt_aliases = content.alt_aliases.filter((a) => a !== alias);
      changed = true;
    }
    if (!changed) return;
    await this.sendEvent(em, actor.userId, roomId, { type: 'm.room.canonical_alias', stateKey: '', content }).catch((err) => {
      if (!(err instanceof MatrixError && err.httpStatus === 403)) throw err;
    });
  }

  /** Local aliases pointing at a room, sorted (no access check). */
  getAliases(em: Em, roomId: string): Promise<string[]> {
    return this.directory.getAliases(em, roomId);
  }

  /** The room's directory visibility (404 "Unknown room"). */
  getVisibility(em: Em, roomId: string): Promise<'public' | 'private'> {
    return this.directory.getVisibility(em, roomId);
  }

  /** Publishes or unpublishes a room (see DirectoryService.setVisibility for the errors). */
  setVisibility(em: Em, actor: DirectoryActor, roomId: string, visibility: 'public' | 'private'): Promise<void> {
    return this.directory.setVisibility(em, actor, roomId, visibility);
  }

  // ---- helpers ----

  private async persistOne(em: Em, roomId: string, draft: EventDraft, unknownRoom: () => MatrixError): Promise<SendEventResult> {
    try {
      const [[res]] = await this.persister.persist(em, [{ roomId, drafts: [draft] }]);
      return res;
    } catch (err) {
      if (err instanceof UnknownRoomError) throw unknownRoom();
      throw err;
    }
  }

  private async checkCanonicalAlias(em: Em, roomId: string, content: Json): Promise<void> {
    const current = await this.events.getStateEvent(em, roomId, 'm.room.canonical_alias', '');
    const resolve = async (alias: string) => (isValidAlias(alias) ? ((await this.rooms.getAlias(em, alias))?.roomId ?? null) : null);
    await validateCanonicalAlias(resolve, roomId, content, current?.content ?? null);
  }

  /** A state PUT of m.room.member is a membership change with the given content. */
  private sendMemberState(em: Em, sender: string, roomId: string, target: string, input: SendEventInput): Promise<SendEventResult> {
    const membership = input.content?.membership;
    if (typeof membership !== 'string' || !['join', 'leave', 'invite', 'ban', 'knock'].includes(membership))
      throw badRequest('Invalid membership key');
    const { membership: _m, ...content } = input.content;
    return this.membership.update(em, sender, target, roomId, membership as MembershipAction, {
      content,
      txnId: input.txnId,
      deviceId: input.deviceId,
      tokenId: input.tokenId,
    });
  }

  private async redactionTarget(em: Em, input: SendEventInput): Promise<StoredEvent | null> {
    const id =
      typeof input.redacts === 'string' ? input.redacts : typeof input.content?.redacts === 'string' ? input.content.redacts : null;
    return id ? this.events.getEvent(em, id) : null;
  }
}

export type { DirectoryActor };
