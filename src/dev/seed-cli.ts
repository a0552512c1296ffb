/**
 * `npm run seed -- --rooms N --events M [--users U] [--members K] [--remote-ratio R] [--public P]
 * [--aliases A] [--spaces S] [--encrypted E] [--churn C] [--batch B] [--seed X] [--jitter J]`
 *
 * --events and --members are per-room means (varying by ± jitter, default 0.5; 0 = exact); the
 * ratios are fractions of rooms (public, aliased, spaces, encrypted), of members (remote) and of
 * timeline events (state churn).
 *
 * Generates a realistic data set (names, aliases, local and remote members, spaces, encrypted
 * rooms, state churn) into the configured database (DATABASE_URL, else the embedded PostgreSQL of
 * DATA_DIR; stop a server using the embedded one first) through the service code paths.
 */
import { ConfigError, loadConfig } from '../config';
import { createLogger } from '../logger';
import { createOrm, migrate } from '../infra/orm';
import { startEmbeddedPostgres } from '../infra/embedded-postgres';
import { createLockManager } from '../infra/locks/lock-manager';
import { UserService } from '../users/user.service';
import Redis from 'ioredis';
import { createRooms } from '../rooms/rooms';
import { DEFAULT_GENERATOR_OPTIONS } from './seed/generator';
import { seedDataset } from './seed/seed';

const FLAGS: Record<string, keyof typeof DEFAULT_GENERATOR_OPTIONS | 'users'> = {
  rooms: 'rooms',
  events: 'eventsPerRoom',
  users: 'users',
  members: 'membersPerRoom',
  'remote-ratio': 'remoteMemberRatio',
  public: 'publicRatio',
  aliases: 'aliasRatio',
  spaces: 'spaceRatio',
  encrypted: 'encryptedRatio',
  churn: 'stateChurn',
  batch: 'batchEvents',
  seed: 'seed',
  jitter: 'jitter',
};

function parseArgs(argv: string[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (let i = 0; i < argv.length; i += 2) {
    const flag = argv[i]?.replace(/^--/, '');
    const key = FLAGS[flag ?? ''];
    const value = Number(argv[i + 1]);
    if (!key || !Number.isFinite(value) || value < 0)
      throw new Error(
        `usage: npm run seed -- ${Object.keys(FLAGS)
          .map((f) => `[--${f} <number>]`)
          .join(' ')} (bad: ${argv[i]} ${argv[i + 1]})`,
      );
    out[key] = value;
  }
  return out;
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const config = loadConfig();
  const log = createLogger(config.logLevel === 'info' ? 'warn' : config.logLevel);
  const embedded = config.databaseUrl ? null : await startEmbeddedPostgres(config.dataDir, log);
  const orm = await createOrm({
    clientUrl: config.databaseUrl ?? embedded!.url,
    poolSize: config.dbPoolSize,
    applicationName: 'synapse-room-admin/seed',
  });
  const redis = config.redisUrls.map((u) => new Redis(u, { maxRetriesPerRequest: 1 }));
  const locks = createLockManager({ redis, keyPrefix: config.redisKeyPrefix, log });
  try {
    await migrate(orm);
    const { rooms } = createRooms({ config, locks, scheduler: null });
    const users = new UserService(config.serverName, null);
    const { users: userCount = 50, ...rest } = args;
    const report = await seedDataset(
      () => orm.em.fork(),
      rooms,
      users,
      { ...DEFAULT_GENERATOR_OPTIONS, ...rest, serverName: config.serverName, userCount },
      (p) => {
        process.stderr.write(`\r${p.rooms} rooms, ${p.events} events`);
      },
    );
    process.stdout.write(
      `\nseeded ${report.users} users, ${report.rooms} rooms, ${report.events} events in ${report.batches} batches, ${(report.ms / 1000).toFixed(1)} s (${Math.round((report.events / report.ms) * 1000)} events/s)\n`,
    );
  } finally {
    await locks.close();
    await Promise.all(redis.map((r) => r.quit().catch(() => r.disconnect())));
    await orm.close(true);
    await embedded?.stop();
  }
}

main().catch((err) => {
  process.stderr.write(`${err instanceof ConfigError ? err.message : err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
