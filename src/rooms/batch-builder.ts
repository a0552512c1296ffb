/**
 * Folding a batch of event drafts into rows: each draft is checked (caller's precheck, then the
 * auth rules) against the room state before it, numbered (depth, stream ordering, prev/auth
 * events) and applied to the in-memory state, stats delta and the per-table row lists that the
 * persister writes in one statement. Pure apart from id generation.
 */
import { randomBytes } from 'node:crypto';
import { MatrixError } from '../errors';
import { domainOf, randomLetters } from '../matrix/ids';
import { authEventIds, checkEventAuth, creatorOf, stateMapKey, type StateEntry, type StateMap } from './event-auth';
import type { BatchWrite } from './event-write.repository';
import { KNOWN_ROOM_VERSIONS, roomVersionOf, type RoomVersion } from './room-versions';
import { accountStateEvent, deltaRow, emptyDelta, type StatsDelta } from './room-stats';
import type { Json, Membership } from './room.types';

export interface EventDraft {
  type: string;
  /** Present (possibly "") for state events. */
  stateKey: string | null;
  sender: string;
  content: Json;
  /** Top-level `redacts` of a redaction (room versions < 11). */
  redacts?: string | null;
  originServerTs?: number;
  /** Imported events may carry their id; otherwise one is generated. */
  eventId?: string;
  txn?: { scope: string; id: string } | null;
  /** Return the current state event instead when it has the same sender and content. */
  dedupeState?: boolean;
  /** State entries the precheck reads beyond those the auth rules load. */
  needsState?: [string, string][];
  /** Caller rules checked against the state before the event, under the room lock. */
  precheck?: (before: StateMap, version: RoomVersion) => void;
}

export interface NewRoom {
  roomVersion: string;
  isPublic: boolean;
}

export interface RoomBatch {
  roomId: string;
  /** Set when the batch creates the room: its first draft must be `m.room.create`. */
  newRoom?: NewRoom;
  drafts: EventDraft[];
  /** Directory aliases created with a new room. */
  aliases?: { alias: string; creator: string }[];
}

export interface PersistedEvent {
  eventId: string;
  roomId: string;
  depth: number;
  streamOrdering: number;
  /** An earlier event returned for a repeated transaction id or identical state. */
  deduplicated: boolean;
}

const knownVersion = (id: string) => KNOWN_ROOM_VERSIONS.has(id);

/** Random bytes for event ids, drawn from a refilled pool: one small randomBytes() call costs a system call. */
const ID_POOL_BYTES = 8192;
let idPool = Buffer.alloc(0);
let idPoolAt = 0;

function randomChunk(n: number): Buffer {
  if (idPoolAt + n > idPool.length) {
    idPool = randomBytes(ID_POOL_BYTES);
    idPoolAt = 0;
  }
  idPoolAt += n;
  return idPool.subarray(idPoolAt - n, idPoolAt);
}

/** A new event id in the room version's format. */
export function newEventId(version: RoomVersion, serverName: string): string {
  if (version.eventIdFormat === 'legacy') return `$${randomLetters(18)}:${serverName}`;
  const bytes = randomChunk(32);
  return `$${version.eventIdFormat === 'base64' ? bytes.toString('base64').replace(/=+$/, '') : bytes.toString('base64url')}`;
}

/** The event a redaction targets, wherever the room version keeps it. */
export function redactsOf(version: RoomVersion, d: { content: Json; redacts?: string | null }): string | null {
  const v = version.updatedRedactionRules ? d.content.redacts : d.redacts;
  return typeof v === 'string' ? v : null;
}

function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null || Array.isArray(a) !== Array.isArray(b)) return false;
  const ka = Object.keys(a);
  const kb = Object.keys(b);
  return ka.length === kb.length && ka.every((k) => deepEqual((a as Json)[k], (b as Json)[k]));
}

function labelsOf(content: Json): string[] | null {
  const l = content['org.matrix.labels'];
  return Array.isArray(l) && l.every((x) => typeof x === 'string') ? (l as string[]) : null;
}

export function emptyWrite(): BatchWrite {
  return {
    guards: [],
    newRooms: [],
    newStats: [],
    events: [],
    currentState: [],
    memberships: [],
    localMemberships: [],
    relations: [],
    retention: [],
    redactions: [],
    extremities: [],
    stats: [],
    aliases: [],
  };
}

