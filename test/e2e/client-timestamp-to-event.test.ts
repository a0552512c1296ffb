/**
 * The client API's jump to date, `GET /_matrix/client/v1/rooms/{roomId}/timestamp_to_event`, with
 * Synapse's order of checks (authentication, room access, then `ts` and `dir`) and its
 * TimestampLookupTestCase.test_no_outliers, over real HTTP and gRPC.
 */
import { strict as assert } from 'node:assert';
import { sharedStack } from '../support/root-hooks';
import { bearer, grpcCall, http, registerUser, uniq, type Stack, type TestUser } from '../support/stack';
import { createRoom, enc, join, leave, sendMessage, sendState } from './room-admin.helpers';

const path = (roomId: string, query: string) => `/_matrix/client/v1/rooms/${enc(roomId)}/timestamp_to_event${query}`;

describe('client timestamp_to_event', () => {
  let s: Stack;
  let owner: TestUser;
  let outsider: TestUser;
  let roomId: string;
  let first: string;
  let second: string;
  let between: number;

  before(async () => {
    s = await sharedStack();
    owner = await registerUser(s, uniq('owner'));
    outsider = await registerUser(s, uniq('outsider'));
    roomId = await createRoom(s, owner.token, {}, false);
    first = await sendMessage(s, owner.token, roomId, 'first');
    between = await untilClockMoves();
    second = await sendMessage(s, owner.token, roomId, 'second');
  });

  /** A timestamp strictly after the last event sent (the clock has moved past it). */
  async function untilClockMoves(): Promise<number> {
    const start = Date.now();
    while (Date.now() <= start) await new Promise((r) => setImmediate(r));
    return Date.now();
  }

  it('finds the closest event backwards and forwards (dir defaults to f)', async () => {
    const back = await http(s, 'GET', path(roomId, `?dir=b&ts=${between}`), { token: owner.token });
    assert.equal(back.status, 200, JSON.stringify(back.body));
    assert.equal(back.body.event_id, first);
    assert.equal(typeof back.body.origin_server_ts, 'number');
    assert.ok(back.body.origin_server_ts <= between);
    const fwd = await http(s, 'GET', path(roomId, `?ts=${between}`), { token: owner.token });
    assert.equal(fwd.status, 200, JSON.stringify(fwd.body));
    assert.equal(fwd.body.event_id, second);
    assert.deepEqual(Object.keys(fwd.body).sort(), ['event_id', 'origin_server_ts']);
  });

  it('404 M_NOT_FOUND when no event lies in that direction', async () => {
    const future = Date.now() + 3_600_000;
    const res = await http(s, 'GET', path(roomId, `?dir=f&ts=${future}`), { token: owner.token });
    assert.deepEqual(
      [res.status, res.body],
      [404, { errcode: 'M_NOT_FOUND', error: `Unable to find event from ${future} in direction Direction.FORWARDS` }],
    );
  });

  it('checks the parameters after the access to the room, as Synapse does', async () => {
    // A non-member of a private room: 403 first, even with a missing or bad ts.
    for (const q of ['', '?ts=abc', `?ts=1&dir=x`]) {
      const res = await http(s, 'GET', path(roomId, q), { token: outsider.token });
      assert.equal(res.status, 403, q);
      assert.equal(res.body.errcode, 'M_FORBIDDEN');
      assert.equal(res.body.error, `User ${outsider.userId} not in room ${roomId}, and room previews are disabled`);
    }
    const missing = await http(s, 'GET', path(roomId, ''), { token: owner.token });
    assert.deepEqual(
      [missing.status, missing.body],
      [400, { errcode: 'M_MISSING_PARAM', error: 'Missing required integer query parameter ts' }],
    );
    const bad = await http(s, 'GET', path(roomId, '?ts=abc'), { token: owner.token });
    assert.deepEqual([bad.status, bad.body.errcode], [400, 'M_INVALID_PARAM']);
    const dir = await http(s, 'GET', path(roomId, '?ts=1&dir=x'), { token: owner.token });
    assert.deepEqual(
      [dir.status, dir.body],
      [400, { errcode: 'M_INVALID_PARAM', error: "Query parameter 'dir' must be one of ['f', 'b']" }],
    );
    const anonymous = await http(s, 'GET', path(roomId, '?ts=abc'));
    assert.deepEqual([anonymous.status, anonymous.body.errcode], [401, 'M_MISSING_TOKEN']);
  });

  it('lets anyone look into a world-readable room, and a member who left no longer', async () => {
    const open = await createRoom(s, owner.token);
    await sendState(s, owner.token, open, 'm.room.history_visibility', { history_visibility: 'world_readable' });
    const msg = await sendMessage(s, owner.token, open, 'hello');
    const res = await http(s, 'GET', path(open, `?dir=b&ts=${Date.now() + 1000}`), { token: outsider.token });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.equal(res.body.event_id, msg);
    const shared = await createRoom(s, owner.token);
    const visitor = await registerUser(s, uniq('visitor'));
    await join(s, visitor.token, shared);
    assert.equal((await http(s, 'GET', path(shared, '?ts=0'), { token: visitor.token })).status, 200);
    await leave(s, visitor.token, shared);
    assert.equal((await http(s, 'GET', path(shared, '?ts=0'), { token: visitor.token })).status, 403);
  });

  it('test_no_outliers: an outlier is never the answer', async () => {
    const room = await createRoom(s, owner.token, {}, false);
    const kept = await sendMessage(s, owner.token, room, 'kept');
    const outlier = await sendMessage(s, owner.token, room, 'outlier');
    const em = s.app.orm.em.fork();
    await em.execute('UPDATE events SET outlier = true WHERE event_id = ?', [outlier]);
    const [{ ts }] = await em.execute<{ ts: string }[]>('SELECT origin_server_ts AS ts FROM events WHERE event_id = ?', [outlier]);
    const res = await http(s, 'GET', path(room, `?dir=b&ts=${ts}`), { token: owner.token });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.notEqual(res.body.event_id, outlier);
    assert.equal(res.body.event_id, kept);
  });

  it('is served over gRPC as RoomService.FindEventAtTimestamp with the same checks', async () => {
    const c = s.clients.rooms;
    const res = await grpcCall(c, c.findEventAtTimestamp, { roomId, tsParam: String(between), dirParam: 'b' }, bearer(owner.token));
    assert.equal(res.eventId, first);
    await assert.rejects(
      grpcCall(c, c.findEventAtTimestamp, { roomId, tsParam: '1' }, bearer(outsider.token)),
      (err: { code: number }) => err.code === 7,
    );
    await assert.rejects(grpcCall(c, c.findEventAtTimestamp, { roomId }, bearer(owner.token)), (err: { code: number }) => err.code === 3);
  });
});
