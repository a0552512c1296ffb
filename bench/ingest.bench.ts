/**
 * Event ingestion, in one run on one stack:
 * - bulk import over gRPC (RoomService/ImportRooms) of a generated data set (realistic rooms:
 *   members local and remote, spaces, encrypted rooms, state churn, relations), batch by batch;
 * - baseline: the very same `events` rows inserted by plain multi-row SQL INSERTs, in batches of
 *   the same size, into a copy of the table with the same indexes;
 * - single sends with 16 concurrent senders: through the REST gateway
 *   (`PUT /rooms/{id}/send/m.room.message/{txn}`) and directly over gRPC (SendEvent), each sender in
 *   its own room, then all senders in one room; against the service in its own process, with
 *   `WORKERS=--workers` (default 2) processes, as one services process beside one gateway process
 *   (`GATEWAY_WORKERS=1`), and inside the bench process. Beside each: the CPU
 *   the server processes, PostgreSQL's backends and the load generator (this process) spent per
 *   event.
 * Targets: bulk import ≥ 0.5 × the baseline rate; gateway sends ≥ 1,000 events/s.
 */
import { Client as PgClient } from 'pg';
import http from 'node:http';
import { freePort } from '../src/infra/free-port';
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { readFileSync, readdirSync } from 'node:fs';
import { createClients, type Clients } from '../src/gateway/grpc-clients';
import { SHARED_SECRET, TEST_REDIS_URL } from '../test/support/stack';
import { bearer, grpcCall } from '../test/support/stack';
import { DEFAULT_GENERATOR_OPTIONS, generateImportBatches } from '../src/dev/seed/generator';
import type { ImportedRoom } from '../src/rooms/import.service';
import type { ImportedRoom as ProtoImportedRoom } from '../gen/synapse/admin/v1/rooms';
import { fmt, measure, options, registerUser, startStack, table, type Stack, type TestUser } from './support';

const EVENT_COLUMNS = [
  'stream_ordering',
  'event_id',
  'room_id',
  'type',
  'state_key',
  'sender',
  'content',
  'origin_server_ts',
  'received_ts',
  'depth',
  'prev_events',
  'auth_events',
  'redacts',
  'replaces_state',
  'outlier',
  'rejected_reason',
  'soft_failed',
  'redacted_by',
  'txn_scope',
  'txn_id',
  'contains_url',
  'labels',
];
/** Rows per plain INSERT statement (bounded by PostgreSQL's 65,535 bind parameters). */
const BASELINE_ROWS_PER_STATEMENT = 1_000;

function toProto(batch: ImportedRoom[]): ProtoImportedRoom[] {
  return batch.map((r) => ({
    roomId: r.roomId,
    isPublic: r.isPublic ?? false,
    aliases: r.aliases ?? [],
    events: r.events.map((e) => ({
      type: e.type,
      stateKey: e.stateKey ?? undefined,
      sender: e.sender,
      contentJson: JSON.stringify(e.content),
      originServerTs: e.originServerTs,
      redacts: e.redacts ?? undefined,
      eventId: e.eventId,
    })),
  }));
}

async function importOverGrpc(stack: Stack, admin: TestUser, batches: ProtoImportedRoom[][]): Promise<{ events: number; ms: number }> {
  const md = bearer(admin.token);
  let events = 0;
  const t0 = process.hrtime.bigint();
  for (const rooms of batches) {
    await grpcCall(stack.clients.rooms, stack.clients.rooms.importRooms, { rooms, returnEventIds: false }, md);
    events += rooms.reduce((n, r) => n + r.events.length, 0);
  }
  return { events, ms: Number(process.hrtime.bigint() - t0) / 1e6 };
}

/**
 * The baseline: the imported `events` rows are read back, deleted, and inserted again into the
 * same table (same indexes and constraints) by plain multi-row INSERT ... VALUES statements, one
 * transaction per batch of the import's size. Nothing references `events`, and the rows come back
 * identical, so the data set is unchanged afterwards.
 */
