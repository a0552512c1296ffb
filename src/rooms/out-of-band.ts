/**
 * Out-of-band memberships: a local user's membership of a room this server is not in. An invite
 * from a remote user arrives as a single event (the federation `invite` API, delivered here by an
 * internal service); rejecting it while the server still has no member in the room writes a local
 * leave that hangs off the invite (Synapse's local fallback when the inviting server cannot be
 * reached: prev_events = [invite], auth_events = invite's auth events + invite).
 *
 * Both events are outliers: outside the room's timeline, current state and statistics, shown to
 * nobody but their user (spec §5.7 step 3). They do move the user's local membership, so the
 * invite is listed among the user's rooms, can be rejected and forgotten, and the room can be
 * shut down and purged like any other.
 */
import { Codes, MatrixError, badRequest, echo, forbidden } from '../errors';
import { domainOf } from '../matrix/ids';
import type { Em } from '../infra/orm';
import { newEventId, type PersistedEvent } from './batch-builder';
import { EventRepository } from './event.repository';
import { DEFAULT_ROOM_VERSION, KNOWN_ROOM_VERSIONS, roomVersionOf } from './room-versions';
import type { Json, StoredEvent } from './room.types';
import { RoomRepository } from './room.repository';
import { sql, sqlPrepared } from '../infra/sql';

/** An invite as the federation `invite` API hands it over. */
export interface ReceivedInvite {
  /** The server that sent the invite (the sender must be one of its users). */
  origin: string;
  roomVersion: string;
  roomId: string;
  type: string;
  stateKey: string | null;
  sender: string;
  content: Json;
  originServerTs?: number;
  depth?: number;
  prevEvents?: string[];
  authEvents?: string[];
  /** The id the sending server gave the event; generated when absent. */
  eventId?: string;
}

interface OutlierRow {
  eventId: string;
  roomId: string;
  stateKey: string;
  sender: string;
  content: Json;
  originServerTs: number;
  depth: number;
  prevEvents: string[];
  authEvents: string[];
  txn: { scope: string; id: string } | null;
  membership: string;
  /** The local membership the write replaces (compare-and-set), or null to replace any. */
  replacing: string | null;
}

export class OutOfBandMemberships {
  private readonly events = new EventRepository();

  constructor(
    private readonly serverName: string,
    /** Runs a write holding the room's new-event-during-purge lock (read side). */
    private readonly withRoomLock: <T>(roomId: string, fn: () => Promise<T>) => Promise<T>,
    private readonly rooms: RoomRepository,
  ) {}

  /**
   * Stores a remote user's invite of a local user, with Synapse's checks in Synapse's order. A
   * repeated delivery (same event id) returns the stored event. Refused when this server is in
   * the room: there the invite is an event of the room's timeline, not an out-of-band one.
   */
  async receiveInvite(em: Em, inv: ReceivedInvite): Promise<PersistedEvent> {
    if (inv.stateKey === null) throw badRequest('The invite event did not have a state key');
    if ((await this.rooms.getBlock(em, inv.roomId)).blocked) throw forbidden('This room has been blocked on this server');
    if (inv.type !== 'm.room.member' || inv.content.membership !== 'invite')
      throw badRequest('The event was not an m.room.member invite event');
    if (domainOf(inv.sender) !== inv.origin) throw badRequest('The invite event was not from the server sending it');
    if (domainOf(inv.stateKey) !== this.serverName) throw badRequest('The invite event must be for this server');
    if (inv.origin === this.serverName) throw badRequest('An out-of-band invite comes from another server');
    if (!KNOWN_ROOM_VERSIONS.has(inv.roomVersion))
      throw new MatrixError(400, 'Homeserver does not support this room version', Codes.UNSUPPORTED_ROOM_VERSION);
    if (!/^![^:]+:.+$/.test(inv.roomId)) throw new MatrixError(400, `Invalid room ID: ${echo(inv.roomId)}`, Codes.INVALID_PARAM);
    if ((await sql(em, 'SELECT 1 FROM users WHERE name = ?', [inv.stateKey])).length === 0)
      throw new MatrixError(404, 'Unknown user', Codes.NOT_FOUND);
    const stateKey = inv.stateKey;
    return this.withRoomLock(inv.roomId, () =>
      em.transactional(async (tem) => {
        if (inv.eventId) {
          const known = await this.stored(tem, inv.eventId);
          if (known) {
            if (known.roomId !== inv.roomId || known.type !== 'm.room.member' || known.stateKey !== stateKey)
              throw badRequest(`Event ${echo(inv.eventId)} is already stored as another event`);
            return persisted(known, true);
          }
        }
        if (await this.rooms.hasLocalJoinedMember(tem, inv.roomId)) {
          throw new MatrixError(400, 'This server is in the room: the invite belongs to the room timeline', Codes.UNKNOWN);
        }
        // The room is known from now on (its version, at least), as Synapse records it.
        await sql(tem, 'INSERT INTO rooms (room_id, room_version, created_ts) VALUES (?, ?, ?) ON CONFLICT (room_id) DO NOTHING', [
          inv.roomId,
          inv.roomVersion,
          Date.now(),
        ]);
        return this.write(tem, inv.roomId, {
          eventId: inv.eventId ?? newEventId(roomVersionOf(inv.roomVersion), this.serverName),
          roomId: inv.roomId,
          stateKey,
          sender: inv.sender,
          content: inv.content,
          originServerTs: inv.originServerTs ?? Date.now(),
          depth: inv.depth ?? 1,
          prevEvents: inv.prevEvents ?? [],
          authEvents: inv.authEvents ?? [],
          txn: null,
          membership: 'invite',
          replacing: null,
        });
      }),
    );
  }

