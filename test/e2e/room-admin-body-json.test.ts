/**
 * The room admin RPCs that carry a REST body as `body_json`: the service parses and checks it
 * itself, in Synapse's order, after authentication (INVALID_ARGUMENT or another status, with the
 * Matrix errcode in the trailers); typed fields still serve when `body_json` is absent.
 */
import { strict as assert } from 'node:assert';
import * as grpc from '@grpc/grpc-js';
import { MAX_TEXT_BYTES } from '../../src/grpc/field-limits';
import { sharedStack } from '../support/root-hooks';
import { bearer, grpcCall, registerUser, uniq, type Stack, type TestUser } from '../support/stack';
import { createRoom, isBlocked } from './room-admin.helpers';

const bytes = (text: string) => Buffer.from(text, 'utf8');

/** A gRPC error with this status, Matrix errcode and text. */
const refused = (code: grpc.status, errcode: string, details?: string) => (e: grpc.ServiceError) => {
  assert.equal(e.code, code, `${e.code} ${e.details}`);
  assert.equal(e.metadata.get('matrix-errcode')[0], errcode, e.details);
  if (details !== undefined) assert.equal(e.details, details);
  return true;
};
const invalid = (errcode: string, details?: string) => refused(grpc.status.INVALID_ARGUMENT, errcode, details);

describe('room admin bodies checked by the service (body_json)', () => {
  let s: Stack;
  let admin: TestUser;
  let user: TestUser;
  let roomId: string;

  before(async () => {
    s = await sharedStack();
    admin = await registerUser(s, uniq('bj-admin'), { admin: true });
    user = await registerUser(s, uniq('bj-user'));
    roomId = await createRoom(s, admin.token);
  });

  const c = () => s.clients.roomAdmin;

  it('setRoomBlock reads block from the body: body first, then the room id, then block', async () => {
    const call = (room: string, body: string, token = admin.token) =>
      grpcCall(c(), c().setRoomBlock, { roomId: room, block: false, bodyJson: bytes(body) }, bearer(token));
    await assert.rejects(call('not-a-room', '}{'), invalid('M_NOT_JSON', 'Content not JSON.'));
    await assert.rejects(call('not-a-room', ''), invalid('M_NOT_JSON', 'Content not JSON.'));
    await assert.rejects(call('not-a-room', '[]'), invalid('M_BAD_JSON', 'Content must be a JSON object.'));
    await assert.rejects(call('not-a-room', '{}'), invalid('M_UNKNOWN', 'not-a-room is not a legal room ID'));
    await assert.rejects(call(roomId, '{}'), invalid('M_MISSING_PARAM'));
    await assert.rejects(call(roomId, '{"block":"yes"}'), invalid('M_BAD_JSON', "Param 'block' must be a boolean."));
    // body_json wins over the typed field.
    assert.deepEqual(await call(roomId, '{"block":true}'), { block: true });
    assert.equal(await isBlocked(s, admin.token, roomId), true);
    // Without body_json the typed field serves.
    const typed = await grpcCall(c(), c().setRoomBlock, { roomId, block: false }, bearer(admin.token));
    assert.deepEqual(typed, { block: false });
    assert.equal(await isBlocked(s, admin.token, roomId), false);
  });

  it('authenticates before reading the body', async () => {
    const req = { roomId: 'not-a-room', block: false, bodyJson: bytes('}{') };
    await assert.rejects(grpcCall(c(), c().setRoomBlock, req), refused(grpc.status.UNAUTHENTICATED, 'M_MISSING_TOKEN'));
    await assert.rejects(grpcCall(c(), c().setRoomBlock, req, bearer(user.token)), refused(grpc.status.PERMISSION_DENIED, 'M_FORBIDDEN'));
    await assert.rejects(
      grpcCall(c(), c().deleteRoom, { roomId, bodyJson: bytes('{"purge":1}') }, bearer(user.token)),
      refused(grpc.status.PERMISSION_DENIED, 'M_FORBIDDEN'),
    );
  });

  it('deleteRoom and startDeleteRoom check block, purge, force_purge, then the strings', async () => {
    const calls = [
      (body: string) => grpcCall(c(), c().deleteRoom, { roomId, bodyJson: bytes(body) }, bearer(admin.token)),
      (body: string) => grpcCall(c(), c().startDeleteRoom, { roomId, bodyJson: bytes(body) }, bearer(admin.token)),
    ];
    for (const call of calls) {
      await assert.rejects(call(''), invalid('M_NOT_JSON', 'Content not JSON.'));
      await assert.rejects(
        call('{"block":1,"purge":1,"force_purge":1}'),
        invalid('M_BAD_JSON', "Param 'block' must be a boolean, if given"),
      );
      await assert.rejects(call('{"purge":1,"force_purge":1}'), invalid('M_BAD_JSON', "Param 'purge' must be a boolean, if given"));
      await assert.rejects(call('{"force_purge":null}'), invalid('M_BAD_JSON', "Param 'force_purge' must be a boolean, if given"));
      await assert.rejects(call('{"room_name":5}'), invalid('M_BAD_JSON', "Param 'room_name' must be a string"));
      await assert.rejects(
        call('{"message":"a\\u0000b"}'),
        invalid('M_BAD_JSON', 'JSON strings may not contain the NUL character (U+0000)'),
      );
      // A string read from the body is bounded as the typed field it stands for.
      await assert.rejects(call(JSON.stringify({ room_name: 'x'.repeat(MAX_TEXT_BYTES + 1) })), (e: grpc.ServiceError) => {
        assert.equal(e.code, grpc.status.INVALID_ARGUMENT);
        assert.match(e.details, /room_name/);
        return true;
      });
    }
  });

  it('makeRoomAdmin, adminJoinRoom, shutdownRoom and purgeRoom refuse bad bodies', async () => {
    const md = bearer(admin.token);
    await assert.rejects(
      grpcCall(c(), c().makeRoomAdmin, { roomIdOrAlias: roomId, bodyJson: bytes('{"user_id":7}') }, md),
      invalid('M_BAD_JSON', "Param 'user_id' must be a string"),
    );
    await assert.rejects(
      grpcCall(c(), c().makeRoomAdmin, { roomIdOrAlias: roomId, bodyJson: bytes('[') }, md),
      invalid('M_NOT_JSON', 'Content not JSON.'),
    );
    // An empty body counts as {}: the caller becomes the room admin, who already is.
    await grpcCall(c(), c().makeRoomAdmin, { roomIdOrAlias: roomId, bodyJson: bytes('') }, md);

    const join = (body: string) =>
      grpcCall(c(), c().adminJoinRoom, { roomIdOrAlias: roomId, userId: user.userId, serverNames: [], bodyJson: bytes(body) }, md);
    await assert.rejects(join(''), invalid('M_NOT_JSON', 'Content not JSON.'));
    await assert.rejects(join('{}'), invalid('M_MISSING_PARAM'));
    await assert.rejects(join('{"user_id":1}'), invalid('M_INVALID_PARAM', "Expected UserID string to start with '@'"));
    assert.equal((await join(JSON.stringify({ user_id: user.userId }))).roomId, roomId);

    const shutdown = (body: string) =>
      grpcCall(c(), c().shutdownRoom, { roomId: '!nowhere:test', newRoomUserId: admin.userId, bodyJson: bytes(body) }, md);
    await assert.rejects(shutdown('{}'), invalid('M_MISSING_PARAM'));
    await assert.rejects(shutdown('{"new_room_user_id":null}'), invalid('M_BAD_JSON', "Param 'new_room_user_id' must be a string"));
    await assert.rejects(
      shutdown(JSON.stringify({ new_room_user_id: admin.userId, room_name: 3 })),
      invalid('M_BAD_JSON', "Param 'room_name' must be a string"),
    );

    const purge = (body: string) => grpcCall(c(), c().purgeRoom, { roomId, bodyJson: bytes(body) }, md);
    await assert.rejects(purge('{}'), invalid('M_MISSING_PARAM'));
    await assert.rejects(purge('{"room_id":false}'), invalid('M_BAD_JSON', "Param 'room_id' must be a string"));
  });
});

