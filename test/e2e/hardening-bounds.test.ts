/**
 * Issue 17 §2: ids longer than a btree index entry (about 2.7 KB) answered 500. Every string a
 * request carries is now bounded at the call adapter (Matrix ids at 255 bytes), so each of these
 * answers a 4xx with an errcode: Synapse's own answer where it has one (413 M_TOO_LARGE for an
 * event's state_key or type, its alias and login device_id messages), else 400 M_INVALID_PARAM.
 * Nothing is stored, and the caller's credential and permissions are still checked first.
 */
import { strict as assert } from 'node:assert';
import { randomBytes } from 'node:crypto';
import * as grpc from '@grpc/grpc-js';
import { sharedStack } from '../support/root-hooks';
import { bearer, http, registerUser, uniq, type Stack, type TestUser } from '../support/stack';
import { createRoom, enc, sendMessage } from './room-admin.helpers';

/** 3,000 characters that do not compress: a repeated character would fit a btree entry once compressed. */
const long = (prefix = '') => prefix + randomBytes(2250).toString('base64url');
const C = '/_matrix/client/v3';

describe('hardening: over-long ids are 4xx, never 500', () => {
  let s: Stack;
  let admin: TestUser;
  let user: TestUser;
  let roomId: string;
  let eventId: string;

  before(async () => {
    s = await sharedStack();
    admin = await registerUser(s, uniq('admin'), { admin: true });
    user = await registerUser(s, uniq('user'));
    roomId = await createRoom(s, admin.token);
    eventId = await sendMessage(s, admin.token, roomId);
  });

  const tooLong = (field: string, max = 255) => ({ errcode: 'M_INVALID_PARAM', error: `'${field}' is too long (at most ${max} bytes)` });

  type Case = [name: string, method: string, path: string, body: unknown, status: number, expected: Record<string, string>];
  const cases = (): Case[] => [
    ['txn id', 'PUT', `${C}/rooms/${enc(roomId)}/send/m.room.message/${long()}`, { msgtype: 'm.text', body: 'hi' }, 400, tooLong('txn_id')],
    ['redacted event id', 'PUT', `${C}/rooms/${enc(roomId)}/redact/${enc(`$${long()}`)}/t1`, {}, 400, tooLong('event_id')],
    ['event id of a read', 'GET', `${C}/rooms/${enc(roomId)}/event/${enc(`$${long()}`)}`, undefined, 400, tooLong('event_id')],
    [
      'purge_up_to_event_id',
      'POST',
      `/_synapse/admin/v1/purge_history/${enc(roomId)}`,
      { purge_up_to_event_id: `$${long()}` },
      400,
      tooLong('purge_up_to_event_id'),
    ],
    ['account data type', 'PUT', `${C}/user/${enc(admin.userId)}/account_data/${long()}`, { a: 1 }, 400, tooLong('type')],
    [
      'room_alias_name',
      'POST',
      `${C}/createRoom`,
      { room_alias_name: long() },
      400,
      { errcode: 'M_INVALID_PARAM', error: "Can't create aliases longer than 255 characters" },
    ],
    [
      'm.room.member state_key',
      'PUT',
      `${C}/rooms/${enc(roomId)}/state/m.room.member/${enc(`@${long()}:test`)}`,
      { membership: 'invite' },
      413,
      { errcode: 'M_TOO_LARGE', error: "'state_key' too large" },
    ],
    [
      'state event type',
      'PUT',
      `${C}/rooms/${enc(roomId)}/state/${long()}/k`,
      { a: 1 },
      413,
      { errcode: 'M_TOO_LARGE', error: "'type' too large" },
    ],
    ['v2 room delete', 'DELETE', `/_synapse/admin/v2/rooms/${enc(`!${long()}:test`)}`, {}, 400, tooLong('room_id')],
    [
      'new user id',
      'PUT',
      `/_synapse/admin/v2/users/${enc(`@${long()}:test`)}`,
      { password: 'p' },
      400,
      { errcode: 'M_INVALID_USERNAME', error: 'User ID may not be longer than 255 characters' },
    ],
    ['room id of a join', 'POST', `${C}/join/${enc(`!${long()}:test`)}`, {}, 400, tooLong('room_id_or_alias')],
    [
      'alias of a directory entry',
      'PUT',
      `${C}/directory/room/${enc(`#${long()}:test`)}`,
      { room_id: roomId },
      400,
      { errcode: 'M_INVALID_PARAM', error: "Can't create aliases longer than 255 characters" },
    ],
  ];

  it('each answers its 4xx and errcode, after the credential checks; ids at the limit still work', async () => {
    const failures: string[] = [];
    for (const [name, method, path, body, status, expected] of cases()) {
      const r = await http(s, method, path, { token: admin.token, ...(body === undefined ? {} : { body }) });
      if (r.status !== status || JSON.stringify(r.body) !== JSON.stringify(expected))
        failures.push(`${name}: ${r.status} ${JSON.stringify(r.body).slice(0, 200)}`);
    }
    assert.deepEqual(failures, []);

    // Synapse authenticates first: no token is 401, a non-admin 403, whatever the id.
    const path = `/_synapse/admin/v2/rooms/${enc(`!${long()}:test`)}`;
    assert.equal((await http(s, 'DELETE', path, { body: {} })).status, 401);
    const r = await http(s, 'DELETE', path, { token: user.token, body: {} });
    assert.equal(r.status, 403);
    assert.equal(r.body.errcode, 'M_FORBIDDEN');

    // 255 bytes is allowed, and the refused requests left the room readable.
    const ok = await http(s, 'PUT', `${C}/rooms/${enc(roomId)}/send/m.room.message/${'t'.repeat(255)}`, {
      token: admin.token,
      body: { msgtype: 'm.text', body: 'hi' },
    });
    assert.equal(ok.status, 200, JSON.stringify(ok.body));
    const again = await http(s, 'PUT', `${C}/user/${enc(admin.userId)}/account_data/${'t'.repeat(255)}`, {
      token: admin.token,
      body: { a: 1 },
    });
    assert.equal(again.status, 200, JSON.stringify(again.body));
    const event = await http(s, 'GET', `${C}/rooms/${enc(roomId)}/event/${enc(eventId)}`, { token: admin.token });
    assert.equal(event.status, 200);
  });

  it('login device_id: Synapse answer past 512 characters', async () => {
    const r = await http(s, 'POST', `${C}/login`, {
      body: { type: 'm.login.password', identifier: { type: 'm.id.user', user: user.userId }, password: 'pass', device_id: long('d') },
    });
    assert.equal(r.status, 400, JSON.stringify(r.body).slice(0, 200));
    assert.deepEqual(r.body, { errcode: 'M_INVALID_PARAM', error: 'device_id cannot be longer than 512 characters.' });
  });

  it('gRPC: an over-long id is INVALID_ARGUMENT with the errcode trailer', async () => {
    const err = await new Promise<grpc.ServiceError | null>((ok) =>
      s.clients.roomAdmin.getRoomDetails({ roomId: `!${long()}:test` }, bearer(admin.token), {}, (e) => ok(e)),
    );
    assert.ok(err);
    assert.equal(err.code, grpc.status.INVALID_ARGUMENT);
    assert.equal(err.metadata.get('matrix-errcode')[0], 'M_INVALID_PARAM');
    assert.equal(err.details, "'room_id' is too long (at most 255 bytes)");
  });
});
