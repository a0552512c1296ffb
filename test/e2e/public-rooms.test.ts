/**
 * GET/POST /publicRooms, ported from Synapse's tests/rest/client/test_rooms.py
 * (PublicRoomsRestrictedTestCase, PublicRoomsRoomTypeFilterTestCase) plus paging, search, the
 * listing rules and bad input as Synapse 1.94 answers them. The directory is server-wide, so the
 * suite runs on its own stack.
 */
import { strict as assert } from 'node:assert';
import { Client as PgClient } from 'pg';
import { directoryQueries } from '../../src/moderation/public-rooms.service';
import { explainPreparedText } from '../support/plans';
import { sharedStack } from '../support/root-hooks';
import { dbUrl, http, registerUser, startStack, uniq, type Stack, type TestUser } from '../support/stack';
import { createRoom, join, sendState } from './room-admin.helpers';

const URL = '/_matrix/client/r0/publicRooms';

describe('publicRooms', function () {
  let s: Stack;
  let alice: TestUser;
  let room: string;
  let space: string;

  before(async () => {
    s = await startStack();
    alice = await registerUser(s, 'alice');
    room = await createRoom(s, alice.token, { preset: 'public_chat' });
    space = await createRoom(s, alice.token, { preset: 'public_chat', creation_content: { type: 'm.space' } });
  });
  after(async () => s?.stop());

  describe('PublicRoomsRestrictedTestCase', () => {
    it('test_restricted_no_auth', async () => {
      const r = await http(s, 'GET', URL);
      assert.equal(r.status, 401);
      assert.equal(r.body.errcode, 'M_MISSING_TOKEN');
      assert.equal((await http(s, 'POST', URL, { body: {} })).status, 401);
      assert.equal((await http(s, 'GET', URL, { token: 'syt_bad' })).body.errcode, 'M_UNKNOWN_TOKEN');
    });
    it('test_restricted_auth', async () => {
      const r = await http(s, 'GET', URL, { token: alice.token });
      assert.equal(r.status, 200);
    });
  });

  describe('PublicRoomsRoomTypeFilterTestCase', () => {
    const request = async (roomTypes: (string | null)[] | null, instanceId = false) => {
      const body: Record<string, unknown> = { filter: { room_types: roomTypes } };
      if (instanceId) body.third_party_instance_id = 'test|test';
      const r = await http(s, 'POST', URL, { token: alice.token, body });
      assert.equal(r.status, 200, JSON.stringify(r.body));
      assert.equal(r.body.chunk.length, r.body.total_room_count_estimate);
      return { chunk: r.body.chunk, count: r.body.total_room_count_estimate };
    };

    it('test_returns_both_rooms_and_spaces_if_no_filter', async () => {
      assert.equal((await request(null)).count, 2);
      const r = await http(s, 'POST', URL, { token: alice.token, body: {} });
      assert.equal(r.body.chunk.length, 2);
      assert.equal(r.body.total_room_count_estimate, 2);
      assert.equal((await request(null, true)).count, 0);
    });
    it('test_returns_only_rooms_based_on_filter', async () => {
      const { chunk, count } = await request([null]);
      assert.equal(count, 1);
      assert.equal(chunk[0].room_type, undefined);
      assert.equal(chunk[0].room_id, room);
      assert.equal((await request([null], true)).count, 0);
    });
    it('test_returns_only_space_based_on_filter', async () => {
      const { chunk, count } = await request(['m.space']);
      assert.equal(count, 1);
      assert.equal(chunk[0].room_type, 'm.space');
      assert.equal(chunk[0].room_id, space);
    });
    it('test_returns_both_rooms_and_space_based_on_filter', async () => {
      assert.equal((await request(['m.space', null])).count, 2);
      assert.equal((await request(['m.space', null], true)).count, 0);
    });
    it('test_returns_both_rooms_and_spaces_if_array_is_empty', async () => {
      assert.equal((await request([])).count, 2);
      assert.equal((await request([], true)).count, 0);
    });
  });

  describe('listing, paging and search', () => {
    let rooms: string[];
    before(async () => {
      // Five more listed rooms with 1..5 members; and rooms that must not be listed.
      rooms = [];
      for (let n = 1; n <= 5; n++) {
        const id = await createRoom(s, alice.token, {
          preset: 'public_chat',
          name: `Paged Room ${n}`,
          topic: n === 3 ? 'the 100%_topic' : undefined,
        });
        for (let i = 1; i < n; i++) await join(s, (await registerUser(s, uniq('m'))).token, id);
        rooms.push(id);
      }
      await createRoom(s, alice.token, { preset: 'private_chat', name: 'Paged private' }); // published, invite-only
      await createRoom(s, alice.token, { preset: 'public_chat', name: 'Paged unpublished' }, false);
      const readable = await createRoom(s, alice.token, { preset: 'private_chat', name: 'Paged readable' });
      await sendState(s, alice.token, readable, 'm.room.history_visibility', { history_visibility: 'world_readable' });
      rooms.push(readable);
    });

    it('lists published joinable or world-readable rooms, biggest first, with Synapse’s entry keys', async () => {
      const r = await http(s, 'GET', URL, { token: alice.token });
      assert.equal(r.status, 200);
      const ids = r.body.chunk.map((x: any) => x.room_id);
      assert.equal(r.body.total_room_count_estimate, 8);
      // 5, 4, 3 and 2 members, then the rooms of one member.
      assert.deepEqual(ids.slice(0, 4), [...rooms.slice(1, 5)].reverse());
      assert.ok(r.body.chunk.slice(4).every((x: any) => x.num_joined_members === 1));
      assert.ok(ids.includes(rooms[5]) && ids.includes(room) && ids.includes(space));
      assert.ok(!r.body.chunk.some((x: any) => /private|unpublished/.test(x.name ?? '')));
      const five = r.body.chunk[0];
      assert.deepEqual(five, {
        room_id: rooms[4],
        name: 'Paged Room 5',
        num_joined_members: 5,
        world_readable: false,
        guest_can_join: false,
        join_rule: 'public',
      });
      const readable = r.body.chunk.find((x: any) => x.room_id === rooms[5]);
      assert.equal(readable.world_readable, true);
      assert.equal(readable.join_rule, 'invite');
      for (let i = 1; i < r.body.chunk.length; i++) assert.ok(r.body.chunk[i - 1].num_joined_members >= r.body.chunk[i].num_joined_members);
      assert.ok(!('next_batch' in r.body) && !('prev_batch' in r.body));
    });

    it('pages forwards and backwards with next_batch / prev_batch', async () => {
      const all = (await http(s, 'GET', URL, { token: alice.token })).body.chunk.map((x: any) => x.room_id);
      const seen: string[] = [];
      let since: string | undefined;
      const tokens: string[] = [];
      for (let page = 0; page < 10; page++) {
        const r = await http(s, 'GET', `${URL}?limit=3${since ? `&since=${encodeURIComponent(since)}` : ''}`, { token: alice.token });
        assert.equal(r.status, 200, JSON.stringify(r.body));
        assert.equal(page === 0, !('prev_batch' in r.body));
        seen.push(...r.body.chunk.map((x: any) => x.room_id));
        if (!r.body.next_batch) break;
        since = r.body.next_batch;
        tokens.push(r.body.prev_batch);
      }
      assert.deepEqual(seen, all);
      // Back from the second page: the first page again, still biggest first.
      const second = await http(s, 'POST', URL, { token: alice.token, body: { limit: 3 } });
      const page2 = await http(s, 'POST', URL, { token: alice.token, body: { limit: 3, since: second.body.next_batch } });
      const back = await http(s, 'POST', URL, { token: alice.token, body: { limit: 3, since: page2.body.prev_batch } });
      assert.deepEqual(
        back.body.chunk.map((x: any) => x.room_id),
        all.slice(0, 3),
      );
      assert.ok(back.body.next_batch && !('prev_batch' in back.body));
    });

    it('generic_search_term matches name, topic or alias case-insensitively; the estimate ignores it', async () => {
      const r = await http(s, 'POST', URL, { token: alice.token, body: { filter: { generic_search_term: 'PAGED room' } } });
      assert.equal(r.body.chunk.length, 5);
      assert.equal(r.body.total_room_count_estimate, 8);
      const topic = await http(s, 'POST', URL, { token: alice.token, body: { filter: { generic_search_term: '100%_t' } } });
      assert.deepEqual(
        topic.body.chunk.map((x: any) => x.room_id),
        [rooms[2]],
      );
      // LIKE wildcards are literal.
      const wild = await http(s, 'POST', URL, { token: alice.token, body: { filter: { generic_search_term: '%' } } });
      assert.deepEqual(
        wild.body.chunk.map((x: any) => x.room_id),
        [rooms[2]],
      );
    });

    it('include_all_networks lists the main list; limit 0 means no limit', async () => {
      const r = await http(s, 'POST', URL, { token: alice.token, body: { include_all_networks: true, limit: 0 } });
      assert.equal(r.body.chunk.length, 8);
    });
  });

  describe('bad input and other servers', () => {
    const cases: [string, string, unknown, number, string, string | null][] = [
      ['GET', '?server=bad..name:x', undefined, 400, 'M_INVALID_PARAM', 'Invalid server name: bad..name:x'],
      ['GET', '?server=example.org', undefined, 403, 'M_FORBIDDEN', 'Federation denied with example.org.'],
      ['POST', '?server=example.org', {}, 403, 'M_FORBIDDEN', 'Federation denied with example.org.'],
      ['GET', '?limit=-1', undefined, 400, 'M_INVALID_PARAM', null],
      ['GET', '?limit=x', undefined, 400, 'M_INVALID_PARAM', null],
      ['GET', '?since=zzz', undefined, 400, 'M_INVALID_PARAM', null],
      ['POST', '', { since: 'zzz' }, 400, 'M_INVALID_PARAM', null],
      ['POST', '', { limit: 'x' }, 400, 'M_BAD_JSON', null],
      ['POST', '', { limit: -1 }, 400, 'M_BAD_JSON', null],
      ['POST', '', { filter: 'x' }, 400, 'M_BAD_JSON', null],
      ['POST', '', { filter: { generic_search_term: 5 } }, 400, 'M_BAD_JSON', null],
      ['POST', '', { filter: { room_types: 'm.space' } }, 400, 'M_BAD_JSON', null],
      [
        'POST',
        '',
        { include_all_networks: true, third_party_instance_id: 'a|b' },
        400,
        'M_UNKNOWN',
        "Can't use include_all_networks with an explicit network",
      ],
      ['POST', '', { third_party_instance_id: 'ab' }, 400, 'M_UNKNOWN', "Invalid ID 'ab'"],
      ['POST', '', { third_party_instance_id: 'a|b|c' }, 400, 'M_UNKNOWN', "Invalid ID 'a|b|c'"],
      ['POST', '', [1], 400, 'M_BAD_JSON', 'Content must be a JSON object.'],
    ];
    for (const [method, q, body, status, errcode, error] of cases) {
      it(`${method} ${q} ${JSON.stringify(body) ?? ''} → ${status} ${errcode}`, async () => {
        const r = await http(s, method, URL + q, { token: alice.token, body });
        assert.equal(r.status, status, JSON.stringify(r.body));
        assert.equal(r.body.errcode, errcode);
        if (error !== null) assert.equal(r.body.error, error);
      });
    }
    it('this server named as server is the local list', async () => {
      const r = await http(s, 'GET', `${URL}?server=${s.config.serverName}`, { token: alice.token });
      assert.equal(r.status, 200);
      assert.ok(r.body.chunk.length > 0);
    });
  });

  describe('identical listings asked at once', () => {
    const query = (over: Record<string, unknown> = {}) => ({
      server: null,
      limit: 10,
      since: null,
      searchTerm: null,
      roomTypes: null,
      includeAllNetworks: false,
      thirdPartyInstanceId: null,
      ...over,
    });

    it('share one read while it runs; a later listing reads again and sees new rooms', async () => {
      const dir = s.app.services.publicRooms;
      const em = () => s.app.orm.em.fork();
      const [a, b] = await Promise.all([dir.list(em(), query()), dir.list(em(), query())]);
      assert.equal(a, b, 'the second listing got its own read');
      const other = await Promise.all([dir.list(em(), query({ limit: 11 })), dir.list(em(), query())]);
      assert.notEqual(other[0], other[1], 'listings with other parameters share a read');
      // Searches are read each time, as in Synapse.
      const [c, d] = await Promise.all([dir.list(em(), query({ searchTerm: 'x' })), dir.list(em(), query({ searchTerm: 'x' }))]);
      assert.notEqual(c, d);
      // Nothing is kept once a read is done.
      const before = await dir.list(em(), query({ limit: 100 }));
      const added = await createRoom(s, alice.token, { preset: 'public_chat' });
      const after = await dir.list(em(), query({ limit: 100 }));
      assert.equal(after.total, before.total + 1);
      assert.ok(after.chunk.some((r) => r.roomId === added));
    });
  });
});

