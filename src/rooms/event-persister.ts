/**
 * THE write path for events: every event of every room (client sends, room creation, membership
 * changes, bulk import) is persisted here.
 *
 * How it works, per call (a list of per-room batches), in one transaction:
 * 1. the read side of `new_event_during_purge_lock` is held for each room (a room purge takes the
 *    write side, so no event can slip into a room being deleted);
 * 2. existing rooms' rows are locked (`SELECT ... FOR UPDATE`, room id order): sends to one room
 *    serialise here, which makes depth gap-free and stream orderings increase with depth;
 * 3. one query loads the state entries the auth rules need, the forward extremities, earlier
 *    sends with the same transaction ids, and fresh stream orderings;
 * 4. each draft is checked (caller's precheck, then the auth rules) against the state before it,
 *    numbered, and folded into the in-memory state, stats delta and row lists;
 * 5. one statement writes events, current state, memberships, local memberships, relations,
 *    retention, redaction marks, room stats and forward extremities.
 * Any failure rolls the whole call back.
 */
import { randomBytes } from 'node:crypto';
import { MatrixError } from '../errors';
import { domainOf, randomLetters } from '../ids';
import type { Em } from '../infra/orm';
import type { LockManager } from '../infra/locks/lock.types';
import { NEW_EVENT_DURING_PURGE_LOCK_NAME } from '../infra/locks/lock.types';
import { authEventIds, authStateKeys, checkEventAuth, creatorOf, stateMapKey, type StateEntry, type StateMap } from './event-auth';
import { EventWriteRepository, type BatchWrite, type StateKeyRef, type TxnRef } from './event-write.repository';
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

export interface PersistOptions {
  /** Prefix rule violations with the failing draft's position (`rooms[i].events[j]: ...`), for bulk callers. */
  locateErrors?: boolean;
}

/** Thrown when a batch targets a room with no row. */
export class UnknownRoomError extends Error {
  constructor(readonly roomId: string) {
    super(`Unknown room ${roomId}`);
    this.name = 'UnknownRoomError';
  }
}

const knownVersion = (id: string) => KNOWN_ROOM_VERSIONS.has(id);

