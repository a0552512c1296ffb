/**
 * The events of one generated room, produced lazily: Synapse's initial events (the same plan as
 * createRoom), members joining (local and remote; invited first in private rooms), space
 * children, then a timeline of messages, replies, threads, edits, reactions, redactions and state
 * churn (topic/name/power level changes, members leaving, rejoining, renaming, bans). Every event
 * is valid under the auth rules at the point it is emitted; event ids are generated here so later
 * events can relate to earlier ones.
 */
import { createHash } from 'node:crypto';
import { planRoom } from '../../rooms/room-creation';
import { KNOWN_ROOM_VERSIONS, DEFAULT_ROOM_VERSION } from '../../rooms/room-versions';
import type { ImportedEvent } from '../../rooms/import.service';
import type { Json } from '../../rooms/room.types';
import { REACTIONS, type Rng, sentence, topic as randomTopic, roomName } from './vocabulary';

export interface RoomProfile {
  roomId: string;
  creator: string;
  isPublic: boolean;
  isSpace: boolean;
  encrypted: boolean;
  alias: string | null;
  name: string;
  topic: string;
  /** Members besides the creator (local and remote). */
  members: string[];
  /** Timeline events after the setup. */
  timelineEvents: number;
  /** Rooms a space lists as children. */
  children: string[];
  /** Fraction of timeline events that change state. */
  stateChurn: number;
  /** origin_server_ts of the first event; later events are spread up to `endTs`. */
  startTs: number;
  endTs: number;
}

/** How many recent messages relations and redactions pick from. */
const RECENT_WINDOW = 20;

export class RoomBuilder {
  private readonly joined: string[] = [];
  private readonly left: string[] = [];
  /** Departed members of a private room who were invited back and may now join. */
  private readonly reinvited = new Set<string>();
  private readonly recent: { id: string; sender: string }[] = [];
  private readonly iterator: Iterator<ImportedEvent>;
  private emitted = 0;
  private idCounter = 0;
  private totalPlanned = 0;
  /** Whether the room's first events (m.room.create ...) were handed out already. */
  started = false;

  constructor(
    readonly profile: RoomProfile,
    private readonly rng: Rng,
    private readonly serverName: string,
  ) {
    this.iterator = this.events();
  }

  /** Up to `n` next events (fewer when the room is complete). */
  take(n: number): ImportedEvent[] {
    const out: ImportedEvent[] = [];
    while (out.length < n) {
      const r = this.iterator.next();
      if (r.done) break;
      out.push(r.value);
    }
    return out;
  }

  /** Unique and reproducible: a hash of the room id and the event's position (PRNG streams of different rooms can overlap). */
  private newId(): string {
    this.idCounter += 1;
    return `$${createHash('sha256').update(`${this.profile.roomId}/${this.idCounter}`).digest('base64url')}`;
  }

  private ts(): number {
    const p = this.profile;
    const span = Math.max(1, p.endTs - p.startTs);
    return p.startTs + Math.floor((span * this.emitted) / Math.max(1, this.totalPlanned));
  }

  private ev(sender: string, type: string, content: Json, stateKey?: string): ImportedEvent {
    this.emitted += 1;
    const e: ImportedEvent = { eventId: this.newId(), type, sender, content, originServerTs: this.ts() };
    if (stateKey !== undefined) e.stateKey = stateKey;
    return e;
  }

  private *events(): Generator<ImportedEvent> {
    const p = this.profile;
    const version = KNOWN_ROOM_VERSIONS.get(DEFAULT_ROOM_VERSION)!;
    const plan = planRoom(
      p.creator,
      {
        preset: p.isPublic ? 'public_chat' : 'private_chat',
        visibility: p.isPublic ? 'public' : 'private',
        name: p.name,
        topic: p.topic,
        creationContent: p.isSpace ? { type: 'm.space' } : undefined,
        initialState: p.encrypted ? [{ type: 'm.room.encryption', content: { algorithm: 'm.megolm.v1.aes-sha2' } }] : undefined,
      },
      version,
      p.alias,
      { displayname: this.display(p.creator) },
    );
    this.totalPlanned = plan.events.length + p.members.length * (p.isPublic ? 1 : 2) + p.children.length + p.timelineEvents;
    for (const e of plan.events) yield this.ev(p.creator, e.type, e.content, e.stateKey);
    this.joined.push(p.creator);
    for (const m of p.members) {
      if (!p.isPublic) yield this.ev(p.creator, 'm.room.member', { membership: 'invite', displayname: this.display(m) }, m);
      yield this.ev(m, 'm.room.member', { membership: 'join', displayname: this.display(m) }, m);
      this.joined.push(m);
    }
    for (const child of p.children) yield this.ev(p.creator, 'm.space.child', { via: [this.serverName] }, child);
    for (let i = 0; i < p.timelineEvents; i++) yield this.rng.chance(p.stateChurn) ? this.stateChange() : this.timelineEvent();
  }