  /** The event behind a local membership (null when it is gone). */
  membershipEvent(em: Em, eventId: string): Promise<StoredEvent | null> {
    return this.stored(em, eventId);
  }

  /**
   * The user's leave of a room they hold an out-of-band membership of: a local outlier following
   * `previous` (their invite). A repeated transaction id returns the earlier leave; a membership
   * that is already a leave is returned as it is.
   */
  async leave(em: Em, previous: StoredEvent, content: Json, txn: { scope: string; id: string } | null): Promise<PersistedEvent> {
    const userId = previous.stateKey as string;
    if (previous.content.membership === 'leave') return persisted(previous, true);
    return this.withRoomLock(previous.roomId, () =>
      em.transactional(async (tem) => {
        if (txn) {
          const rows = await sql<{ event_id: string }>(
            tem,
            'SELECT event_id FROM events WHERE room_id = ? AND sender = ? AND txn_scope = ? AND txn_id = ?',
            [previous.roomId, userId, txn.scope, txn.id],
          );
          const earlier = rows[0] ? await this.stored(tem, rows[0].event_id) : null;
          if (earlier) return persisted(earlier, true);
        }
        const room = await this.rooms.getRoom(tem, previous.roomId);
        return this.write(tem, previous.roomId, {
          eventId: newEventId(roomVersionOf(room?.roomVersion ?? DEFAULT_ROOM_VERSION), this.serverName),
          roomId: previous.roomId,
          stateKey: userId,
          sender: userId,
          content: { ...content, membership: 'leave' },
          originServerTs: Date.now(),
          depth: previous.depth + 1,
          prevEvents: [previous.eventId],
          authEvents: [...previous.authEvents, previous.eventId],
          txn,
          membership: 'leave',
          replacing: previous.eventId,
        });
      }),
    );
  }

  /** Inserts the outlier and moves the user's local membership to it, in one statement. */
  private async write(em: Em, roomId: string, r: OutlierRow): Promise<PersistedEvent> {
    const rows = await sqlPrepared<{ stream_ordering: string; moved: boolean }>(
      em,
      `WITH ev AS (
         INSERT INTO events (stream_ordering, event_id, room_id, type, state_key, sender, content, origin_server_ts, received_ts, depth,
                             prev_events, auth_events, outlier, txn_scope, txn_id)
         VALUES (nextval('events_stream_seq'), $1, $2, 'm.room.member', $3, $4, $5::jsonb, $6, $7, $8, $9::text[], $10::text[], true, $11, $12)
         RETURNING stream_ordering, event_id),
       moved AS (
         INSERT INTO local_current_membership AS m (room_id, user_id, event_id, membership, forgotten)
         SELECT $2, $3, ev.event_id, $13, false FROM ev
         ON CONFLICT (room_id, user_id) DO UPDATE SET event_id = EXCLUDED.event_id, membership = EXCLUDED.membership, forgotten = false
          WHERE $14::text IS NULL OR m.event_id = $14::text
         RETURNING 1)
       SELECT ev.stream_ordering, EXISTS (SELECT 1 FROM moved) AS moved FROM ev`,
      [
        r.eventId,
        roomId,
        r.stateKey,
        r.sender,
        JSON.stringify(r.content),
        r.originServerTs,
        Date.now(),
        r.depth,
        r.prevEvents,
        r.authEvents,
        r.txn?.scope ?? null,
        r.txn?.id ?? null,
        r.membership,
        r.replacing,
      ],
    );
    // Another change of the user's membership won the race: nothing of this one may stay.
    if (!rows[0].moved) throw new MatrixError(409, 'The membership changed meanwhile; try again', Codes.UNKNOWN);
    return { eventId: r.eventId, roomId, depth: r.depth, streamOrdering: Number(rows[0].stream_ordering), deduplicated: false };
  }

  private stored(em: Em, eventId: string): Promise<StoredEvent | null> {
    return this.events.getEvent(em, eventId);
  }
}

function persisted(e: StoredEvent, deduplicated: boolean): PersistedEvent {
  return { eventId: e.eventId, roomId: e.roomId, depth: e.depth, streamOrdering: e.streamOrdering, deduplicated };
}
