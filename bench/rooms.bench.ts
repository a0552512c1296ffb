/**
 * Room admin at scale, in one run on one stack:
 * - list rooms over a generated data set (default 100,000 rooms, built through the bulk import):
 *   p50/p99 of several order_by / search_term / filter / page combinations through the REST
 *   gateway and over gRPC, beside the same listing done by the service alone (its SQL and
 *   mapping, no transport) and by the plain SQL of the listing (page query + COUNT(*) of the
 *   filter, through a bare pg client) timed in the same run;
 * - a v2 delete of a room with 1,000 local members and 1,000,000 events: wall time, time of each
 *   phase, events purged per second, and the latency of another room's reads and sends while it
 *   runs, beside the same latencies idle.
 * Targets: list p50 ≤ 10 ms through REST and ≤ 1.5× the plain SQL; delete ≤ 20 s (≥ 50,000 events/s).
 *
 * The four ways of one case are timed in turn, request by request, so host drift weighs on all alike.
 *
 * Options: --rooms N --events M (per room) --members K (big room) --bigEvents E (0: no delete) --n R (requests per case)
 */
import http from 'node:http';
import { Client as PgClient } from 'pg';
import { Direction } from '../gen/synapse/admin/v1/common';
import { RoomOrderBy, type ListRoomsRequest } from '../gen/synapse/admin/v1/room_admin';
import { RoomAdminService } from '../src/admin/room-admin.service';
import type { RoomOrderBy as OrderBy } from '../src/admin/room-admin.types';
import type { EventDraft } from '../src/rooms/event-persister';
import { DEFAULT_GENERATOR_OPTIONS, generateImportBatches, localUserIds } from '../src/dev/seed/generator';
import { UserService } from '../src/users/user.service';
import { bearer, grpcCall } from '../test/support/stack';
import {
  fmt,
  measure,
  measureInterleaved,
  options,
  printTransportFloor,
  registerUser,
  settleHeap,
  startStack,
  stats,
  table,
  type LatencyStats,
  type Stack,
  type TestUser,
} from './support';

const SORT_COLUMN: Record<string, [string, 'ASC' | 'DESC']> = {
  name: ['name', 'ASC'],
  canonical_alias: ['canonical_alias', 'ASC'],
  joined_members: ['joined_members', 'DESC'],
  version: ['room_version', 'DESC'],
  creator: ['creator', 'ASC'],
  state_events: ['state_events', 'DESC'],
  public: ['is_public', 'ASC'],
};
const PERSIST_DRAFTS_PER_CALL = 50_000;
const STATUS_POLL_MS = 50;

interface ListCase {
  label: string;
  orderBy: string;
  dir: 'f' | 'b';
  from: number;
  limit: number;
  searchTerm?: string;
  publicRooms?: boolean;
  emptyRooms?: boolean;
}

const ms = (s: LatencyStats) => `${fmt(s.p50)} / ${fmt(s.p99)}`;

/** The plain SQL of a listing: the page, then the count of the filter (what Synapse runs). */
function plainSql(c: ListCase): { page: { text: string; values: unknown[] }; count: { text: string; values: unknown[] } } {
  const where: string[] = [];
  const values: unknown[] = [];
  if (c.searchTerm !== undefined) {
    const p = `%${c.searchTerm.toLowerCase()}%`;
    values.push(p, `#${p}:%`, c.searchTerm);
    where.push('(name_lower LIKE $1 OR canonical_alias_lower LIKE $2 OR room_id = $3)');
  }
  if (c.publicRooms !== undefined) where.push(c.publicRooms ? 'is_public' : 'NOT is_public');
  if (c.emptyRooms !== undefined) where.push(c.emptyRooms ? 'joined_members = 0' : 'joined_members <> 0');
  const w = where.length ? `WHERE ${where.join(' AND ')}` : '';
  const [col, fwd] = SORT_COLUMN[c.orderBy];
  const dir = c.dir === 'f' ? fwd : fwd === 'ASC' ? 'DESC' : 'ASC';
  const n = values.length;
  return {
    page: {
      text: `SELECT room_id, name, canonical_alias, joined_members, joined_local_members, room_version, creator, encryption, federatable, is_public, join_rules, guest_access, history_visibility, state_events, room_type FROM room_stats ${w} ORDER BY ${col} ${dir}, room_id ${dir} LIMIT $${n + 1} OFFSET $${n + 2}`,
      values: [...values, c.limit, c.from],
    },
    count: { text: `SELECT count(*) FROM room_stats ${w}`, values },
  };
}