  private display(userId: string): string {
    return userId.slice(1, userId.indexOf(':'));
  }

  private remember(e: ImportedEvent): ImportedEvent {
    this.recent.push({ id: e.eventId!, sender: e.sender });
    if (this.recent.length > RECENT_WINDOW) this.recent.shift();
    return e;
  }

  private message(sender: string, extra: Json = {}): ImportedEvent {
    if (this.profile.encrypted) {
      return this.ev(sender, 'm.room.encrypted', {
        algorithm: 'm.megolm.v1.aes-sha2',
        ciphertext: this.rng.letters(120),
        sender_key: this.rng.letters(43),
        session_id: this.rng.letters(43),
        device_id: this.rng.letters(10),
        ...extra,
      });
    }
    return this.ev(sender, 'm.room.message', { msgtype: 'm.text', body: sentence(this.rng), ...extra });
  }

  private timelineEvent(): ImportedEvent {
    const sender = this.rng.pick(this.joined);
    const roll = this.rng.next();
    const target = this.recent.length > 0 ? this.rng.pick(this.recent) : null;
    if (target && roll < 0.1) {
      return this.ev(sender, 'm.reaction', {
        'm.relates_to': { rel_type: 'm.annotation', event_id: target.id, key: this.rng.pick(REACTIONS) },
      });
    }
    if (target && roll < 0.18) return this.remember(this.message(sender, { 'm.relates_to': { 'm.in_reply_to': { event_id: target.id } } }));
    if (target && roll < 0.23)
      return this.remember(this.message(sender, { 'm.relates_to': { rel_type: 'm.thread', event_id: target.id, is_falling_back: true } }));
    const own = this.recent.filter((r) => r.sender === sender);
    if (own.length > 0 && roll < 0.27) {
      const t = this.rng.pick(own);
      return this.message(sender, {
        'm.new_content': { msgtype: 'm.text', body: sentence(this.rng) },
        'm.relates_to': { rel_type: 'm.replace', event_id: t.id },
      });
    }
    if (own.length > 0 && roll < 0.29) {
      const t = this.rng.pick(own);
      this.recent.splice(this.recent.indexOf(t), 1);
      return { ...this.ev(sender, 'm.room.redaction', { reason: 'Removed' }), redacts: t.id };
    }
    return this.remember(this.message(sender));
  }

  private stateChange(): ImportedEvent {
    const p = this.profile;
    const roll = this.rng.next();
    const others = this.joined.filter((u) => u !== p.creator);
    if (roll < 0.2) return this.ev(p.creator, 'm.room.topic', { topic: `${randomTopic(this.rng)} (${this.emitted})` }, '');
    if (roll < 0.3) return this.ev(p.creator, 'm.room.name', { name: roomName(this.rng) }, '');
    if (roll < 0.5 && others.length > 0) {
      const u = this.rng.pick(others);
      this.joined.splice(this.joined.indexOf(u), 1);
      this.left.push(u);
      return this.ev(u, 'm.room.member', { membership: 'leave' }, u);
    }
    if (roll < 0.7 && this.left.length > 0) {
      const u = this.left.splice(this.rng.int(this.left.length), 1)[0];
      if (!p.isPublic && !this.reinvited.has(u)) {
        this.left.push(u);
        this.reinvited.add(u);
        return this.ev(p.creator, 'm.room.member', { membership: 'invite', displayname: this.display(u) }, u);
      }
      this.reinvited.delete(u);
      this.joined.push(u);
      return this.ev(u, 'm.room.member', { membership: 'join', displayname: this.display(u) }, u);
    }
    if (roll < 0.85 && others.length > 0) {
      const u = this.rng.pick(others);
      return this.ev(u, 'm.room.member', { membership: 'join', displayname: `${this.display(u)} (${this.rng.letters(3)})` }, u);
    }
    if (roll < 0.9 && others.length > 1) {
      const u = this.rng.pick(others);
      this.joined.splice(this.joined.indexOf(u), 1);
      return this.ev(p.creator, 'm.room.member', { membership: 'ban', reason: 'spam' }, u);
    }
    return this.ev(p.creator, 'm.room.power_levels', this.powerLevels(others), '');
  }

  private powerLevels(others: string[]): Json {
    const users: Json = { [this.profile.creator]: 100 };
    for (const u of others.slice(0, 3)) users[u] = this.rng.pick([0, 50]);
    return {
      users,
      users_default: 0,
      events_default: 0,
      state_default: 50,
      ban: 50,
      kick: 50,
      redact: 50,
      invite: this.profile.isPublic ? 50 : 0,
      events: { 'm.room.power_levels': 100, 'm.room.history_visibility': 100 },
    };
  }
}
