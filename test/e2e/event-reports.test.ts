/**
 * Event reports, ported from Synapse's tests/rest/admin/test_event_reports.py
 * (EventReportsTestCase, EventReportDetailTestCase, DeleteEventReportTestCase) and
 * tests/rest/client/test_report_event.py (ReportEventTestCase). The admin list is server-wide, so
 * this suite runs on its own stack (its own database).
 */
import { strict as assert } from 'node:assert';
import { http, registerUser, startStack, type Stack, type TestUser } from '../support/stack';
import { checkAccessCalls } from '../support/metrics';
import { errorOrderQueries } from '../support/client';
import { assertPurged, createRoom, enc, join, sendMessage, waitForDelete } from './room-admin.helpers';
import { waitFor } from '../support/until';

const URL = '/_synapse/admin/v1/event_reports';
const C = '/_matrix/client/v3';

describe('event reports', function () {
  let s: Stack;
  let admin: TestUser;
  let other: TestUser;
  let room1: string;
  let room2: string;

  const report = (roomId: string, eventId: string, token: string, body: unknown = { score: -100, reason: 'this makes me sad' }) =>
    http(s, 'POST', `${C}/rooms/${enc(roomId)}/report/${enc(eventId)}`, { token, body });
  const createAndReport = async (roomId: string, t: TestUser, body?: unknown) => {
    const eventId = await sendMessage(s, t.token, roomId);
    const res = await report(roomId, eventId, t.token, body);
    assert.equal(res.status, 200, JSON.stringify(res.body));
    return eventId;
  };
  const list = (q = '') => http(s, 'GET', `${URL}${q}`, { token: admin.token });
  const checkFields = (reports: Record<string, unknown>[]) => {
    for (const c of reports)
      for (const k of ['id', 'received_ts', 'room_id', 'event_id', 'user_id', 'sender', 'canonical_alias', 'name', 'score', 'reason'])
        assert.ok(k in c, k);
  };

  before(async function () {
    s = await startStack();
    admin = await registerUser(s, 'admin', { admin: true });
    other = await registerUser(s, 'user');
    room1 = await createRoom(s, other.token);
    await join(s, admin.token, room1);
    room2 = await createRoom(s, other.token);
    await join(s, admin.token, room2);
    for (let i = 0; i < 5; i++) await createAndReport(room1, other);
    for (let i = 0; i < 5; i++) await createAndReport(room2, other);
    for (let i = 0; i < 5; i++) await createAndReport(room1, admin);
    for (let i = 0; i < 5; i++) await createAndReport(room2, admin, {});
  });
  after(async () => s?.stop());

  describe('EventReportsTestCase', () => {
    it('test_no_auth', async () => {
      const r = await http(s, 'GET', URL);
      assert.equal(r.status, 401);
      assert.equal(r.body.errcode, 'M_MISSING_TOKEN');
    });
    it('test_requester_is_no_admin', async () => {
      const r = await http(s, 'GET', URL, { token: other.token });
      assert.equal(r.status, 403);
      assert.equal(r.body.errcode, 'M_FORBIDDEN');
    });
    it('a bad token is 401 M_UNKNOWN_TOKEN', async () => {
      const r = await http(s, 'GET', URL, { token: 'syt_nope' });
      assert.equal(r.status, 401);
      assert.equal(r.body.errcode, 'M_UNKNOWN_TOKEN');
    });
    it('test_default_success', async () => {
      const r = await list();
      assert.equal(r.status, 200, JSON.stringify(r.body));
      assert.equal(r.body.total, 20);
      assert.equal(r.body.event_reports.length, 20);
      assert.ok(!('next_token' in r.body));
      checkFields(r.body.event_reports);
      const withScore = r.body.event_reports.filter((x: any) => x.score === -100);
      assert.equal(withScore.length, 15);
      assert.ok(withScore.every((x: any) => x.reason === 'this makes me sad'));
      const bare = r.body.event_reports.filter((x: any) => x.score === null);
      assert.ok(bare.length === 5 && bare.every((x: any) => x.reason === null));
    });
    it('test_limit', async () => {
      const r = await list('?limit=5');
      assert.equal(r.body.total, 20);
      assert.equal(r.body.event_reports.length, 5);
      assert.equal(r.body.next_token, 5);
    });
    it('test_from', async () => {
      const r = await list('?from=5');
      assert.equal(r.body.total, 20);
      assert.equal(r.body.event_reports.length, 15);
      assert.ok(!('next_token' in r.body));
    });
    it('test_limit_and_from', async () => {
      const r = await list('?from=5&limit=10');
      assert.equal(r.body.total, 20);
      assert.equal(r.body.next_token, 15);
      assert.equal(r.body.event_reports.length, 10);
    });
    it('test_filter_room', async () => {
      const r = await list(`?room_id=${enc(room1)}`);
      assert.equal(r.body.total, 10);
      assert.equal(r.body.event_reports.length, 10);
      assert.ok(r.body.event_reports.every((x: any) => x.room_id === room1));
    });
    it('test_filter_user', async () => {
      const r = await list(`?user_id=${enc(other.userId)}`);
      assert.equal(r.body.total, 10);
      assert.ok(r.body.event_reports.every((x: any) => x.user_id === other.userId));
    });
    it('test_filter_user_and_room', async () => {
      const r = await list(`?user_id=${enc(other.userId)}&room_id=${enc(room1)}`);
      assert.equal(r.body.total, 5);
      assert.ok(r.body.event_reports.every((x: any) => x.user_id === other.userId && x.room_id === room1));
    });
    it('filters by the reported event sender (event_sender_user_id), exactly', async () => {
      const r = await list(`?event_sender_user_id=${enc(admin.userId)}`);
      assert.equal(r.body.total, 10);
      assert.ok(r.body.event_reports.every((x: any) => x.sender === admin.userId));
      assert.equal((await list(`?event_sender_user_id=${enc(admin.userId.slice(0, 4))}`)).body.total, 0);
    });
    it('test_valid_search_order', async () => {
      const b = (await list('?dir=b')).body.event_reports;
      for (let i = 1; i < b.length; i++) assert.ok(b[i - 1].received_ts >= b[i].received_ts);
      const f = (await list('?dir=f')).body.event_reports;
      for (let i = 1; i < f.length; i++) assert.ok(f[i - 1].received_ts <= f[i].received_ts);
      assert.deepEqual(
        f.map((x: any) => x.id),
        [...b].reverse().map((x: any) => x.id),
      );
    });
    it('test_invalid_search_order', async () => {
      const r = await list('?dir=bar');
      assert.equal(r.status, 400);
      assert.equal(r.body.errcode, 'M_INVALID_PARAM');
      assert.equal(r.body.error, "Query parameter 'dir' must be one of ['b', 'f']");
    });
    it('test_limit_is_negative / test_from_is_negative / not integers', async () => {
      for (const q of ['?limit=-5', '?from=-5', '?limit=x', '?from=1.5']) {
        const r = await list(q);
        assert.equal(r.status, 400, q);
        assert.equal(r.body.errcode, 'M_INVALID_PARAM', q);
      }
    });
    it('test_next_token', async () => {
      let r = await list('?limit=20');
      assert.equal(r.body.event_reports.length, 20);
      assert.ok(!('next_token' in r.body));
      r = await list('?limit=21');
      assert.ok(!('next_token' in r.body));
      r = await list('?limit=19');
      assert.equal(r.body.event_reports.length, 19);
      assert.equal(r.body.next_token, 19);
      r = await list('?from=19');
      assert.equal(r.body.event_reports.length, 1);
      assert.ok(!('next_token' in r.body));
    });
    it('test_count_correct_despite_table_deletions', async () => {
      const em = s.app.orm.em.fork();
      const [row] = await em.execute('SELECT * FROM room_stats WHERE room_id = ?', [room1]);
      await em.execute('DELETE FROM room_stats WHERE room_id = ?', [room1]);
      try {
        const r = await list();
        assert.equal(r.body.total, 10);
        assert.equal(r.body.event_reports.length, 10);
      } finally {
        const cols = Object.keys(row).filter((k) => !k.endsWith('_lower'));
        await em.execute(
          `INSERT INTO room_stats (${cols.join(', ')}) SELECT ${cols.join(', ')} FROM json_populate_record(NULL::room_stats, ?::json)`,
          [JSON.stringify(row)],
        );
      }
      assert.equal((await list()).body.total, 20);
    });
  });

  it("bad parameters are checked by the service after authentication, in Synapse's order, with no extra RPC", async () => {
    const checkAccess = () => checkAccessCalls(s.baseUrl);
    const before = await checkAccess();
    for (const [method, path] of [
      ['GET', `${URL}?dir=x&limit=x&from=x`],
      ['GET', `${URL}/abc`],
      ['DELETE', `${URL}/-1`],
    ] as const) {
      assert.equal((await http(s, method, path)).status, 401, path);
      const r = await http(s, method, path, { token: other.token });
      assert.deepEqual([r.status, r.body.errcode], [403, 'M_FORBIDDEN'], path);
    }
    assert.equal(await checkAccess(), before, 'the gateway raised nothing of its own before the RPC');
    const order: [string, string][] = [
      ['from=x', 'Query parameter from must be an integer'],
      ['limit=-1', 'Query parameter limit must be a positive integer.'],
      ['dir=x', "Query parameter 'dir' must be one of ['b', 'f']"],
    ];
    for (const [i, query] of errorOrderQueries(order.map(([q]) => q)).entries()) {
      const r = await http(s, 'GET', `${URL}?${query}`, { token: admin.token });
      assert.deepEqual([r.status, r.body], [400, { errcode: 'M_INVALID_PARAM', error: order[i][1] }], query);
    }
  });

  describe('EventReportDetailTestCase / DeleteEventReportTestCase', () => {
    it('test_no_auth / test_requester_is_no_admin', async () => {
      for (const method of ['GET', 'DELETE']) {
        assert.equal((await http(s, method, `${URL}/1`)).status, 401);
        const r = await http(s, method, `${URL}/1`, { token: other.token });
        assert.equal(r.status, 403);
        assert.equal(r.body.errcode, 'M_FORBIDDEN');
      }
    });
    it('test_default_success', async () => {
      const id = (await list('?limit=1')).body.event_reports[0].id;
      const r = await http(s, 'GET', `${URL}/${id}`, { token: admin.token });
      assert.equal(r.status, 200, JSON.stringify(r.body));
      for (const k of [
        'id',
        'received_ts',
        'room_id',
        'event_id',
        'user_id',
        'sender',
        'canonical_alias',
        'name',
        'event_json',
        'score',
        'reason',
      ])
        assert.ok(k in r.body, k);
      for (const k of ['auth_events', 'type', 'room_id', 'sender', 'content']) assert.ok(k in r.body.event_json, k);
      // As Synapse's stored event_json: the PDU, without event_id.
      assert.equal(r.body.event_json.event_id, undefined);
      assert.equal(r.body.event_json.sender, r.body.sender);
    });
    it('test_invalid_report_id', async () => {
      for (const method of ['GET', 'DELETE']) {
        for (const id of ['-123', 'abcdef', '']) {
          const r = await http(s, method, `${URL}/${id}`, { token: admin.token });
          assert.equal(r.status, 400, `${method} ${id}`);
          assert.equal(r.body.errcode, 'M_INVALID_PARAM');
          assert.equal(r.body.error, 'The report_id parameter must be a string representing a positive integer.');
        }
      }
    });
    it('test_report_id_not_found (also beyond the id column)', async () => {
      for (const method of ['GET', 'DELETE']) {
        for (const id of ['123456', '99999999999999999999999']) {
          const r = await http(s, method, `${URL}/${id}`, { token: admin.token });
          assert.equal(r.status, 404, `${method} ${id}`);
          assert.equal(r.body.errcode, 'M_NOT_FOUND');
          assert.equal(r.body.error, 'Event report not found');
        }
      }
    });
    it('test_delete_success', async () => {
      const roomId = await createRoom(s, other.token);
      await createAndReport(roomId, other);
      const id = (await list(`?room_id=${enc(roomId)}`)).body.event_reports[0].id;
      const r = await http(s, 'DELETE', `${URL}/${id}`, { token: admin.token });
      assert.equal(r.status, 200);
      assert.deepEqual(r.body, {});
      assert.equal((await http(s, 'GET', `${URL}/${id}`, { token: admin.token })).status, 404);
      assert.equal((await list(`?room_id=${enc(roomId)}`)).body.total, 0);
    });
  });

  describe('ReportEventTestCase', () => {
    let roomId: string;
    let eventId: string;
    before(async () => {
      roomId = await createRoom(s, other.token);
      await join(s, admin.token, roomId);
      eventId = await sendMessage(s, admin.token, roomId);
    });
    const status = async (body: unknown) => (await report(roomId, eventId, other.token, body)).status;

    it('test_reason_str_and_score_int', async () => assert.equal(await status({ reason: 'this makes me sad', score: -100 }), 200));
    it('test_no_reason', async () => assert.equal(await status({ score: 0 }), 200));
    it('test_no_score', async () => assert.equal(await status({ reason: 'this makes me sad' }), 200));
    it('test_no_reason_and_no_score', async () => assert.equal(await status({}), 200));
    it('test_reason_int_and_score_str', async () => assert.equal(await status({ reason: 10, score: 'string' }), 400));
    it('test_reason_zero_and_score_blank', async () => assert.equal(await status({ reason: 0, score: '' }), 400));
    it('test_reason_and_score_null', async () => assert.equal(await status({ reason: null, score: null }), 400));
    it('bad bodies: errcodes and texts', async () => {
      const cases: [unknown, string, string][] = [
        [{ reason: 5 }, 'M_BAD_JSON', "Param 'reason' must be a string"],
        [{ score: true }, 'M_BAD_JSON', "Param 'score' must be an integer"],
        [{ score: 1.5 }, 'M_BAD_JSON', "Param 'score' must be an integer"],
        [[1], 'M_BAD_JSON', 'Content must be a JSON object.'],
      ];
      for (const [body, errcode, error] of cases) {
        const r = await report(roomId, eventId, other.token, body);
        assert.equal(r.status, 400, JSON.stringify(body));
        assert.deepEqual(r.body, { errcode, error });
      }
      const notJson = await http(s, 'POST', `${C}/rooms/${enc(roomId)}/report/${enc(eventId)}`, { token: other.token, rawBody: 'nope' });
      assert.equal(notJson.body.errcode, 'M_NOT_JSON');
      assert.equal((await http(s, 'POST', `${C}/rooms/${enc(roomId)}/report/${enc(eventId)}`, { body: {} })).status, 401);
      assert.equal((await http(s, 'POST', `${C}/rooms/${enc(roomId)}/report/${enc(eventId)}`, { rawBody: 'nope' })).status, 401);
    });
    it('guests cannot report (403 M_GUEST_ACCESS_FORBIDDEN)', async () => {
      const guest = await registerUser(s, 'reportguest');
      await join(s, guest.token, roomId);
      await s.app.orm.em.fork().execute('UPDATE users SET is_guest = true WHERE name = ?', [guest.userId]);
      // The change reaches the token cache through NOTIFY: wait until a read that refuses guests sees it.
      const accountData = `${C}/user/${enc(guest.userId)}/account_data/m.example`;
      await waitFor(
        async () => (await http(s, 'GET', accountData, { token: guest.token })).status,
        (st) => st === 403,
        { what: 'guest flag seen by the token cache' },
      );
      const r = await report(roomId, eventId, guest.token, {});
      assert.equal(r.status, 403);
      assert.deepEqual(r.body, { errcode: 'M_GUEST_ACCESS_FORBIDDEN', error: 'Guest access not allowed' });
      // Refused before the body is read, as Synapse refuses guests at authentication.
      const bad = await report(roomId, eventId, guest.token, { reason: 5 });
      assert.deepEqual([bad.status, bad.body.errcode], [403, 'M_GUEST_ACCESS_FORBIDDEN']);
    });
    it('test_cannot_report_nonexistent_event', async () => {
      const r = await report(roomId, '$nonsenseeventid:test', other.token, { reason: 'i am very sad' });
      assert.equal(r.status, 404);
      assert.equal(r.body.error, "Unable to report event: it does not exist or you aren't able to see it.");
    });
    it('test_cannot_report_event_if_not_in_room', async () => {
      const newRoom = await createRoom(s, admin.token, {}, false);
      const ev = await sendMessage(s, admin.token, newRoom, 'This event has some bad words in it! Flip!');
      const r = await report(newRoom, ev, other.token, { reason: "I'm not in this room but I have opinions anyways!" });
      assert.equal(r.status, 404);
      assert.equal(r.body.error, "Unable to report event: it does not exist or you aren't able to see it.");
      // An event of another room, named under a room the reporter is in.
      const wrong = await report(roomId, ev, other.token);
      assert.equal(wrong.status, 404);
    });
  });

  it('a room delete with purge removes the room’s reports', async () => {
    const roomId = await createRoom(s, other.token);
    await createAndReport(roomId, other);
    assert.equal((await list(`?room_id=${enc(roomId)}`)).body.total, 1);
    const d = await http(s, 'DELETE', `/_synapse/admin/v2/rooms/${enc(roomId)}`, { token: admin.token, body: { purge: true } });
    assert.equal(d.status, 200, JSON.stringify(d.body));
    await waitForDelete(s, admin.token, d.body.delete_id);
    await assertPurged(s, roomId);
    const em = s.app.orm.em.fork();
    const [{ n }] = await em.execute('SELECT count(*)::int AS n FROM event_reports WHERE room_id = ?', [roomId]);
    assert.equal(n, 0);
  });
});