function restQuery(c: ListCase): string {
  const q = new URLSearchParams({ order_by: c.orderBy, dir: c.dir, from: String(c.from), limit: String(c.limit) });
  if (c.searchTerm !== undefined) q.set('search_term', c.searchTerm);
  if (c.publicRooms !== undefined) q.set('public_rooms', String(c.publicRooms));
  if (c.emptyRooms !== undefined) q.set('empty_rooms', String(c.emptyRooms));
  return `/_synapse/admin/v1/rooms?${q}`;
}

function grpcRequest(c: ListCase): ListRoomsRequest {
  return {
    from: c.from,
    limit: c.limit,
    orderBy: RoomOrderBy[`ROOM_ORDER_BY_${c.orderBy.toUpperCase()}` as keyof typeof RoomOrderBy],
    dir: c.dir === 'b' ? Direction.DIRECTION_BACKWARDS : Direction.DIRECTION_FORWARDS,
    searchTerm: c.searchTerm,
    publicRooms: c.publicRooms,
    emptyRooms: c.emptyRooms,
  };
}

function restGetter(stack: Stack, token: string) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 4 });
  const get = (path: string) =>
    new Promise<number>((ok, ko) => {
      const req = http.get(
        { host: '127.0.0.1', port: stack.app.httpPort!, path, agent, headers: { authorization: `Bearer ${token}` } },
        (res) => {
          res.resume();
          res.on('end', () => (res.statusCode === 200 ? ok(200) : ko(new Error(`${path} → ${res.statusCode}`))));
        },
      );
      req.on('error', ko);
    });
  return { get, close: () => agent.destroy() };
}

/** Generated rooms through the bulk import. */
async function seedRooms(stack: Stack, o: Record<string, number>): Promise<void> {
  const rooms = stack.app.services.rooms;
  const users = new UserService('test', null);
  const localUsers = localUserIds('test', 200);
  for (const userId of localUsers)
    await users.upsertUser(stack.app.orm.em.fork(), { userId, displayname: userId.slice(1, userId.indexOf(':')) });
  const seen = new Set<string>();
  let events = 0;
  const t0 = Date.now();
  const gen = generateImportBatches({
    ...DEFAULT_GENERATOR_OPTIONS,
    rooms: o.rooms,
    eventsPerRoom: o.events,
    membersPerRoom: 4,
    batchEvents: 20_000,
    seed: 7,
    serverName: 'test',
    localUsers,
  });
  for (const batch of gen) {
    for (const r of batch) {
      if (r.roomId) seen.add(r.roomId);
      events += r.events.length;
    }
    await rooms.importRooms(stack.app.orm.em.fork(), batch);
    if (seen.size % 10_000 < batch.length) process.stdout.write(`  seeded ${seen.size} rooms, ${events} events\n`);
  }
  const importMs = Date.now() - t0;
  // What autovacuum does on a live server: fresh statistics and visibility map.
  await stack.app.orm.em.fork().execute('VACUUM ANALYZE room_stats');
  await stack.app.orm.em.fork().execute('VACUUM ANALYZE room_stats_counts');
  table('data set (bulk import)', [
    { rooms: seen.size, events, 'import s': fmt(importMs / 1000, 1), 'events/s': fmt(events / (importMs / 1000), 0) },
  ]);
}

