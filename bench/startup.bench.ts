/**
 * Time from launching the real entry point (as `npm start` does, embedded PostgreSQL, no
 * DATABASE_URL) to the first `GET /health` answering 200, for a first start (initdb + migrations)
 * and a restart on the same data folder. Baseline in the same run: starting the embedded
 * PostgreSQL alone on the same data folder. Target: ≤ 15 s.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startEmbeddedPostgres } from '../src/infra/embedded-postgres';
import { createLogger } from '../src/logger';
import { fmt, table } from './support';

const ROOT = join(__dirname, '..');
const HTTP_PORT = 18_555;

async function timeToHealth(dataDir: string): Promise<number> {
  const t0 = performance.now();
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
    cwd: ROOT,
    env: {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? '/root',
      DATA_DIR: dataDir,
      HTTP_PORT: String(HTTP_PORT),
      GRPC_PORT: '0',
      LOG_LEVEL: 'warn',
    },
    stdio: 'ignore',
  });
  try {
    for (;;) {
      const ok = await fetch(`http://127.0.0.1:${HTTP_PORT}/health`).then(
        (r) => r.status === 200,
        () => false,
      );
      if (ok) return performance.now() - t0;
      if (child.exitCode !== null) throw new Error(`service exited with ${child.exitCode}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  } finally {
    child.kill('SIGTERM');
    await new Promise((r) => child.once('exit', r));
  }
}

export async function run(): Promise<void> {
  const dataDir = mkdtempSync(join(tmpdir(), 'sra-startup-'));
  try {
    const cold = await timeToHealth(dataDir);
    const warm = await timeToHealth(dataDir);
    const t0 = performance.now();
    const pg = await startEmbeddedPostgres(dataDir, createLogger('silent'));
    const pgOnly = performance.now() - t0;
    await pg.stop();
    table('npm start (embedded PostgreSQL) → GET /health 200', [
      { case: 'first start (initdb + migrations)', seconds: fmt(cold / 1000), target: '≤ 15' },
      { case: 'restart on the same data folder', seconds: fmt(warm / 1000), target: '≤ 15' },
      { case: 'baseline: embedded PostgreSQL alone (warm)', seconds: fmt(pgOnly / 1000), target: '-' },
    ]);
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
}
