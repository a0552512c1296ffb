/**
 * The client routes whose bodies (and `format`, `limit` parameters) the rooms and directory
 * services read, after authentication: createRoom, send, state, redact, the membership actions,
 * join and knock by id or alias, alias PUT, publicRooms and a state event's `format`. A bad body
 * never hides a missing or unknown credential, the gateway makes no CheckAccess call of its own,
 * values read from a body are bounded as the typed fields they stand for, and a gRPC caller
 * passing `body_json` gets the same answers.
 */
import { strict as assert } from 'node:assert';
import { MembershipAction } from '../../gen/synapse/admin/v1/rooms';
import { C, enc, setAlias } from '../support/client';
import { checkAccessCalls } from '../support/metrics';
import { sharedStack } from '../support/root-hooks';
import { bearer, grpcCall, grpcRefusal, http, registerUser, uniq, type Stack, type TestUser } from '../support/stack';

const NOT_JSON = { errcode: 'M_NOT_JSON', error: 'Content not JSON.' };
const NOT_OBJECT = { errcode: 'M_BAD_JSON', error: 'Content must be a JSON object.' };

describe('client bodies read by the services', () => {
  let s: Stack;
  let owner: TestUser;
  let other: TestUser;
  let roomId: string;
  let eventId: string;
  let alias: string;

  before(async () => {
    s = await sharedStack();
    owner = await registerUser(s, uniq('cbowner'));
    other = await registerUser(s, uniq('cbother'));
    const created = await http(s, 'POST', `${C}/createRoom`, { token: owner.token, body: { preset: 'public_chat' } });
    assert.equal(created.status, 200, JSON.stringify(created.body));
    roomId = created.body.room_id;
    const sent = await http(s, 'PUT', `${C}/rooms/${enc(roomId)}/send/m.room.message/${uniq('t')}`, {
      token: owner.token,
      body: { msgtype: 'm.text', body: 'hello' },
    });
    eventId = sent.body.event_id;
    alias = `#${uniq('cb')}:test`;
    await setAlias(s, owner.token, alias, roomId);
  });

  /** Every route, with a body that is not JSON (or, for GETs, a bad parameter). */
  const routes = (): [method: string, path: string][] => [
    ['POST', `${C}/createRoom`],
    ['PUT', `${C}/rooms/${enc(roomId)}/send/m.room.message/${uniq('t')}`],
    ['PUT', `${C}/rooms/${enc(roomId)}/state/m.room.topic/`],
    ['PUT', `${C}/rooms/${enc(roomId)}/redact/${enc(eventId)}/${uniq('t')}`],
    ['POST', `${C}/rooms/${enc(roomId)}/invite`],
    ['POST', `${C}/rooms/${enc(roomId)}/kick`],
    ['POST', `${C}/rooms/${enc(roomId)}/ban`],
    ['POST', `${C}/rooms/${enc(roomId)}/unban`],
    ['POST', `${C}/rooms/${enc(roomId)}/join`],
    ['POST', `${C}/rooms/${enc(roomId)}/leave`],
    ['POST', `${C}/join/${enc(alias)}`],
    ['POST', `${C}/knock/${enc(roomId)}`],
    ['PUT', `${C}/directory/room/${enc(`#${uniq('cb')}:test`)}`],
    ['POST', `${C}/publicRooms`],
  ];

  it('answers a missing or unknown credential before a bad body or parameter, with no CheckAccess call', async () => {
    const before = await checkAccessCalls(s.baseUrl);
    const requests: [string, string, string | undefined][] = [
      ...routes().map(([m, p]): [string, string, string] => [m, p, '{not json']),
      ['GET', `${C}/rooms/${enc(roomId)}/state/m.room.create/?format=bogus`, undefined],
      ['GET', `${C}/publicRooms?limit=abc`, undefined],
    ];
    const failures: string[] = [];
    for (const [method, path, rawBody] of requests) {
      const anonymous = await http(s, method, path, { rawBody });
      if (anonymous.status !== 401 || anonymous.body.errcode !== 'M_MISSING_TOKEN')
        failures.push(`${method} ${path} without a token: ${anonymous.status} ${JSON.stringify(anonymous.body)}`);
      const unknown = await http(s, method, path, { rawBody, token: 'not_a_token' });
      if (unknown.status !== 401 || unknown.body.errcode !== 'M_UNKNOWN_TOKEN')
        failures.push(`${method} ${path} with an unknown token: ${unknown.status} ${JSON.stringify(unknown.body)}`);
    }
    assert.deepEqual(failures, []);
    assert.equal(await checkAccessCalls(s.baseUrl), before);
  });

  it('answers each malformed body with Synapse error, from the service', async () => {
    const failures: string[] = [];
    for (const [method, path] of routes()) {
      for (const [rawBody, expected] of [
        ['{not json', NOT_JSON],
        ['[1, 2]', NOT_OBJECT],
      ] as const) {
        const r = await http(s, method, path, { rawBody, token: owner.token });
        if (r.status !== 400 || JSON.stringify(r.body) !== JSON.stringify(expected))
          failures.push(`${method} ${path} ${rawBody}: ${r.status} ${JSON.stringify(r.body)}`);
      }
    }
    assert.deepEqual(failures, []);
  });

  it('reads each field with its own error', async () => {
    const cases: [string, string, unknown, number, Record<string, string>][] = [
      ['POST', `${C}/createRoom`, { name: 5 }, 400, { errcode: 'M_BAD_JSON', error: "Param 'name' must be a string" }],
      [
        'POST',
        `${C}/createRoom`,
        { invite: ['@a:test', 3] },
        400,
        { errcode: 'M_BAD_JSON', error: "Param 'invite' must be a list of user ids" },
      ],
      [
        'POST',
        `${C}/createRoom`,
        { initial_state: [{ type: 'm.room.topic', content: [] }] },
        400,
        { errcode: 'M_BAD_JSON', error: "'content' of an initial state event must be an object" },
      ],
      [
        'PUT',
        `${C}/rooms/${enc(roomId)}/state/m.room.member/${enc(other.userId)}`,
        { membership: 5 },
        400,
        { errcode: 'M_UNKNOWN', error: 'Invalid membership (must be a string)' },
      ],
      ['POST', `${C}/rooms/${enc(roomId)}/invite`, {}, 400, { errcode: 'M_MISSING_PARAM', error: "Missing params: ['user_id']" }],
      ['POST', `${C}/rooms/${enc(roomId)}/ban`, { user_id: 5 }, 400, { errcode: 'M_BAD_JSON', error: "Param 'user_id' must be a string" }],
      ['POST', `${C}/rooms/${enc(roomId)}/leave`, { reason: 5 }, 400, { errcode: 'M_BAD_JSON', error: "Param 'reason' must be a string" }],
      ['POST', `${C}/join/${enc(alias)}`, { reason: [] }, 400, { errcode: 'M_BAD_JSON', error: "Param 'reason' must be a string" }],
      [
        'PUT',
        `${C}/directory/room/${enc(`#${uniq('cb')}:test`)}`,
        { servers: 5 },
        400,
        { errcode: 'M_BAD_JSON', error: 'room_id: field required' },
      ],
      [
        'PUT',
        `${C}/directory/room/${enc(`#${uniq('cb')}:test`)}`,
        {},
        400,
        { errcode: 'M_MISSING_PARAM', error: 'room_id: field required' },
      ],
      ['POST', `${C}/publicRooms`, { limit: 'x' }, 400, { errcode: 'M_BAD_JSON', error: "Param 'limit' must be an integer" }],
      [
        'POST',
        `${C}/publicRooms`,
        { filter: { generic_search_term: 1 } },
        400,
        { errcode: 'M_BAD_JSON', error: "Param 'generic_search_term' must be a string" },
      ],
    ];
    const failures: string[] = [];
    for (const [method, path, body, status, expected] of cases) {
      const r = await http(s, method, path, { body, token: owner.token });
      if (r.status !== status || JSON.stringify(r.body) !== JSON.stringify(expected))
        failures.push(`${method} ${path} ${JSON.stringify(body)}: ${r.status} ${JSON.stringify(r.body)}`);
    }
    assert.deepEqual(failures, []);
    const format = await http(s, 'GET', `${C}/rooms/${enc(roomId)}/state/m.room.create/?format=bogus`, { token: owner.token });
    assert.deepEqual(
      [format.status, format.body],
      [400, { errcode: 'M_INVALID_PARAM', error: "Query parameter 'format' must be one of ['content', 'event']" }],
    );
    const asEvent = await http(s, 'GET', `${C}/rooms/${enc(roomId)}/state/m.room.create/?format=event`, { token: owner.token });
    assert.deepEqual([asEvent.status, asEvent.body.type, asEvent.body.sender], [200, 'm.room.create', owner.userId]);
    const limit = await http(s, 'GET', `${C}/publicRooms?limit=abc`, { token: owner.token });
    assert.deepEqual([limit.status, limit.body.errcode], [400, 'M_INVALID_PARAM']);
  });

  it('bounds values read from a body as the typed fields: 4xx, never 500, and nothing stored', async () => {
    const long = (c: string) => c.repeat(300);
    const cases: [string, string, unknown, number, string][] = [
      ['POST', `${C}/createRoom`, { room_alias_name: long('a') }, 400, "Can't create aliases longer than 255 characters"],
      ['POST', `${C}/createRoom`, { room_alias_name: 'nul\u0000here' }, 400, 'JSON strings may not contain the NUL character (U+0000)'],
      ['POST', `${C}/createRoom`, { invite: [`@${long('u')}:test`] }, 400, "'invite' is too long (at most 255 bytes)"],
      ['POST', `${C}/createRoom`, { initial_state: [{ type: long('t'), content: {} }] }, 413, "'type' too large"],
      ['POST', `${C}/rooms/${enc(roomId)}/invite`, { user_id: `@${long('u')}:test` }, 400, "'user_id' is too long (at most 255 bytes)"],
      [
        'PUT',
        `${C}/directory/room/${enc(`#${uniq('cb')}:test`)}`,
        { room_id: `!${long('r')}:test` },
        400,
        "'room_id' is too long (at most 255 bytes)",
      ],
      ['POST', `${C}/publicRooms`, { since: long('s').repeat(2) }, 400, "'since' is too long (at most 512 bytes)"],
    ];
    const failures: string[] = [];
    for (const [method, path, body, status, error] of cases) {
      const r = await http(s, method, path, { body, token: owner.token });
      if (r.status !== status || r.body.error !== error)
        failures.push(`${method} ${path}: ${r.status} ${JSON.stringify(r.body).slice(0, 200)}`);
    }
    assert.deepEqual(failures, []);
    const rooms = await http(s, 'GET', `${C}/joined_rooms`, { token: owner.token });
    assert.deepEqual(rooms.body.joined_rooms, [roomId]);
  });

  it("refuses a guest's invite and knock before reading the body, as Synapse", async () => {
    const guest = await registerUser(s, uniq('cbguest'));
    await s.app.orm.em.fork().execute('UPDATE users SET is_guest = true WHERE name = ?', [guest.userId]);
    const invite = await http(s, 'POST', `${C}/rooms/${enc(roomId)}/invite`, { rawBody: '{not json', token: guest.token });
    assert.deepEqual([invite.status, invite.body], [403, { errcode: 'M_FORBIDDEN', error: 'Guest access not allowed' }]);
    const knock = await http(s, 'POST', `${C}/knock/${enc(roomId)}`, { rawBody: '{not json', token: guest.token });
    assert.deepEqual([knock.status, knock.body], [403, { errcode: 'M_GUEST_ACCESS_FORBIDDEN', error: 'Guest access not allowed' }]);
    // A guest may join and leave: their bodies are read.
    const leave = await http(s, 'POST', `${C}/rooms/${enc(roomId)}/leave`, { rawBody: '{not json', token: guest.token });
    assert.deepEqual([leave.status, leave.body], [400, NOT_JSON]);
  });

  it('works end to end from bodies: a room with its initial state, a ban with a reason, a join with content', async () => {
    const created = await http(s, 'POST', `${C}/createRoom`, {
      token: owner.token,
      body: { name: 'Bodies', preset: 'public_chat', initial_state: [{ type: 'm.room.topic', content: { topic: 'from the body' } }] },
    });
    assert.equal(created.status, 200, JSON.stringify(created.body));
    const room = created.body.room_id;
    const topic = await http(s, 'GET', `${C}/rooms/${enc(room)}/state/m.room.topic/`, { token: owner.token });
    assert.deepEqual(topic.body, { topic: 'from the body' });
    const joined = await http(s, 'POST', `${C}/join/${enc(room)}`, {
      token: other.token,
      body: { displayname: 'Other One', reason: 'hi' },
    });
    assert.equal(joined.status, 200, JSON.stringify(joined.body));
    const member = await http(s, 'GET', `${C}/rooms/${enc(room)}/state/m.room.member/${enc(other.userId)}?format=event`, {
      token: owner.token,
    });
    assert.deepEqual(
      [member.body.content.displayname, member.body.content.reason, member.body.content.membership],
      ['Other One', 'hi', 'join'],
    );
    const ban = await http(s, 'POST', `${C}/rooms/${enc(room)}/ban`, {
      token: owner.token,
      body: { user_id: other.userId, reason: 'spam' },
    });
    assert.equal(ban.status, 200, JSON.stringify(ban.body));
    const banned = await http(s, 'GET', `${C}/rooms/${enc(room)}/state/m.room.member/${enc(other.userId)}`, { token: owner.token });
    assert.deepEqual(banned.body, { membership: 'ban', reason: 'spam' });
  });

  it('answers a gRPC caller passing body_json as the REST caller', async () => {
    const rooms = s.clients.rooms;
    const md = bearer(owner.token);
    const bytes = (text: string) => Buffer.from(text);
    const refusals = [
      await grpcRefusal(grpcCall(rooms, rooms.createRoom, { invite: [], initialState: [], isDirect: false, bodyJson: bytes('{x') }, md)),
      await grpcRefusal(
        grpcCall(rooms, rooms.sendEvent, { roomId, type: 'm.room.message', contentJson: '', bodyJson: bytes('[]'), txnId: uniq('t') }, md),
      ),
      await grpcRefusal(
        grpcCall(
          rooms,
          rooms.updateMembership,
          { room: { $case: 'roomId', value: roomId }, action: MembershipAction.MEMBERSHIP_ACTION_INVITE, bodyJson: bytes('{}') },
          md,
        ),
      ),
      await grpcRefusal(
        grpcCall(rooms, rooms.setRoomAlias, { roomAlias: `#${uniq('cb')}:test`, roomId: '', bodyJson: bytes('{"room_id": 1}') }, md),
      ),
    ];
    assert.deepEqual(
      refusals.map((r) => [r.errcode, r.error]),
      [
        ['M_NOT_JSON', 'Content not JSON.'],
        ['M_BAD_JSON', 'Content must be a JSON object.'],
        ['M_MISSING_PARAM', "Missing params: ['user_id']"],
        ['M_BAD_JSON', 'room_id: str type expected'],
      ],
    );
    const made = await grpcCall(
      rooms,
      rooms.createRoom,
      { invite: [], initialState: [], isDirect: false, bodyJson: bytes('{"name": "via grpc"}') },
      md,
    );
    const name = await http(s, 'GET', `${C}/rooms/${enc(made.roomId)}/state/m.room.name/`, { token: owner.token });
    assert.deepEqual(name.body, { name: 'via grpc' });
    const auth = s.clients.auth;
    const login = (body: string) => grpcCall(auth, auth.login, { type: '', user: '', password: '', bodyJson: bytes(body) });
    const noUser = await grpcRefusal(login('{"type": "m.login.password", "password": "pass"}'));
    assert.deepEqual([noUser.errcode, noUser.error], ['M_INVALID_PARAM', 'Invalid login submission']);
    const loggedIn = await login(
      JSON.stringify({ type: 'm.login.password', identifier: { type: 'm.id.user', user: owner.userId }, password: 'pass' }),
    );
    assert.equal(loggedIn.userId, owner.userId);
    const dir = s.clients.directory;
    const limit = await grpcRefusal(
      grpcCall(
        dir,
        dir.listPublicRooms,
        { roomTypes: [], hasNullRoomType: false, filterRoomTypes: false, includeAllNetworks: false, limitParam: '1.5' },
        md,
      ),
    );
    assert.deepEqual([limit.errcode, limit.error], ['M_INVALID_PARAM', 'Query parameter limit must be an integer']);
  });
});
