/**
 * The side-by-side workload as plain data: users, rooms with their members, messages and event
 * reports, drawn from a seed. The same sizes and seed give the same plan, so two servers seeded
 * from it through the same REST calls hold equivalent data (ids differ, shapes do not).
 */
import { Rng, aliasPart, personName, roomName, sentence, topic } from '../../src/dev/seed/vocabulary';

export interface WorkloadSizes {
  /** Users besides the admin. */
  users: number;
  /** Ordinary rooms. */
  rooms: number;
  /** Members of an ordinary room are drawn from 1..maxMembers (creator included). */
  maxMembers: number;
  /** Big rooms (maxMembers members each, reader included). */
  bigRooms: number;
  /** Messages in each big room. */
  bigRoomMessages: number;
  /** Messages in an ordinary room are drawn from 0..maxSmallMessages. */
  maxSmallMessages: number;
  /** Events of the first big room reported by the reader. */
  reports: number;
  seed: number;
}

export const FULL_SIZES: WorkloadSizes = {
  users: 50,
  rooms: 300,
  maxMembers: 50,
  bigRooms: 3,
  bigRoomMessages: 3000,
  maxSmallMessages: 3,
  reports: 20,
  seed: 21,
};
export const QUICK_SIZES: WorkloadSizes = {
  users: 10,
  rooms: 16,
  maxMembers: 6,
  bigRooms: 3,
  bigRoomMessages: 120,
  maxSmallMessages: 2,
  reports: 3,
  seed: 21,
};

export interface PlannedUser {
  localpart: string;
  displayname: string;
}

export interface PlannedMessage {
  /** Index into the room's `members`. */
  sender: number;
  body: string;
  msgtype: 'm.text' | 'm.notice';
}

export interface PlannedRoom {
  index: number;
  big: boolean;
  /** User indices; the first is the creator. */
  members: number[];
  name: string;
  topic: string | null;
  /** Local part of a published alias, or null. */
  alias: string | null;
  /** `public_chat`: members join directly; `private_chat`: the creator invites each, who then joins. */
  preset: 'public_chat' | 'private_chat';
  /** Listed in the public room directory. */
  directory: boolean;
  messages: PlannedMessage[];
}

export interface PlannedReport {
  /** Index into the first big room's messages. */
  message: number;
  reason: string;
  score: number;
}

export interface WorkloadPlan {
  sizes: WorkloadSizes;
  users: PlannedUser[];
  /** Index of the user who is a member of every big room and reads as a client. */
  reader: number;
  /** Ordinary rooms first, then the big rooms. */
  rooms: PlannedRoom[];
  reports: PlannedReport[];
}

/** `n` distinct values of 0..size-1 other than `exclude`, in drawing order. */
function draw(rng: Rng, size: number, n: number, exclude: number[]): number[] {
  const pool = Array.from({ length: size }, (_, i) => i).filter((i) => !exclude.includes(i));
  const out: number[] = [];
  while (out.length < n && pool.length > 0) out.push(pool.splice(rng.int(pool.length), 1)[0]);
  return out;
}

function messages(rng: Rng, count: number, members: number): PlannedMessage[] {
  return Array.from({ length: count }, (_, i) => ({
    sender: i % members,
    body: sentence(rng),
    msgtype: rng.chance(0.1) ? 'm.notice' : 'm.text',
  }));
}

export function planWorkload(sizes: WorkloadSizes): WorkloadPlan {
  if (sizes.users < 2) throw new Error('the workload needs at least 2 users');
  if (sizes.maxMembers < 1) throw new Error('maxMembers must be at least 1');
  const rng = new Rng(sizes.seed);
  const users = Array.from({ length: sizes.users }, (_, i) => ({
    localpart: `cmp_${personName(i)}_${i}`,
    displayname: `${personName(i)} ${rng.letters(3)}`,
  }));
  const reader = 0;
  const maxMembers = Math.min(sizes.maxMembers, sizes.users);
  const rooms: PlannedRoom[] = [];
  const total = sizes.rooms + sizes.bigRooms;
  for (let index = 0; index < total; index++) {
    const big = index >= sizes.rooms;
    const creator = big ? 1 + rng.int(sizes.users - 1) : rng.int(sizes.users);
    const count = big ? maxMembers : 1 + rng.int(maxMembers);
    const members = [creator, ...draw(rng, sizes.users, count - 1, [creator])];
    if (big && !members.includes(reader)) members[members.length - 1] = reader;
    const name = roomName(rng);
    const hasTopic = rng.chance(0.6);
    const t = hasTopic ? topic(rng) : null;
    const alias = big || rng.chance(0.4) ? `${aliasPart(name, rng)}-${index}` : null;
    const preset = big || rng.chance(0.7) ? 'public_chat' : 'private_chat';
    const directory = big || (preset === 'public_chat' && rng.chance(0.5));
    const count2 = big ? sizes.bigRoomMessages : rng.int(sizes.maxSmallMessages + 1);
    rooms.push({ index, big, members, name, topic: t, alias, preset, directory, messages: messages(rng, count2, members.length) });
  }
  const first = rooms.find((r) => r.big);
  const reports = first
    ? Array.from({ length: Math.min(sizes.reports, first.messages.length) }, (_, i) => ({
        message: Math.floor(((i + 0.5) / sizes.reports) * first.messages.length),
        reason: sentence(rng),
        score: -rng.int(101),
      }))
    : [];
  return { sizes, users, reader, rooms, reports };
}
