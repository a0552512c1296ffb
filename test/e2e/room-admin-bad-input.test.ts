/**
 * Bad input on every room admin route: invalid ids, wrong JSON types, missing or empty bodies,
 * huge limits, negative offsets, LIKE wildcards and SQL metacharacters. Each answer is the
 * documented 4xx (Synapse's status, errcode and text); none is a 500.
 */
import { strict as assert } from 'node:assert';
import { Direction } from '../../gen/synapse/admin/v1/common';
import { sharedStack } from '../support/root-hooks';
import { bearer, grpcCall, http, registerUser, uniq, type HttpResult, type Stack, type TestUser } from '../support/stack';
import { checkAccessCalls } from '../support/metrics';
import { createRoom, enc } from './room-admin.helpers';

const A = '/_synapse/admin/v1';
const ORDER_BY_LIST =
  "['alphabetical', 'size', 'name', 'canonical_alias', 'joined_members', 'joined_local_members', 'version', 'creator', 'encryption', 'federatable', 'public', 'join_rules', 'guest_access', 'history_visibility', 'state_events']";
const SQL_META = `'; DROP TABLE rooms; --"\\%_`;

type Case = [
  method: string,
  path: string,
  opts: { body?: unknown; rawBody?: string },
  status: number,
  body: Record<string, unknown> | null,
];

