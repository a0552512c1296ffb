/**
 * Ports of Synapse's RoomTestCase (tests/rest/admin/test_room.py): list rooms, room details,
 * members and state, through the gateway; plus every order_by, the parenthesised search, and the
 * same reads over gRPC. These tests count every room of the server, so they run on their own
 * stack and start each test from an empty server.
 */
import { strict as assert } from 'node:assert';
import { Direction } from '../../gen/synapse/admin/v1/common';
import { RoomOrderBy } from '../../gen/synapse/admin/v1/room_admin';
import { bearer, grpcCall, http, registerUser, startStack, type Stack, type TestUser } from '../support/stack';
import { createRoom, enc, join, leave, sendState, setAlias } from './room-admin.helpers';
import { roomSummaryJson } from '../../src/gateway/presenters/room-admin.presenter';
import { whereClause } from '../../src/admin/room-list.repository';

let aliasCounter = 0;
const uniqAlias = (prefix: string) => `${prefix}${++aliasCounter}${Date.now().toString(36)}`;

const ROOMS = '/_synapse/admin/v1/rooms';

describe('RoomTestCase', () => {
  let s: Stack;
  let admin: TestUser;
  let other: TestUser;

  before(async () => {
    s = await startStack();
    admin = await registerUser(s, 'admin', { admin: true });
    other = await registerUser(s, 'other');
  });
  after(async () => s?.stop());

  beforeEach(async () => {
    const purger = s.app.services.roomPurge;
    const rooms = await s.app.orm.em.fork().execute<{ room_id: string }[]>('SELECT room_id FROM rooms');
    for (const r of rooms) await purger.purgeRoom(r.room_id, { force: true });
  });

  const list = (query = '') => http(s, 'GET', `${ROOMS}${query}`, { token: admin.token });
  const ids = (body: { rooms: { room_id: string }[] }) => body.rooms.map((r) => r.room_id);

  it('test_list_rooms', async () => {
    const created = [
      await createRoom(s, admin.token, { visibility: 'public' }),
      await createRoom(s, admin.token, { visibility: 'public' }),
      await createRoom(s, admin.token, { visibility: 'public' }),
    ];
    const r = await list();
    assert.equal(r.status, 200);
    assert.deepEqual(ids(r.body), [...created].sort());
    for (const room of r.body.rooms) {
      for (const key of [
        'name',
        'canonical_alias',
        'joined_members',
        'joined_local_members',
        'version',
        'creator',
        'encryption',
        'join_rules',
        'guest_access',
        'history_visibility',
        'state_events',
        'room_type',
      ])
        assert.ok(key in room, key);
      assert.equal(room.federatable, true);
      assert.equal(room.public, true);
      assert.equal(room.room_type, null);
    }
    assert.equal(r.body.total_rooms, 3);
    assert.equal(r.body.offset, 0);
    assert.ok(!('prev_batch' in r.body) && !('next_batch' in r.body));
  });

  it('test_list_rooms_pagination', async () => {
    const created: string[] = [];
    for (let i = 0; i < 5; i++) created.push(await createRoom(s, admin.token, { name: String(i) }));
    const seen: string[] = [];
    let start = 0;
    let requests = 0;
    for (;;) {
      const r = await list(`?from=${start}&limit=2&order_by=name`);
      requests += 1;
      assert.equal(r.status, 200);
      assert.equal(r.body.total_rooms, 5);
      assert.equal(r.body.offset, start);
      if (start > 0) assert.equal(r.body.prev_batch, start - 2);
      else assert.ok(!('prev_batch' in r.body));
      seen.push(...ids(r.body));
      if (!('next_batch' in r.body)) break;
      start = r.body.next_batch;
    }
    assert.equal(requests, 3);
    assert.deepEqual(seen, created);
    assert.equal((await list('?from=4&limit=2')).status, 200);
  });

  it('test_correct_room_attributes', async () => {
    const roomId = await createRoom(s, admin.token, { creation_content: { type: 'm.space' } });
    await join(s, other.token, roomId);
    await setAlias(s, admin.token, '#test:test', roomId);
    await sendState(s, admin.token, roomId, 'm.room.canonical_alias', { alias: '#test:test' });
    await sendState(s, admin.token, roomId, 'm.room.name', { name: 'something' });
    const r = await list();
    assert.equal(r.status, 200);
    assert.equal(r.body.total_rooms, 1);
    assert.equal(r.body.offset, 0);
    assert.ok(!('prev_batch' in r.body) && !('next_batch' in r.body));
    const room = r.body.rooms[0];
    assert.deepEqual(
      [room.room_id, room.name, room.canonical_alias, room.room_type, room.joined_members],
      [roomId, 'something', '#test:test', 'm.space', 2],
    );
  });

  it('test_room_list_sort_order', async () => {
    const extra = [await registerUser(s, `sort_a${Date.now()}`), await registerUser(s, `sort_b${Date.now()}`)];
    const rooms: string[] = [];
    for (const [i, letter] of ['A', 'B', 'C'].entries()) {
      const roomId = await createRoom(s, admin.token, { name: letter });
      await setAlias(s, admin.token, `#${letter}_alias:test`, roomId);
      await sendState(s, admin.token, roomId, 'm.room.canonical_alias', { alias: `#${letter}_alias:test` });
      for (const u of extra.slice(0, i)) await join(s, u.token, roomId);
      rooms.push(roomId);
    }
    const [r1, r2, r3] = rooms;
    const asc = [...rooms].sort();
    const desc = [...asc].reverse();
    const expectations: [string, string[], string[]][] = [
      ['alphabetical', [r1, r2, r3], [r3, r2, r1]],
      ['name', [r1, r2, r3], [r3, r2, r1]],
      ['canonical_alias', [r1, r2, r3], [r3, r2, r1]],
      ['size', [r3, r2, r1], [r1, r2, r3]],
      ['joined_members', [r3, r2, r1], [r1, r2, r3]],
      ['joined_local_members', [r3, r2, r1], [r1, r2, r3]],
      ['version', desc, asc],
      ['creator', asc, desc],
      ['encryption', asc, desc],
      ['federatable', asc, desc],
      ['public', asc, desc],
      ['join_rules', asc, desc],
      ['guest_access', asc, desc],
      ['history_visibility', asc, desc],
      ['state_events', [r3, r2, r1], [r1, r2, r3]],
    ];
    for (const [orderBy, forwards, backwards] of expectations) {
      for (const [dir, expected] of [
        ['f', forwards],
        ['b', backwards],
      ] as const) {
        const r = await list(`?order_by=${orderBy}&dir=${dir}`);
        assert.equal(r.status, 200, `${orderBy} ${dir}`);
        assert.deepEqual(ids(r.body), expected, `order_by=${orderBy} dir=${dir}`);
        assert.equal(r.body.total_rooms, 3);
        assert.equal(r.body.offset, 0);
        assert.ok(!('prev_batch' in r.body) && !('next_batch' in r.body));
      }
    }
    const defaultOrder = await list();
    assert.deepEqual(ids(defaultOrder.body), [r1, r2, r3]);
  });

  it('test_search_term', async () => {
    const room1 = await createRoom(s, admin.token, { name: 'something' });
    await setAlias(s, admin.token, '#Room_Alias1:test', room1);
    await sendState(s, admin.token, room1, 'm.room.canonical_alias', { alias: '#Room_Alias1:test' });
    const room2 = await createRoom(s, admin.token, { name: 'LoremIpsum' });
    const cases: [string, string[]][] = [
      ['something', [room1]],
      ['thing', [room1]],
      ['SOMETHING', [room1]],
      ['THING', [room1]],
      ['LoremIpsum', [room2]],
      ['lorem', [room2]],
      ['LOREMIPSUM', [room2]],
      ['LOREM', [room2]],
      ['foo', []],
      ['bar', []],
      [room1, [room1]],
      [room1.toLowerCase(), []],
      [room1.slice(1, 10), []],
      ['#Room_Alias1:test', []],
      ['alias1', [room1]],
    ];
    for (const [term, expected] of cases) {
      const r = await list(`?search_term=${enc(term)}`);
      assert.equal(r.status, 200, term);
      assert.deepEqual(ids(r.body), expected, `search_term=${term}`);
      assert.equal(r.body.total_rooms, expected.length);
      assert.equal(r.body.offset, 0);
      assert.ok(!('prev_batch' in r.body) && !('next_batch' in r.body));
    }
    const empty = await list('?search_term=');
    assert.equal(empty.status, 400);
    assert.deepEqual(empty.body, { errcode: 'M_INVALID_PARAM', error: 'search_term cannot be an empty string' });
  });

  it('test_search_term_non_ascii', async () => {
    const roomId = await createRoom(s, admin.token, { name: 'ж' });
    const r = await list('?search_term=%D0%B6');
    assert.equal(r.status, 200);
    assert.equal(r.body.rooms[0].room_id, roomId);
    assert.equal(r.body.rooms[0].name, 'ж');
  });

  it('finds a renamed room by its new name and alias only, and answers the search from the trigram indexes', async () => {
    const roomId = await createRoom(s, admin.token, { name: 'Old Harbour' });
    const oldAlias = `#${uniqAlias('OldPort')}:test`;
    await setAlias(s, admin.token, oldAlias, roomId);
    await sendState(s, admin.token, roomId, 'm.room.canonical_alias', { alias: oldAlias });
    assert.deepEqual(ids((await list('?search_term=HARBOUR')).body), [roomId]);
    assert.deepEqual(ids((await list('?search_term=oldport')).body), [roomId]);
    const newAlias = `#${uniqAlias('NewDock')}:test`;
    await setAlias(s, admin.token, newAlias, roomId);
    await sendState(s, admin.token, roomId, 'm.room.canonical_alias', { alias: newAlias });
    await sendState(s, admin.token, roomId, 'm.room.name', { name: 'Ünïcode STATION' });
    for (const [term, expected] of [
      ['harbour', []],
      ['oldport', []],
      ['station', [roomId]],
      ['ÜNÏCODE', [roomId]],
      ['newdock', [roomId]],
    ] as [string, string[]][]) {
      assert.deepEqual(ids((await list(`?search_term=${enc(term)}`)).body), expected, term);
    }
    // With sequential scans priced out, the planner must reach both branches through their indexes:
    // a predicate that no longer matches an index's expression would leave it a table scan.
    const where = whereClause({ searchTerm: 'station', publicRooms: null, emptyRooms: null });
    const plan = await s.app.orm.em.fork().transactional(async (em) => {
      await em.execute('SET LOCAL enable_seqscan = off');
      return (await em.execute<{ 'QUERY PLAN': string }[]>(`EXPLAIN SELECT s.room_id FROM room_stats s ${where.sql}`, where.params))
        .map((r) => r['QUERY PLAN'])
        .join('\n');
    });
    assert.match(plan, /Bitmap Index Scan on room_stats_name_lower_trgm_idx/, plan);
    assert.match(plan, /Bitmap Index Scan on room_stats_alias_lower_trgm_idx/, plan);
    assert.doesNotMatch(plan, /Seq Scan/, plan);
  });

  it('applies the other filters to every branch of the search (parenthesised, as intended)', async () => {
    const publicMatch = await createRoom(s, admin.token, { name: 'needle public', visibility: 'public' });
    const privateMatch = await createRoom(s, admin.token, { name: 'needle private' }, false);
    await createRoom(s, admin.token, { name: 'haystack', visibility: 'public' });
    assert.deepEqual(ids((await list('?search_term=needle&public_rooms=true')).body), [publicMatch]);
    assert.deepEqual(ids((await list('?search_term=needle&public_rooms=false')).body), [privateMatch]);
    assert.equal((await list('?search_term=needle&empty_rooms=true')).body.total_rooms, 0);
    // LIKE wildcards in the term behave as Synapse's (inserted raw into the pattern).
    assert.equal((await list('?search_term=needle%25private')).body.total_rooms, 1);
    assert.equal((await list('?search_term=n_edle')).body.total_rooms, 2);
    assert.equal((await list(`?search_term=${enc("'; DROP TABLE rooms; --")}`)).body.total_rooms, 0);
  });

  it('test_filter_public_rooms', async () => {
    await createRoom(s, admin.token, { visibility: 'public' });
    await createRoom(s, admin.token, { visibility: 'public' });
    await createRoom(s, admin.token, {}, false);
    for (const [q, n] of [
      ['', 3],
      ['?public_rooms=true', 2],
      ['?public_rooms=false', 1],
    ] as const) {
      const r = await list(q);
      assert.equal(r.body.total_rooms, n, q);
      assert.equal(r.body.rooms.length, n, q);
      // An empty page still counts the rooms of its filter.
      const empty = await list(`${q}${q ? '&' : '?'}limit=0`);
      assert.deepEqual([empty.body.rooms, empty.body.total_rooms], [[], n], `${q} limit=0`);
    }
  });

  it('test_filter_empty_rooms', async () => {
    await createRoom(s, admin.token);
    await createRoom(s, admin.token);
    const left = await createRoom(s, admin.token);
    await leave(s, admin.token, left);
    for (const [q, n] of [
      ['', 3],
      ['?empty_rooms=false', 2],
      ['?empty_rooms=true', 1],
    ] as const) {
      const r = await list(q);
      assert.equal(r.body.total_rooms, n, q);
      assert.equal(r.body.rooms.length, n, q);
    }
  });

  it('keeps total_rooms exact through creations, joins, leaves, publication changes and purges', async () => {
    const rooms = [];
    for (let i = 0; i < 6; i++) rooms.push(await createRoom(s, admin.token, {}, i % 2 === 0));
    const setVisibility = (roomId: string, visibility: string) =>
      http(s, 'PUT', `/_matrix/client/v3/directory/list/room/${enc(roomId)}`, { token: admin.token, body: { visibility } });
    assert.equal((await setVisibility(rooms[4], 'private')).status, 200);
    assert.equal((await setVisibility(rooms[5], 'public')).status, 200);
    await join(s, other.token, rooms[2]);
    await leave(s, admin.token, rooms[2]);
    await leave(s, admin.token, rooms[3]);
    await leave(s, admin.token, rooms[4]);
    await http(s, 'DELETE', `${ROOMS}/${enc(rooms[0])}`, { token: admin.token, body: {} });
    const em = s.app.orm.em.fork();
    for (const pub of [undefined, true, false]) {
      for (const empty of [undefined, true, false]) {
        const where = [
          pub === undefined ? null : `is_public = ${pub}`,
          empty === undefined ? null : `(joined_members = 0) = ${empty}`,
        ].filter(Boolean);
        const expected = Number(
          (
            await em.execute<{ n: string }[]>(`SELECT count(*) AS n FROM room_stats ${where.length ? `WHERE ${where.join(' AND ')}` : ''}`)
          )[0].n,
        );
        const q = new URLSearchParams();
        if (pub !== undefined) q.set('public_rooms', String(pub));
        if (empty !== undefined) q.set('empty_rooms', String(empty));
        const r = await list(`?${q}`);
        assert.equal(r.body.total_rooms, expected, `public_rooms=${pub} empty_rooms=${empty}`);
        assert.equal(r.body.rooms.length, expected);
      }
    }
    assert.equal((await list()).body.total_rooms, 5);
  });

  it('limit=0 returns no rooms and next_batch equal to from', async () => {
    await createRoom(s, admin.token);
    await createRoom(s, admin.token);
    const r = await list('?limit=0&from=1');
    assert.deepEqual(r.body, { offset: 1, rooms: [], total_rooms: 2, next_batch: 1, prev_batch: 1 });
  });

  it('test_single_room', async () => {
    const roomId = await createRoom(s, admin.token, { visibility: 'public' });
    const r = await http(s, 'GET', `${ROOMS}/${enc(roomId)}`, { token: admin.token });
    assert.equal(r.status, 200);
    const keys = [
      'room_id',
      'name',
      'topic',
      'avatar',
      'canonical_alias',
      'joined_members',
      'joined_local_members',
      'joined_local_devices',
      'version',
      'creator',
      'encryption',
      'federatable',
      'public',
      'join_rules',
      'guest_access',
      'history_visibility',
      'state_events',
      'room_type',
      'forgotten',
    ];
    for (const k of keys) assert.ok(k in r.body, k);
    assert.equal(r.body.room_id, roomId);
    assert.equal(r.body.federatable, true);
    assert.equal(r.body.public, true);
    assert.equal(r.body.forgotten, false);
    assert.equal(r.body.tombstoned, false);
    assert.equal(r.body.replacement_room, null);
  });

  it('reports the tombstone and the replacement room', async () => {
    const roomId = await createRoom(s, admin.token);
    await sendState(s, admin.token, roomId, 'm.room.tombstone', { body: 'moved', replacement_room: '!new:test' });
    const r = await http(s, 'GET', `${ROOMS}/${enc(roomId)}`, { token: admin.token });
    assert.equal(r.body.tombstoned, true);
    assert.equal(r.body.replacement_room, '!new:test');
  });

  it('test_single_room_devices', async () => {
    const devices = async (roomId: string) =>
      (await http(s, 'GET', `${ROOMS}/${enc(roomId)}`, { token: admin.token })).body.joined_local_devices;
    const roomId = await createRoom(s, admin.token);
    assert.equal(await devices(roomId), 1);
    await join(s, other.token, roomId);
    assert.equal(await devices(roomId), 2);
    await leave(s, admin.token, roomId);
    await leave(s, other.token, roomId);
    assert.equal(await devices(roomId), 0);
  });

  it('test_room_members', async () => {
    const [foo, bar, foobar] = [
      await registerUser(s, `foo${Date.now()}`),
      await registerUser(s, `bar${Date.now()}`),
      await registerUser(s, `foobar${Date.now()}`),
    ];
    const room1 = await createRoom(s, admin.token);
    await join(s, foo.token, room1);
    await join(s, bar.token, room1);
    const room2 = await createRoom(s, admin.token);
    await join(s, bar.token, room2);
    await join(s, foobar.token, room2);
    for (const [roomId, expected] of [
      [room1, [admin, foo, bar]],
      [room2, [admin, bar, foobar]],
    ] as const) {
      const r = await http(s, 'GET', `${ROOMS}/${enc(roomId)}/members`, { token: admin.token });
      assert.equal(r.status, 200);
      assert.deepEqual([...r.body.members].sort(), expected.map((u) => u.userId).sort());
      assert.equal(r.body.total, 3);
    }
  });

  it('test_room_state (with the type filter)', async () => {
    const roomId = await createRoom(s, admin.token, { preset: 'public_chat' });
    const all = await http(s, 'GET', `${ROOMS}/${enc(roomId)}/state`, { token: admin.token });
    assert.equal(all.status, 200);
    assert.equal(all.body.state.length, 5);
    for (const e of all.body.state) {
      assert.equal(e.room_id, roomId);
      assert.equal(typeof e.unsigned.age, 'number');
    }
    const members = await http(s, 'GET', `${ROOMS}/${enc(roomId)}/state?type=m.room.member`, { token: admin.token });
    assert.deepEqual(
      members.body.state.map((e: { state_key: string }) => e.state_key),
      [admin.userId],
    );
    assert.equal((await http(s, 'GET', `${ROOMS}/${enc(roomId)}/state?type=`, { token: admin.token })).body.state.length, 5);
    assert.deepEqual((await http(s, 'GET', `${ROOMS}/${enc(roomId)}/state?type=m.no.such`, { token: admin.token })).body.state, []);
  });

  it('test_get_joined_members_after_leave_room', async () => {
    const roomId = await createRoom(s, other.token);
    await leave(s, other.token, roomId);
    const r = await http(s, 'GET', `/_matrix/client/r0/rooms/${enc(roomId)}/joined_members`, { token: other.token });
    assert.equal(r.status, 403);
    assert.equal(r.body.errcode, 'M_FORBIDDEN');
  });

  it('renders the REST list from the database exactly as the typed gRPC summaries read', async () => {
    await createRoom(s, admin.token, { name: 'Ünïcödé "quoted" \\ room', visibility: 'public', room_alias_name: uniqAlias('parity') });
    await createRoom(s, admin.token, {}, false);
    await createRoom(s, admin.token, {
      name: 'space',
      creation_content: { type: 'm.space' },
      initial_state: [{ type: 'm.room.encryption', state_key: '', content: { algorithm: 'm.megolm.v1.aes-sha2' } }],
    });
    const md = bearer(admin.token);
    const c = s.clients.roomAdmin;
    const queries: [
      string,
      Partial<{ from: number; limit: number; orderBy: RoomOrderBy; dir: Direction; searchTerm: string; publicRooms: boolean }>,
    ][] = [
      ['', {}],
      [
        '?order_by=joined_members&dir=b&limit=2',
        { orderBy: RoomOrderBy.ROOM_ORDER_BY_JOINED_MEMBERS, dir: Direction.DIRECTION_BACKWARDS, limit: 2 },
      ],
      ['?order_by=canonical_alias&from=1', { orderBy: RoomOrderBy.ROOM_ORDER_BY_CANONICAL_ALIAS, from: 1 }],
      ['?search_term=%C3%BC', { searchTerm: 'ü' }],
      [
        '?search_term=space&public_rooms=false&order_by=creator',
        { searchTerm: 'space', publicRooms: false, orderBy: RoomOrderBy.ROOM_ORDER_BY_CREATOR },
      ],
      ['?search_term=nothing-like-this', { searchTerm: 'nothing-like-this' }],
      ['?limit=0', { limit: 0 }],
    ];
    for (const [query, req] of queries) {
      const rest = await list(query);
      assert.equal(rest.status, 200, query);
      const typed = await grpcCall(
        c,
        c.listRooms,
        { from: 0, orderBy: RoomOrderBy.ROOM_ORDER_BY_UNSPECIFIED, dir: Direction.DIRECTION_UNSPECIFIED, ...req },
        md,
      );
      const expected: Record<string, unknown> = {
        offset: typed.offset,
        rooms: typed.rooms.map(roomSummaryJson),
        total_rooms: typed.totalRooms,
      };
      if (typed.nextBatch !== undefined) expected.next_batch = typed.nextBatch;
      if (typed.prevBatch !== undefined) expected.prev_batch = typed.prevBatch;
      assert.deepEqual(rest.body, expected, query);
      const asJson = await grpcCall(
        c,
        c.listRooms,
        { from: 0, orderBy: RoomOrderBy.ROOM_ORDER_BY_UNSPECIFIED, dir: Direction.DIRECTION_UNSPECIFIED, ...req, asJsonBody: true },
        md,
      );
      assert.deepEqual(
        [asJson.rooms, asJson.offset, asJson.totalRooms, asJson.nextBatch, asJson.prevBatch],
        [[], typed.offset, typed.totalRooms, typed.nextBatch, typed.prevBatch],
        query,
      );
    }
    const spaces = (await list('?search_term=space')).body as { rooms: Record<string, unknown>[] };
    assert.deepEqual(
      [spaces.rooms[0].room_type, spaces.rooms[0].encryption, spaces.rooms[0].public],
      ['m.space', 'm.megolm.v1.aes-sha2', true],
    );
  });

  it('serves the same list, details, members and state over gRPC', async () => {
    const roomId = await createRoom(s, admin.token, { name: 'grpc room', visibility: 'public' });
    await createRoom(s, admin.token, { name: 'another' }, false);
    const md = bearer(admin.token);
    const c = s.clients.roomAdmin;
    const page = await grpcCall(
      c,
      c.listRooms,
      { from: 0, orderBy: RoomOrderBy.ROOM_ORDER_BY_NAME, dir: Direction.DIRECTION_BACKWARDS, searchTerm: 'grpc' },
      md,
    );
    assert.equal(page.totalRooms, 1);
    assert.equal(page.rooms[0].roomId, roomId);
    assert.equal(page.rooms[0].name, 'grpc room');
    assert.equal(page.rooms[0].public, true);
    const both = await grpcCall(
      c,
      c.listRooms,
      { from: 1, limit: 1, orderBy: RoomOrderBy.ROOM_ORDER_BY_UNSPECIFIED, dir: Direction.DIRECTION_UNSPECIFIED },
      md,
    );
    assert.deepEqual([both.totalRooms, both.offset, both.prevBatch, both.nextBatch, both.rooms[0].roomId], [2, 1, 0, undefined, roomId]);
    const details = await grpcCall(c, c.getRoomDetails, { roomId }, md);
    assert.equal(details.room?.summary?.roomId, roomId);
    assert.equal(details.room?.joinedLocalDevices, 1);
    const members = await grpcCall(c, c.listRoomMembers, { roomId }, md);
    assert.deepEqual(members, { members: [admin.userId], total: 1 });
    const state = await grpcCall(c, c.listRoomState, { roomId, type: 'm.room.name' }, md);
    assert.equal(state.state.length, 1);
    assert.equal(JSON.parse(state.state[0].contentJson).name, 'grpc room');
    await assert.rejects(
      grpcCall(c, c.getRoomDetails, { roomId: '!nope:test' }, md),
      (e: { details: string }) => e.details === 'Room not found',
    );
    await assert.rejects(grpcCall(c, c.listRooms, { from: -1, orderBy: 0, dir: 0 }, md), (e: { details: string }) =>
      /from/.test(e.details),
    );
  });
});