describe('purge_history body checked by the service (body_json)', () => {
  let s: Stack;
  let admin: TestUser;
  let user: TestUser;
  let roomId: string;

  before(async () => {
    s = await sharedStack();
    admin = await registerUser(s, uniq('bj-purge-admin'), { admin: true });
    user = await registerUser(s, uniq('bj-purge-user'));
    roomId = await createRoom(s, admin.token);
  });

  const call = (body: string, token: string | null, purgeUpToEventId?: string) => {
    const p = s.clients.pagination;
    const req = { roomId, purgeUpToEventId, deleteLocalEvents: false, bodyJson: bytes(body) };
    return grpcCall(p, p.purgeHistory, req, token === null ? new grpc.Metadata() : bearer(token));
  };

  it('refuses bad bodies after authentication, with Synapse errors', async () => {
    await assert.rejects(call('}{', null), refused(grpc.status.UNAUTHENTICATED, 'M_MISSING_TOKEN'));
    await assert.rejects(call('}{', user.token), refused(grpc.status.PERMISSION_DENIED, 'M_FORBIDDEN'));
    await assert.rejects(call('}{', admin.token), invalid('M_NOT_JSON', 'Content not JSON.'));
    await assert.rejects(call('{"purge_up_to_event_id":1}', admin.token), invalid('M_BAD_JSON', 'purge_up_to_event_id must be a string'));
    await assert.rejects(call('{"purge_up_to_ts":"0"}', admin.token), invalid('M_BAD_JSON', 'purge_up_to_ts must be an int'));
  });

  it('takes the path event id over the body, and an empty body as {}', async () => {
    // With an event id, purge_up_to_ts is not read; the unknown event is the first error.
    await assert.rejects(call('{"purge_up_to_ts":"0"}', admin.token, '$nope'), (e: grpc.ServiceError) => {
      assert.notEqual(e.details, 'purge_up_to_ts must be an int');
      assert.ok(e.code !== grpc.status.OK);
      return true;
    });
    // Without any point to purge up to, Synapse's own answer comes from the service.
    await assert.rejects(call('', admin.token), (e: grpc.ServiceError) => e.code === grpc.status.INVALID_ARGUMENT);
    // The time is read from the body: nothing is older than 0, the room's creation is older than now.
    await assert.rejects(
      call('{"purge_up_to_ts":0}', admin.token),
      refused(grpc.status.NOT_FOUND, 'M_NOT_FOUND', 'there is no event to be purged'),
    );
    assert.ok((await call(JSON.stringify({ purge_up_to_ts: Date.now() }), admin.token)).purgeId);
  });
});