async function plainInsert(stack: Stack, roomIds: string[], batchEvents: number): Promise<{ events: number; ms: number }> {
  const pg = new PgClient({ connectionString: stack.app.databaseUrl });
  await pg.connect();
  try {
    const { rows } = await pg.query({
      text: `SELECT ${EVENT_COLUMNS.join(', ')} FROM events WHERE room_id = ANY($1) ORDER BY stream_ordering`,
      values: [roomIds],
      rowMode: 'array',
    });
    await pg.query('DELETE FROM events WHERE room_id = ANY($1)', [roomIds]);
    await pg.query('VACUUM events');
    const contentAt = EVENT_COLUMNS.indexOf('content');
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < rows.length; i += batchEvents) {
      await pg.query('BEGIN');
      const batch = rows.slice(i, i + batchEvents);
      for (let j = 0; j < batch.length; j += BASELINE_ROWS_PER_STATEMENT) {
        const values: unknown[] = [];
        const tuples = batch.slice(j, j + BASELINE_ROWS_PER_STATEMENT).map((row: unknown[]) => {
          const at = values.length;
          row.forEach((v, k) => values.push(k === contentAt ? JSON.stringify(v) : v));
          return `(${row.map((_v, k) => `$${at + k + 1}`).join(', ')})`;
        });
        await pg.query(`INSERT INTO events (${EVENT_COLUMNS.join(', ')}) VALUES ${tuples.join(', ')}`, values);
      }
      await pg.query('COMMIT');
    }
    return { events: rows.length, ms: Number(process.hrtime.bigint() - t0) / 1e6 };
  } finally {
    await pg.end();
  }
}

/** CPU time (ms) of a process from /proc. */
function ticksMs(pid: string): number {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(f[11]) + Number(f[12])) * (1000 / CLOCK_TICKS_PER_S);
}

/** The process and its descendants (a WORKERS primary and its workers). */
function processTree(root: number): string[] {
  const parents = new Map<string, string>();
  for (const p of readdirSync('/proc')) {
    if (!/^\d+$/.test(p)) continue;
    try {
      parents.set(p, readFileSync(`/proc/${p}/stat`, 'utf8').split(') ')[1].split(' ')[1]);
    } catch {
      // the process ended meanwhile
    }
  }
  const inTree = (p: string): boolean => p === String(root) || (parents.has(p) && p !== '1' && inTree(parents.get(p)!));
  return [...parents.keys()].filter(inTree);
}

/** CPU time (ms) used so far by a process and its descendants. */
function cpuMs(pid: number | 'self'): number {
  if (pid !== 'self') return processTree(pid).reduce((sum, p) => sum + ticksMs(p), 0);
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}

/** CPU time (ms) per PostgreSQL backend of a database, by pid. */
function backendCpu(database: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const p of readdirSync('/proc')) {
    if (!/^\d+$/.test(p)) continue;
    try {
      if (readFileSync(`/proc/${p}/cmdline`, 'utf8').includes(database)) out.set(p, ticksMs(p));
    } catch {
      // the process ended meanwhile
    }
  }
  return out;
}

/** CPU the database's backends used between two snapshots (backends that ended in between are missed). */
function backendCpuDelta(before: Map<string, number>, after: Map<string, number>): number {
  let total = 0;
  for (const [pid, ms] of after) total += ms - (before.get(pid) ?? 0);
  return total;
}

/** Linux's USER_HZ. */
const CLOCK_TICKS_PER_S = 100;

/** Where sends go: the bench's own in-process server, or a server in its own process. */
interface Target {
  label: string;
  baseUrl: string;
  clients: Clients;
  /** The process serving it. */
  pid: number | 'self';
}

/**
 * The service as deployed (`npm start`), in its own process, on the stack's database and Redis
 * prefix, so the load generator does not share its event loop.
 */
