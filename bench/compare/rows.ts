/**
 * The read rows of the side-by-side bench: every admin and client read both kinds of server serve,
 * each as a list of concrete requests over the seeded data (request i uses entry i mod length).
 */
import { ACCOUNT_DATA_TYPE, type Seeded } from './seed';
import type { RestClient, Target } from './target';
import type { WorkloadPlan } from './workload';

export interface ReadRequest {
  method: 'GET' | 'POST';
  path: string;
  body?: unknown;
}

export interface ReadRow {
  name: string;
  group: 'admin' | 'client' | 'floor';
  /** Bearer token sent with each request (none for unauthenticated endpoints). */
  token?: string;
  requests: ReadRequest[];
}

/** Everything the rows need that has to be read back from the server after seeding. */
export interface ReadContext {
  /** Backward /messages tokens of the first big room, one per 100-event page from its end. */
  pageTokens: string[];
  /** origin_server_ts of messages spread over the first big room. */
  timestamps: number[];
}

const enc = encodeURIComponent;
const PAGE = 100;
/** Sample size of rooms, users and events a row cycles over. */
const SAMPLE = 20;

/** `n` entries spread evenly over `items` (all of them when there are fewer). */
export function spread<T>(items: readonly T[], n: number): T[] {
  if (items.length <= n) return [...items];
  return Array.from({ length: n }, (_, i) => items[Math.floor(((i + 0.5) / n) * items.length)]);
}

/** Reads back what the rows need: pagination tokens and event timestamps of the first big room. */
export async function readContext(c: RestClient, plan: WorkloadPlan, seeded: Seeded, pages: number): Promise<ReadContext> {
  const big = plan.rooms.findIndex((r) => r.big);
  const room = seeded.rooms[big];
  const reader = seeded.users[plan.reader];
  const pageTokens: string[] = [];
  let from: string | undefined;
  for (let i = 0; i < pages; i++) {
    const q = `dir=b&limit=${PAGE}${from ? `&from=${enc(from)}` : ''}`;
    const page = await c.json<{ end?: string; chunk: unknown[] }>(
      'GET',
      `/_matrix/client/v3/rooms/${enc(room.roomId)}/messages?${q}`,
      reader.token,
    );
    if (!page.end || page.chunk.length < PAGE) break;
    pageTokens.push(page.end);
    from = page.end;
  }
  const timestamps: number[] = [];
  for (const eventId of spread(room.messageIds, 10)) {
    const e = await c.json<{ origin_server_ts: number }>(
      'GET',
      `/_matrix/client/v3/rooms/${enc(room.roomId)}/event/${enc(eventId)}`,
      reader.token,
    );
    timestamps.push(e.origin_server_ts);
  }
  return { pageTokens, timestamps };
}