/** Per-room working state while a batch is folded. */
export interface RoomWork {
  batch: RoomBatch;
  version: RoomVersion;
  state: StateMap;
  /** The room's last_depth when loaded (the write is guarded on it). */
  loadedDepth: number;
  lastDepth: number;
  prev: string[];
  lastEventId: string | null;
  delta: StatsDelta;
  createdTs: number;
  /** Ids of the events this batch writes into the room. */
  written: Set<string>;
}

export function startWork(batch: RoomBatch, lastDepth: number, storedVersion: string | undefined): RoomWork {
  const versionId = batch.newRoom?.roomVersion ?? storedVersion ?? '1';
  return {
    batch,
    version: roomVersionOf(versionId),
    state: new Map(),
    loadedDepth: lastDepth,
    lastDepth,
    prev: [],
    lastEventId: null,
    delta: emptyDelta(batch.roomId),
    createdTs: Date.now(),
    written: new Set(),
  };
}

/** Builds the rows of one persist call. */
export class BatchBuilder {
  readonly out = emptyWrite();
  /** This call's event rows by id (for redactions of events of the same batch). */
  private readonly events = new Map<string, Json>();

  constructor(private readonly serverName: string) {}

  private isLocal = (userId: string) => domainOf(userId) === this.serverName;

  /** Checks one draft against the state before it and adds its rows. Throws the rule violated. */
  fold(w: RoomWork, d: EventDraft, stream: number): PersistedEvent {
    const roomId = w.batch.roomId;
    d.precheck?.(w.state, w.version);
    const before = d.stateKey === null ? undefined : w.state.get(stateMapKey(d.type, d.stateKey));
    if (d.dedupeState && before && before.sender === d.sender && deepEqual(before.content, d.content)) {
      return { eventId: before.eventId, roomId, depth: before.depth ?? 0, streamOrdering: before.streamOrdering ?? 0, deduplicated: true };
    }
    const prevEvents = w.lastEventId ? [w.lastEventId] : [...w.prev].sort();
    const redacts = d.type === 'm.room.redaction' ? redactsOf(w.version, d) : null;
    const ev = { roomId, type: d.type, stateKey: d.stateKey, sender: d.sender, content: d.content, redacts, prevEvents };
    checkEventAuth(w.version, ev, w.state, knownVersion);
    const eventId = d.eventId ?? newEventId(w.version, this.serverName);
    const depth = ++w.lastDepth;
    const now = Date.now();
    const row: Json = {
      event_id: eventId,
      room_id: roomId,
      type: d.type,
      state_key: d.stateKey,
      sender: d.sender,
      content: d.content,
      origin_server_ts: d.originServerTs ?? now,
      received_ts: now,
      depth,
      stream_ordering: stream,
      prev_events: prevEvents,
      auth_events: authEventIds(ev, w.state),
      redacts: d.redacts ?? redacts,
      replaces_state: before?.eventId ?? null,
      redacted_by: null,
      txn_scope: d.txn?.scope ?? null,
      txn_id: d.txn?.id ?? null,
      contains_url: typeof d.content.url === 'string',
      labels: labelsOf(d.content),
    };
    this.out.events.push(row);
    this.events.set(eventId, row);
    w.written.add(eventId);
    if (redacts) this.markRedaction(roomId, redacts, eventId);
    this.addRelation(roomId, eventId, d, stream);
    if (d.stateKey !== null) this.applyState(w, d, eventId, { depth, stream, receivedTs: now }, before);
    w.lastEventId = eventId;
    return { eventId, roomId, depth, streamOrdering: stream, deduplicated: false };
  }

  private markRedaction(roomId: string, target: string, by: string): void {
    const inBatch = this.events.get(target);
    if (inBatch && inBatch.room_id === roomId) {
      if (inBatch.redacted_by === null) inBatch.redacted_by = by;
    } else this.out.redactions.push({ event_id: target, room_id: roomId, redacted_by: by });
  }

  private addRelation(roomId: string, eventId: string, d: EventDraft, stream: number): void {
    const rel = d.content['m.relates_to'];
    if (!rel || typeof rel !== 'object' || Array.isArray(rel)) return;
    const r = rel as Json;
    if (typeof r.rel_type !== 'string' || typeof r.event_id !== 'string') return;
    const key = r.rel_type === 'm.annotation' && typeof r.key === 'string' ? r.key : null;
    this.out.relations.push({
      event_id: eventId,
      room_id: roomId,
      relates_to_id: r.event_id,
      relation_type: r.rel_type,
      aggregation_key: key,
      sender: d.sender,
      stream_ordering: stream,
    });
  }

