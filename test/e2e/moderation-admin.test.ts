/**
 * Admin moderation reads: fetch_event (Synapse 1.140's FetchEventRestServlet) and the largest
 * rooms by estimated size (statistics/database/rooms), each with its auth table and bad input.
 */
import { strict as assert } from 'node:assert';
import * as grpc from '@grpc/grpc-js';
import { sharedStack } from '../support/root-hooks';
import { bearer, grpcCall, http, registerUser, startStack, uniq, type Stack, type TestUser } from '../support/stack';
import { createRoom, enc, join, sendMessage, waitFor } from './room-admin.helpers';

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
      const redact = await http(s, 'PUT', `${C}/rooms/${enc(roomId)}/redact/${enc(eventId)}/${uniq('t')}`, {
        token: user.token,
        body: { reason: 'oops' },
      });
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
    let shared: [Stack, TestUser, TestUser];
    before(async () => {
      shared = [s, admin, user];
      s = await startStack();
      admin = await registerUser(s, uniq('admin'), { admin: true });
      user = await registerUser(s, uniq('user'));
    });
    after(async () => {
      await s.stop();
      [s, admin, user] = shared;
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

    it('calls made while the sizes are being read share that read; a later call reads again', async () => {
      const sizes = s.app.services.roomSizes;
      const read = sizes.largest.bind(sizes);
      let reads = 0;
      sizes.largest = (em, n) => {
        reads += 1;
        return read(em, n);
      };
      try {
        const em = () => s.app.orm.em.fork();
        const answers = await Promise.all(Array.from({ length: 5 }, () => sizes.largestShared(em())));
        assert.equal(reads, 1);
        for (const a of answers) assert.deepEqual(a, answers[0]);
        assert.ok(answers[0].length > 0);
        // Nothing is kept: the next call reads again, and sees a room created since.
        const room = await createRoom(s, user.token, {}, false);
        const again = await sizes.largestShared(em());
        assert.equal(reads, 2);
        assert.ok(again.length > answers[0].length || again.some((r) => r.roomId === room), JSON.stringify(again));
      } finally {
        sizes.largest = read;
      }
    });
  });

  describe('over gRPC', () => {
    const errcode = (e: grpc.ServiceError) => e.metadata.get('matrix-errcode')[0];
    const rejects = (p: Promise<unknown>, code: grpc.status, matrixCode: string, details?: string) =>
      assert.rejects(
        p,
        (e: grpc.ServiceError) => e.code === code && errcode(e) === matrixCode && (details === undefined || e.details === details),
      );

    it('ModerationService and RoomDirectoryService: auth, errors and bad input the gateway never sends', async () => {
      const m = s.clients.moderation;
      await rejects(grpcCall(m, m.fetchEvent, { eventId: '$x' }), grpc.status.UNAUTHENTICATED, 'M_MISSING_TOKEN');
      await rejects(
        grpcCall(m, m.fetchEvent, { eventId: '$x' }, bearer(user.token)),
        grpc.status.PERMISSION_DENIED,
        'M_FORBIDDEN',
        'You are not a server admin',
      );
      await rejects(
        grpcCall(m, m.fetchEvent, { eventId: '$x' }, bearer(admin.token)),
        grpc.status.NOT_FOUND,
        'M_NOT_FOUND',
        'Event not found',
      );
      const md = bearer(admin.token);
      await rejects(grpcCall(m, m.getEventReport, { reportId: -1 }, md), grpc.status.INVALID_ARGUMENT, 'M_INVALID_PARAM');
      await rejects(grpcCall(m, m.deleteEventReport, { reportId: -1 }, md), grpc.status.INVALID_ARGUMENT, 'M_INVALID_PARAM');
      await rejects(grpcCall(m, m.listEventReports, { from: -1, forwards: false }, md), grpc.status.INVALID_ARGUMENT, 'M_INVALID_PARAM');
      await rejects(
        grpcCall(m, m.listEventReports, { from: 0, limit: -1, forwards: false }, md),
        grpc.status.INVALID_ARGUMENT,
        'M_INVALID_PARAM',
      );
      await rejects(
        grpcCall(m, m.redactUserEvents, { userId: user.userId, rooms: [], limit: -1 }, md),
        grpc.status.INVALID_ARGUMENT,
        'M_UNKNOWN',
        'If limit is provided it must be a non-negative integer greater than 0.',
      );
      await rejects(grpcCall(m, m.redactUserEvents, { userId: 'x', rooms: [] }, md), grpc.status.INVALID_ARGUMENT, 'M_INVALID_PARAM');
      await rejects(
        grpcCall(m, m.getRedactStatus, { redactId: 'nope' }, md),
        grpc.status.NOT_FOUND,
        'M_NOT_FOUND',
        "redact id 'nope' not found",
      );
      const d = s.clients.directory;
      const base = { roomTypes: [], hasNullRoomType: false, filterRoomTypes: false, includeAllNetworks: false };
      await rejects(grpcCall(d, d.listPublicRooms, base), grpc.status.UNAUTHENTICATED, 'M_MISSING_TOKEN');
      await rejects(
        grpcCall(d, d.listPublicRooms, { ...base, limit: -1 }, bearer(user.token)),
        grpc.status.INVALID_ARGUMENT,
        'M_INVALID_PARAM',
      );
      const page = await grpcCall(d, d.listPublicRooms, { ...base, limit: 1 }, bearer(user.token));
      assert.ok(page.chunk.length <= 1 && page.totalRoomCountEstimate >= page.chunk.length);
    });

    it('GetRedactStatus carries the progress: rooms done of rooms, redactions sent', async () => {
      const m = s.clients.moderation;
      const md = bearer(admin.token);
      const target = await registerUser(s, uniq('target'));
      const rooms = [await createRoom(s, user.token), await createRoom(s, user.token)];
      for (const r of rooms) {
        await join(s, target.token, r);
        await sendMessage(s, target.token, r, 'one');
        await sendMessage(s, target.token, r, 'two');
      }
      const { redactId } = await grpcCall(m, m.redactUserEvents, { userId: target.userId, rooms }, md);
      const st = await waitFor(
        () => grpcCall(m, m.getRedactStatus, { redactId }, md),
        (x) => x.status === 'complete' || x.status === 'failed',
      );
      // Per room: the join and two messages.
      assert.deepEqual(
        { ...st, error: st.error ?? null },
        { status: 'complete', failedRedactions: {}, error: null, roomsDone: 2, roomsTotal: 2, redacted: 6 },
      );
    });
  });
});
