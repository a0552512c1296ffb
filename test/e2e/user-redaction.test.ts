/**
 * POST /_synapse/admin/v1/user/{user_id}/redact and GET /user/redact_status/{redact_id}
 * (Synapse 1.116+, UserRedactionTestCase in tests/rest/admin/test_user.py; behaviour per the spec
 * file §5): a scheduled task redacting the user's joins, messages and encrypted events.
 */
import { strict as assert } from 'node:assert';
import { sharedStack } from '../support/root-hooks';
import { http, registerUser, uniq, type Stack, type TestUser } from '../support/stack';
import { createRoom, enc, join, sendMessage, waitFor } from './room-admin.helpers';

const A = '/_synapse/admin/v1';

describe('UserRedactionTestCase', () => {
  let s: Stack;
  let admin: TestUser;
  let bad: TestUser;
  let owner: TestUser;

  before(async () => {
    s = await sharedStack();
    admin = await registerUser(s, uniq('admin'), { admin: true });
    owner = await registerUser(s, uniq('owner'));
  });
  beforeEach(async () => {
    bad = await registerUser(s, uniq('bad'));
  });

  const redact = (userId: string, body: unknown, token = admin.token) =>
    http(s, 'POST', `${A}/user/${enc(userId)}/redact`, { token, body });
  const status = (id: string, token = admin.token) => http(s, 'GET', `${A}/user/redact_status/${enc(id)}`, { token });
  const finished = async (id: string) => {
    const r = await waitFor(
      () => status(id),
      (x) => x.status !== 200 || !['scheduled', 'active'].includes(x.body.status),
    );
    assert.equal(r.status, 200, JSON.stringify(r.body));
    return r.body;
  };
  const fetchEvent = async (eventId: string) => {
    const r = await http(s, 'GET', `${A}/fetch_event/${enc(eventId)}`, { token: admin.token });
    assert.equal(r.status, 200);
    return r.body.event;
  };
  const redactedBy = async (eventId: string) => (await fetchEvent(eventId)).unsigned.redacted_by as string | undefined;
  const memberEventId = async (roomId: string, userId: string) => {
    const r = await http(s, 'GET', `/_matrix/client/v3/rooms/${enc(roomId)}/state/m.room.member/${enc(userId)}?format=event`, {
      token: owner.token,
    });
    return r.body.event_id as string;
  };
  /** A room of `owner` that `bad` joined and sent `n` messages to. */
  const roomWithMessages = async (n: number) => {
    const roomId = await createRoom(s, owner.token);
    await join(s, bad.token, roomId);
    const events: string[] = [];
    for (let i = 0; i < n; i++) events.push(await sendMessage(s, bad.token, roomId, `spam ${i}`));
    return { roomId, events };
  };

  it('test_redact_messages_all_rooms', async () => {
    const rooms = [await roomWithMessages(3), await roomWithMessages(3), await roomWithMessages(3)];
    const owners = await sendMessage(s, owner.token, rooms[0].roomId, 'owner speaks');
    const r = await redact(bad.userId, { rooms: [] });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.equal(typeof r.body.redact_id, 'string');
    assert.deepEqual(await finished(r.body.redact_id), { status: 'complete', failed_redactions: {} });
    for (const { roomId, events } of rooms) {
      for (const e of events) {
        const by = await redactedBy(e);
        assert.ok(by, e);
        // Puppeted: the user redacts their own events.
        assert.equal((await fetchEvent(by)).sender, bad.userId);
      }
      assert.ok(await redactedBy(await memberEventId(roomId, bad.userId)), 'the join is redacted');
    }
    assert.equal(await redactedBy(owners), undefined, "other users' events are untouched");
  });

  it('test_redact_messages_specific_rooms', async () => {
    const kept = await roomWithMessages(2);
    const gone = await roomWithMessages(2);
    const r = await redact(bad.userId, { rooms: [gone.roomId] });
    assert.deepEqual(await finished(r.body.redact_id), { status: 'complete', failed_redactions: {} });
    for (const e of gone.events) assert.ok(await redactedBy(e));
    for (const e of kept.events) assert.equal(await redactedBy(e), undefined);
  });

  it('test_redact_messages_with_reason_and_limit: the newest `limit` events, with the reason', async () => {
    const room = await roomWithMessages(4);
    const r = await redact(bad.userId, { rooms: [room.roomId], reason: 'spam', limit: 2 });
    assert.equal((await finished(r.body.redact_id)).status, 'complete');
    assert.ok(await redactedBy(room.events[3]));
    assert.ok(await redactedBy(room.events[2]));
    assert.equal(await redactedBy(room.events[1]), undefined);
    const redaction = await fetchEvent((await redactedBy(room.events[3]))!);
    assert.equal(redaction.content.reason, 'spam');
  });

  it('before_ts / after_ts bound the events by their timestamp, inclusive', async () => {
    const room = await roomWithMessages(3);
    const ts = await Promise.all(room.events.map(async (e) => (await fetchEvent(e)).origin_server_ts as number));
    const r = await redact(bad.userId, { rooms: [room.roomId], after_ts: ts[1], before_ts: ts[1] });
    assert.equal((await finished(r.body.redact_id)).status, 'complete');
    const redacted = await Promise.all(room.events.map(async (e) => !!(await redactedBy(e))));
    // Events sent in the same millisecond share it; the middle one is always inside the bounds.
    assert.equal(redacted[1], true);
    room.events.forEach((_, i) => assert.equal(redacted[i], ts[i] === ts[1]));
  });

  it('use_admin: the admin sends the redactions; where it cannot, failed_redactions says why', async () => {
    const room = await roomWithMessages(2);
    const r = await redact(bad.userId, { rooms: [room.roomId], use_admin: true });
    const st = await finished(r.body.redact_id);
    assert.equal(st.status, 'complete');
    // The admin is not in the room: every redaction fails, each recorded by event id.
    for (const e of room.events) assert.equal(typeof st.failed_redactions[e], 'string', JSON.stringify(st));
    for (const e of room.events) assert.equal(await redactedBy(e), undefined);
    await join(s, admin.token, room.roomId);
    // Joined but without power to redact others' events: still failures.
    const again = await finished((await redact(bad.userId, { rooms: [room.roomId], use_admin: true })).body.redact_id);
    for (const e of room.events) assert.ok(again.failed_redactions[e], JSON.stringify(again));
    // In the admin's own room it works.
    const own = await createRoom(s, admin.token);
    await join(s, bad.token, own);
    const ev = await sendMessage(s, bad.token, own, 'hello');
    const done = await finished((await redact(bad.userId, { rooms: [own], use_admin: true })).body.redact_id);
    assert.deepEqual(done, { status: 'complete', failed_redactions: {} });
    assert.equal((await fetchEvent((await redactedBy(ev))!)).sender, admin.userId);
  });

  it('an unknown or empty room list item and a user with no events complete with nothing to do', async () => {
    const r = await redact(`@nobody_${uniq('x')}:elsewhere.org`, { rooms: [`!nothere:${s.config.serverName}`] });
    assert.deepEqual(await finished(r.body.redact_id), { status: 'complete', failed_redactions: {} });
  });

  it('auth table', async () => {
    for (const [method, path] of [
      ['POST', `${A}/user/${enc(bad.userId)}/redact`],
      ['GET', `${A}/user/redact_status/abc`],
    ]) {
      const body = method === 'POST' ? { rooms: [] } : undefined;
      assert.equal((await http(s, method, path, { body })).body.errcode, 'M_MISSING_TOKEN');
      assert.equal((await http(s, method, path, { body, token: 'syt_bad' })).body.errcode, 'M_UNKNOWN_TOKEN');
      const r = await http(s, method, path, { body, token: bad.token });
      assert.equal(r.status, 403);
      assert.equal(r.body.error, 'You are not a server admin');
    }
  });

  it('bad input', async () => {
    const cases: [string, unknown, number, string, string | null][] = [
      [bad.userId, {}, 400, 'M_MISSING_PARAM', null],
      [bad.userId, { rooms: 'x' }, 400, 'M_BAD_JSON', null],
      [bad.userId, { rooms: [1] }, 400, 'M_BAD_JSON', null],
      [bad.userId, { rooms: [], limit: 'x' }, 400, 'M_BAD_JSON', null],
      [bad.userId, { rooms: [], limit: true }, 400, 'M_BAD_JSON', null],
      [bad.userId, { rooms: [], reason: 5 }, 400, 'M_BAD_JSON', null],
      [bad.userId, { rooms: [], use_admin: 'yes' }, 400, 'M_BAD_JSON', null],
      [bad.userId, { rooms: [], before_ts: 1.5 }, 400, 'M_BAD_JSON', null],
      [bad.userId, { rooms: [], limit: -1 }, 400, 'M_UNKNOWN', 'If limit is provided it must be a non-negative integer greater than 0.'],
      ['nosigil:test', { rooms: [] }, 400, 'M_INVALID_PARAM', "Expected UserID string to start with '@'"],
      ['@nocolon', { rooms: [] }, 400, 'M_INVALID_PARAM', "Expected UserID of the form '@localname:domain'"],
      [bad.userId, [1], 400, 'M_BAD_JSON', 'Content must be a JSON object.'],
      // Values read from the body are bounded as the request's typed fields.
      [bad.userId, { rooms: [`!${'r'.repeat(600)}:test`] }, 400, 'M_INVALID_PARAM', "'rooms' is too long (at most 512 bytes)"],
    ];
    for (const [userId, body, code, errcode, error] of cases) {
      const r = await redact(userId, body);
      assert.equal(r.status, code, `${userId} ${JSON.stringify(body)} ${JSON.stringify(r.body)}`);
      assert.equal(r.body.errcode, errcode, JSON.stringify(body));
      if (error) assert.equal(r.body.error, error);
    }
    const notJson = await http(s, 'POST', `${A}/user/${enc(bad.userId)}/redact`, { token: admin.token, rawBody: '{' });
    assert.equal(notJson.body.errcode, 'M_NOT_JSON');
    // The user id is checked before the body (as Synapse parses it first), and both after authentication.
    const both = await http(s, 'POST', `${A}/user/nosigil/redact`, { token: admin.token, rawBody: '{' });
    assert.deepEqual([both.status, both.body.errcode], [400, 'M_INVALID_PARAM']);
    assert.equal((await http(s, 'POST', `${A}/user/nosigil/redact`, { token: bad.token, rawBody: '{' })).status, 403);
    assert.equal((await http(s, 'POST', `${A}/user/nosigil/redact`, { rawBody: '{' })).status, 401);
    const unknown = await status('nosuchid');
    assert.equal(unknown.status, 404);
    assert.deepEqual(unknown.body, { errcode: 'M_NOT_FOUND', error: "redact id 'nosuchid' not found" });
  });

  it('a second request while one is active for the user is refused; the status shows it active', async () => {
    const room = await roomWithMessages(1);
    // The task is held active by a row lock on the room's events for as long as this transaction lives.
    const em = s.app.orm.em.fork();
    const r = await em.transactional(async (tx) => {
      await tx.execute('SELECT 1 FROM events WHERE room_id = ? FOR UPDATE', [room.roomId]);
      const first = await redact(bad.userId, { rooms: [room.roomId] });
      assert.equal(first.status, 200);
      await waitFor(
        () => status(first.body.redact_id),
        (x) => x.body.status === 'active',
      );
      const second = await redact(bad.userId, { rooms: [] });
      assert.equal(second.status, 400);
      assert.deepEqual(second.body, { errcode: 'M_UNKNOWN', error: `Redact already in progress for user ${bad.userId}` });
      return first.body.redact_id as string;
    });
    assert.equal((await finished(r)).status, 'complete');
  });
});
