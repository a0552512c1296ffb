/**
 * Out-of-band memberships (spec §5.7 step 3, §9.8 test_out_of_band_invite_rejection): an invite
 * received from another server into a room this server is not in, and its local rejection. Only
 * the invitee sees them, annotated with their membership; the room can then be deleted.
 */
import { strict as assert } from 'node:assert';
import { sharedStack } from '../support/root-hooks';
import { bearer, grpcCall, http, registerUser, uniq, type Stack, type TestUser } from '../support/stack';
import { C, enc } from '../support/client';
import type { MatrixError } from '../../src/errors';

describe('Out-of-band memberships', () => {
  let s: Stack;
  let admin: TestUser;

  before(async () => {
    s = await sharedStack();
    admin = await registerUser(s, uniq('oobadmin'), { admin: true });
  });

  const receive = (roomId: string, stateKey: string, extra: Record<string, unknown> = {}) =>
    grpcCall(
      s.clients.rooms,
      s.clients.rooms.receiveInvite,
      {
        origin: 'other.example',
        roomVersion: '9',
        roomId,
        type: 'm.room.member',
        stateKey,
        sender: '@someone:other.example',
        contentJson: JSON.stringify({ membership: 'invite' }),
        originServerTs: 1,
        depth: 1,
        prevEvents: [],
        authEvents: [],
        ...extra,
      },
      bearer(admin.token),
    );

  it('test_out_of_band_invite_rejection', async () => {
    const user = await registerUser(s, uniq('oobuser'));
    const other = await registerUser(s, uniq('oobother'));
    const roomId = `!${uniq('remote')}:other.example`;
    const invite = await receive(roomId, user.userId);
    assert.equal(
      (await receive(roomId, user.userId, { eventId: invite.eventId })).deduplicated,
      true,
      'a repeated delivery is not stored twice',
    );

    const reject = await http(s, 'POST', `${C}/rooms/${enc(roomId)}/leave`, { token: user.token, body: {} });
    assert.deepEqual([reject.status, reject.body], [200, {}]);
    // Leaving again returns the stored leave (its id comes back over gRPC).
    const leaveId = (
      await grpcCall(
        s.clients.rooms,
        s.clients.rooms.updateMembership,
        { room: { $case: 'roomId', value: roomId }, action: 2 },
        bearer(user.token),
      )
    ).eventId;
    assert.notEqual(leaveId, invite.eventId);

    const seen = [];
    for (const id of [invite.eventId, leaveId]) {
      const r = await http(s, 'GET', `${C}/rooms/${enc(roomId)}/event/${enc(id)}`, { token: user.token });
      assert.equal(r.status, 200, JSON.stringify(r.body));
      seen.push(r.body);
    }
    assert.deepEqual(
      seen.map((e) => e.content.membership),
      ['invite', 'leave'],
    );
    assert.deepEqual(
      seen.map((e) => e.unsigned.membership),
      ['invite', 'leave'],
    );
    assert.deepEqual(
      seen.map((e) => e.state_key),
      [user.userId, user.userId],
    );
    assert.deepEqual(
      seen.map((e) => e.sender),
      ['@someone:other.example', user.userId],
    );

    for (const id of [invite.eventId, leaveId]) {
      const r = await http(s, 'GET', `${C}/rooms/${enc(roomId)}/event/${enc(id)}`, { token: other.token });
      assert.deepEqual([r.status, r.body.errcode], [404, 'M_NOT_FOUND']);
    }
    // The user's invite list no longer has the room, and they can forget it.
    assert.equal((await http(s, 'POST', `${C}/rooms/${enc(roomId)}/forget`, { token: user.token, body: {} })).status, 200);
  });

  it('refuses invites it must not store, with Synapse’s errors', async () => {
    const user = await registerUser(s, uniq('oobref'));
    const roomId = `!${uniq('remote')}:other.example`;
    const refused = async (extra: Record<string, unknown>, stateKey = user.userId) => {
      const err = await receive(roomId, stateKey, extra).then(
        () => null,
        (e: { metadata: { get(k: string): unknown[] }; details: string }) => e,
      );
      assert.ok(err, `accepted ${JSON.stringify(extra)}`);
      return [Number(err.metadata.get('matrix-http-status')[0]), err.details];
    };
    assert.deepEqual(await refused({ contentJson: JSON.stringify({ membership: 'join' }) }), [
      400,
      'The event was not an m.room.member invite event',
    ]);
    assert.deepEqual(await refused({ origin: 'third.example' }), [400, 'The invite event was not from the server sending it']);
    assert.deepEqual(await refused({}, '@someone:elsewhere.example'), [400, 'The invite event must be for this server']);
    assert.deepEqual(await refused({ roomVersion: '99' }), [400, 'Homeserver does not support this room version']);
    assert.deepEqual(await refused({ stateKey: undefined }), [400, 'The invite event did not have a state key']);
    const blocked = `!${uniq('blocked')}:other.example`;
    assert.equal(
      (await http(s, 'PUT', `/_synapse/admin/v1/rooms/${enc(blocked)}/block`, { token: admin.token, body: { block: true } })).status,
      200,
    );
    const err = await receive(blocked, user.userId).then(
      () => null,
      (e: { details: string }) => e,
    );
    assert.equal(err?.details, 'This room has been blocked on this server');
    // A user without the admin credential cannot deliver invites.
    const denied = await grpcCall(
      s.clients.rooms,
      s.clients.rooms.receiveInvite,
      {
        origin: 'other.example',
        roomVersion: '9',
        roomId,
        type: 'm.room.member',
        stateKey: user.userId,
        sender: '@x:other.example',
        contentJson: '{"membership":"invite"}',
        prevEvents: [],
        authEvents: [],
      },
      bearer(user.token),
    ).then(
      () => null,
      (e: { details: string }) => e,
    );
    assert.equal(denied?.details, 'You are not a server admin');
  });

  it('deletes a room known only from an invite: the invite is rejected and every row removed', async () => {
    const user = await registerUser(s, uniq('oobdel'));
    const roomId = `!${uniq('remote')}:other.example`;
    const invite = await receive(roomId, user.userId);
    const del = await http(s, 'DELETE', `/_synapse/admin/v1/rooms/${enc(roomId)}`, { token: admin.token, body: {} });
    assert.equal(del.status, 200, JSON.stringify(del.body));
    assert.deepEqual(del.body.kicked_users, [user.userId]);
    assert.deepEqual(del.body.failed_to_kick_users, []);
    const r = await http(s, 'GET', `${C}/rooms/${enc(roomId)}/event/${enc(invite.eventId)}`, { token: user.token });
    assert.equal(r.status, 404);
  });

  it('a leave that lost a race with another change of the membership is refused with 409 and leaves nothing behind', async () => {
    const user = await registerUser(s, uniq('oobrace'));
    const roomId = `!${uniq('remote')}:other.example`;
    const first = await receive(roomId, user.userId);
    // A second invite replaces the first as the user's membership, as a concurrent delivery would.
    const second = await receive(roomId, user.userId, { sender: '@another:other.example' });
    const outOfBand = s.app.services.outOfBand;
    const em = s.app.orm.em.fork();
    const stale = await outOfBand.membershipEvent(em, first.eventId);
    assert.ok(stale);
    const count = async () =>
      Number((await em.getConnection().execute<{ n: string }[]>('SELECT count(*) AS n FROM events WHERE room_id = ?', [roomId]))[0].n);
    const before = await count();
    await assert.rejects(outOfBand.leave(em, stale, {}, null), (e: MatrixError) => e.httpStatus === 409 && e.errcode === 'M_UNKNOWN');
    assert.equal(await count(), before, 'the losing leave is not stored');
    const current = await em
      .getConnection()
      .execute<{ event_id: string; membership: string }[]>(
        'SELECT event_id, membership FROM local_current_membership WHERE room_id = ? AND user_id = ?',
        [roomId, user.userId],
      );
    assert.deepEqual(current, [{ event_id: second.eventId, membership: 'invite' }]);
    // The user's own leave goes through against the current membership.
    const reject = await http(s, 'POST', `${C}/rooms/${enc(roomId)}/leave`, { token: user.token, body: {} });
    assert.deepEqual([reject.status, reject.body], [200, {}]);
    const after = await em
      .getConnection()
      .execute<{ membership: string }[]>('SELECT membership FROM local_current_membership WHERE room_id = ? AND user_id = ?', [
        roomId,
        user.userId,
      ]);
    assert.deepEqual(after, [{ membership: 'leave' }]);
  });
});