async function startServerProcess(stack: Stack, workers: number, gatewayWorkers = 0): Promise<{ target: Target; child: ChildProcess }> {
  const [httpPort, grpcPort] = [await freePort(), await freePort()];
  const env = {
    ...process.env,
    DATABASE_URL: stack.app.databaseUrl,
    REDIS_URL: TEST_REDIS_URL,
    REDIS_KEY_PREFIX: stack.config.redisKeyPrefix,
    SERVER_NAME: 'test',
    HTTP_HOST: '127.0.0.1',
    HTTP_PORT: String(httpPort),
    GRPC_HOST: '127.0.0.1',
    GRPC_PORT: String(grpcPort),
    REGISTRATION_SHARED_SECRET: SHARED_SECRET,
    INSTANCE_NAME: 'ingest-bench-server',
    LOG_LEVEL: 'warn',
    DB_POOL_SIZE: workers > 1 ? '10' : '20',
    WORKERS: String(workers),
    GATEWAY_WORKERS: String(gatewayWorkers),
  };
  const child = spawn(process.execPath, ['--import', 'tsx', join(__dirname, '../src/main.ts')], {
    env,
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const baseUrl = `http://127.0.0.1:${httpPort}`;
  for (let attempt = 0; ; attempt++) {
    if (child.exitCode !== null) throw new Error(`server process exited with ${child.exitCode}`);
    const ok = await fetch(`${baseUrl}/health`).then(
      (r) => r.status === 200,
      () => false,
    );
    if (ok) break;
    if (attempt > 600) throw new Error('server process did not become healthy');
    await new Promise((r) => setTimeout(r, 100));
  }
  const label =
    gatewayWorkers > 0
      ? `services + gateway processes, WORKERS=${workers} GATEWAY_WORKERS=${gatewayWorkers}`
      : workers > 1
        ? `server, WORKERS=${workers}`
        : 'separate server process';
  return { child, target: { label, baseUrl, clients: createClients(`127.0.0.1:${grpcPort}`), pid: child.pid as number } };
}

async function singleSends(stack: Target, senders: TestUser[], sharedRoom: boolean, n: number, via: 'rest' | 'grpc', agent: http.Agent) {
  const rooms: string[] = [];
  for (const [i, u] of senders.entries()) {
    if (sharedRoom && i > 0) {
      await grpcCall(
        stack.clients.rooms,
        stack.clients.rooms.updateMembership,
        { room: { $case: 'roomId', value: rooms[0] }, action: 1 },
        bearer(u.token),
      );
      rooms.push(rooms[0]);
    } else
      rooms.push(
        (
          await grpcCall(
            stack.clients.rooms,
            stack.clients.rooms.createRoom,
            { preset: 'public_chat', invite: [], initialState: [], isDirect: false },
            bearer(u.token),
          )
        ).roomId,
      );
  }
  const mds = senders.map((u) => bearer(u.token));
  const run = `${via}${sharedRoom ? 's' : 'm'}${Date.now()}`;
  // measure() hands out indices in order; worker i (mod senders) sends as sender i into its room.
  return measure(n, senders.length, async (i) => {
    const k = i % senders.length;
    const content = { msgtype: 'm.text', body: `message ${i}` };
    if (via === 'grpc') {
      await grpcCall(
        stack.clients.rooms,
        stack.clients.rooms.sendEvent,
        { roomId: rooms[k], type: 'm.room.message', contentJson: JSON.stringify(content), txnId: `${run}-${i}` },
        mds[k],
      );
      return;
    }
    const { status, body } = await put(
      agent,
      `${stack.baseUrl}/_matrix/client/v3/rooms/${encodeURIComponent(rooms[k])}/send/m.room.message/${run}-${i}`,
      senders[k].token,
      JSON.stringify(content),
    );
    if (status !== 200) throw new Error(`send: HTTP ${status} ${body}`);
  });
}

/** One PUT over a keep-alive agent (one connection per concurrent sender). */
function put(agent: http.Agent, url: string, token: string, body: string): Promise<{ status: number; body: string }> {
  return new Promise((ok, ko) => {
    const req = http.request(
      url,
      {
        method: 'PUT',
        agent,
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => ok({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString() }));
        res.on('error', ko);
      },
    );
    req.on('error', ko);
    req.end(body);
  });
}

export async function run(args: string[]): Promise<void> {
  const o = options(args, { rooms: 2_000, events: 100, members: 8, batch: 5_000, sends: 8_000, concurrency: 16, seed: 1, workers: 2 });
  const stack = await startStack({ LOG_LEVEL: 'silent', DB_POOL_SIZE: '20' });
  const agent = new http.Agent({ keepAlive: true, maxSockets: o.concurrency });
  const servers: { target: Target; child: ChildProcess }[] = [];
  try {
    const admin = await registerUser(stack, 'ingestadmin', { admin: true });
    const locals = [admin];
    for (let i = 0; i < 40; i++) locals.push(await registerUser(stack, `local${i}`));
    const gen = {
      ...DEFAULT_GENERATOR_OPTIONS,
      serverName: 'test',
      localUsers: locals.map((u) => u.userId),
      rooms: o.rooms,
      eventsPerRoom: o.events,
      membersPerRoom: o.members,
      batchEvents: o.batch,
      seed: o.seed,
    };
    // Warm the import path (JIT, plans, caches) on a separate, smaller data set first.
    await importOverGrpc(
      stack,
      admin,
      [...generateImportBatches({ ...gen, rooms: Math.max(10, Math.floor(o.rooms / 20)), seed: o.seed + 1000 })].map(toProto),
    );
    const batches = [...generateImportBatches(gen)].map(toProto);
    const roomIds = [...new Set(batches.flatMap((b) => b.map((r) => r.roomId!)))];
    const imported = await importOverGrpc(stack, admin, batches);
    const baseline = await plainInsert(stack, roomIds, o.batch);
    const importRate = (imported.events / imported.ms) * 1000;
    const baselineRate = (baseline.events / baseline.ms) * 1000;
    table(`bulk import: ${roomIds.length} rooms, ${imported.events} events, ${batches.length} batches of ≤ ${o.batch} events`, [
      {
        path: 'gRPC ImportRooms (events + state, memberships, stats, relations, extremities)',
        events: imported.events,
        seconds: fmt(imported.ms / 1000),
        'events/s': fmt(importRate, 0),
      },
      {
        path: 'plain SQL INSERT of the same events rows (baseline)',
        events: baseline.events,
        seconds: fmt(baseline.ms / 1000),
        'events/s': fmt(baselineRate, 0),
      },
      { path: 'ratio import / baseline (target ≥ 0.50)', events: '', seconds: '', 'events/s': fmt(importRate / baselineRate) },
    ]);
    if (o.sends === 0) return;
    // Settle the tables the import just filled (what autovacuum would do on a live server), so
    // vacuum work does not run during, and get counted in, the send measurements.
    await stack.app.orm.em.fork().execute('VACUUM ANALYZE');
    const senders = [];
    for (let i = 0; i < o.concurrency; i++) senders.push(await registerUser(stack, `sender${i}`));
    servers.push(await startServerProcess(stack, 1));
    if (o.workers > 1) servers.push(await startServerProcess(stack, o.workers));
    servers.push(await startServerProcess(stack, 1, 1));
    const rows = [];
    for (const target of [
      ...servers.map((x) => x.target),
      { label: 'in the bench process', baseUrl: stack.baseUrl, clients: stack.clients, pid: 'self' as const },
    ]) {
      await singleSends(target, senders.slice(0, 4), false, 400, 'rest', agent);
      await singleSends(target, senders.slice(0, 4), false, 400, 'grpc', agent);
      for (const shared of [false, true]) {
        for (const via of ['rest', 'grpc'] as const) {
          const [node0, pg0, self0] = [cpuMs(target.pid), backendCpu(stack.dbName), cpuMs('self')];
          const st = await singleSends(target, senders, shared, o.sends, via, agent);
          const [node1, pg1, self1] = [cpuMs(target.pid), backendCpu(stack.dbName), cpuMs('self')];
          rows.push({
            server: target.label,
            path: via === 'rest' ? 'gateway PUT /send' : 'gRPC SendEvent',
            rooms: shared ? '1 shared room' : `${o.concurrency} rooms`,
            events: st.n,
            'events/s': fmt(st.perSecond, 0),
            'p50 ms': fmt(st.p50),
            'p99 ms': fmt(st.p99),
            'server cpu ms/event': target.pid === 'self' ? '(shared)' : fmt((node1 - node0) / st.n, 3),
            'postgres cpu ms/event': fmt(backendCpuDelta(pg0, pg1) / st.n, 3),
            'load generator cpu ms/event': target.pid === 'self' ? '(shared)' : fmt((self1 - self0) / st.n, 3),
          });
        }
      }
    }
    table(`single sends, ${o.concurrency} concurrent senders (target: gateway ≥ 1000 events/s)`, rows);
  } finally {
    agent.destroy();
    for (const server of servers) {
      server.target.clients.close();
      if (server.child.exitCode !== null) continue;
      const exited = new Promise((ok) => server.child.once('exit', ok));
      server.child.kill('SIGTERM');
      await exited;
    }
    await stack.stop();
  }
}
