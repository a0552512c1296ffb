import { strict as assert } from 'node:assert';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnService, type ServiceProcess } from '../support/process';
import { createDatabase, dbUrl, dropDatabase } from '../support/stack';

describe('start-up and shutdown of the real entry point', () => {
  it('starts on an embedded PostgreSQL when DATABASE_URL is unset, then stops cleanly on SIGTERM', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'sra-embedded-'));
    try {
      const svc = await spawnService({ DATA_DIR: dataDir });
      assert.ok(svc.output.some((l) => l.includes('embedded PostgreSQL started')));
      assert.ok(
        svc.output.some((l) => l.includes('single-instance mode')),
        'no REDIS_URL must be announced',
      );
      assert.ok(
        svc.output.some((l) => l.includes('REGISTRATION_SHARED_SECRET was not set')),
        'a generated secret is printed once',
      );
      const health = await fetch(`http://127.0.0.1:${svc.httpPort}/health`);
      assert.equal(health.status, 200);
      assert.equal(await health.text(), 'OK');
      svc.child.kill('SIGTERM');
      assert.equal(await svc.exited, 0);
      assert.ok(svc.output.some((l) => l.includes('"msg":"stopped"')));
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });

  it('destroys a connection still busy at SHUTDOWN_TIMEOUT and exits', async () => {
    const db = await createDatabase();
    let svc: ServiceProcess | null = null;
    try {
      svc = await spawnService({ DATABASE_URL: dbUrl(db), SHUTDOWN_TIMEOUT: '1s' });
      // A request whose body never finishes arriving: in flight until the timeout destroys it.
      const socket = net.connect(svc.httpPort, '127.0.0.1');
      await new Promise((ok) => socket.once('connect', ok));
      socket.write(
        'PUT /_matrix/client/v3/rooms/!r:test/send/m.room.message/t1 HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"msgtype"',
      );
      const closed = new Promise((ok) => socket.once('close', ok));
      socket.on('error', () => undefined);
      await new Promise((r) => setTimeout(r, 200));
      svc.child.kill('SIGTERM');
      // Before, the stop waited for this request (up to Node's 300 s request timeout): the test's
      // own timeout (60 s, far above the 1 s expected) is the bound.
      assert.equal(await svc.exited, 0);
      await closed;
      assert.ok(svc.output.some((l) => l.includes('"msg":"stopped"')));
    } finally {
      if (svc && svc.child.exitCode === null && svc.child.signalCode === null) svc.child.kill('SIGKILL');
      await dropDatabase(db);
    }
  });

  it('refuses to start on a bad setting, naming the variable', async () => {
    await assert.rejects(spawnService({ HTTP_PORT: 'abc' }, 30_000), /HTTP_PORT must be an integer/);
  });

  it('keeps the generated shared secret across restarts and never logs it', async () => {
    const db = await createDatabase();
    try {
      const first = await spawnService({ DATABASE_URL: dbUrl(db) });
      const line = first.output.findIndex((l) => l.includes('REGISTRATION_SHARED_SECRET was not set'));
      const secret = first.output[line + 1].trim();
      first.child.kill('SIGTERM');
      await first.exited;
      const second = await spawnService({ DATABASE_URL: dbUrl(db) });
      assert.ok(!second.output.some((l) => l.includes('REGISTRATION_SHARED_SECRET was not set')), 'generated only once');
      assert.ok(
        !second.output.some((l) => l.includes(secret)) && !first.output.filter((l) => l.startsWith('{')).some((l) => l.includes(secret)),
        'secret absent from structured logs',
      );
      second.child.kill('SIGTERM');
      assert.equal(await second.exited, 0);
    } finally {
      await dropDatabase(db);
    }
  });
});
