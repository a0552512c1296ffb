/**
 * Input that used to answer 500 or lose its answer (issue 17, part 2): lone surrogates, deep
 * nesting and out-of-range numbers in stored JSON, bad percent-encoding before authentication, an
 * oversized chunked body, an overlong URL and undecodable protobuf.
 */
import { strict as assert } from 'node:assert';
import net from 'node:net';
import * as grpc from '@grpc/grpc-js';
import { startStack, http, registerUser, bearer, grpcCall, type Stack, type TestUser } from '../support/stack';
import { C, enc } from '../support/client';
import { META_ERRCODE } from '../../src/grpc/status';
import { MAX_JSON_DEPTH } from '../../src/json-text';

const nested = (levels: number) => '['.repeat(levels) + ']'.repeat(levels);

describe('hostile input: 4xx with an errcode, never 500', () => {
  let s: Stack;
  let admin: TestUser;
  let alice: TestUser;
  let roomId: string;
  let eventId: string;

  /** Every place a client stores free-form JSON, with `value` placed inside the stored object. */
  const stores = (value: string): [string, string, string][] => [
    ['PUT', `${C}/rooms/${enc(roomId)}/send/m.room.message/t${Math.random()}`, `{"msgtype":"m.text","body":"x","v":${value}}`],
    ['PUT', `${C}/rooms/${enc(roomId)}/state/m.fuzz/k`, `{"v":${value}}`],
    ['PUT', `${C}/rooms/${enc(roomId)}/redact/${enc(eventId)}/r${Math.random()}`, `{"reason":"x","v":${value}}`],
    ['POST', `${C}/join/${enc(roomId)}`, `{"v":${value}}`],
    ['POST', `${C}/knock/${enc(roomId)}`, `{"v":${value}}`],
    ['POST', `${C}/createRoom`, `{"creation_content":{"v":${value}}}`],
    ['POST', `${C}/createRoom`, `{"initial_state":[{"type":"m.fuzz","state_key":"","content":{"v":${value}}}]}`],
    ['PUT', `${C}/user/${enc(alice.userId)}/account_data/m.fuzz`, `{"v":${value}}`],
    ['PUT', `${C}/user/${enc(alice.userId)}/rooms/${enc(roomId)}/account_data/m.fuzz`, `{"v":${value}}`],
  ];

  async function expectRefused(value: string, status: number, errcode: string): Promise<void> {
    for (const [method, path, body] of stores(value)) {
      const r = await http(s, method, path, { token: alice.token, rawBody: body });
      assert.equal(r.status, status, `${method} ${path} ${value.slice(0, 40)}: ${r.status} ${JSON.stringify(r.body)}`);
      assert.equal(r.body.errcode, errcode, `${method} ${path}`);
    }
  }

  before(async () => {
    s = await startStack();
    [admin, alice] = await Promise.all([registerUser(s, 'hadmin', { admin: true }), registerUser(s, 'halice')]);
    roomId = (await http(s, 'POST', `${C}/createRoom`, { token: alice.token, body: { preset: 'public_chat' } })).body.room_id;
    eventId = (
      await http(s, 'PUT', `${C}/rooms/${enc(roomId)}/send/m.room.message/t0`, {
        token: alice.token,
        body: { msgtype: 'm.text', body: 'hi' },
      })
    ).body.event_id;
  });

  after(async () => {
    await s?.stop();
  });

  it('refuses lone surrogates in every stored JSON with 400 M_BAD_JSON, and keeps surrogate pairs', async () => {
    await expectRefused('"\\ud800"', 400, 'M_BAD_JSON');
    await expectRefused('{"\\udc00x":1}', 400, 'M_BAD_JSON');
    const ok = await http(s, 'PUT', `${C}/rooms/${enc(roomId)}/state/m.fuzz/pair`, {
      token: alice.token,
      rawBody: '{"v":"\\ud83d\\ude00"}',
    });
    assert.equal(ok.status, 200, JSON.stringify(ok.body));
    const back = await http(s, 'GET', `${C}/rooms/${enc(roomId)}/state/m.fuzz/pair`, { token: alice.token });
    assert.deepEqual(back.body, { v: '😀' });
  });

  it('refuses JSON nested deeper than MAX_JSON_DEPTH with 400 M_NOT_JSON, and stores it up to that depth', async () => {
    await expectRefused(nested(20_000), 400, 'M_NOT_JSON');
    await expectRefused(nested(MAX_JSON_DEPTH), 400, 'M_NOT_JSON'); // one more level than the limit, with the outer object
    const deepest = `{"v":${nested(MAX_JSON_DEPTH - 1)}}`;
    const ok = await http(s, 'PUT', `${C}/user/${enc(alice.userId)}/account_data/m.deep`, { token: alice.token, rawBody: deepest });
    assert.equal(ok.status, 200, JSON.stringify(ok.body));
    assert.equal(
      JSON.stringify((await http(s, 'GET', `${C}/user/${enc(alice.userId)}/account_data/m.deep`, { token: alice.token })).body),
      deepest,
    );
  });

  it('authenticates before parsing a deeply nested join or knock body', async () => {
    for (const path of [`${C}/join/${enc(roomId)}`, `${C}/knock/${enc(roomId)}`]) {
      const r = await http(s, 'POST', path, { rawBody: `{"v":${nested(20_000)}}` });
      assert.equal(r.status, 401, JSON.stringify(r.body));
      assert.equal(r.body.errcode, 'M_MISSING_TOKEN');
    }
  });

  it('refuses numbers out of range in every stored JSON with 400 M_BAD_JSON', async () => {
    for (const n of ['1e999999', '-1e999999', '1e-999999', '0e-999999', '9'.repeat(400), `0.${'1'.repeat(1_200)}`])
      await expectRefused(n, 400, 'M_BAD_JSON');
    const r = await http(s, 'PUT', `${C}/user/${enc(alice.userId)}/account_data/m.num`, {
      token: alice.token,
      rawBody: '{"a":1e308,"b":9007199254740993,"c":-0.5,"d":1e-300}',
    });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    // Events keep Synapse's canonical-JSON check on top (room versions 6 and later).
    const event = await http(s, 'PUT', `${C}/rooms/${enc(roomId)}/state/m.fuzz/int`, {
      token: alice.token,
      rawBody: '{"v":9007199254740993}',
    });
    assert.deepEqual([event.status, event.body], [400, { errcode: 'M_BAD_JSON', error: 'JSON integer out of range' }]);
  });

  it('checks the credential before a bad percent-encoding in the path', async () => {
    const path = '/_synapse/admin/v1/rooms/%ZZ';
    assert.equal((await http(s, 'GET', path)).body.errcode, 'M_MISSING_TOKEN');
    assert.equal((await http(s, 'GET', path, { token: 'syt_nope' })).body.errcode, 'M_UNKNOWN_TOKEN');
    const user = await http(s, 'GET', path, { token: alice.token });
    assert.equal(user.status, 403);
    const adm = await http(s, 'GET', path, { token: admin.token });
    assert.equal(adm.status, 400);
    assert.equal(adm.body.errcode, 'M_INVALID_PARAM');
  });

  it('answers a token that cannot be a token (not visible ASCII) as unknown, on user and admin routes', async () => {
    for (const token of ['%C0%80', '%ED%A0%80', 't%C3%B6k', 'a%20b']) {
      for (const path of [`${C}/account/whoami`, '/_synapse/admin/v1/rooms/%21x%3Atest/forward_extremities']) {
        const r = await http(s, 'GET', `${path}?access_token=${token}`);
        assert.deepEqual(
          [r.status, r.body],
          [401, { errcode: 'M_UNKNOWN_TOKEN', error: 'Invalid access token passed.', soft_logout: false }],
          `${path} ${token}`,
        );
      }
    }
  });

  it('answers 413 M_TOO_LARGE to a 2 MB chunked body without Content-Length, and the client reads it', async () => {
    const { port } = new URL(s.baseUrl);
    const answer = await new Promise<string>((ok, ko) => {
      let data = '';
      const sock = net.connect(Number(port), '127.0.0.1', () => {
        sock.write(
          `POST ${C}/createRoom HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${alice.token}\r\nTransfer-Encoding: chunked\r\n\r\n`,
        );
        const chunk = 'x'.repeat(64 * 1024);
        for (let i = 0; i < 32; i++) sock.write(`${chunk.length.toString(16)}\r\n${chunk}\r\n`);
        sock.write('0\r\n\r\n');
      });
      sock.on('data', (d) => {
        data += d;
        if (data.includes('}')) {
          sock.destroy();
          ok(data);
        }
      });
      sock.on('error', (err) => ko(new Error(`${err.message} after ${JSON.stringify(data)}`)));
      sock.on('close', () => ok(data));
    });
    assert.match(answer, /^HTTP\/1\.1 413 /);
    assert.match(answer, /"errcode":"M_TOO_LARGE"/);
  });

  it('answers a URL past the HTTP server limit with a Matrix error body', async () => {
    const r = await http(s, 'GET', `${C}/rooms/${enc(roomId)}/messages?filter=${'x'.repeat(20_000)}`, { token: alice.token });
    assert.equal(r.status, 431);
    assert.equal(r.body.errcode, 'M_TOO_LARGE');
  });

  it('answers INVALID_ARGUMENT (M_BAD_JSON) to a request that is not a protobuf message, unary and streaming', async () => {
    const client = new grpc.Client(s.grpcAddress, grpc.credentials.createInsecure());
    const id = (b: Buffer) => b;
    const garbage = Buffer.from([0xff, 0xff, 0xff]);
    try {
      const unary = await new Promise<grpc.ServiceError | null>((ok) =>
        client.makeUnaryRequest('/synapse.admin.v1.RoomService/SendEvent', id, id, garbage, bearer(alice.token), (e) => ok(e)),
      );
      const stream = await new Promise<grpc.ServiceError | null>((ok) => {
        const call = client.makeServerStreamRequest(
          '/synapse.admin.v1.TaskSchedulerService/WatchTask',
          id,
          id,
          garbage,
          bearer(admin.token),
          {},
        );
        call.on('error', (e: grpc.ServiceError) => ok(e));
        call.on('end', () => ok(null));
      });
      for (const err of [unary, stream]) {
        assert.equal(err?.code, grpc.status.INVALID_ARGUMENT, err?.details);
        assert.equal(err?.metadata.get(META_ERRCODE)[0], 'M_BAD_JSON');
      }
    } finally {
      client.close();
    }
  });

  it('refuses the same JSON in *_json fields over gRPC', async () => {
    const cases: [string, string][] = [
      ['{"v":"\\ud800"}', 'M_BAD_JSON'],
      [`{"v":${nested(20_000)}}`, 'M_NOT_JSON'],
      ['{"v":1e999999}', 'M_BAD_JSON'],
    ];
    for (const [contentJson, errcode] of cases) {
      const err = await grpcCall(
        s.clients.accountData,
        s.clients.accountData.setAccountData,
        { userId: alice.userId, type: 'm.fuzz', contentJson },
        bearer(alice.token),
      ).then(
        () => null,
        (e: grpc.ServiceError) => e,
      );
      assert.equal(err?.code, grpc.status.INVALID_ARGUMENT, contentJson.slice(0, 30));
      assert.equal(err?.metadata.get(META_ERRCODE)[0], errcode);
    }
  });

  it('imports nothing when ImportRooms is given no rooms', async () => {
    const res = await grpcCall(s.clients.rooms, s.clients.rooms.importRooms, { rooms: [], returnEventIds: false }, bearer(admin.token));
    assert.deepEqual(res.rooms, []);
  });
});
