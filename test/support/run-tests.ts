/**
 * `npm test`: runs mocha against a PostgreSQL and a Redis, providing whichever does not answer.
 *
 * - PostgreSQL: `TEST_DATABASE_URL` (default postgres://postgres@127.0.0.1:5432/postgres). When
 *   nothing answers there, an embedded PostgreSQL (the one `npm start` uses) is started in a
 *   temporary folder for the run.
 * - Redis: `TEST_REDIS_URL` (default redis://127.0.0.1:6379). When nothing answers there, a
 *   private `redis-server` from PATH is started on a free port, keeping nothing on disk.
 *
 * Both are stopped afterwards. Arguments are passed to one mocha process (`npm test --
 * test/unit/config.test.ts`). With none, every test file under test/ runs, in two mocha processes
 * side by side: the process-level files (PROCESS_LEVEL: they start service processes, kill them and
 * wait for leases, so they mostly wait) beside all the others, which print live; the
 * process-level output follows when both are done. TEST_JOBS=1 runs everything in one process.
 * The exit code is non-zero when either run failed (or leaked, see leak-check.ts), and the last
 * line sums both runs up: `tests: N passed, N failed, N skipped`.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
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

/**
 * Files whose tests run the service (or scheduler instances) as child processes, kill or stop them
 * and wait for leases and restarts: mostly idle time, so they run beside the other files.
 */
const PROCESS_LEVEL = [
  'test/e2e/cli.test.ts',
  'test/integration/fault-logs.test.ts',
  'test/integration/locks-redis.test.ts',
  'test/integration/purge-room-kill.test.ts',
  'test/integration/scheduler-multi.test.ts',
  'test/integration/shutdown-load.test.ts',
  'test/integration/startup.test.ts',
  'test/integration/task-outage.test.ts',
  'test/integration/user-redaction-kill.test.ts',
  'test/integration/workers-metrics.test.ts',
  'test/integration/workers.test.ts',
];

function allTestFiles(): string[] {
  return (readdirSync('test', { recursive: true }) as string[])
    .filter((f) => f.endsWith('.test.ts'))
    .map((f) => join('test', f))
    .sort();
}

/** How long a finished mocha's last output may take to arrive. */
const OUTPUT_DRAIN_MS = 2_000;

interface MochaRun {
  code: number;
  output: string;
}

/** Runs mocha over `args`; its output goes to stdout live (`live`) or is kept for later. */
function runMocha(args: string[], env: NodeJS.ProcessEnv, live: boolean, children: Set<ReturnType<typeof spawn>>): Promise<MochaRun> {
  const mocha = require.resolve('mocha/bin/mocha.js');
  const child = spawn(process.execPath, [mocha, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env });
  children.add(child);
  let output = '';
  const take = (stream: NodeJS.WriteStream) => (b: Buffer) => {
    output += b.toString();
    if (live) stream.write(b);
  };
  child.stdout!.on('data', take(process.stdout));
  child.stderr!.on('data', take(process.stderr));
  return new Promise((ok) =>
    child.once('exit', (code, sig) => {
      children.delete(child);
      const done = () => {
        clearTimeout(timer);
        ok({ code: code ?? (sig ? 1 : 0), output });
      };
      // The rest of its output, unless a process it left behind holds the pipes open.
      const timer = setTimeout(() => {
        child.stdout!.destroy();
        child.stderr!.destroy();
        done();
      }, OUTPUT_DRAIN_MS);
      child.once('close', done);
    }),
  );
}

/** mocha's closing counts (spec reporter), summed over runs. */
function counts(runs: MochaRun[]): { passed: number; failed: number; skipped: number } {
  const n = (out: string, word: string) => Number(new RegExp(`^\\s*(\\d+) ${word}`, 'm').exec(out)?.[1] ?? 0);
  return runs.reduce(
    (t, r) => ({
      passed: t.passed + n(r.output, 'passing'),
      failed: t.failed + n(r.output, 'failing'),
      skipped: t.skipped + n(r.output, 'pending'),
    }),
    { passed: 0, failed: 0, skipped: 0 },
  );
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
    const children = new Set<ReturnType<typeof spawn>>();
    const forward = (sig: NodeJS.Signals) => children.forEach((c) => c.kill(sig));
    process.on('SIGINT', forward).on('SIGTERM', forward);
    const childEnv = { ...process.env, ...env };
    let runs: MochaRun[];
    if (process.argv.length > 2 || process.env.TEST_JOBS === '1') {
      runs = [await runMocha(process.argv.length > 2 ? process.argv.slice(2) : ['test/**/*.test.ts'], childEnv, true, children)];
    } else {
      const files = allTestFiles();
      const processLevel = files.filter((f) => PROCESS_LEVEL.includes(f));
      const rest = files.filter((f) => !PROCESS_LEVEL.includes(f));
      say(`running ${rest.length} files here and, beside them, ${processLevel.length} process-level files (their output follows)`);
      const background = runMocha(processLevel, childEnv, false, children);
      const foreground = await runMocha(rest, childEnv, true, children);
      const bg = await background;
      process.stdout.write(`\n[test] process-level files (${processLevel.length}):\n${bg.output}`);
      runs = [foreground, bg];
    }
    const c = counts(runs);
    process.stdout.write(`\ntests: ${c.passed} passed, ${c.failed} failed, ${c.skipped} skipped\n`);
    return runs.find((r) => r.code !== 0)?.code ?? 0;
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
