/**
 * Operability: readiness (`/ready`, gRPC health per service), Prometheus metrics after real
 * traffic (REST, gRPC, a background task, locks), METRICS_PORT, and request correlation (the
 * X-Request-Id header, the id on the request's and its task's log lines and stored with the task).
 */
import { strict as assert } from 'node:assert';
import { Writable } from 'node:stream';
import { createLogger } from '../../src/logger';
import { bearer, grpcCall, http, registerUser, startStack, uniq, dbUrl, type Stack, type TestUser } from '../support/stack';
import { createRoom, enc, waitForDelete } from './room-admin.helpers';
import { HealthCheckResponse_ServingStatus } from '../../gen/grpc/health/v1/health';
import { Client as PgClient } from 'pg';
import { sample } from '../support/metrics';
import { ListRoomsRequest } from '../../gen/synapse/admin/v1/room_admin';

const scrape = async (base: string) => {
  const res = await fetch(`${base}/metrics`);
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
  return res.text();
};

describe('Operability', function () {
  this.timeout(120_000);
  let s: Stack;
  let admin: TestUser;
  const lines: Record<string, any>[] = [];
  /** The same lines as written. */
  const raw: string[] = [];

  before(async () => {
    const sink = new Writable({
      write(chunk: Buffer, _enc, done) {
        for (const l of chunk.toString().split('\n').filter(Boolean)) {
          raw.push(l);
          lines.push(JSON.parse(l));
        }
        done();
      },
    });
    s = await startStack({ LOG_LEVEL: 'debug' }, { log: createLogger('debug', {}, sink) });
    admin = await registerUser(s, uniq('admin'), { admin: true });
  });
  after(async () => {
    await s?.stop();
  });

  describe('readiness', () => {
    it('/ready names each check and answers 200 when all pass; gRPC health says SERVING for "" and every service', async () => {
      const res = await http(s, 'GET', '/ready');
      assert.equal(res.status, 200, JSON.stringify(res.body));
      assert.equal(res.body.status, 'ready');
      for (const name of ['shutting_down', 'migrations', 'postgres', 'redis']) assert.equal(res.body.checks[name]?.ok, true, name);
      // The gRPC health status of "" and of every service follows the same checks.
      const names = [
        '',
        'synapse.admin.v1.RoomAdminService',
        'synapse.admin.v1.TaskSchedulerService',
        'synapse.admin.v1.RoomService',
        'synapse.admin.v1.PaginationService',
        'synapse.admin.v1.AuthService',
        'synapse.admin.v1.ServerService',
        'synapse.admin.v1.UserAdminService',
        'synapse.admin.v1.AccountDataService',
      ];
      for (const service of names) {
        const status = await new Promise<number>((ok, ko) => s.clients.health.check({ service }, (e, r) => (e ? ko(e) : ok(r.status))));
        assert.equal(status, HealthCheckResponse_ServingStatus.SERVING, service);
      }
    });

    it('/ready answers 503 naming Redis when no Redis node answers, and gRPC health says NOT_SERVING', async () => {
      const down = await startStack({ REDIS_URL: 'redis://127.0.0.1:1' });
      try {
        const res = await http(down, 'GET', '/ready');
        assert.equal(res.status, 503);
        assert.equal(res.body.status, 'not_ready');
        assert.equal(res.body.checks.redis.ok, false);
        assert.equal(res.body.checks.postgres.ok, true);
        assert.equal(res.body.checks.migrations.ok, true);
        const status = await new Promise<number>((ok, ko) =>
          down.clients.health.check({ service: 'synapse.admin.v1.RoomService' }, (e, r) => (e ? ko(e) : ok(r.status))),
        );
        assert.equal(status, HealthCheckResponse_ServingStatus.NOT_SERVING);
      } finally {
        await down.stop();
      }
    });
  });

  describe('metrics', () => {
    it('GET /metrics needs no credential and its series move with REST, gRPC, task and lock traffic', async () => {
      const before = await scrape(s.baseUrl);
      const roomId = await createRoom(s, admin.token);
      const listed = await http(s, 'GET', '/_synapse/admin/v1/rooms', { token: admin.token });
      assert.equal(listed.status, 200);
      assert.equal((await http(s, 'GET', `/_synapse/admin/v1/rooms/${enc('!nope:test')}`, { token: admin.token })).status, 404);
      assert.equal((await http(s, 'GET', '/no/such/path')).status, 404);
      await assert.rejects(
        grpcCall(s.clients.roomAdmin, s.clients.roomAdmin.getRoomDetails, { roomId: '!missing:test' }, bearer(admin.token)),
      );
      const del = await http(s, 'DELETE', `/_synapse/admin/v2/rooms/${enc(roomId)}`, { token: admin.token, body: { purge: true } });
      assert.equal(del.status, 200, JSON.stringify(del.body));
      await waitForDelete(s, admin.token, del.body.delete_id);
      const after = await scrape(s.baseUrl);

      const moved = (name: string, labels: Record<string, string>) => sample(after, name, labels) - sample(before, name, labels);
      const P = 'synapse_room_admin_';
      assert.equal(moved(`${P}http_requests_total`, { route: '/_synapse/admin/v1/rooms', method: 'GET', status: '200' }), 1);
      assert.equal(moved(`${P}http_requests_total`, { route: '/_synapse/admin/v1/rooms/{roomId}', method: 'GET', status: '404' }), 1);
      assert.equal(moved(`${P}http_requests_total`, { route: 'unmatched', method: 'GET', status: '404' }), 1);
      assert.ok(moved(`${P}http_request_duration_seconds_count`, { route: '/_synapse/admin/v1/rooms', method: 'GET' }) >= 1);
      assert.ok(moved(`${P}grpc_server_handled_total`, { method: '/synapse.admin.v1.RoomAdminService/ListRooms', code: 'OK' }) >= 1);
      assert.ok(moved(`${P}grpc_server_handled_total`, { method: '/synapse.admin.v1.RoomAdminService/StartDeleteRoom', code: 'OK' }) >= 1);
      assert.equal(
        moved(`${P}grpc_server_handled_total`, { method: '/synapse.admin.v1.RoomAdminService/GetRoomDetails', code: 'NOT_FOUND' }),
        2,
      );
      assert.ok(moved(`${P}grpc_server_handling_seconds_count`, { method: '/synapse.admin.v1.RoomAdminService/ListRooms' }) >= 1);
      assert.equal(moved(`${P}task_outcomes_total`, { action: 'shutdown_and_purge_room', outcome: 'complete' }), 1);
      assert.ok(moved(`${P}task_run_seconds_count`, { action: 'shutdown_and_purge_room' }) >= 1);
      assert.ok(moved(`${P}task_start_delay_seconds_count`, { action: 'shutdown_and_purge_room' }) >= 1);
      assert.ok(sample(after, `${P}tasks`, { action: 'shutdown_and_purge_room', status: 'complete' }) >= 1);
      assert.ok(
        moved(`${P}lock_acquisitions_total`, {
          lock: 'new_event_during_purge_lock+purge_pagination_lock',
          mode: 'write',
          result: 'acquired',
        }) >= 1,
      );
      assert.ok(moved(`${P}lock_wait_seconds_count`, { lock: 'new_event_during_purge_lock+purge_pagination_lock', mode: 'write' }) >= 1);
      assert.equal(sample(after, `${P}pg_listener_up`, { channel: 'scheduled_tasks' }), 1);
      assert.equal(sample(after, `${P}redis_node_up`, { node: '0' }), 1);
      assert.match(after, new RegExp(`^${P}db_pool_connections\\{state="used"\\} \\d+$`, 'm'));
      assert.match(after, /^nodejs_eventloop_lag_seconds \S+$/m);
      assert.match(after, /^process_resident_memory_bytes \S+$/m);
      // No raw ids in labels.
      assert.ok(
        !after.includes(roomId) && !after.includes('!nope:test') && !after.includes('/no/such/path') && !after.includes(admin.userId),
      );
    });

    it('METRICS_PORT moves /metrics to a listener of its own', async () => {
      const m = await startStack({ METRICS_PORT: '0', METRICS_HOST: '127.0.0.1' });
      try {
        assert.ok(m.app.metricsPort);
        assert.match(await scrape(`http://127.0.0.1:${m.app.metricsPort}`), /synapse_room_admin_grpc_server_handled_total/);
        assert.equal((await http(m, 'GET', '/metrics')).status, 404);
      } finally {
        await m.stop();
      }
    });
  });

  describe('request correlation', () => {
    it('echoes a sane X-Request-Id, replaces an unsafe one, and sends one when none came', async () => {
      const mine = `req-${uniq('x')}`;
      const a = await http(s, 'GET', '/_synapse/admin/v1/rooms', { token: admin.token, headers: { 'x-request-id': mine } });
      assert.equal(a.headers.get('x-request-id'), mine);
      assert.equal(a.headers.get('synapse-trace-id'), mine);
      for (const bad of ['x'.repeat(129), 'has space', 'quote"d']) {
        const b = await http(s, 'GET', '/_synapse/admin/v1/rooms', { token: admin.token, headers: { 'x-request-id': bad } });
        assert.match(b.headers.get('x-request-id') ?? '', /^[0-9a-f-]{36}$/);
      }
      const c = await http(s, 'GET', '/no/such/path');
      assert.match(c.headers.get('x-request-id') ?? '', /^[0-9a-f-]{36}$/);
    });

    it('puts the request id (and a traceparent trace id) on the RPC log lines and on its task and the task runner log lines', async () => {
      const requestId = `del-${uniq('r')}`;
      const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
      const roomId = await createRoom(s, admin.token);
      const from = lines.length;
      const del = await http(s, 'DELETE', `/_synapse/admin/v2/rooms/${enc(roomId)}`, {
        token: admin.token,
        body: { purge: true },
        headers: { 'x-request-id': requestId, traceparent: `00-${traceId}-00f067aa0ba902b7-01` },
      });
      assert.equal(del.status, 200);
      assert.equal(del.headers.get('x-request-id'), requestId);
      const deleteId = del.body.delete_id as string;
      await waitForDelete(s, admin.token, deleteId);
      const rpcLine = lines.find((l) => l.requestId === requestId && l.method === '/synapse.admin.v1.RoomAdminService/StartDeleteRoom');
      assert.ok(rpcLine, 'no RPC log line with the request id');
      assert.equal(rpcLine.traceId, traceId);
      const taskLines = lines.filter((l) => l.taskId === deleteId);
      assert.ok(
        taskLines.some((l) => l.msg === 'purge complete'),
        JSON.stringify(taskLines),
      );
      for (const l of taskLines) assert.equal(l.requestId, requestId, JSON.stringify(l));
      // The delete service logs through its module's logger, which is given no request id: the
      // line carries it (and the trace id) because it is written while the request is served.
      const serviceLine = lines.find((l) => l.msg === 'starting shutdown' && l.roomId === roomId);
      assert.ok(serviceLine, 'the delete service logged nothing');
      assert.equal(serviceLine.requestId, requestId);
      assert.equal(serviceLine.traceId, traceId);
      // Every line about this room or its delete from then on, whichever logger wrote it.
      const about = lines.slice(from).filter((l) => JSON.stringify(l).includes(roomId) || l.taskId === deleteId);
      assert.ok(about.length >= 2, JSON.stringify(about));
      for (const l of about) assert.equal(l.requestId, requestId, JSON.stringify(l));
      // Each line names the request once (the context adds it; no logger binds it as well).
      for (const l of raw.slice(from).filter((r) => r.includes(requestId))) assert.equal(l.match(/"requestId"/g)?.length, 1, l);
      const pg = new PgClient({ connectionString: dbUrl(s.dbName) });
      await pg.connect();
      try {
        const { rows } = await pg.query('SELECT request_id FROM scheduled_tasks WHERE id = $1', [deleteId]);
        assert.equal(rows[0].request_id, requestId);
      } finally {
        await pg.end();
      }
    });

    it('stores the request id with a task whose service does not pass it (user redaction), and its run logs it', async () => {
      const requestId = `redact-${uniq('r')}`;
      const bad = await registerUser(s, uniq('bad'));
      const r = await http(s, 'POST', `/_synapse/admin/v1/user/${enc(bad.userId)}/redact`, {
        token: admin.token,
        body: { rooms: [] },
        headers: { 'x-request-id': requestId },
      });
      assert.equal(r.status, 200, JSON.stringify(r.body));
      const redactId = r.body.redact_id as string;
      const pg = new PgClient({ connectionString: dbUrl(s.dbName) });
      await pg.connect();
      try {
        const { rows } = await pg.query('SELECT request_id FROM scheduled_tasks WHERE id = $1', [redactId]);
        assert.equal(rows[0].request_id, requestId);
        // Until it has run: its lines, if any, name the request.
        while ((await pg.query("SELECT 1 FROM scheduled_tasks WHERE id = $1 AND status IN ('scheduled', 'active')", [redactId])).rowCount)
          await new Promise((ok) => setTimeout(ok, 20));
      } finally {
        await pg.end();
      }
      for (const l of lines.filter((x) => x.taskId === redactId)) assert.equal(l.requestId, requestId, JSON.stringify(l));
    });

    it('passes the request id of a gRPC caller through when it is sane', async () => {
      const md = bearer(admin.token);
      md.set('x-request-id', 'grpc-caller-1');
      await grpcCall(s.clients.roomAdmin, s.clients.roomAdmin.listRooms, ListRoomsRequest.fromPartial({}), md);
      assert.ok(lines.some((l) => l.requestId === 'grpc-caller-1' && l.method === '/synapse.admin.v1.RoomAdminService/ListRooms'));
      const bad = bearer(admin.token);
      bad.set('x-request-id', 'y'.repeat(500));
      await grpcCall(s.clients.roomAdmin, s.clients.roomAdmin.listRooms, ListRoomsRequest.fromPartial({}), bad);
      assert.ok(!lines.some((l) => l.requestId === 'y'.repeat(500)));
    });
  });
});
