/**
 * The query parameters of /messages and the event contexts as the PaginationService receives them:
 * the filter as JSON text (`filter_json`), `dir` and `limit` as given, checked by the service in
 * Synapse's order after authentication; the deprecated Struct filter still honoured.
 */
import { strict as assert } from 'node:assert';
import * as grpc from '@grpc/grpc-js';
import { Direction, EventFormat } from '../../gen/synapse/admin/v1/common';
import { sharedStack } from '../support/root-hooks';
import { bearer, grpcCall, http, registerUser, uniq, type Stack, type TestUser } from '../support/stack';
import { createRoom, enc, send, sendState } from './pagination.helpers';

const invalid = (details: string) => (e: grpc.ServiceError) => e.code === grpc.status.INVALID_ARGUMENT && e.details === details;

describe('PaginationService parameters', () => {
  let s: Stack;
  let user: TestUser;
  let admin: TestUser;
  let room: string;
  let msg: string;
  let topic: string;

  before(async () => {
    s = await sharedStack();
    user = await registerUser(s, uniq('params'));
    admin = await registerUser(s, uniq('params-admin'), { admin: true });
    room = await createRoom(s, user.token);
    msg = await send(s, user.token, room, 'first');
    topic = await sendState(s, user.token, room, 'm.room.topic', { topic: 'last' });
  });

  const base = () => ({ roomId: room, dir: Direction.DIRECTION_BACKWARDS, limit: 5, format: EventFormat.EVENT_FORMAT_UNSPECIFIED });
  const page = async (query: Record<string, unknown>) => {
    const p = s.clients.pagination;
    const res = await grpcCall(p, p.getRoomMessages, { query: { ...base(), ...query } }, bearer(user.token));
    return (res.page?.chunk ?? []).map((e) => e.eventId);
  };

  it('filters by filter_json, and still by the deprecated Struct filter when filter_json is absent', async () => {
    const onlyMessages = await page({ filterJson: JSON.stringify({ types: ['m.room.message'] }) });
    assert.deepEqual(onlyMessages, [msg]);
    assert.deepEqual(await page({ filter: { types: ['m.room.message'] } }), [msg]);
    // filter_json wins over the Struct.
    assert.deepEqual(await page({ filterJson: JSON.stringify({ types: ['m.room.topic'] }), filter: { types: ['m.room.message'] } }), [
      topic,
    ]);
    // Falsy JSON means no filter.
    assert.ok((await page({ filterJson: 'null' })).length > 1);
  });

  it('takes dir_param and limit_param in place of dir and limit', async () => {
    const forwards = await page({ dirParam: 'f', limitParam: '1', dir: Direction.DIRECTION_BACKWARDS, limit: 5 });
    const backwards = await page({ dirParam: 'b', limitParam: '1' });
    assert.equal(forwards.length, 1);
    assert.deepEqual(backwards, [topic]);
    assert.notDeepEqual(forwards, backwards);
  });

  it('answers the first bad parameter in Synapse order: dir, from, to, limit, filter', async () => {
    const p = s.clients.pagination;
    const call = (query: Record<string, unknown>) => grpcCall(p, p.getRoomMessages, { query: { ...base(), ...query } }, bearer(user.token));
    const all = { dirParam: 'x', from: 'bad', to: 'bad', limitParam: 'abc', filterJson: '}{' };
    await assert.rejects(call(all), invalid("Query parameter 'dir' must be one of ['b', 'f']"));
    await assert.rejects(call({ ...all, dirParam: 'b' }), invalid("'from' parameter is invalid"));
    await assert.rejects(call({ ...all, dirParam: 'b', from: undefined }), invalid("'to' parameter is invalid"));
    await assert.rejects(
      call({ ...all, dirParam: 'b', from: undefined, to: undefined }),
      invalid('Query parameter limit must be an integer'),
    );
    await assert.rejects(call({ filterJson: '}{' }), invalid('Query parameter filter must be a valid JSON object'));
    await assert.rejects(call({ filterJson: '[1]' }), invalid('Query parameter filter must be a JSON object'));
    // Authentication comes first.
    await assert.rejects(
      grpcCall(p, p.getRoomMessages, { query: { ...base(), ...all } }),
      (e: grpc.ServiceError) => e.code === grpc.status.UNAUTHENTICATED,
    );
  });

  it('answers REST in the same order, a bad limit after a bad from included', async () => {
    const get = (q: string, token?: string) =>
      http(s, 'GET', `/_matrix/client/v3/rooms/${enc(room)}/messages?${q}`, token ? { token } : {});
    const r = await get('limit=abc&from=bad', user.token);
    assert.deepEqual([r.status, r.body.error], [400, "'from' parameter is invalid"]);
    const f = await get(`limit=-1&filter=${enc('[1]')}`, user.token);
    assert.deepEqual([f.status, f.body.error], [400, 'Query parameter limit must be a positive integer.']);
    const unauthenticated = await get('dir=x&limit=abc');
    assert.equal(unauthenticated.status, 401);
    const admin403 = await http(s, 'GET', `/_synapse/admin/v1/rooms/${enc(room)}/messages?dir=x`, { token: user.token });
    assert.equal(admin403.status, 403);
  });

  it('checks an event context limit before its filter, over gRPC and REST', async () => {
    const p = s.clients.pagination;
    const req = { roomId: room, eventId: msg, limitParam: '-3', filterJson: '}{' };
    await assert.rejects(
      grpcCall(p, p.adminGetEventContext, req, bearer(admin.token)),
      invalid('Query parameter limit must be a positive integer.'),
    );
    await assert.rejects(
      grpcCall(p, p.adminGetEventContext, { ...req, limitParam: '2' }, bearer(admin.token)),
      invalid('Query parameter filter must be a valid JSON object'),
    );
    const ctx = await grpcCall(
      p,
      p.getEventContext,
      { roomId: room, eventId: topic, limitParam: '4', filterJson: JSON.stringify({ types: ['m.room.message'] }) },
      bearer(user.token),
    );
    assert.deepEqual(
      ctx.eventsBefore.map((e) => e.eventId),
      [msg],
    );
    const rest = await http(s, 'GET', `/_synapse/admin/v1/rooms/${enc(room)}/context/${enc(msg)}?limit=x&filter=${enc('}{')}`, {
      token: admin.token,
    });
    assert.deepEqual([rest.status, rest.body.error], [400, 'Query parameter limit must be an integer']);
  });
});