/** A word of the generated names (the vocabulary is small: a word matches ~5% of rooms), a rare alias fragment, and a room id. */
async function searchTerms(
  stack: Stack,
): Promise<{ word: string; wordMatches: number; fragment: string; fragmentMatches: number; roomId: string }> {
  const em = stack.app.orm.em.fork();
  const count = async (term: string) =>
    Number(
      (
        await em.execute<{ n: string }[]>('SELECT count(*) AS n FROM room_stats WHERE name_lower LIKE ? OR canonical_alias_lower LIKE ?', [
          `%${term}%`,
          `#%${term}%:%`,
        ])
      )[0].n,
    );
  const rows = await em.execute<{ room_id: string; name: string }[]>(
    'SELECT room_id, name FROM room_stats WHERE name IS NOT NULL ORDER BY room_id LIMIT 1 OFFSET 777',
  );
  const word = rows[0].name
    .split(/\s+/)
    .sort((a, b) => b.length - a.length)[0]
    .toLowerCase()
    .slice(0, 6);
  const alias = await em.execute<{ canonical_alias: string }[]>(
    'SELECT canonical_alias FROM room_stats WHERE canonical_alias IS NOT NULL ORDER BY room_id LIMIT 1 OFFSET 333',
  );
  const fragment = alias[0].canonical_alias.slice(1, alias[0].canonical_alias.indexOf(':')).slice(-7);
  return { word, wordMatches: await count(word), fragment, fragmentMatches: await count(fragment), roomId: rows[0].room_id };
}

async function listRoomsBench(stack: Stack, admin: TestUser, o: Record<string, number>): Promise<void> {
  const { word, wordMatches, fragment, fragmentMatches, roomId } = await searchTerms(stack);
  const mid = Math.floor(o.rooms / 2);
  const cases: ListCase[] = [
    { label: 'name, page 1', orderBy: 'name', dir: 'f', from: 0, limit: 100 },
    { label: `name, page at ${mid}`, orderBy: 'name', dir: 'f', from: mid, limit: 100 },
    { label: 'canonical_alias b, page 1', orderBy: 'canonical_alias', dir: 'b', from: 0, limit: 100 },
    { label: 'joined_members, page 1', orderBy: 'joined_members', dir: 'f', from: 0, limit: 100 },
    { label: `joined_members, page at ${mid}`, orderBy: 'joined_members', dir: 'f', from: mid, limit: 100 },
    { label: 'version, page 1', orderBy: 'version', dir: 'f', from: 0, limit: 100 },
    { label: 'creator b, 50/page, page 3', orderBy: 'creator', dir: 'b', from: 100, limit: 50 },
    { label: 'state_events, page 1', orderBy: 'state_events', dir: 'f', from: 0, limit: 100 },
    { label: 'public_rooms=true, name', orderBy: 'name', dir: 'f', from: 0, limit: 100, publicRooms: true },
    { label: 'empty_rooms=false, joined_members', orderBy: 'joined_members', dir: 'f', from: 0, limit: 100, emptyRooms: false },
    {
      label: `search "${fragment}" (${fragmentMatches} rooms), name`,
      orderBy: 'name',
      dir: 'f',
      from: 0,
      limit: 100,
      searchTerm: fragment,
    },
    { label: `search "${word}" (${wordMatches} rooms), name`, orderBy: 'name', dir: 'f', from: 0, limit: 100, searchTerm: word },
    {
      label: `search "${word}" + public_rooms=false`,
      orderBy: 'name',
      dir: 'f',
      from: 0,
      limit: 100,
      searchTerm: word,
      publicRooms: false,
    },
    { label: 'search exact room id', orderBy: 'name', dir: 'f', from: 0, limit: 100, searchTerm: roomId },
    { label: 'search no match', orderBy: 'name', dir: 'f', from: 0, limit: 100, searchTerm: 'qzxwv' },
  ];
  const rest = restGetter(stack, admin.token);
  const md = bearer(admin.token);
  const pg = new PgClient({ connectionString: stack.app.databaseUrl });
  await pg.connect();
  const service = new RoomAdminService(stack.app.services.rooms);
  const rows = [];
  try {
    for (const c of cases) {
      const sql = plainSql(c);
      const input = {
        from: c.from,
        limit: c.limit,
        orderBy: c.orderBy as OrderBy,
        dir: c.dir,
        searchTerm: c.searchTerm ?? null,
        publicRooms: c.publicRooms ?? null,
        emptyRooms: c.emptyRooms ?? null,
      };
      const viaRest = () => rest.get(restQuery(c));
      const viaGrpc = () => grpcCall(stack.clients.roomAdmin, stack.clients.roomAdmin.listRooms, grpcRequest(c), md);
      const viaRepo = () => service.listRoomsJson(stack.app.orm.em.fork(), input).then((r) => r.json);
      const viaSql = async () => {
        await pg.query(sql.page);
        await pg.query(sql.count);
      };
      await measureInterleaved(20, [viaRest, viaGrpc, viaRepo, viaSql]);
      const [r, g, p, b] = await measureInterleaved(o.n, [viaRest, viaGrpc, viaRepo, viaSql]);
      rows.push({
        case: c.label,
        'REST p50/p99 ms': ms(r),
        'gRPC p50/p99 ms': ms(g),
        'service, no transport p50/p99 ms': ms(p),
        'plain SQL p50/p99 ms': ms(b),
        'REST/plain p50': fmt(r.p50 / b.p50),
      });
    }
  } finally {
    rest.close();
    await pg.end();
  }
  table(`list rooms over ${o.rooms} rooms (n=${o.n} sequential requests per column)`, rows);
  // What any authenticated REST call costs here before it does any work: HTTP, the gateway, the
  // gRPC hop and the (cached) token check, with no database.
  const floorGet = restGetter(stack, admin.token);
  const floor = await measure(o.n, 1, () => floorGet.get('/_matrix/client/v3/account/whoami'));
  floorGet.close();
  process.stdout.write(`\nREST floor (GET /account/whoami, no database): p50 ${fmt(floor.p50)} ms, p99 ${fmt(floor.p99)} ms\n`);
  await printTransportFloor(o.n, 45_000);
}

