/**
 * WORKERS=2: the entry point runs two worker processes on the same ports. Both serve, a worker
 * killed with SIGKILL is replaced, and SIGTERM stops everything with exit code 0.
 */
import { strict as assert } from 'node:assert';
import { Client as PgClient } from 'pg';
import { randomBytes } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { spawnService, type ServiceProcess } from '../support/process';
import { SHARED_SECRET, TEST_REDIS_URL, createDatabase, dbUrl, dropDatabase } from '../support/stack';
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
      DATABASE_URL: dbUrl(dbName), REDIS_URL: TEST_REDIS_URL, REDIS_KEY_PREFIX: `sra-test-${name}:`, WORKERS: '2', INSTANCE_NAME: name,
      SERVER_NAME: 'test', REGISTRATION_SHARED_SECRET: SHARED_SECRET,
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
  const health = () => fetch(`http://127.0.0.1:${svc.httpPort}/health`).then((r) => r.status, () => 0);

  it('runs two named workers that serve the shared ports', async () => {
    await waitFor(workerPids, (names) => names.length === 2);
    assert.deepEqual(await workerPids(), [`${name}-1`, `${name}-2`]);
    for (let i = 0; i < 20; i++) assert.equal(await health(), 200);
    const versions = await fetch(`http://127.0.0.1:${svc.httpPort}/_matrix/client/versions`).then((r) => r.json() as Promise<{ versions: string[] }>);
    assert.ok(versions.versions.length > 0);
  });

  it('replaces a worker that was killed', async () => {
    const readyLines = () => Promise.resolve(svc.output.filter((l) => l.includes('"msg":"ready"')).length);
    await waitFor(readyLines, (n) => n === 2);
    // The primary's node children (tsx also runs an esbuild service as a child).
    const children = execFileSync('pgrep', ['-P', String(svc.child.pid)]).toString().trim().split('\n').map(Number)
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
