/** `npm run migrate`: applies pending migrations to DATABASE_URL (or the embedded PostgreSQL). */
import { loadConfig } from '../config';
import { createLogger } from '../logger';
import { startEmbeddedPostgres } from './embedded-postgres';
import { createOrm, migrate } from './orm';

async function main() {
  const config = loadConfig();
  const log = createLogger(config.logLevel);
  const embedded = config.databaseUrl ? null : await startEmbeddedPostgres(config.dataDir, log);
  const orm = await createOrm({ clientUrl: config.databaseUrl ?? embedded!.url, poolSize: 2 });
  const applied = await migrate(orm);
  log.info({ applied }, applied.length ? 'migrations applied' : 'schema is up to date');
  await orm.close(true);
  await embedded?.stop();
}

main().catch((err) => {
  process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
