/**
 * WORKERS=2: one scrape of /metrics describes every worker (the primary aggregates them), whether
 * it reaches a worker through the shared HTTP port or the primary on METRICS_PORT.
 */
import { strict as assert } from 'node:assert';
import http from 'node:http';
import { randomBytes } from 'node:crypto';
import { spawnService, type ServiceProcess } from '../support/process';
import { SHARED_SECRET, TEST_REDIS_URL, createDatabase, dbUrl, dropDatabase } from '../support/stack';
import { sample } from '../support/metrics';
import { waitFor } from '../support/until';

/** GET on a connection of its own, so node:cluster hands each request to the next worker. */
function getFresh(port: number, path: string): Promise<{ status: number; body: string }> {
  return new Promise((ok, ko) => {
    const req = http.get({ host: '127.0.0.1', port, path, agent: false, headers: { connection: 'close' } }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => ok({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', ko);
  });
}

const REQUESTS = 30;
const ROUTE = { route: '/_synapse/admin/v1/register', method: 'GET', status: '200' };

describe('WORKERS: /metrics aggregates every worker', function () {
  this.timeout(120_000);
  let dbName: string;
  const running: ServiceProcess[] = [];

  const spawn = async (extra: Record<string, string>) => {
    const name = `wm${randomBytes(3).toString('hex')}`;
    const svc = await spawnService({
      DATABASE_URL: dbUrl(dbName),
      REDIS_URL: TEST_REDIS_URL,
      REDIS_KEY_PREFIX: `sra-test-${name}:`,
      WORKERS: '2',
      INSTANCE_NAME: name,
      SERVER_NAME: 'test',
      REGISTRATION_SHARED_SECRET: SHARED_SECRET,
      ...extra,
    });
    running.push(svc);
    return svc;
  };

  before(async () => {
    dbName = await createDatabase();
  });
  afterEach(async () => {
    for (const svc of running.splice(0)) {
      svc.child.kill('SIGTERM');
      await svc.exited;
    }
  });
  after(async () => {
    if (dbName) await dropDatabase(dbName);
  });

  it('a scrape on the shared HTTP port counts the requests of both workers', async () => {
    const svc = await spawn({});
    // Both workers are ready, but a worker may still be opening its LISTEN connection (the gauge's
    // minimum over the workers is 0 until it is up).
    await waitFor(
      async () =>
        sample((await getFresh(svc.httpPort, '/metrics')).body, 'synapse_room_admin_pg_listener_up', { channel: 'scheduled_tasks' }),
      (up) => up === 1,
      { what: 'every worker listening' },
    );
    for (let i = 0; i < REQUESTS; i++) assert.equal((await getFresh(svc.httpPort, '/_synapse/admin/v1/register')).status, 200);
    for (let i = 0; i < 4; i++) {
      // Whichever worker takes the scrape, the answer is the sum over both.
      const res = await getFresh(svc.httpPort, '/metrics');
      assert.equal(res.status, 200);
      assert.equal(sample(res.body, 'synapse_room_admin_http_requests_total', ROUTE), REQUESTS);
      assert.equal(sample(res.body, 'synapse_room_admin_pg_listener_up', { channel: 'scheduled_tasks' }), 1);
    }
  });

  it('METRICS_PORT is served by the primary with the same aggregate', async () => {
    const svc = await spawn({ METRICS_PORT: '0', METRICS_HOST: '127.0.0.1' });
    const line = svc.output.map((l) => (l.startsWith('{') ? JSON.parse(l) : {})).find((r) => r.metricsPort);
    assert.ok(line, svc.output.join('\n'));
    for (let i = 0; i < REQUESTS; i++) assert.equal((await getFresh(svc.httpPort, '/_synapse/admin/v1/register')).status, 200);
    const res = await getFresh(line.metricsPort, '/metrics');
    assert.equal(res.status, 200);
    assert.equal(sample(res.body, 'synapse_room_admin_http_requests_total', ROUTE), REQUESTS);
    assert.equal((await getFresh(svc.httpPort, '/metrics')).status, 404);
  });
});
