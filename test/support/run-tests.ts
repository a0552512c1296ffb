/**
 * `npm test`: runs mocha against a PostgreSQL and a Redis, providing whichever does not answer.
 *
 * - PostgreSQL: `TEST_DATABASE_URL` (default postgres://postgres@127.0.0.1:5432/postgres). When
 *   nothing answers there, an embedded PostgreSQL (the one `npm start` uses) is started in a
 *   temporary folder for the run.
 * - Redis: `TEST_REDIS_URL` (default redis://127.0.0.1:6379). When nothing answers there, a
 *   private `redis-server` from PATH is started on a free port, keeping nothing on disk.
 *
 * Both are stopped afterwards, and the exit code is mocha's. Arguments are passed to mocha
 * (`npm test -- test/unit/config.test.ts`); with none, every test file under test/.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client as PgClient } from 'pg';
import { startEmbeddedPostgres, type EmbeddedPostgresHandle } from '../../src/infra/embedded-postgres';
import { createLogger } from '../../src/logger';
import { startRedisServer } from './redis-server';

const DEFAULT_PG = 'postgres://postgres@127.0.0.1:5432/postgres';
const DEFAULT_REDIS = 'redis://127.0.0.1:6379';
const PROBE_TIMEOUT_MS = 2_000;

async function pgAnswers(url: string): Promise<boolean> {
  const c = new PgClient({ connectionString: url, connectionTimeoutMillis: PROBE_TIMEOUT_MS });
  try {
    await c.connect();
    await c.query('SELECT 1');
    return true;
  } catch {
    return false;
  } finally {
    await c.end().catch(() => undefined);
  }
}

/** Sends PING over a raw socket: true when the server answers `+PONG` (or asks for auth). */
function redisAnswers(url: string): Promise<boolean> {
  const u = new URL(url);
  return new Promise((ok) => {
    const s = new Socket();
    const done = (v: boolean) => {
      s.destroy();
      ok(v);
    };
    s.setTimeout(PROBE_TIMEOUT_MS, () => done(false));
    s.once('error', () => done(false));
    s.once('data', (b) => done(/^(\+PONG|-NOAUTH)/.test(b.toString())));
    s.connect(Number(u.port || 6379), u.hostname || '127.0.0.1', () => s.write('PING\r\n'));
  });
}


async function main(): Promise<number> {
  const env: Record<string, string> = {};
  const cleanups: (() => Promise<void> | void)[] = [];
  const say = (m: string) => process.stderr.write(`[test] ${m}\n`);
  try {
    const pgUrl = process.env.TEST_DATABASE_URL ?? DEFAULT_PG;
    if (!(await pgAnswers(pgUrl))) {
      const dir = mkdtempSync(join(tmpdir(), 'sra-test-pg-'));
      say(`no PostgreSQL at ${new URL(pgUrl).host}: starting an embedded one in ${dir}`);
      const pg: EmbeddedPostgresHandle = await startEmbeddedPostgres(dir, createLogger('silent'));
      cleanups.push(async () => {
        await pg.stop();
        rmSync(dir, { recursive: true, force: true });
      });
      const admin = new URL(pg.url);
      admin.pathname = '/postgres';
      env.TEST_DATABASE_URL = admin.toString();
    }
    const redisUrl = process.env.TEST_REDIS_URL ?? DEFAULT_REDIS;
    if (!(await redisAnswers(redisUrl))) {
      const redis = await startRedisServer().catch((err: Error) => {
        throw new Error(`no Redis answers at ${new URL(redisUrl).host} and ${err.message}; install Redis or set TEST_REDIS_URL`);
      });
      say(`no Redis at ${new URL(redisUrl).host}: started redis-server on ${new URL(redis.url).host}`);
      cleanups.push(() => redis.kill());
      env.TEST_REDIS_URL = redis.url;
    }
    const mocha = require.resolve('mocha/bin/mocha.js');
    const child = spawn(process.execPath, [mocha, ...(process.argv.length > 2 ? process.argv.slice(2) : ['test/**/*.test.ts'])], { stdio: 'inherit', env: { ...process.env, ...env } });
    const forward = (sig: NodeJS.Signals) => child.kill(sig);
    process.on('SIGINT', forward).on('SIGTERM', forward);
    return await new Promise<number>((ok) => child.once('exit', (code, sig) => ok(code ?? (sig ? 1 : 0))));
  } finally {
    for (const c of cleanups.reverse()) await Promise.resolve(c()).catch((err) => say(`cleanup failed: ${String(err)}`));
  }
}

main().then(
  (code) => process.exit(code),
  (err) => {
    process.stderr.write(`[test] ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  },
);
