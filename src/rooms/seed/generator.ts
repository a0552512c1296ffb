/**
 * Realistic data sets for the seed command and the benchmarks: rooms with names, topics,
 * aliases, local and remote members, spaces listing their rooms, encrypted rooms and state churn,
 * handed out as import batches (RoomService.importRooms) of a bounded number of events. A room
 * larger than one batch continues in the following batches, so batches must be imported in order.
 */
import type { ImportedRoom } from '../import.service';
import { RoomBuilder, type RoomProfile } from './room-builder';
import { Rng, aliasPart, personName, roomName, topic } from './vocabulary';

export interface GeneratorOptions {
  serverName: string;
  rooms: number;
  /** Average timeline events per room (after the setup events). */
  eventsPerRoom: number;
  /** Local users that may create and join rooms (they should exist). */
  localUsers: string[];
  /** Remote servers whose users join rooms. */
  remoteServers: string[];
  /** Average members per room besides the creator. */
  membersPerRoom: number;
  /** Fraction of members that are remote users. */
  remoteMemberRatio: number;
  publicRatio: number;
  aliasRatio: number;
  spaceRatio: number;
  encryptedRatio: number;
  /** Fraction of timeline events that change state. */
  stateChurn: number;
  /** Most events per import batch. */
  batchEvents: number;
  seed: number;
  /** Timestamps span [now - historyMs, now]. */
  historyMs: number;
}

export const DEFAULT_GENERATOR_OPTIONS: Omit<GeneratorOptions, 'serverName' | 'localUsers'> = {
  rooms: 100,
  eventsPerRoom: 100,
  remoteServers: ['matrix.org', 'example.com', 'chat.example.net'],
  membersPerRoom: 8,
  remoteMemberRatio: 0.3,
  publicRatio: 0.4,
  aliasRatio: 0.5,
  spaceRatio: 0.05,
  encryptedRatio: 0.3,
  stateChurn: 0.05,
  batchEvents: 5_000,
  seed: 1,
  historyMs: 365 * 86_400_000,
};

/** Pick `n` distinct items (or all of them). */
function sample<T>(rng: Rng, items: readonly T[], n: number): T[] {
  const pool = [...items];
  const out: T[] = [];
  while (out.length < n && pool.length > 0) out.push(pool.splice(rng.int(pool.length), 1)[0]);
  return out;
}

/** Around `mean` (uniform in [mean/2, 3*mean/2]), at least 0. */
const around = (rng: Rng, mean: number) => Math.max(0, Math.round(mean / 2 + rng.next() * mean));

function profiles(o: GeneratorOptions, rng: Rng): RoomProfile[] {
  const now = Date.now();
  const ids = Array.from({ length: o.rooms }, () => `!${rng.letters(18)}:${o.serverName}`);
  const remotes = o.remoteServers.flatMap((server, s) => Array.from({ length: 50 }, (_, i) => `@${personName(i + s * 7)}:${server}`));
  const out = ids.map((roomId): RoomProfile => {
    const name = roomName(rng);
    const memberCount = around(rng, o.membersPerRoom);
    const remoteCount = Math.round(memberCount * o.remoteMemberRatio);
    const creator = rng.pick(o.localUsers);
    const locals = sample(rng, o.localUsers.filter((u) => u !== creator), memberCount - remoteCount);
    return {
      roomId,
      creator,
      isPublic: rng.chance(o.publicRatio),
      isSpace: rng.chance(o.spaceRatio),
      encrypted: rng.chance(o.encryptedRatio),
      alias: rng.chance(o.aliasRatio) ? `#${aliasPart(name, rng)}:${o.serverName}` : null,
      name,
      topic: topic(rng),
      members: [...locals, ...sample(rng, remotes, remoteCount)],
      timelineEvents: around(rng, o.eventsPerRoom),
      children: [],
      stateChurn: o.stateChurn,
      startTs: now - o.historyMs + rng.int(Math.max(1, Math.floor(o.historyMs / 2))),
      endTs: now,
    };
  });
  const spaces = out.filter((p) => p.isSpace);
  for (const p of out) {
    if (p.isSpace || spaces.length === 0) continue;
    rng.pick(spaces).children.push(p.roomId);
  }
  for (const s of spaces) s.encrypted = false;
  return out;
}

/**
 * Import batches for the data set, in order. Each batch holds at most `batchEvents` events; a new
 * room's piece carries its aliases and public flag, a continued room's piece only its id.
 */
export function* generateImportBatches(options: GeneratorOptions): Generator<ImportedRoom[]> {
  const rng = new Rng(options.seed);
  const builders = profiles(options, rng).map((p) => new RoomBuilder(p, new Rng(rng.int(2 ** 31)), options.serverName));
  let batch: ImportedRoom[] = [];
  let size = 0;
  for (const b of builders) {
    for (;;) {
      const events = b.take(options.batchEvents - size);
      if (events.length === 0) break;
      batch.push(b.started ? { roomId: b.profile.roomId, events } : { roomId: b.profile.roomId, isPublic: b.profile.isPublic, aliases: b.profile.alias ? [b.profile.alias] : [], events });
      b.started = true;
      size += events.length;
      if (size >= options.batchEvents) {
        yield batch;
        batch = [];
        size = 0;
      }
    }
  }
  if (batch.length > 0) yield batch;
}

/** Local user ids `@<name>:<server>` for a data set of `n` users. */
export function localUserIds(serverName: string, n: number, prefix = ''): string[] {
  return Array.from({ length: n }, (_, i) => `@${prefix}${personName(i)}:${serverName}`);
}
