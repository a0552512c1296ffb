/**
 * MikroORM bootstrap. The schema is owned by hand-written migrations (src/infra/migrations):
 * no runtime schema sync. Callers get an EntityManager fork per unit of work.
 */
import { MikroORM, defineConfig, type EntityManager } from '@mikro-orm/postgresql';
import { Migrator } from '@mikro-orm/migrations';
import { ENTITIES } from './entities';
import { MIGRATIONS } from './migrations';

export type Orm = MikroORM;
export type Em = EntityManager;

export interface OrmOptions {
  clientUrl: string;
  poolSize: number;
  /** Application name shown in pg_stat_activity. */
  applicationName?: string;
}

export function ormConfig(opts: OrmOptions) {
  return defineConfig({
    clientUrl: opts.clientUrl,
    entities: ENTITIES,
    extensions: [Migrator],
    allowGlobalContext: false,
    debug: false,
    // The migrator reports through the service's own log (see migrate()).
    logger: () => undefined,
    pool: { min: 0, max: opts.poolSize },
    driverOptions: { connection: { application_name: opts.applicationName ?? 'synapse-room-admin' } },
    discovery: { warnWhenNoEntities: false },
    migrations: { migrationsList: MIGRATIONS, transactional: true, allOrNothing: true, tableName: 'mikro_orm_migrations' },
  });
}

export async function createOrm(opts: OrmOptions): Promise<Orm> {
  return MikroORM.init(ormConfig(opts));
}

/** Applies every pending migration; returns the names applied. */
export async function migrate(orm: Orm): Promise<string[]> {
  const applied = await orm.getMigrator().up();
  return applied.map((m) => m.name);
}