describe('room admin bad input', () => {
  let s: Stack;
  let admin: TestUser;
  let roomId: string;

  before(async () => {
    s = await sharedStack();
    admin = await registerUser(s, uniq('admin'), { admin: true });
    roomId = await createRoom(s, admin.token);
  });

  async function check(cases: Case[]): Promise<void> {
    const failures: string[] = [];
    for (const [method, path, opts, status, body] of cases) {
      const r: HttpResult = await http(s, method, path, { token: admin.token, ...opts });
      const ok = r.status === status && (body === null || JSON.stringify(r.body) === JSON.stringify(body));
      if (!ok) failures.push(`${method} ${path} ${JSON.stringify(opts)} → ${r.status} ${JSON.stringify(r.body)}`);
    }
    assert.deepEqual(failures, []);
  }

  const invalid = (error: string) => ({ errcode: 'M_INVALID_PARAM', error });
  const unknown = (error: string) => ({ errcode: 'M_UNKNOWN', error });
  const badJson = (error: string) => ({ errcode: 'M_BAD_JSON', error });
  const notJson = { errcode: 'M_NOT_JSON', error: 'Content not JSON.' };
  const notObject = badJson('Content must be a JSON object.');

  it('list rooms: offsets, limits, sort keys, directions, booleans and search terms', async () => {
    await check([
      ['GET', `${A}/rooms?from=-1`, {}, 400, invalid('Query parameter from must be a positive integer.')],
      ['GET', `${A}/rooms?from=abc`, {}, 400, invalid('Query parameter from must be an integer')],
      ['GET', `${A}/rooms?limit=-5`, {}, 400, invalid('Query parameter limit must be a positive integer.')],
      ['GET', `${A}/rooms?limit=1.5`, {}, 400, invalid('Query parameter limit must be an integer')],
      ['GET', `${A}/rooms?limit=99999999999999999999999`, {}, 400, invalid('Query parameter limit must be an integer')],
      ['GET', `${A}/rooms?order_by=bogus`, {}, 400, invalid(`Query parameter 'order_by' must be one of ${ORDER_BY_LIST}`)],
      ['GET', `${A}/rooms?dir=x`, {}, 400, invalid("Query parameter 'dir' must be one of ['b', 'f']")],
      ['GET', `${A}/rooms?public_rooms=yes`, {}, 400, invalid("Boolean query parameter 'public_rooms' must be one of ['true', 'false']")],
      ['GET', `${A}/rooms?empty_rooms=1`, {}, 400, invalid("Boolean query parameter 'empty_rooms' must be one of ['true', 'false']")],
      ['GET', `${A}/rooms?search_term=`, {}, 400, invalid('search_term cannot be an empty string')],
      ['GET', `${A}/rooms?search_term=${enc(SQL_META)}`, {}, 200, null],
      ['GET', `${A}/rooms?search_term=%25`, {}, 200, null],
      ['GET', `${A}/rooms?search_term=_`, {}, 200, null],
      ['GET', `${A}/rooms?search_term=%D0%B6%F0%9F%98%80`, {}, 200, null],
      ['GET', `${A}/rooms?order_by=${enc('name; DROP TABLE rooms')}`, {}, 400, null],
    ]);
    const huge = await http(s, 'GET', `${A}/rooms?limit=1000000000&from=999999999`, { token: admin.token });
    assert.equal(huge.status, 200);
    assert.deepEqual(huge.body.rooms, []);
    // The page is capped at MAX_ROOMS_PER_PAGE rooms; the offsets follow what a page holds.
    assert.equal(huge.body.prev_batch, 999_999_999 - 10_000);
    const stillThere = await http(s, 'GET', `${A}/rooms/${enc(roomId)}`, { token: admin.token });
    assert.equal(stillThere.status, 200);
  });

  it("rooms list: the service checks the query after authentication, in Synapse's order, with no extra RPC", async () => {
    const user = await registerUser(s, uniq('plain'));
    const checkAccess = () => checkAccessCalls(s.baseUrl);
    const before = await checkAccess();
    for (const bad of [`${A}/rooms?from=abc&dir=x`, `${A}/rooms/${enc(roomId)}/timestamp_to_event?dir=x`]) {
      const forbidden = await http(s, 'GET', bad, { token: user.token });
      assert.deepEqual([forbidden.status, forbidden.body.errcode], [403, 'M_FORBIDDEN'], bad);
      const anonymous = await http(s, 'GET', bad);
      assert.deepEqual([anonymous.status, anonymous.body.errcode], [401, 'M_MISSING_TOKEN'], bad);
    }
    // The gateway raised nothing of its own: no CheckAccess call was needed to put auth first.
    assert.equal(await checkAccess(), before);
    // Several bad parameters: the first in Synapse's order wins.
    await check([
      [
        'GET',
        `${A}/rooms?dir=x&empty_rooms=1&public_rooms=yes&search_term=&order_by=bogus&limit=-1&from=abc`,
        {},
        400,
        invalid('Query parameter from must be an integer'),
      ],
      [
        'GET',
        `${A}/rooms?dir=x&empty_rooms=1&public_rooms=yes&search_term=&order_by=bogus&limit=-1`,
        {},
        400,
        invalid('Query parameter limit must be a positive integer.'),
      ],
      [
        'GET',
        `${A}/rooms?dir=x&empty_rooms=1&public_rooms=yes&search_term=&order_by=bogus`,
        {},
        400,
        invalid(`Query parameter 'order_by' must be one of ${ORDER_BY_LIST}`),
      ],
      ['GET', `${A}/rooms?dir=x&empty_rooms=1&public_rooms=yes&search_term=`, {}, 400, invalid('search_term cannot be an empty string')],
      [
        'GET',
        `${A}/rooms?dir=x&empty_rooms=1&public_rooms=yes`,
        {},
        400,
        invalid("Boolean query parameter 'public_rooms' must be one of ['true', 'false']"),
      ],
      ['GET', `${A}/rooms?dir=x&empty_rooms=1`, {}, 400, invalid("Boolean query parameter 'empty_rooms' must be one of ['true', 'false']")],
      ['GET', `${A}/rooms?dir=x`, {}, 400, invalid("Query parameter 'dir' must be one of ['b', 'f']")],
      ['GET', `${A}/rooms?dir=b&order_by=name&limit=1&from=0&public_rooms=false&empty_rooms=false`, {}, 200, null],
    ]);
    // A gRPC caller passing the parameters as given gets the same answer.
    const ra = s.clients.roomAdmin;
    await assert.rejects(
      grpcCall(ra, ra.listRooms, { from: 0, orderBy: 0, dir: Direction.DIRECTION_FORWARDS, limitParam: '1.5' }, bearer(admin.token)),
      (err: { details?: string }) => /Query parameter limit must be an integer/.test(err.details ?? ''),
    );
  });

  it('room details, members, state, timestamp_to_event', async () => {
    await check([
      ['GET', `${A}/rooms/`, {}, 404, { errcode: 'M_NOT_FOUND', error: 'Room not found' }],
      ['GET', `${A}/rooms/invalidroom`, {}, 404, { errcode: 'M_NOT_FOUND', error: 'Room not found' }],
      ['GET', `${A}/rooms/${enc(SQL_META)}`, {}, 404, { errcode: 'M_NOT_FOUND', error: 'Room not found' }],
      ['GET', `${A}/rooms/%E0%A4%A`, {}, 400, null],
      ['GET', `${A}/rooms/${enc('!nope:test')}/members`, {}, 404, { errcode: 'M_NOT_FOUND', error: 'Room not found' }],
      ['GET', `${A}/rooms/${enc('!nope:test')}/state`, {}, 404, { errcode: 'M_NOT_FOUND', error: 'Room not found' }],
      ['GET', `${A}/rooms/${enc(roomId)}/state?type=${enc(SQL_META)}`, {}, 200, { state: [] }],
      [
        'GET',
        `${A}/rooms/${enc(roomId)}/timestamp_to_event`,
        {},
        400,
        { errcode: 'M_MISSING_PARAM', error: 'Missing required integer query parameter ts' },
      ],
      ['GET', `${A}/rooms/${enc(roomId)}/timestamp_to_event?ts=-1`, {}, 400, invalid('Query parameter ts must be a positive integer.')],
      ['GET', `${A}/rooms/${enc(roomId)}/timestamp_to_event?ts=soon`, {}, 400, invalid('Query parameter ts must be an integer')],
      [
        'GET',
        `${A}/rooms/${enc(roomId)}/timestamp_to_event?ts=1&dir=up`,
        {},
        400,
        invalid("Query parameter 'dir' must be one of ['b', 'f']"),
      ],
      [
        'GET',
        `${A}/rooms/${enc('!nope:test')}/timestamp_to_event?ts=1`,
        {},
        404,
        { errcode: 'M_NOT_FOUND', error: 'Unable to find event from 1 in direction Direction.FORWARDS' },
      ],
    ]);
  });

  it('block', async () => {
    const path = `${A}/rooms/${enc(roomId)}/block`;
    await check([
      ['PUT', path, {}, 400, notJson],
      ['PUT', path, { rawBody: '{"block": tru' }, 400, notJson],
      ['PUT', path, { body: [true] }, 400, notObject],
      ['PUT', path, { body: {} }, 400, { errcode: 'M_MISSING_PARAM', error: "Missing params: ['block']" }],
      ['PUT', path, { body: { block: 1 } }, 400, badJson("Param 'block' must be a boolean.")],
      ['PUT', path, { body: { block: null } }, 400, badJson("Param 'block' must be a boolean.")],
      ['PUT', `${A}/rooms/${enc(SQL_META)}/block`, { body: { block: true } }, 400, unknown(`${SQL_META} is not a legal room ID`)],
      ['PUT', `${A}/rooms/${enc('!a:bad host')}/block`, { body: { block: true } }, 400, unknown('!a:bad host is not a legal room ID')],
      ['GET', `${A}/rooms/${enc('#alias:test')}/block`, {}, 400, unknown('#alias:test is not a legal room ID')],
    ]);
  });

  it('delete v1 and v2: bodies and ids', async () => {
    const cases: Case[] = [];
    for (const base of [`${A}/rooms/${enc('!nothere:test')}`, `/_synapse/admin/v2/rooms/${enc('!nothere:test')}`]) {
      cases.push(
        ['DELETE', base, {}, 400, notJson],
        ['DELETE', base, { rawBody: '' }, 400, notJson],
        ['DELETE', base, { body: 'text' }, 400, notObject],
        ['DELETE', base, { body: { block: 'yes' } }, 400, badJson("Param 'block' must be a boolean, if given")],
        ['DELETE', base, { body: { purge: 0 } }, 400, badJson("Param 'purge' must be a boolean, if given")],
        ['DELETE', base, { body: { force_purge: null } }, 400, badJson("Param 'force_purge' must be a boolean, if given")],
        ['DELETE', base, { body: { new_room_user_id: 42 } }, 400, badJson("Param 'new_room_user_id' must be a string")],
        ['DELETE', base, { body: { room_name: ['x'] } }, 400, badJson("Param 'room_name' must be a string")],
        ['DELETE', base, { body: { message: {} } }, 400, badJson("Param 'message' must be a string")],
      );
    }
    // v2 checks the user even for unknown rooms; v1 (as Synapse) only once it finds the room.
    cases.push(
      [
        'DELETE',
        `/_synapse/admin/v2/rooms/${enc('!nothere:test')}`,
        { body: { new_room_user_id: SQL_META } },
        400,
        unknown(`User must be our own: ${SQL_META}`),
      ],
      [
        'DELETE',
        `${A}/rooms/${enc('!nothere:test')}`,
        { body: { new_room_user_id: SQL_META } },
        200,
        { kicked_users: [], failed_to_kick_users: [], local_aliases: [], new_room_id: null },
      ],
      [
        'DELETE',
        `${A}/rooms/${enc(roomId)}`,
        { body: { new_room_user_id: SQL_META, purge: false } },
        400,
        unknown(`User must be our own: ${SQL_META}`),
      ],
    );
    cases.push(
      ['DELETE', `${A}/rooms/invalidroom`, { body: {} }, 400, unknown('invalidroom is not a legal room ID')],
      ['DELETE', `/_synapse/admin/v2/rooms/${enc(SQL_META)}`, { body: {} }, 400, unknown(`${SQL_META} is not a legal room ID`)],
      ['GET', `/_synapse/admin/v2/rooms/${enc(SQL_META)}/delete_status`, {}, 400, unknown(`${SQL_META} is not a legal room ID`)],
      [
        'GET',
        `/_synapse/admin/v2/rooms/${enc('!never:test')}/delete_status`,
        {},
        404,
        { errcode: 'M_NOT_FOUND', error: "No delete task for room_id '!never:test' found" },
      ],
      [
        'GET',
        `/_synapse/admin/v2/rooms/delete_status/${enc(SQL_META)}`,
        {},
        404,
        { errcode: 'M_NOT_FOUND', error: `delete id '${SQL_META}' not found` },
      ],
      ['GET', '/_synapse/admin/v2/rooms/delete_status/', {}, 404, { errcode: 'M_NOT_FOUND', error: "delete id '' not found" }],
    );
    await check(cases);
  });

  it('a delete status id of another kind of task is not a delete', async () => {
    const r = await http(s, 'POST', `${A}/purge_history/${enc(roomId)}`, {
      token: admin.token,
      body: { purge_up_to_ts: Date.now(), delete_local_events: true },
    });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    const st = await http(s, 'GET', `/_synapse/admin/v2/rooms/delete_status/${enc(r.body.purge_id)}`, { token: admin.token });
    assert.deepEqual([st.status, st.body.error], [404, `delete id '${r.body.purge_id}' not found`]);
  });

  it('make_room_admin, forward extremities, admin join', async () => {
    const room = enc(roomId);
    await check([
      ['POST', `${A}/rooms/${room}/make_room_admin`, { body: [1] }, 400, notObject],
      ['POST', `${A}/rooms/${room}/make_room_admin`, { rawBody: '{' }, 400, notJson],
      ['POST', `${A}/rooms/${room}/make_room_admin`, { body: { user_id: 5 } }, 400, badJson("Param 'user_id' must be a string")],
      ['POST', `${A}/rooms/invalidroom/make_room_admin`, { body: {} }, 400, unknown('invalidroom was not legal room ID or room alias')],
      ['POST', `${A}/rooms/${enc(SQL_META)}/make_room_admin`, {}, 400, unknown(`${SQL_META} was not legal room ID or room alias`)],
      ['GET', `${A}/rooms/invalidroom/forward_extremities`, {}, 400, unknown('invalidroom was not legal room ID or room alias')],
      [
        'DELETE',
        `${A}/rooms/${enc('#missing:test')}/forward_extremities`,
        {},
        404,
        { errcode: 'M_NOT_FOUND', error: 'Room alias #missing:test not found' },
      ],
      ['POST', `${A}/join/${room}`, {}, 400, notJson],
      ['POST', `${A}/join/${room}`, { body: [] }, 400, notObject],
      ['POST', `${A}/join/${room}`, { body: {} }, 400, { errcode: 'M_MISSING_PARAM', error: "Missing params: ['user_id']" }],
      ['POST', `${A}/join/${room}`, { body: { user_id: 5 } }, 400, invalid("Expected UserID string to start with '@'")],
      ['POST', `${A}/join/${room}`, { body: { user_id: 'nobody' } }, 400, invalid("Expected UserID string to start with '@'")],
      ['POST', `${A}/join/${room}`, { body: { user_id: '@nocolon' } }, 400, invalid("Expected UserID of the form '@localname:domain'")],
      [
        'POST',
        `${A}/join/${room}`,
        { body: { user_id: `@x:${SQL_META}` } },
        400,
        unknown('This endpoint can only be used with local users'),
      ],
      [
        'POST',
        `${A}/join/${enc(SQL_META)}`,
        { body: { user_id: admin.userId } },
        400,
        unknown(`${SQL_META} was not legal room ID or room alias`),
      ],
    ]);
  });

  it('deprecated shutdown_room and purge_room', async () => {
    const room = enc(roomId);
    await check([
      ['POST', `${A}/shutdown_room/${room}`, {}, 400, notJson],
      [
        'POST',
        `${A}/shutdown_room/${room}`,
        { body: {} },
        400,
        { errcode: 'M_MISSING_PARAM', error: "Missing params: ['new_room_user_id']" },
      ],
      ['POST', `${A}/shutdown_room/${room}`, { body: { new_room_user_id: 1 } }, 400, badJson("Param 'new_room_user_id' must be a string")],
      [
        'POST',
        `${A}/shutdown_room/${enc(SQL_META)}`,
        { body: { new_room_user_id: admin.userId } },
        400,
        unknown(`${SQL_META} is not a legal room ID`),
      ],
      ['POST', `${A}/purge_room`, {}, 400, notJson],
      ['POST', `${A}/purge_room`, { body: {} }, 400, { errcode: 'M_MISSING_PARAM', error: "Missing params: ['room_id']" }],
      ['POST', `${A}/purge_room`, { body: { room_id: false } }, 400, badJson("Param 'room_id' must be a string")],
    ]);
  });

  it('checks the same values over gRPC', async () => {
    const c = s.clients.roomAdmin;
    const md = bearer(admin.token);
    const rejects = (p: Promise<unknown>, code: string, text: string) =>
      assert.rejects(
        p,
        (e: { details: string; metadata: { get(k: string): unknown[] } }) =>
          e.details === text && e.metadata.get('matrix-errcode')[0] === code,
      );
    await rejects(
      grpcCall(c, c.listRooms, { from: 0, limit: -1, orderBy: 0, dir: 0 }, md),
      'M_INVALID_PARAM',
      'Query parameter limit must be a positive integer.',
    );
    await rejects(
      grpcCall(c, c.listRooms, { from: 0, orderBy: 0, dir: 0, searchTerm: '' }, md),
      'M_INVALID_PARAM',
      'search_term cannot be an empty string',
    );
    await rejects(
      grpcCall(c, c.timestampToEvent, { roomId, ts: -5, dir: Direction.DIRECTION_FORWARDS }, md),
      'M_INVALID_PARAM',
      'Query parameter ts must be a positive integer.',
    );
    await rejects(grpcCall(c, c.setRoomBlock, { roomId: 'nope', block: true }, md), 'M_UNKNOWN', 'nope is not a legal room ID');
    await rejects(grpcCall(c, c.startDeleteRoom, { roomId: 'nope' }, md), 'M_UNKNOWN', 'nope is not a legal room ID');
    await rejects(
      grpcCall(c, c.adminJoinRoom, { roomIdOrAlias: roomId, userId: '', serverNames: [] }, md),
      'M_INVALID_PARAM',
      "Expected UserID string to start with '@'",
    );
  });
});
