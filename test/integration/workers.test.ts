/**
 * WORKERS=2: the entry point runs two worker processes on the same ports. Both serve, a worker
 * killed with SIGKILL is replaced, and SIGTERM stops everything with exit code 0. GATEWAY_WORKERS=1:
 * the gateway runs in a process of its own and calls the worker over gRPC.
 */
import { strict as assert } from 'node:assert';
import { Client as PgClient } from 'pg';
import { createHmac, randomBytes } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { spawnService, type ServiceProcess } from '../support/process';
import { SHARED_SECRET, TEST_REDIS_URL, bearer, createDatabase, dbUrl, dropDatabase, grpcCall } from '../support/stack';
import { createClients } from '../../src/gateway/grpc-clients';
import { waitFor } from '../support/client';

describe('WORKERS: several processes on the same ports', function () {
  this.timeout(120_000);
  let dbName: string;
  let pg: PgClient;
  let svc: ServiceProcess;
  const name = `w${randomBytes(3).toString('hex')}`;

  before(async () => {
    dbName = await createDatabase();
    svc = await spawnService({
      DATABASE_URL: dbUrl(dbName),
      REDIS_URL: TEST_REDIS_URL,
      REDIS_KEY_PREFIX: `sra-test-${name}:`,
      WORKERS: '2',
      INSTANCE_NAME: name,
      SERVER_NAME: 'test',
      REGISTRATION_SHARED_SECRET: SHARED_SECRET,
    });
    pg = new PgClient({ connectionString: dbUrl(dbName) });
    await pg.connect();
  });
  after(async () => {
    if (svc && svc.child.exitCode === null) svc.child.kill('SIGKILL');
    await pg?.end();
    if (dbName) await dropDatabase(dbName);
  });

  /** Worker process ids by instance name, from their database connections. */
  const workerPids = async () => {
    const { rows } = await pg.query<{ name: string }>(
      "SELECT DISTINCT substring(application_name from '/(.*)$') AS name FROM pg_stat_activity WHERE datname = current_database() AND application_name LIKE $1",
      [`synapse-room-admin/${name}-%`],
    );
    return rows.map((r) => r.name).sort();
  };
  const health = () =>
    fetch(`http://127.0.0.1:${svc.httpPort}/health`).then(
      (r) => r.status,
      () => 0,
    );

  it('runs two named workers that serve the shared ports', async () => {
    await waitFor(workerPids, (names) => names.length === 2);
    assert.deepEqual(await workerPids(), [`${name}-1`, `${name}-2`]);
    for (let i = 0; i < 20; i++) assert.equal(await health(), 200);
    const versions = await fetch(`http://127.0.0.1:${svc.httpPort}/_matrix/client/versions`).then(
      (r) => r.json() as Promise<{ versions: string[] }>,
    );
    assert.ok(versions.versions.length > 0);
  });

  it('replaces a worker that was killed', async () => {
    // Both workers logged their ready line before the service was handed over (spawnService).
    const readyLines = () => Promise.resolve(svc.output.filter((l) => l.includes('"msg":"ready"')).length);
    // The primary's node children (tsx also runs an esbuild service as a child).
    const children = execFileSync('pgrep', ['-P', String(svc.child.pid)])
      .toString()
      .trim()
      .split('\n')
      .map(Number)
      .filter((pid) => !readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('esbuild'));
    assert.equal(children.length, 2, 'two worker processes');
    process.kill(children[0], 'SIGKILL');
    await waitFor(readyLines, (n) => n === 3);
    assert.ok(svc.output.some((l) => l.includes('worker exited; starting a new one')));
    await waitFor(workerPids, (names) => names.length === 2);
    assert.equal(await health(), 200);
  });

  it('stops every worker on SIGTERM and exits 0', async () => {
    svc.child.kill('SIGTERM');
    assert.equal(await svc.exited, 0);
    await waitFor(workerPids, (names) => names.length === 0);
  });
});

