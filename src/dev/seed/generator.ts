/**
 * Realistic data sets for the seed command and the benchmarks: rooms with names, topics,
 * aliases, local and remote members, spaces listing their rooms, encrypted rooms and state churn,
 * handed out as import batches (RoomService.importRooms) of a bounded number of events. A room
 * larger than one batch continues in the following batches, so batches must be imported in order.
 */
import type { ImportedRoom } from '../../rooms/import.service';
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
  /** Per-room counts vary uniformly by ± this fraction of the mean (0 = exact counts). */
  jitter: number;
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
  jitter: 0.5,
};

/** Pick `n` distinct items (or all of them); `exclude` is never picked. */
function sample<T>(rng: Rng, items: readonly T[], n: number, exclude?: T): T[] {
  const available = items.length - (exclude !== undefined && items.includes(exclude) ? 1 : 0);
  const want = Math.min(n, available);
  const picked = new Set<number>();
  const out: T[] = [];
  if (want * 2 > items.length) {
    const pool = items.filter((x) => x !== exclude);
    while (out.length < want) out.push(pool.splice(rng.int(pool.length), 1)[0]);
    return out;
  }
  // Few of many: draw indices until enough distinct ones (no copy of a large pool per room).
  while (out.length < want) {
    const i = rng.int(items.length);
    if (picked.has(i) || items[i] === exclude) continue;
    picked.add(i);
    out.push(items[i]);
  }
  return out;
}

/** Around `mean` (uniform in [mean × (1 - jitter), mean × (1 + jitter)]), at least 0. */
const around = (rng: Rng, mean: number, jitter: number) => Math.max(0, Math.round(mean * (1 - jitter) + rng.next() * 2 * jitter * mean));

/** Draws until the value is not in `used`, and records it. */
function drawUnused<T>(used: Set<T>, draw: () => T): T {
  let v: T;
  do v = draw();
  while (used.has(v));
  used.add(v);
  return v;
}

function profiles(o: GeneratorOptions, rng: Rng): RoomProfile[] {
  const now = Date.now();
  const ids = Array.from({ length: o.rooms }, () => `!${rng.letters(18)}:${o.serverName}`);
  const perServer = Math.max(50, Math.ceil((o.membersPerRoom * 1.5 * o.remoteMemberRatio) / Math.max(1, o.remoteServers.length)));
  const remotes = o.remoteServers.flatMap((server, s) =>
    Array.from({ length: perServer }, (_, i) => `@${personName(i + s * 7)}:${server}`),
  );
  // Aliases are drawn until unused: over ~50,000 rooms a name and four letters start to repeat.
  const aliases = new Set<string>();
  const aliasFor = (name: string) => drawUnused(aliases, () => `#${aliasPart(name, rng)}:${o.serverName}`);
  const out = ids.map((roomId): RoomProfile => {
    const name = roomName(rng);
    const memberCount = around(rng, o.membersPerRoom, o.jitter);
    const remoteCount = Math.round(memberCount * o.remoteMemberRatio);
    const creator = rng.pick(o.localUsers);
    const locals = sample(rng, o.localUsers, memberCount - remoteCount, creator);
    return {
      roomId,
      creator,
      isPublic: rng.chance(o.publicRatio),
      isSpace: rng.chance(o.spaceRatio),
      encrypted: rng.chance(o.encryptedRatio),
      alias: rng.chance(o.aliasRatio) ? aliasFor(name) : null,
      name,
      topic: topic(rng),
      members: [...locals, ...sample(rng, remotes, remoteCount)],
      timelineEvents: around(rng, o.eventsPerRoom, o.jitter),
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
  // Each room's events come from its own stream. Seeds are drawn until unused: two rooms with one
  // seed would get the same event ids (among 100,000 rooms a 31-bit seed repeats about twice).
  const seeds = new Set<number>();
  const builders = profiles(options, rng).map(
    (p) => new RoomBuilder(p, new Rng(drawUnused(seeds, () => rng.int(2 ** 31))), options.serverName),
  );
  let batch: ImportedRoom[] = [];
  let size = 0;
  for (const b of builders) {
    for (;;) {
      const events = b.take(options.batchEvents - size);
      if (events.length === 0) break;
      batch.push(
        b.started
          ? { roomId: b.profile.roomId, events }
          : { roomId: b.profile.roomId, isPublic: b.profile.isPublic, aliases: b.profile.alias ? [b.profile.alias] : [], events },
      );
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