describe('publicRooms: index', () => {
  it('every page and the estimate are read through room_stats_public_directory_idx', async () => {
    const s = await sharedStack();
    // Prepared as the SQL door prepares them: a listing on its generic plan, or planned for the values.
    const plan = async (q: { sql: string; params: unknown[] }, generic = false) => {
      const pg = new PgClient({ connectionString: dbUrl(s.dbName) });
      await pg.connect();
      try {
        // Whether the index can give the order, whatever the table's size and statistics make cheapest.
        await pg.query('SET enable_seqscan = off');
        await pg.query('SET enable_bitmapscan = off');
        await pg.query('SET enable_sort = off');
        return await explainPreparedText(pg, { text: q.sql, params: q.params }, generic ? 'generic' : 'custom');
      } finally {
        await pg.end();
      }
    };
    const bounds = [
      null,
      { joinedMembers: 3, roomId: '!m:test', forwards: true },
      { joinedMembers: 3, roomId: '!m:test', forwards: false },
    ];
    for (const bound of bounds) {
      for (const filter of [
        { searchTerm: null, roomTypes: null },
        { searchTerm: 'abc', roomTypes: ['m.space', null] },
      ]) {
        const { page, count } = directoryQueries(filter, bound, 101);
        // A search is planned for its term; a listing and the estimate run on generic plans.
        for (const generic of filter.searchTerm ? [false] : [false, true]) {
          const p = await plan(page, generic);
          assert.match(p, /room_stats_public_directory_idx/, p);
          assert.doesNotMatch(p, /Sort/, `the index gives the order: ${p}`);
          if (bound) assert.match(p, /Index Cond: \(ROW\(/, `the token's position is an index condition: ${p}`);
        }
        assert.match(await plan(count, true), /room_stats_public_directory_idx/);
      }
    }
  });
});