describe('GATEWAY_WORKERS: the REST gateway in processes of its own', function () {
  this.timeout(120_000);
  let dbName: string;
  let svc: ServiceProcess;
  const name = `g${randomBytes(3).toString('hex')}`;
  const base = () => `http://127.0.0.1:${svc.httpPort}`;
  const readyOf = (instance: string) => svc.output.filter((l) => l.includes('"msg":"ready"') && l.includes(`"instance":"${instance}"`));

  before(async () => {
    dbName = await createDatabase();
    svc = await spawnService({
      DATABASE_URL: dbUrl(dbName),
      REDIS_URL: TEST_REDIS_URL,
      REDIS_KEY_PREFIX: `sra-test-${name}:`,
      WORKERS: '1',
      GATEWAY_WORKERS: '1',
      INSTANCE_NAME: name,
      SERVER_NAME: 'test',
      REGISTRATION_SHARED_SECRET: SHARED_SECRET,
    });
  });
  after(async () => {
    if (svc && svc.child.exitCode === null) svc.child.kill('SIGKILL');
    if (dbName) await dropDatabase(dbName);
  });

  it('serves REST from the gateway process, which calls the worker over gRPC', async () => {
    // The worker serves gRPC only, the gateway process HTTP only.
    assert.match(readyOf(`${name}-1`)[0], /"httpPort":null/);
    assert.match(readyOf(`${name}-gateway-1`)[0], /"grpcPort":0/);
    const nonce = ((await (await fetch(`${base()}/_synapse/admin/v1/register`)).json()) as { nonce: string }).nonce;
    const mac = createHmac('sha1', SHARED_SECRET).update(`${nonce}\0alice\0pass\0notadmin`).digest('hex');
    const reg = await fetch(`${base()}/_synapse/admin/v1/register`, {
      method: 'POST',
      body: JSON.stringify({ nonce, username: 'alice', password: 'pass', mac }),
    });
    assert.equal(reg.status, 200);
    const token = ((await reg.json()) as { access_token: string }).access_token;
    const auth = { authorization: `Bearer ${token}` };
    const created = await fetch(`${base()}/_matrix/client/v3/createRoom`, {
      method: 'POST',
      headers: auth,
      body: JSON.stringify({ preset: 'public_chat' }),
    });
    assert.equal(created.status, 200);
    const roomId = ((await created.json()) as { room_id: string }).room_id;
    const sent = await fetch(`${base()}/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/send/m.room.message/t1`, {
      method: 'PUT',
      headers: auth,
      body: JSON.stringify({ msgtype: 'm.text', body: 'hi' }),
    });
    assert.equal(sent.status, 200);
    const eventId = ((await sent.json()) as { event_id: string }).event_id;
    // The worker's own gRPC port answers for the same event.
    const clients = createClients(`127.0.0.1:${svc.grpcPort}`);
    try {
      const got = await grpcCall(clients.rooms, clients.rooms.getEvent, { roomId, eventId }, bearer(token));
      assert.equal(got.event?.eventId, eventId);
    } finally {
      clients.close();
    }
  });

  it('replaces a gateway process that was killed', async () => {
    // The gateway process is the primary's node child that serves no gRPC port.
    const children = execFileSync('pgrep', ['-P', String(svc.child.pid)])
      .toString()
      .trim()
      .split('\n')
      .map(Number)
      .filter((pid) => !readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('esbuild'));
    assert.equal(children.length, 2, 'a worker and a gateway process');
    const gateway = children.find((pid) => readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0').includes('GRPC_ENABLED=false'));
    assert.ok(gateway);
    process.kill(gateway, 'SIGKILL');
    await waitFor(
      () => Promise.resolve(readyOf(`${name}-gateway-1`).length),
      (n) => n === 2,
    );
    assert.equal(await fetch(`${base()}/health`).then((r) => r.status), 200);
  });

  it('stops every process on SIGTERM and exits 0', async () => {
    svc.child.kill('SIGTERM');
    assert.equal(await svc.exited, 0);
  });
});
