/**
 * Generated hostile requests against every REST route of the gateway's route table and every RPC
 * of the contract's descriptors, so a new route or RPC is fuzzed without new code. Paths (bad
 * percent-encoding, long and odd ids), query strings, bodies (not JSON, wrong types, deep
 * nesting, lone surrogates, huge numbers, NUL) and protobuf fields (wrong wire types, unknown
 * enum values, extreme integers, undecodable bytes) are sent with no token, a bad one, a user's
 * and an admin's. Every answer must be below 500 (gRPC: neither INTERNAL nor UNKNOWN) and carry
 * a Matrix errcode when it is an error; afterwards the service must still answer.
 *
 * The stack is the test's own: destructive routes (deactivate, delete, purge, logout) hit its
 * data, and the fixtures (users, tokens, a room with an event) are made again whenever a request
 * destroyed them. FUZZ_SEED replays a run, FUZZ_RUNS sets the requests per route and per RPC.
 */
import { strict as assert } from 'node:assert';
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import * as grpc from '@grpc/grpc-js';
import { createFileRegistry, fromBinary, type DescMessage } from '@bufbuild/protobuf';
import { FileDescriptorSetSchema } from '@bufbuild/protobuf/wkt';
import { DESCRIPTOR_PATH } from '../../src/grpc/server';
import { META_ERRCODE } from '../../src/grpc/status';
import { startStack, registerUser, http, type Stack, type TestUser } from '../support/stack';
import { C, enc } from '../support/client';
import { body, pathSegment, queryString, requestBytes, type Gen } from './fuzz.generators';

const SEED = process.env.FUZZ_SEED ? Number(process.env.FUZZ_SEED) : 20_171;
const RUNS = process.env.FUZZ_RUNS ? Number(process.env.FUZZ_RUNS) : 6;
/** Far above any normal answer: only a request that hangs (a stall) reaches it. */
const REQUEST_TIMEOUT_MS = 30_000;
const ERRCODE = /^M_[A-Z_]+$/;

const registry = createFileRegistry(fromBinary(FileDescriptorSetSchema, readFileSync(DESCRIPTOR_PATH)));
const messages = [...registry].filter((t): t is DescMessage => t.kind === 'message');
/** Every field name of the contract: the keys REST bodies and query strings are built from. */
const FIELD_NAMES = [
  ...new Set(messages.flatMap((m) => m.fields.map((f) => f.name)).concat(['access_token', 'dir', 'from', 'to', 'limit', 'filter', 'ts'])),
];
const rpcs = [...registry]
  .flatMap((t) => (t.kind === 'service' && t.typeName.startsWith('synapse.') ? t.methods : []))
  .map((m) => ({ path: `/${m.parent.typeName}/${m.name}`, input: m.input, streaming: m.methodKind === 'server_streaming' }));

function errcodeOf(text: string): unknown {
  try {
    return (JSON.parse(text) as { errcode?: unknown }).errcode;
  } catch {
    return undefined;
  }
}

interface Fixtures {
  admin: TestUser;
  user: TestUser;
  victim: TestUser;
  roomId: string;
  eventId: string;
  alias: string;
}

type Auth = 'none' | 'bad' | 'malformed' | 'user' | 'admin';
const AUTHS: Auth[] = ['none', 'bad', 'malformed', 'user', 'admin'];