/** A public room with `members` local members and `events` messages, written through the bulk write path. */
async function buildBigRoom(stack: Stack, o: Record<string, number>): Promise<{ roomId: string; events: number }> {
  const rooms = stack.app.services.rooms;
  const em = stack.app.orm.em.fork();
  const t0 = Date.now();
  const { roomId } = await rooms.createRoom(em, '@bigcreator:test', { preset: 'public_chat', name: 'Big room', roomAliasName: 'bigroom' });
  const members = Array.from({ length: o.members }, (_, i) => `@bigmember${i}:test`);
  await rooms.persistBatches(em, [
    {
      roomId,
      drafts: members.map((u): EventDraft => ({ type: 'm.room.member', stateKey: u, sender: u, content: { membership: 'join' } })),
    },
  ]);
  for (let done = 0; done < o.bigEvents; done += PERSIST_DRAFTS_PER_CALL) {
    const drafts = Array.from({ length: Math.min(PERSIST_DRAFTS_PER_CALL, o.bigEvents - done) }, (_, i): EventDraft => ({
      type: 'm.room.message',
      stateKey: null,
      sender: members[(done + i) % members.length],
      content: { msgtype: 'm.text', body: `message number ${done + i}` },
    }));
    await rooms.persistBatches(stack.app.orm.em.fork(), [{ roomId, drafts }]);
  }
  const n = await em.execute<{ n: string }[]>('SELECT count(*) AS n FROM events WHERE room_id = ?', [roomId]);
  await em.execute('VACUUM ANALYZE events');
  process.stdout.write(`  big room built in ${fmt((Date.now() - t0) / 1000, 1)} s\n`);
  return { roomId, events: Number(n[0].n) };
}