export function readRows(t: Target, plan: WorkloadPlan, s: Seeded, ctx: ReadContext): ReadRow[] {
  const admin = t.adminToken;
  const reader = s.users[plan.reader];
  const bigIdx = plan.rooms.map((r, i) => (r.big ? i : -1)).filter((i) => i >= 0);
  const bigRoom = s.rooms[bigIdx[0]];
  const bigPlan = plan.rooms[bigIdx[0]];
  // Rooms the reader belongs to (for client reads), and a spread of all rooms (for admin reads).
  const readerRooms = spread(
    s.rooms.filter((_, i) => plan.rooms[i].members.includes(plan.reader)),
    SAMPLE,
  ).map((r) => r.roomId);
  const adminRooms = spread(s.rooms, SAMPLE).map((r) => r.roomId);
  const sampledUsers = spread(s.users, SAMPLE);
  const users = sampledUsers.map((u) => u.userId);
  const events = spread(bigRoom.messageIds, SAMPLE);
  const aliases = spread(
    s.rooms.filter((r) => r.alias),
    SAMPLE,
  ).map((r) => r.alias!);
  const R = enc(bigRoom.roomId);
  const filter = enc(JSON.stringify({ types: ['m.room.message'], not_senders: [s.users[bigPlan.members[0]].userId] }));
  const froms = ['', ...ctx.pageTokens.map((tok) => `&from=${enc(tok)}`)];
  const get = (paths: string[]): ReadRequest[] => paths.map((path) => ({ method: 'GET', path }));
  const A = '/_synapse/admin';
  const C = '/_matrix/client/v3';
  const per = <T>(items: T[], f: (x: T) => string) => get(items.map(f));
  const searchTerms = spread(plan.rooms, 5).map((r) => r.name.split(' ')[1]);
  const names = spread(plan.users, 5).map((u) => u.localpart.slice(0, 6));
  const rooms = plan.rooms.length;
  const pageFrom = Math.min(200, Math.floor(rooms / 2));

  const rows: ReadRow[] = [
    { name: 'transport floor GET /versions', group: 'floor', requests: get(['/_matrix/client/versions']) },
    { name: 'admin server_version', group: 'admin', requests: get([`${A}/v1/server_version`]) },
    // Rooms list: sorts, search, paging.
    { name: 'rooms list ?limit=100 order name', group: 'admin', token: admin, requests: get([`${A}/v1/rooms?limit=100&order_by=name`]) },
    {
      name: 'rooms list order joined_members',
      group: 'admin',
      token: admin,
      requests: get([`${A}/v1/rooms?limit=100&order_by=joined_members`]),
    },
    {
      name: 'rooms list order state_events dir=b',
      group: 'admin',
      token: admin,
      requests: get([`${A}/v1/rooms?limit=100&order_by=state_events&dir=b`]),
    },
    { name: 'rooms list order creator', group: 'admin', token: admin, requests: get([`${A}/v1/rooms?limit=100&order_by=creator`]) },
    { name: 'rooms list default order', group: 'admin', token: admin, requests: get([`${A}/v1/rooms?limit=100`]) },
    {
      name: `rooms list from=${pageFrom} limit=100`,
      group: 'admin',
      token: admin,
      requests: get([`${A}/v1/rooms?limit=100&from=${pageFrom}&order_by=name`]),
    },
    {
      name: 'rooms list search_term',
      group: 'admin',
      token: admin,
      requests: per(searchTerms, (q) => `${A}/v1/rooms?limit=100&search_term=${enc(q)}`),
    },
    // One room.
    { name: 'room details', group: 'admin', token: admin, requests: per(adminRooms, (r) => `${A}/v1/rooms/${enc(r)}`) },
    { name: 'room members', group: 'admin', token: admin, requests: per(adminRooms, (r) => `${A}/v1/rooms/${enc(r)}/members`) },
    { name: 'room state', group: 'admin', token: admin, requests: per(adminRooms, (r) => `${A}/v1/rooms/${enc(r)}/state`) },
    { name: 'room block status', group: 'admin', token: admin, requests: per(adminRooms, (r) => `${A}/v1/rooms/${enc(r)}/block`) },
    {
      name: 'room forward_extremities',
      group: 'admin',
      token: admin,
      requests: per(bigIdx, (i) => `${A}/v1/rooms/${enc(s.rooms[i].roomId)}/forward_extremities`),
    },
    {
      name: 'admin /messages 100',
      group: 'admin',
      token: admin,
      requests: per(froms, (f) => `${A}/v1/rooms/${R}/messages?dir=b&limit=${PAGE}${f}`),
    },
    {
      name: 'admin /messages 100 + filter',
      group: 'admin',
      token: admin,
      requests: per(froms, (f) => `${A}/v1/rooms/${R}/messages?dir=b&limit=${PAGE}${f}&filter=${filter}`),
    },
    {
      name: 'admin /messages 100 dir=f',
      group: 'admin',
      token: admin,
      requests: get([`${A}/v1/rooms/${R}/messages?dir=f&limit=${PAGE}`]),
    },
    {
      name: 'admin /context limit=10',
      group: 'admin',
      token: admin,
      requests: per(events, (e) => `${A}/v1/rooms/${R}/context/${enc(e)}?limit=10`),
    },
    {
      name: 'admin timestamp_to_event',
      group: 'admin',
      token: admin,
      requests: per(ctx.timestamps, (ts) => `${A}/v1/rooms/${R}/timestamp_to_event?ts=${ts}&dir=f`),
    },
    { name: 'admin fetch_event', group: 'admin', token: admin, requests: per(events, (e) => `${A}/v1/fetch_event/${enc(e)}`) },
    // Moderation.
    {
      name: 'event reports list',
      group: 'admin',
      token: admin,
      requests: get([`${A}/v1/event_reports?limit=100`, `${A}/v1/event_reports?limit=10&dir=f`]),
    },
    { name: 'event report details', group: 'admin', token: admin, requests: per(s.reportIds, (id) => `${A}/v1/event_reports/${id}`) },
    { name: 'rooms by size on disk', group: 'admin', token: admin, requests: get([`${A}/v1/statistics/database/rooms`]) },
    { name: 'scheduled_tasks', group: 'admin', token: admin, requests: get([`${A}/v1/scheduled_tasks`]) },
    // Users.
    { name: 'users list v2 ?limit=100', group: 'admin', token: admin, requests: get([`${A}/v2/users?limit=100`]) },
    { name: 'users list v2 paging from=10 limit=10', group: 'admin', token: admin, requests: get([`${A}/v2/users?from=10&limit=10`]) },
    {
      name: 'users list v2 search name=',
      group: 'admin',
      token: admin,
      requests: per(names, (n) => `${A}/v2/users?limit=100&name=${enc(n)}`),
    },
    { name: 'user details', group: 'admin', token: admin, requests: per(users, (u) => `${A}/v2/users/${enc(u)}`) },
    { name: 'user devices', group: 'admin', token: admin, requests: per(users, (u) => `${A}/v2/users/${enc(u)}/devices`) },
    {
      name: 'user device by id',
      group: 'admin',
      token: admin,
      requests: per(sampledUsers, (u) => `${A}/v2/users/${enc(u.userId)}/devices/${enc(u.deviceId)}`),
    },
    { name: 'user joined_rooms', group: 'admin', token: admin, requests: per(users, (u) => `${A}/v1/users/${enc(u)}/joined_rooms`) },
    { name: 'user memberships', group: 'admin', token: admin, requests: per(users, (u) => `${A}/v1/users/${enc(u)}/memberships`) },
    { name: 'user accountdata', group: 'admin', token: admin, requests: per(users, (u) => `${A}/v1/users/${enc(u)}/accountdata`) },
    {
      name: 'user sent_invite_count',
      group: 'admin',
      token: admin,
      requests: per(users, (u) => `${A}/v1/users/${enc(u)}/sent_invite_count?from_ts=0`),
    },
    {
      name: 'user cumulative_joined_room_count',
      group: 'admin',
      token: admin,
      requests: per(users, (u) => `${A}/v1/users/${enc(u)}/cumulative_joined_room_count?from_ts=0`),
    },
    { name: 'whois', group: 'admin', token: admin, requests: per(users, (u) => `${A}/v1/whois/${enc(u)}`) },
    {
      name: 'username_available',
      group: 'admin',
      token: admin,
      requests: per(names, (n) => `${A}/v1/username_available?username=${enc(`${n}_free`)}`),
    },
    // Client reads as a member.
    {
      name: 'client /messages 100',
      group: 'client',
      token: reader.token,
      requests: per(froms, (f) => `${C}/rooms/${R}/messages?dir=b&limit=${PAGE}${f}`),
    },
    {
      name: 'client /messages 100 + filter',
      group: 'client',
      token: reader.token,
      requests: per(froms, (f) => `${C}/rooms/${R}/messages?dir=b&limit=${PAGE}${f}&filter=${filter}`),
    },
    {
      name: 'client /context limit=10',
      group: 'client',
      token: reader.token,
      requests: per(events, (e) => `${C}/rooms/${R}/context/${enc(e)}?limit=10`),
    },
    { name: 'client /event', group: 'client', token: reader.token, requests: per(events, (e) => `${C}/rooms/${R}/event/${enc(e)}`) },
    {
      name: 'client timestamp_to_event (v1)',
      group: 'client',
      token: reader.token,
      requests: per(ctx.timestamps, (ts) => `/_matrix/client/v1/rooms/${R}/timestamp_to_event?ts=${ts}&dir=f`),
    },
    { name: 'client /state', group: 'client', token: reader.token, requests: per(readerRooms, (r) => `${C}/rooms/${enc(r)}/state`) },
    {
      name: 'client /state/m.room.name',
      group: 'client',
      token: reader.token,
      requests: per(readerRooms, (r) => `${C}/rooms/${enc(r)}/state/m.room.name`),
    },
    {
      name: 'client /state/m.room.member/{own}',
      group: 'client',
      token: reader.token,
      requests: per(readerRooms, (r) => `${C}/rooms/${enc(r)}/state/m.room.member/${enc(reader.userId)}`),
    },
    { name: 'client /members', group: 'client', token: reader.token, requests: per(readerRooms, (r) => `${C}/rooms/${enc(r)}/members`) },
    {
      name: 'client /members?membership=join',
      group: 'client',
      token: reader.token,
      requests: per(readerRooms, (r) => `${C}/rooms/${enc(r)}/members?membership=join`),
    },
    {
      name: 'client /joined_members',
      group: 'client',
      token: reader.token,
      requests: per(readerRooms, (r) => `${C}/rooms/${enc(r)}/joined_members`),
    },
    { name: 'client /aliases', group: 'client', token: reader.token, requests: per(readerRooms, (r) => `${C}/rooms/${enc(r)}/aliases`) },
    { name: 'client /joined_rooms', group: 'client', token: reader.token, requests: get([`${C}/joined_rooms`]) },
    { name: 'client /account/whoami', group: 'client', token: reader.token, requests: get([`${C}/account/whoami`]) },
    { name: 'client profile', group: 'client', token: reader.token, requests: per(users, (u) => `${C}/profile/${enc(u)}`) },
    {
      name: 'client profile displayname',
      group: 'client',
      token: reader.token,
      requests: per(users, (u) => `${C}/profile/${enc(u)}/displayname`),
    },
    {
      name: 'client profile avatar_url',
      group: 'client',
      token: reader.token,
      requests: per(users, (u) => `${C}/profile/${enc(u)}/avatar_url`),
    },
    {
      name: 'client directory/room/{alias}',
      group: 'client',
      token: reader.token,
      requests: per(aliases, (a) => `${C}/directory/room/${enc(a)}`),
    },
    {
      name: 'client directory/list/room visibility',
      group: 'client',
      requests: per(adminRooms, (r) => `${C}/directory/list/room/${enc(r)}`),
    },
    {
      name: 'client account_data (global)',
      group: 'client',
      token: reader.token,
      requests: get([`${C}/user/${enc(reader.userId)}/account_data/${ACCOUNT_DATA_TYPE}`]),
    },
    {
      name: 'client account_data (room)',
      group: 'client',
      token: reader.token,
      requests: per(readerRooms, (r) => `${C}/user/${enc(reader.userId)}/rooms/${enc(r)}/account_data/${ACCOUNT_DATA_TYPE}`),
    },
    { name: 'client GET /login flows', group: 'client', requests: get([`${C}/login`]) },
    { name: 'client GET /publicRooms limit=100', group: 'client', token: reader.token, requests: get([`${C}/publicRooms?limit=100`]) },
    {
      name: 'client POST /publicRooms search',
      group: 'client',
      token: reader.token,
      requests: searchTerms.map((q) => ({
        method: 'POST',
        path: `${C}/publicRooms`,
        body: { limit: 100, filter: { generic_search_term: q } },
      })),
    },
  ];
  return rows.filter((r) => r.requests.length > 0);
}