describe('fuzz: generated hostile requests on every route and RPC', function () {
  this.timeout(300_000);
  let s: Stack;
  let fx: Fixtures;
  let made = 0;

  const fresh = (prefix: string, admin = false) => registerUser(s, `${prefix}${++made}`, { admin });
  const answers = async (token: string, path: string) => (await http(s, 'GET', path, { token })).status === 200;

  /** Makes again whatever the last requests destroyed (tokens logged out, users deactivated, the room deleted). */
  async function ensureFixtures(): Promise<void> {
    if (!(await answers(fx.admin.token, '/_synapse/admin/v1/rooms?limit=1'))) fx.admin = await fresh('fuzzadmin', true);
    if (!(await answers(fx.user.token, `${C}/account/whoami`))) fx.user = await fresh('fuzzuser');
    if (!(await answers(fx.user.token, `${C}/rooms/${enc(fx.roomId)}/state`))) await makeRoom();
  }

  async function makeRoom(): Promise<void> {
    const alias = `fuzz${++made}`;
    const r = await http(s, 'POST', `${C}/createRoom`, { token: fx.user.token, body: { room_alias_name: alias, preset: 'public_chat' } });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    fx.roomId = r.body.room_id;
    fx.alias = `#${alias}:test`;
    const e = await http(s, 'PUT', `${C}/rooms/${enc(fx.roomId)}/send/m.room.message/t${made}`, {
      token: fx.user.token,
      body: { msgtype: 'm.text', body: 'hi' },
    });
    fx.eventId = e.body.event_id;
  }

  /** Ids the requests aim at: the fixtures' own (never the admin's, which must stay usable). */
  const pool = () => [
    fx.user.userId,
    fx.victim.userId,
    fx.roomId,
    fx.eventId,
    fx.alias,
    '@nobody:test',
    '!nowhere:test',
    '$none',
    'm.room.message',
    'm.room.name',
    'm.room.member',
    'm.fully_read',
  ];

  function credential(auth: Auth): string | undefined {
    if (auth === 'user') return `Bearer ${fx.user.token}`;
    if (auth === 'admin') return `Bearer ${fx.admin.token}`;
    if (auth === 'bad') return 'Bearer syt_not_a_token';
    if (auth === 'malformed') return 'Basic Zm9vOmJhcg==';
    return undefined;
  }

  before(async () => {
    s = await startStack();
    const [admin, user, victim] = await Promise.all([
      registerUser(s, 'fuzzadmin0', { admin: true }),
      registerUser(s, 'fuzzuser0'),
      registerUser(s, 'fuzzvictim0'),
    ]);
    fx = { admin, user, victim, roomId: '', eventId: '', alias: '' };
    await makeRoom();
  });

  after(async () => {
    await s?.stop();
  });

  /** Runs `property` RUNS times per target; returns fast-check's report for each target that failed. */
  async function fuzzEach<T>(targets: T[], name: (t: T) => string, property: (t: T, g: Gen) => Promise<void>): Promise<string[]> {
    const failures: string[] = [];
    for (const [i, target] of targets.entries()) {
      await ensureFixtures();
      const result = await fc.check(
        fc.asyncProperty(fc.gen(), (g) => property(target, g)),
        { seed: SEED + i, numRuns: RUNS, endOnFailure: true },
      );
      if (!result.failed) continue;
      const cause = result.errorInstance instanceof Error ? result.errorInstance.message : String(result.errorInstance);
      failures.push(
        `${name(target)}: ${cause.split('\n')[0].slice(0, 1_500)}\n  (FUZZ_SEED=${SEED} replays the run; this target: seed ${SEED + i}, path "${result.counterexamplePath}")`,
      );
    }
    return failures;
  }

  it('answers every REST route below 500, with an errcode on every error', async () => {
    const failures = await fuzzEach(
      s.app.routes,
      (r) => `${r.method} ${r.path}`,
      async (route, g) => {
        const path = route.path.replace(/\{(\w+)\}/g, () => pathSegment(g, pool())) + queryString(g, FIELD_NAMES, pool());
        const headers: Record<string, string> = {};
        const auth = credential(g(fc.constantFrom, ...AUTHS));
        if (auth) headers.authorization = auth;
        const raw = route.method === 'GET' ? undefined : body(g, FIELD_NAMES, pool());
        if (raw !== undefined && g(fc.boolean)) headers['content-type'] = 'application/json';
        const res = await fetch(s.baseUrl + path, {
          method: route.method,
          headers,
          body: raw,
          signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
        });
        const text = await res.text();
        const what = `${route.method} ${path.slice(0, 300)} body ${String(raw).slice(0, 300)} → ${res.status} ${text.slice(0, 300)}`;
        assert.ok(res.status < 500, what);
        if (res.status >= 400) assert.match(String(errcodeOf(text)), ERRCODE, what);
      },
    );
    assert.equal(failures.length, 0, failures.join('\n'));
  });

  it('answers every RPC without INTERNAL or UNKNOWN, with an errcode on every Matrix error', async () => {
    const client = new grpc.Client(s.grpcAddress, grpc.credentials.createInsecure());
    const id = (b: Buffer) => b;
    try {
      const failures = await fuzzEach(
        rpcs,
        (m) => m.path,
        async (rpc, g) => {
          const md = new grpc.Metadata();
          const auth = credential(g(fc.constantFrom, ...AUTHS));
          if (auth) md.set('authorization', auth);
          const bytes = Buffer.from(requestBytes(g, rpc.input, FIELD_NAMES, pool()));
          const deadline = Date.now() + (rpc.streaming ? 2_000 : REQUEST_TIMEOUT_MS);
          const err = await new Promise<grpc.ServiceError | null>((ok) => {
            if (!rpc.streaming) return void client.makeUnaryRequest(rpc.path, id, id, bytes, md, { deadline }, (e) => ok(e));
            const call = client.makeServerStreamRequest(rpc.path, id, id, bytes, md, { deadline });
            call.on('data', () => undefined);
            call.on('error', (e: grpc.ServiceError) => ok(e));
            call.on('end', () => ok(null));
          });
          if (!err) return;
          const what = `${rpc.path} ${bytes.toString('base64').slice(0, 400)} → ${grpc.status[err.code]} ${err.details.slice(0, 300)}`;
          assert.ok(
            ![grpc.status.INTERNAL, grpc.status.UNKNOWN, grpc.status.DATA_LOSS, grpc.status.UNIMPLEMENTED].includes(err.code),
            what,
          );
          // A watch stream runs until its deadline; that deadline is the test's, not an error.
          if (rpc.streaming && (err.code === grpc.status.DEADLINE_EXCEEDED || err.code === grpc.status.CANCELLED)) return;
          assert.match(String(err.metadata.get(META_ERRCODE)[0]), ERRCODE, what);
        },
      );
      assert.equal(failures.length, 0, failures.join('\n'));
    } finally {
      client.close();
    }
  });

  it('still answers afterwards: health, a new admin, an admin read', async () => {
    assert.equal((await http(s, 'GET', '/health')).status, 200);
    const admin = await fresh('fuzzafter', true);
    const rooms = await http(s, 'GET', '/_synapse/admin/v1/rooms', { token: admin.token });
    assert.equal(rooms.status, 200, JSON.stringify(rooms.body));
    assert.ok(Array.isArray(rooms.body.rooms));
    assert.equal((await http(s, 'GET', `${C}/account/whoami`, { token: admin.token })).body.user_id, admin.userId);
  });
});