async function bigDeleteBench(stack: Stack, admin: TestUser, o: Record<string, number>): Promise<void> {
  const { roomId, events } = await buildBigRoom(stack, o);
  const user = await registerUser(stack, 'benchother');
  const other = (await (
    await fetch(`${stack.baseUrl}/_matrix/client/v3/createRoom`, {
      method: 'POST',
      headers: { authorization: `Bearer ${user.token}` },
      body: JSON.stringify({ preset: 'public_chat' }),
    })
  ).json()) as { room_id: string };
  const rest = restGetter(stack, admin.token);
  let txn = 0;
  const send = async () => {
    const res = await fetch(`${stack.baseUrl}/_matrix/client/v3/rooms/${encodeURIComponent(other.room_id)}/send/m.room.message/b${txn++}`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${user.token}` },
      body: JSON.stringify({ msgtype: 'm.text', body: 'still here' }),
    });
    if (res.status !== 200) throw new Error(`send → ${res.status}`);
  };
  const read = () => rest.get(`/_synapse/admin/v1/rooms/${encodeURIComponent(other.room_id)}`);
  const idleRead = await measure(200, 1, read);
  const idleSend = await measure(200, 1, send);

  const t0 = Date.now();
  const res = await fetch(`${stack.baseUrl}/_synapse/admin/v2/rooms/${encodeURIComponent(roomId)}`, {
    method: 'DELETE',
    headers: { authorization: `Bearer ${admin.token}` },
    body: JSON.stringify({ new_room_user_id: admin.userId, block: true, purge: true }),
  });
  const { delete_id: deleteId } = (await res.json()) as { delete_id: string };
  let purgeStart = 0;
  let done = false;
  const busyRead: number[] = [];
  const busySend: number[] = [];
  const load = (async () => {
    while (!done) {
      let t = process.hrtime.bigint();
      await read();
      busyRead.push(Number(process.hrtime.bigint() - t));
      t = process.hrtime.bigint();
      await send();
      busySend.push(Number(process.hrtime.bigint() - t));
    }
  })();
  let status: { status: string; progress?: { phase: string } };
  for (;;) {
    status = (await (
      await fetch(`${stack.baseUrl}/_synapse/admin/v2/rooms/delete_status/${deleteId}`, {
        headers: { authorization: `Bearer ${admin.token}` },
      })
    ).json()) as typeof status;
    if (!purgeStart && status.progress?.phase === 'purging') purgeStart = Date.now();
    if (status.status !== 'active' && status.status !== 'scheduled') break;
    await new Promise((r) => setTimeout(r, STATUS_POLL_MS));
  }
  const total = Date.now() - t0;
  done = true;
  await load;
  rest.close();
  if (status.status !== 'complete') throw new Error(`delete ended ${JSON.stringify(status)}`);
  const purgeMs = total - (purgeStart ? purgeStart - t0 : 0);
  table(`v2 delete of a room with ${o.members} local members and ${events} events (replacement room, block, purge)`, [
    {
      'wall s': fmt(total / 1000, 2),
      'shutdown s': fmt((purgeStart - t0) / 1000, 2),
      'purge s': fmt(purgeMs / 1000, 2),
      'events/s (whole delete)': fmt(events / (total / 1000), 0),
      'events/s (purge phase)': fmt(events / (purgeMs / 1000), 0),
    },
  ]);
  table('another room meanwhile (p50 / p99 ms)', [
    { what: 'GET room details (REST)', idle: ms(idleRead), 'during delete': ms(stats(busyRead, total)), samples: busyRead.length },
    { what: 'send a message (REST)', idle: ms(idleSend), 'during delete': ms(stats(busySend, total)), samples: busySend.length },
  ]);
}

export async function run(args: string[]): Promise<void> {
  const o = options(args, { rooms: 100_000, events: 5, members: 1_000, bigEvents: 1_000_000, n: 200 });
  const stack = await startStack({ LOG_LEVEL: 'silent' });
  try {
    const admin = await registerUser(stack, 'benchadmin', { admin: true });
    await seedRooms(stack, o);
    settleHeap();
    await listRoomsBench(stack, admin, o);
    if (o.bigEvents > 0) await bigDeleteBench(stack, admin, o);
  } finally {
    await stack.stop();
  }
}