/** A new event id in the room version's format. */
export function newEventId(version: RoomVersion, serverName: string): string {
  if (version.eventIdFormat === 'legacy') return `$${randomLetters(18)}:${serverName}`;
  const bytes = randomBytes(32);
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

/** The rows being built for one call, and its events by id (for in-batch redactions). */
interface Acc {
  out: BatchWrite;
  events: Map<string, Json>;
}

/** Per-room working state while a batch is folded. */
interface RoomWork {
  batch: RoomBatch;
  version: RoomVersion;
  state: StateMap;
  lastDepth: number;
  prev: string[];
  lastEventId: string | null;
  delta: StatsDelta;
  createdTs: number;
  /** Ids of the events this batch writes into the room. */
  written: Set<string>;
}

export class EventPersister {
  constructor(
    private readonly serverName: string,
    /** Resolved per call: the lock manager may be registered after this module is built. */
    private readonly locks: () => LockManager | undefined,
    private readonly repo = new EventWriteRepository(),
  ) {}

  private isLocal = (userId: string) => domainOf(userId) === this.serverName;

  /**
   * Persists the batches atomically and returns, per batch, one result per draft. Throws the first
   * rule violation (MatrixError) or UnknownRoomError; nothing is written then.
   */
  async persist(em: Em, batches: RoomBatch[], opts: PersistOptions = {}): Promise<PersistedEvent[][]> {
    return this.withEventLocks(
      batches.map((b) => b.roomId),
      () => em.transactional((tem) => this.persistLocked(tem, batches, opts)),
    );
  }

  /** Runs `fn` holding the read side of the new-event-during-purge lock of every room. */
  async withEventLocks<T>(roomIds: string[], fn: () => Promise<T>): Promise<T> {
    const locks = this.locks();
    if (!locks) return fn();
    const unique = [...new Set(roomIds)];
    if (unique.length === 1) return locks.withReadWrite(NEW_EVENT_DURING_PURGE_LOCK_NAME, unique[0], 'read', fn);
    return locks.withMulti(unique.map((key) => ({ name: NEW_EVENT_DURING_PURGE_LOCK_NAME, key })), 'read', fn);
  }

  private async persistLocked(em: Em, batches: RoomBatch[], opts: PersistOptions): Promise<PersistedEvent[][]> {
    const existing = batches.filter((b) => !b.newRoom).map((b) => b.roomId);
    const locked = await this.repo.lockRooms(em, existing);
    const keys: StateKeyRef[] = [];
    const txns: TxnRef[] = [];
    for (const b of batches) {
      if (!b.newRoom && !locked.has(b.roomId)) throw new UnknownRoomError(b.roomId);
      for (const d of b.drafts) {
        if (d.txn) txns.push({ room_id: b.roomId, sender: d.sender, txn_scope: d.txn.scope, txn_id: d.txn.id });
        if (b.newRoom) continue;
        for (const [type, stateKey] of [...authStateKeys(d), ...(d.needsState ?? [])]) keys.push({ room_id: b.roomId, type, state_key: stateKey });
      }
    }
    const total = batches.reduce((n, b) => n + b.drafts.length, 0);
    const ctx = await this.repo.loadContext(em, dedupeKeys(keys), existing, txns, total);
    const works = batches.map((b) => this.startWork(b, locked.get(b.roomId)?.lastDepth ?? 0, locked.get(b.roomId)?.roomVersion));
    const byRoom = new Map(works.map((w) => [w.batch.roomId, w]));
    for (const r of ctx.state) {
      byRoom.get(r.room_id)?.state.set(stateMapKey(r.type, r.state_key), { eventId: r.event_id, type: r.type, stateKey: r.state_key, sender: r.sender, content: r.content, membership: r.membership as Membership | null, streamOrdering: Number(r.stream_ordering), depth: Number(r.depth) });
    }
    for (const x of ctx.extremities) byRoom.get(x.room_id)?.prev.push(x.event_id);
    const txnHits = new Map(ctx.txns.map((t) => [`${t.room_id}\u0001${t.sender}\u0001${t.txn_scope}\u0001${t.txn_id}`, t]));
    const acc: Acc = { out: emptyWrite(), events: new Map() };
    const out = acc.out;
    const streams = ctx.streams;
    let next = 0;
    const results = works.map((w, bi) =>
      w.batch.drafts.map((d, di) => {
        const hit = d.txn ? txnHits.get(`${w.batch.roomId}\u0001${d.sender}\u0001${d.txn.scope}\u0001${d.txn.id}`) : undefined;
        if (hit) return { eventId: hit.event_id, roomId: hit.room_id, depth: Number(hit.depth), streamOrdering: Number(hit.stream_ordering), deduplicated: true };
        try {
          return this.fold(w, d, streams[next++], acc);
        } catch (err) {
          if (opts.locateErrors && err instanceof MatrixError) throw new MatrixError(err.httpStatus, `rooms[${bi}].events[${di}]: ${err.message}`, err.errcode);
          throw err;
        }
      }),
    );
    for (const w of works) this.finishWork(w, out);
    await this.repo.write(em, out);
    return results;
  }

  private startWork(batch: RoomBatch, lastDepth: number, storedVersion: string | undefined): RoomWork {
    const versionId = batch.newRoom?.roomVersion ?? storedVersion ?? '1';
    return { batch, version: roomVersionOf(versionId), state: new Map(), lastDepth, prev: [], lastEventId: null, delta: emptyDelta(batch.roomId), createdTs: Date.now(), written: new Set() };
  }

  /** Checks one draft against the state before it and adds its rows to the write. */
  private fold(w: RoomWork, d: EventDraft, stream: number, acc: Acc): PersistedEvent {
    const out = acc.out;
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
      event_id: eventId, room_id: roomId, type: d.type, state_key: d.stateKey, sender: d.sender, content: d.content,
      origin_server_ts: d.originServerTs ?? now, received_ts: now, depth, stream_ordering: stream, prev_events: prevEvents,
      auth_events: authEventIds(ev, w.state), redacts: d.redacts ?? redacts, replaces_state: before?.eventId ?? null, redacted_by: null,
      txn_scope: d.txn?.scope ?? null, txn_id: d.txn?.id ?? null, contains_url: typeof d.content.url === 'string', labels: labelsOf(d.content),
    };
    out.events.push(row);
    w.written.add(eventId);
    acc.events.set(eventId, row);
    if (redacts) this.markRedaction(acc, roomId, redacts, eventId);
    this.addRelation(out, roomId, eventId, d, stream);
    if (d.stateKey !== null) this.applyState(w, d, eventId, depth, stream, before, out);
    w.lastEventId = eventId;
    return { eventId, roomId, depth, streamOrdering: stream, deduplicated: false };
  }

  private markRedaction(acc: Acc, roomId: string, target: string, by: string): void {
    const inBatch = acc.events.get(target);
    if (inBatch && inBatch.room_id === roomId) {
      if (inBatch.redacted_by === null) inBatch.redacted_by = by;
    } else acc.out.redactions.push({ event_id: target, room_id: roomId, redacted_by: by });
  }

  private addRelation(out: BatchWrite, roomId: string, eventId: string, d: EventDraft, stream: number): void {
    const rel = d.content['m.relates_to'];
    if (!rel || typeof rel !== 'object' || Array.isArray(rel)) return;
    const r = rel as Json;
    if (typeof r.rel_type !== 'string' || typeof r.event_id !== 'string') return;
    const key = r.rel_type === 'm.annotation' && typeof r.key === 'string' ? r.key : null;
    out.relations.push({ event_id: eventId, room_id: roomId, relates_to_id: r.event_id, relation_type: r.rel_type, aggregation_key: key, sender: d.sender, stream_ordering: stream });
  }

  private applyState(w: RoomWork, d: EventDraft, eventId: string, depth: number, stream: number, before: StateEntry | undefined, out: BatchWrite): void {
    const roomId = w.batch.roomId;
    const stateKey = d.stateKey as string;
    const membership = d.type === 'm.room.member' ? (d.content.membership as Membership) : null;
    accountStateEvent(w.delta, d.type, stateKey, d.content, before, this.isLocal);
    w.state.set(stateMapKey(d.type, stateKey), { eventId, type: d.type, stateKey, sender: d.sender, content: d.content, membership, streamOrdering: stream, depth });
    if (membership) {
      const str = (v: unknown) => (typeof v === 'string' ? v : null);
      out.memberships.push({ event_id: eventId, room_id: roomId, user_id: stateKey, sender: d.sender, membership, display_name: str(d.content.displayname), avatar_url: str(d.content.avatar_url), stream_ordering: stream, depth });
    }
    if (d.type === 'm.room.retention' && stateKey === '') {
      const { min_lifetime: min, max_lifetime: max } = d.content;
      const present = [min, max].filter((v) => v !== undefined);
      if (present.length > 0 && present.every((v) => Number.isInteger(v))) {
        out.retention.push({ event_id: eventId, room_id: roomId, min_lifetime: min ?? null, max_lifetime: max ?? null });
      }
    }
  }

  /** Turns the folded state of one room into its current-state, membership, stats and extremity rows. */
  private finishWork(w: RoomWork, out: BatchWrite): void {
    const roomId = w.batch.roomId;
    if (w.written.size === 0) return;
    for (const s of w.state.values()) {
      if (!w.written.has(s.eventId)) continue;
      out.currentState.push({ room_id: roomId, type: s.type, state_key: s.stateKey, event_id: s.eventId, membership: s.membership });
      if (s.membership && this.isLocal(s.stateKey)) out.localMemberships.push({ room_id: roomId, user_id: s.stateKey, event_id: s.eventId, membership: s.membership });
    }
    out.extremities.push({ room_id: roomId, event_id: w.lastEventId as string });
    for (const a of w.batch.aliases ?? []) out.aliases.push({ room_alias: a.alias, room_id: roomId, creator: a.creator });
    if (w.batch.newRoom) this.newRoomRows(w, out);
    else {
      out.depths.push({ room_id: roomId, last_depth: w.lastDepth });
      const d = w.delta;
      if (d.joined || d.joinedLocal || d.invited || d.left || d.banned || d.knocked || d.stateEvents || Object.keys(d.patch).length) out.stats.push(deltaRow(d));
    }
  }

  private newRoomRows(w: RoomWork, out: BatchWrite): void {
    const create = w.state.get(stateMapKey('m.room.create', ''));
    if (!create) throw new MatrixError(400, 'A new room must start with its m.room.create event');
    const creator = creatorOf(w.version, create);
    const roomType = typeof create.content.type === 'string' ? create.content.type : null;
    const isPublic = w.batch.newRoom?.isPublic ?? false;
    out.newRooms.push({ room_id: w.batch.roomId, room_version: w.version.identifier, creator, room_type: roomType, is_public: isPublic, created_ts: w.createdTs, last_depth: w.lastDepth });
    const d = w.delta;
    const p = d.patch;
    const text = (k: string) => (p[k] === undefined ? null : p[k]);
    out.newStats.push({
      room_id: w.batch.roomId, name: text('name'), canonical_alias: text('canonical_alias'), topic: text('topic'), avatar: text('avatar'),
      join_rules: text('join_rules'), history_visibility: text('history_visibility'), guest_access: text('guest_access'), encryption: text('encryption'),
      federatable: p.federatable ?? true, is_public: isPublic, room_version: w.version.identifier, creator, room_type: roomType,
      tombstone_successor: text('tombstone_successor'), joined_members: d.joined, joined_local_members: d.joinedLocal, invited_members: d.invited,
      left_members: d.left, banned_members: d.banned, knocked_members: d.knocked, state_events: d.stateEvents,
    });
  }
}

function emptyWrite(): BatchWrite {
  return { newRooms: [], newStats: [], depths: [], events: [], currentState: [], memberships: [], localMemberships: [], relations: [], retention: [], redactions: [], extremities: [], stats: [], aliases: [] };
}

function dedupeKeys(keys: StateKeyRef[]): StateKeyRef[] {
  const seen = new Map<string, StateKeyRef>();
  for (const k of keys) seen.set(`${k.room_id}\u0001${k.type}\u0001${k.state_key}`, k);
  return [...seen.values()];
}

function labelsOf(content: Json): string[] | null {
  const l = content['org.matrix.labels'];
  return Array.isArray(l) && l.every((x) => typeof x === 'string') ? (l as string[]) : null;
}