  private applyState(
    w: RoomWork,
    d: EventDraft,
    eventId: string,
    at: { depth: number; stream: number; receivedTs: number },
    before: StateEntry | undefined,
  ): void {
    const { depth, stream } = at;
    const roomId = w.batch.roomId;
    const stateKey = d.stateKey as string;
    const membership = d.type === 'm.room.member' ? (d.content.membership as Membership) : null;
    accountStateEvent(w.delta, d.type, stateKey, d.content, before, this.isLocal);
    w.state.set(stateMapKey(d.type, stateKey), {
      eventId,
      type: d.type,
      stateKey,
      sender: d.sender,
      content: d.content,
      membership,
      streamOrdering: stream,
      depth,
    });
    if (membership) {
      const str = (v: unknown) => (typeof v === 'string' ? v : null);
      this.out.memberships.push({
        event_id: eventId,
        room_id: roomId,
        user_id: stateKey,
        sender: d.sender,
        membership,
        display_name: str(d.content.displayname),
        avatar_url: str(d.content.avatar_url),
        stream_ordering: stream,
        depth,
        received_ts: at.receivedTs,
      });
    }
    if (d.type === 'm.room.retention' && stateKey === '') {
      const { min_lifetime: min, max_lifetime: max } = d.content;
      const present = [min, max].filter((v) => v !== undefined);
      if (present.length > 0 && present.every((v) => Number.isInteger(v))) {
        this.out.retention.push({ event_id: eventId, room_id: roomId, min_lifetime: min ?? null, max_lifetime: max ?? null });
      }
    }
  }

  /** Turns the folded state of one room into its current-state, membership, stats, extremity and guard rows. */
  finish(w: RoomWork): void {
    const roomId = w.batch.roomId;
    if (w.written.size === 0) return;
    for (const s of w.state.values()) {
      if (!w.written.has(s.eventId)) continue;
      this.out.currentState.push({ room_id: roomId, type: s.type, state_key: s.stateKey, event_id: s.eventId, membership: s.membership });
      if (s.membership && this.isLocal(s.stateKey))
        this.out.localMemberships.push({ room_id: roomId, user_id: s.stateKey, event_id: s.eventId, membership: s.membership });
    }
    this.out.extremities.push({ room_id: roomId, event_id: w.lastEventId as string });
    for (const a of w.batch.aliases ?? []) this.out.aliases.push({ room_alias: a.alias, room_id: roomId, creator: a.creator });
    if (w.batch.newRoom) return this.newRoomRows(w);
    this.out.guards.push({ room_id: roomId, old_depth: w.loadedDepth, new_depth: w.lastDepth });
    const d = w.delta;
    if (d.joined || d.joinedLocal || d.invited || d.left || d.banned || d.knocked || d.stateEvents || Object.keys(d.patch).length)
      this.out.stats.push(deltaRow(d));
  }

  private newRoomRows(w: RoomWork): void {
    const create = w.state.get(stateMapKey('m.room.create', ''));
    if (!create) throw new MatrixError(400, 'A new room must start with its m.room.create event');
    const creator = creatorOf(w.version, create);
    const roomType = typeof create.content.type === 'string' ? create.content.type : null;
    const isPublic = w.batch.newRoom?.isPublic ?? false;
    this.out.newRooms.push({
      room_id: w.batch.roomId,
      room_version: w.version.identifier,
      creator,
      room_type: roomType,
      is_public: isPublic,
      created_ts: w.createdTs,
      last_depth: w.lastDepth,
    });
    const d = w.delta;
    const p = d.patch;
    const text = (k: string) => (p[k] === undefined ? null : p[k]);
    this.out.newStats.push({
      room_id: w.batch.roomId,
      name: text('name'),
      canonical_alias: text('canonical_alias'),
      topic: text('topic'),
      avatar: text('avatar'),
      join_rules: text('join_rules'),
      history_visibility: text('history_visibility'),
      guest_access: text('guest_access'),
      encryption: text('encryption'),
      federatable: p.federatable ?? true,
      is_public: isPublic,
      room_version: w.version.identifier,
      creator,
      room_type: roomType,
      tombstone_successor: text('tombstone_successor'),
      joined_members: d.joined,
      joined_local_members: d.joinedLocal,
      invited_members: d.invited,
      left_members: d.left,
      banned_members: d.banned,
      knocked_members: d.knocked,
      state_events: d.stateEvents,
    });
  }
}
