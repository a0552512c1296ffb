/**
 * Keeping `room_stats` current: each persisted batch produces one delta per room (membership
 * counters, state event count, and the columns copied from current state), applied in one
 * UPDATE. Pure functions; the persister feeds them the state before and after each event.
 */
import type { StateEntry } from './event-auth';
import type { Json, Membership } from './room.types';

const str = (v: unknown): string | null => (typeof v === 'string' ? v : null);

/** State event type → the room_stats column it sets, and how to read it from the content. */
export const STATE_STATS_COLUMNS: Record<string, [string, (c: Json) => string | boolean | null][]> = {
  'm.room.name': [['name', (c) => str(c.name)]],
  'm.room.canonical_alias': [['canonical_alias', (c) => str(c.alias)]],
  'm.room.topic': [['topic', (c) => str(c.topic)]],
  'm.room.avatar': [['avatar', (c) => str(c.url)]],
  'm.room.join_rules': [['join_rules', (c) => str(c.join_rule)]],
  'm.room.history_visibility': [['history_visibility', (c) => str(c.history_visibility)]],
  'm.room.guest_access': [['guest_access', (c) => str(c.guest_access)]],
  'm.room.encryption': [['encryption', (c) => str(c.algorithm)]],
  'm.room.tombstone': [['tombstone_successor', (c) => str(c.replacement_room)]],
  'm.room.create': [
    ['federatable', (c) => c['m.federate'] !== false],
    ['room_type', (c) => str(c.type)],
  ],
};

export const STATS_TEXT_COLUMNS = [
  'name',
  'canonical_alias',
  'topic',
  'avatar',
  'join_rules',
  'history_visibility',
  'guest_access',
  'encryption',
  'tombstone_successor',
  'room_type',
];

const COUNTER: Record<Membership, keyof Counters> = { join: 'joined', invite: 'invited', leave: 'left', ban: 'banned', knock: 'knocked' };

interface Counters {
  joined: number;
  joinedLocal: number;
  invited: number;
  left: number;
  banned: number;
  knocked: number;
  stateEvents: number;
}

export interface StatsDelta extends Counters {
  roomId: string;
  /** Columns to overwrite (only keys present are written). */
  patch: Record<string, string | boolean | null>;
}

export function emptyDelta(roomId: string): StatsDelta {
  return { roomId, joined: 0, joinedLocal: 0, invited: 0, left: 0, banned: 0, knocked: 0, stateEvents: 0, patch: {} };
}

/** Accounts one accepted state event (`before` = the entry it replaces, if any). */
export function accountStateEvent(
  delta: StatsDelta,
  type: string,
  stateKey: string,
  content: Json,
  before: StateEntry | undefined,
  isLocal: (userId: string) => boolean,
): void {
  if (!before) delta.stateEvents += 1;
  for (const [column, read] of STATE_STATS_COLUMNS[type] ?? []) {
    if (stateKey === '') delta.patch[column] = read(content);
  }
  if (type !== 'm.room.member') return;
  const oldM = before?.membership ?? null;
  const newM = content.membership as Membership;
  if (oldM === newM) return;
  if (oldM) delta[COUNTER[oldM]] -= 1;
  delta[COUNTER[newM]] += 1;
  if (isLocal(stateKey)) {
    if (oldM === 'join') delta.joinedLocal -= 1;
    if (newM === 'join') delta.joinedLocal += 1;
  }
}

/** The row handed to the stats UPDATE (counts are deltas). */
export function deltaRow(d: StatsDelta): Json {
  return {
    room_id: d.roomId,
    dj: d.joined,
    djl: d.joinedLocal,
    di: d.invited,
    dl: d.left,
    db: d.banned,
    dk: d.knocked,
    ds: d.stateEvents,
    patch: d.patch,
  };
}
