/**
 * Admin moderation reads: fetch_event (Synapse 1.140's FetchEventRestServlet) and the largest
 * rooms by estimated size (statistics/database/rooms), each with its auth table and bad input.
 */
import { strict as assert } from 'node:assert';
import { sharedStack } from '../support/root-hooks';
import { http, registerUser, startStack, uniq, type Stack, type TestUser } from '../support/stack';
import { createRoom, enc, sendMessage } from './room-admin.helpers';

const A = '/_synapse/admin/v1';
const C = '/_matrix/client/v3';

describe('moderation: admin reads', () => {
  let s: Stack;
  let admin: TestUser;
  let user: TestUser;

  before(async () => {
    s = await sharedStack();
    admin = await registerUser(s, uniq('admin'), { admin: true });
    user = await registerUser(s, uniq('user'));
  });

  const authTable = async (method: string, path: string) => {
    const none = await http(s, method, path);
    assert.equal(none.status, 401);
    assert.equal(none.body.errcode, 'M_MISSING_TOKEN');
    const bad = await http(s, method, path, { token: 'syt_bad' });
    assert.equal(bad.status, 401);
    assert.equal(bad.body.errcode, 'M_UNKNOWN_TOKEN');
    const notAdmin = await http(s, method, path, { token: user.token });
    assert.equal(notAdmin.status, 403);
    assert.deepEqual(notAdmin.body, { errcode: 'M_FORBIDDEN', error: 'You are not a server admin' });
  };

  describe('FetchEventTestCase', () => {
    it('test_no_auth / test_requester_is_no_admin', async () => {
      await authTable('GET', `${A}/fetch_event/${enc('$x:test')}`);
    });

    it('test_fetch_event: any room, as stored, even redacted', async () => {
      // A private room the admin is not in.
      const roomId = await createRoom(s, user.token, {}, false);
      const eventId = await sendMessage(s, user.token, roomId, 'original text');
      const redact = await http(s, 'PUT', `${C}/rooms/${enc(roomId)}/redact/${enc(eventId)}/${uniq('t')}`, { token: user.token, body: { reason: 'oops' } });
      assert.equal(redact.status, 200);
      const r = await http(s, 'GET', `${A}/fetch_event/${enc(eventId)}`, { token: admin.token });
      assert.equal(r.status, 200, JSON.stringify(r.body));
      const e = r.body.event;
      assert.equal(e.event_id, eventId);
      assert.equal(e.room_id, roomId);
      assert.equal(e.sender, user.userId);
      assert.equal(e.type, 'm.room.message');
      assert.deepEqual(e.content, { msgtype: 'm.text', body: 'original text' });
      // Federation format: the PDU's fields.
      for (const k of ['auth_events', 'prev_events', 'depth', 'hashes', 'signatures', 'origin_server_ts', 'unsigned']) assert.ok(k in e, k);
      assert.equal(e.unsigned.redacted_by, redact.body.event_id);
    });

    it('test_fetch_event_not_found', async () => {
      const r = await http(s, 'GET', `${A}/fetch_event/${enc('$nothere:test')}`, { token: admin.token });
      assert.equal(r.status, 404);
      assert.deepEqual(r.body, { errcode: 'M_NOT_FOUND', error: 'Event not found' });
    });
  });

  describe('statistics/database/rooms', () => {
    // The list is server-wide: on its own stack, so other suites' rooms do not compete.
    let shared: Stack;
    before(async () => {
      shared = s;
      s = await startStack();
      admin = await registerUser(s, uniq('admin'), { admin: true });
      user = await registerUser(s, uniq('user'));
    });
    after(async () => {
      await s.stop();
      s = shared;
    });

    it('auth table', async () => {
      await authTable('GET', `${A}/statistics/database/rooms`);
    });

    it('lists at most 10 rooms, largest first; a room grows with its events', async () => {
      const small = await createRoom(s, user.token, {}, false);
      const big = await createRoom(s, user.token, {}, false);
      const text = 'x'.repeat(2000);
      const before = await http(s, 'GET', `${A}/statistics/database/rooms`, { token: admin.token });
      assert.equal(before.status, 200, JSON.stringify(before.body));
      const sizeOf = (body: any, roomId: string) => body.rooms.find((r: any) => r.room_id === roomId)?.estimated_size as number | undefined;
      for (let i = 0; i < 60; i++) await sendMessage(s, user.token, big, `${text}${i}`);
      const r = await http(s, 'GET', `${A}/statistics/database/rooms`, { token: admin.token });
      assert.equal(r.status, 200);
      assert.ok(Array.isArray(r.body.rooms) && r.body.rooms.length <= 10 && r.body.rooms.length > 0);
      for (const x of r.body.rooms) {
        assert.deepEqual(Object.keys(x).sort(), ['estimated_size', 'room_id']);
        assert.ok(Number.isInteger(x.estimated_size) && x.estimated_size > 0);
      }
      for (let i = 1; i < r.body.rooms.length; i++) assert.ok(r.body.rooms[i - 1].estimated_size >= r.body.rooms[i].estimated_size);
      // The big room holds at least its 60 messages of 2 KB.
      const bigSize = sizeOf(r.body, big);
      assert.ok(bigSize !== undefined && bigSize > 60 * 2000, JSON.stringify(r.body));
      const smallSize = sizeOf(r.body, small);
      assert.ok(smallSize === undefined || smallSize < bigSize);
    });
  });
});
