/**
 * The SQL door (src/infra/sql.ts) on a real PostgreSQL: statements join the EntityManager's open
 * transaction (seeing its uncommitted rows and rolled back with it), autocommit outside one, give
 * the same rows plain or prepared, and carry parameters as bind values only. An independent
 * connection is the witness of what is committed.
 */
import { strict as assert } from 'node:assert';
import { UniqueConstraintViolationException } from '@mikro-orm/core';
import { Client as PgClient } from 'pg';
import { createOrm, migrate, type Em, type Orm } from '../../src/infra/orm';
import { sql, sqlCount, sqlPlannedPerCall, sqlPrepared } from '../../src/infra/sql';
import { UserRepository } from '../../src/users/user.repository';
import { createDatabase, dbUrl, dropDatabase } from '../support/stack';

/** Values PostgreSQL would misread if they were spliced into the statement text. */
const HOSTILE = ["it's", "x'); DROP TABLE door_probe; --", 'what?', '$1', 'back\\slash', '?::text', 'ünï©ødé'];

class Rollback extends Error {}

describe('SQL door', () => {
  let orm: Orm;
  let dbName: string;
  let witness: PgClient;

  before(async () => {
    dbName = await createDatabase();
    // Two connections: enough to tell a transaction's connection from the pool's.
    orm = await createOrm({ clientUrl: dbUrl(dbName), poolSize: 2 });
    await migrate(orm);
    await sql(orm.em.fork(), 'CREATE TABLE door_probe (id text PRIMARY KEY, n bigint, flag boolean, body jsonb, raw bytea)');
    witness = new PgClient({ connectionString: dbUrl(dbName) });
    await witness.connect();
  });
  after(async () => {
    await witness?.end();
    await orm?.close(true);
    if (dbName) await dropDatabase(dbName);
  });
  beforeEach(async () => {
    await sql(orm.em.fork(), 'DELETE FROM door_probe');
  });

  const em = (): Em => orm.em.fork();
  const committed = async (id: string) => (await witness.query('SELECT 1 FROM door_probe WHERE id = $1', [id])).rowCount;

  describe('inside a transaction', () => {
    it('plain and prepared statements see the uncommitted rows and are rolled back with the transaction', async () => {
      const seen: unknown[] = [];
      await assert.rejects(
        em().transactional(async (tx) => {
          await sql(tx, 'INSERT INTO door_probe (id, n) VALUES (?, ?)', ['plain', 1]);
          await sqlPrepared(tx, 'INSERT INTO door_probe (id, n) VALUES (?, ?)', ['prepared', 2]);
          assert.equal(await sqlCount(tx, 'UPDATE door_probe SET n = n + 10 WHERE id IN (?)', [['plain', 'prepared']]), 2);
          seen.push(await sql(tx, 'SELECT id, n FROM door_probe ORDER BY id'));
          seen.push(await sqlPrepared(tx, 'SELECT id, n FROM door_probe ORDER BY id', []));
          // Not committed yet: the witness sees nothing.
          seen.push(await committed('plain'), await committed('prepared'));
          throw new Rollback();
        }),
        Rollback,
      );
      const rows = [
        { id: 'plain', n: '11' },
        { id: 'prepared', n: '12' },
      ];
      assert.deepEqual(seen, [rows, rows, 0, 0]);
      assert.equal(await committed('plain'), 0);
      assert.equal(await committed('prepared'), 0);
      assert.deepEqual(await sql(em(), 'SELECT id FROM door_probe'), []);
    });

    it('sees rows the ORM wrote in the same transaction and commits with it', async () => {
      await em().transactional(async (tx) => {
        await tx.getConnection().execute("INSERT INTO door_probe (id, n) VALUES ('orm', 5)", [], 'run', tx.getTransactionContext());
        assert.deepEqual(await sql(tx, 'SELECT n FROM door_probe WHERE id = ?', ['orm']), [{ n: '5' }]);
        assert.deepEqual(await sqlPrepared(tx, 'SELECT n FROM door_probe WHERE id = $1', ['orm']), [{ n: '5' }]);
        assert.equal(await committed('orm'), 0);
      });
      assert.equal(await committed('orm'), 1);
    });

    it('a repository read joins the transaction (a user erased in it reads as erased, and no longer after rollback)', async () => {
      const users = new UserRepository();
      const userId = '@door:test';
      await assert.rejects(
        em().transactional(async (tx) => {
          await sql(tx, 'INSERT INTO users (name, creation_ts) VALUES (?, ?)', [userId, 0]);
          await sql(tx, 'INSERT INTO erased_users (user_id) VALUES (?)', [userId]);
          assert.equal(await users.isErased(tx, userId), true);
          throw new Rollback();
        }),
        Rollback,
      );
      assert.equal(await users.isErased(em(), userId), false);
    });

    it('runs on the transaction connection while the pool is exhausted by other transactions', async () => {
      // Both pooled connections are held: one by this transaction, one by another.
      let release!: () => void;
      const held = new Promise<void>((r) => (release = r));
      let entered!: () => void;
      const isHeld = new Promise<void>((r) => (entered = r));
      const other = em().transactional(async (tx) => {
        await sql(tx, 'SELECT 1');
        entered();
        await held;
      });
      await isHeld;
      const pids = await em().transactional(async (tx) => {
        const a = await sql<{ pid: number }>(tx, 'SELECT pg_backend_pid() AS pid');
        const b = await sqlPrepared<{ pid: number }>(tx, 'SELECT pg_backend_pid() AS pid', []);
        return [a[0].pid, b[0].pid];
      });
      release();
      await other;
      assert.equal(pids[0], pids[1]);
    });
  });

  describe('outside a transaction', () => {
    it('each statement autocommits', async () => {
      await sql(em(), 'INSERT INTO door_probe (id) VALUES (?)', ['auto-plain']);
      assert.equal(await committed('auto-plain'), 1);
      await sqlPrepared(em(), 'INSERT INTO door_probe (id) VALUES (?)', ['auto-prepared']);
      assert.equal(await committed('auto-prepared'), 1);
      assert.equal(await sqlCount(em(), 'DELETE FROM door_probe WHERE id LIKE ?', ['auto-%']), 2);
      assert.equal(await committed('auto-plain'), 0);
    });

    it('gives the connection back after an error, converted as MikroORM converts it', async () => {
      await sql(em(), 'INSERT INTO door_probe (id) VALUES (?)', ['dup']);
      // More failures than the pool has connections: a connection kept by a failure would block the last read.
      for (let i = 0; i < 4; i++) {
        const run =
          i % 2
            ? sql(em(), 'INSERT INTO door_probe (id) VALUES (?)', ['dup'])
            : sqlPrepared(em(), 'INSERT INTO door_probe (id) VALUES (?)', ['dup']);
        await assert.rejects(
          run,
          (err: unknown) => err instanceof UniqueConstraintViolationException && (err as { code?: string }).code === '23505',
        );
      }
      assert.deepEqual(await sql(em(), 'SELECT id FROM door_probe'), [{ id: 'dup' }]);
    });
  });

  describe('plain and prepared', () => {
    it('give the same rows for the same statement and parameters', async () => {
      const raw = Buffer.from([0, 255, 39, 63]);
      await sql(em(), 'INSERT INTO door_probe (id, n, flag, body, raw) VALUES (?, ?, ?, ?::jsonb, ?)', [
        'a',
        1,
        true,
        '{"k": [1, "?"]}',
        raw,
      ]);
      await sqlPrepared(em(), 'INSERT INTO door_probe (id, n, flag, body, raw) VALUES (?, ?, ?, ?::jsonb, ?)', ['b', 2, false, null, null]);
      await sql(em(), 'INSERT INTO door_probe (id, n) VALUES (?, ?), (?, ?)', ['c', 3, 'd', 4]);
      const statements: [string, unknown[]][] = [
        [
          'SELECT id, n, flag, body, raw FROM door_probe WHERE id = ANY(ARRAY[?]::text[]) AND n >= ? ORDER BY id',
          [['a', 'b', 'd', 'zz'], 1],
        ],
        ['SELECT id, n, flag FROM door_probe WHERE flag = ? OR n > ? ORDER BY n DESC LIMIT ?', [true, 3, 10]],
        ['SELECT id FROM door_probe WHERE raw = ?', [raw]],
        ['SELECT count(*) AS c, min(id) AS first FROM door_probe WHERE body @> ?::jsonb', ['{"k": ["?"]}']],
      ];
      for (const [text, params] of statements) {
        const plain = await sql(em(), text, params);
        const prepared = await sqlPrepared(em(), text, params);
        assert.ok(plain.length > 0, text);
        assert.deepEqual(prepared, plain, text);
      }
      const [a] = await sql<{ body: unknown; raw: Buffer }>(em(), 'SELECT body, raw FROM door_probe WHERE id = ?', ['a']);
      assert.deepEqual(a.body, { k: [1, '?'] });
      assert.deepEqual(a.raw, raw);
    });

    it('prepares named statements, planned generically, and plans plain statements for their values', async () => {
      const mode = "SELECT current_setting('plan_cache_mode') AS mode";
      const probe = 'SELECT id FROM door_probe WHERE id = ?';
      // Outside a transaction, on the pool's connections: each is switched when its kind of statement changes.
      const session: string[] = [];
      for (let i = 0; i < 3; i++) {
        await sqlPrepared(em(), probe, ['x']);
        session.push((await sqlPrepared<{ mode: string }>(em(), `${mode} WHERE ? = ?`, [1, 1]))[0].mode);
        await sql(em(), probe, ['x']);
        session.push((await sql<{ mode: string }>(em(), `${mode} WHERE ? = ?`, [1, 1]))[0].mode);
      }
      assert.deepEqual(session, ['force_generic_plan', 'auto', 'force_generic_plan', 'auto', 'force_generic_plan', 'auto']);
      // Inside a transaction the same, and the statement is a named one of this module.
      const rows = await em().transactional(async (tx) => {
        await sqlPrepared(tx, probe, ['x']);
        const named = await sqlPrepared<{ name: string; mode: string }>(
          tx,
          `SELECT name, current_setting('plan_cache_mode') AS mode FROM pg_prepared_statements WHERE statement = ?`,
          ['SELECT id FROM door_probe WHERE id = $1'],
        );
        const plain = await sql<{ mode: string }>(tx, `${mode} WHERE ? = ?`, [1, 1]);
        return { named, plain };
      });
      assert.equal(rows.named.length, 1);
      assert.match(rows.named[0].name, /^rooms_[0-9a-f]{20}$/);
      assert.equal(rows.named[0].mode, 'force_generic_plan');
      assert.equal(rows.plain[0].mode, 'auto');
    });

    it('keeps a setting made in a rolled-back transaction or savepoint from misleading later statements', async () => {
      const mode = "SELECT current_setting('plan_cache_mode') AS mode WHERE ? = ?";
      const seen: string[] = [];
      await assert.rejects(
        em().transactional(async (tx) => {
          seen.push((await sqlPrepared<{ mode: string }>(tx, mode, [1, 1]))[0].mode);
          throw new Rollback();
        }),
        Rollback,
      );
      await em().transactional(async (tx) => {
        seen.push((await sqlPrepared<{ mode: string }>(tx, mode, [1, 1]))[0].mode);
        await assert.rejects(
          tx.transactional(async (inner) => {
            seen.push((await sql<{ mode: string }>(inner, mode, [1, 1]))[0].mode);
            throw new Rollback();
          }),
          Rollback,
        );
        seen.push((await sqlPrepared<{ mode: string }>(tx, mode, [1, 1]))[0].mode);
        await tx.transactional(async (inner) => {
          seen.push((await sql<{ mode: string }>(inner, mode, [1, 1]))[0].mode);
        });
        seen.push((await sqlPrepared<{ mode: string }>(tx, mode, [1, 1]))[0].mode);
        seen.push((await sql<{ mode: string }>(tx, mode, [1, 1]))[0].mode);
      });
      assert.deepEqual(seen, [
        'force_generic_plan',
        'force_generic_plan',
        'auto',
        'force_generic_plan',
        'auto',
        'force_generic_plan',
        'auto',
      ]);
    });

    it('refuses to run on a transaction that has ended (its connection is back in the pool)', async () => {
      let kept!: Em;
      await em().transactional(async (tx) => {
        kept = tx;
        await sql(tx, 'SELECT 1');
      });
      await assert.rejects(sql(kept, 'INSERT INTO door_probe (id) VALUES (?)', ['late']), /transaction .* has already ended/);
      await assert.rejects(sqlPrepared(kept, 'INSERT INTO door_probe (id) VALUES (?)', ['late']), /transaction .* has already ended/);
      assert.equal(await committed('late'), 0);
    });
  });

  describe('parameters', () => {
    it('are never interpolated: PostgreSQL receives placeholders, and every value round-trips verbatim', async () => {
      for (const v of HOSTILE) {
        for (const run of [sql, sqlPrepared] as const) {
          const [row] = await run<{ q: string; v: string; eq: boolean }>(em(), 'SELECT current_query() AS q, ?::text AS v, ? = ? AS eq', [
            v,
            v,
            v,
          ]);
          assert.equal(row.v, v);
          assert.equal(row.eq, true);
          assert.equal(row.q, 'SELECT current_query() AS q, $1::text AS v, $2 = $3 AS eq', `${run.name} sent ${row.q}`);
        }
      }
      for (const v of HOSTILE) await sql(em(), 'INSERT INTO door_probe (id) VALUES (?)', [v]);
      const stored = await sql<{ id: string }>(em(), 'SELECT id FROM door_probe WHERE id IN (?) ORDER BY id', [HOSTILE]);
      assert.deepEqual(
        stored.map((r) => r.id),
        (await witness.query<{ id: string }>('SELECT id FROM door_probe ORDER BY id')).rows.map((r) => r.id),
      );
      assert.equal(stored.length, HOSTILE.length);
    });

    it('an array is a list in a plain statement and one array value in a prepared one', async () => {
      const [plain] = await sql<{ q: string; n: number }>(em(), 'SELECT current_query() AS q, cardinality(ARRAY[?]::text[]) AS n', [
        ['a', 'b', 'c'],
      ]);
      assert.deepEqual(plain, { q: 'SELECT current_query() AS q, cardinality(ARRAY[$1, $2, $3]::text[]) AS n', n: 3 });
      const [prepared] = await sqlPrepared<{ q: string; n: number }>(
        em(),
        'SELECT current_query() AS q, cardinality(ARRAY[?]::text[]) AS n',
        [['a', 'b', 'c']],
      );
      assert.deepEqual(prepared, { q: 'SELECT current_query() AS q, cardinality($1::text[]) AS n', n: 3 });
    });

    it('a statement planned per call binds like a prepared one, unnamed, under the default plan mode', async () => {
      const text = "SELECT current_query() AS q, cardinality(?::text[]) AS n, current_setting('plan_cache_mode') AS mode";
      const prepared = 'SELECT count(*)::int AS n FROM pg_prepared_statements';
      // One transaction, one connection: its prepared statements before and after are comparable.
      const seen = await em().transactional(async (tx) => {
        await sqlPrepared(tx, 'SELECT id FROM door_probe WHERE id = ?', ['x']);
        const [before] = await sql<{ n: number }>(tx, prepared);
        const [row] = await sqlPlannedPerCall<{ q: string; n: number; mode: string }>(tx, text, [['a', 'b', 'c']]);
        const [after] = await sql<{ n: number }>(tx, prepared);
        await sql(tx, 'INSERT INTO door_probe (id, n) VALUES (?, ?)', ['per-call', 9]);
        const own = await sqlPlannedPerCall<{ n: number }>(tx, 'SELECT n::int AS n FROM door_probe WHERE id = ANY(?::text[])', [
          ['per-call'],
        ]);
        return { row, before: before.n, after: after.n, own };
      });
      assert.deepEqual(seen.row, {
        q: "SELECT current_query() AS q, cardinality($1::text[]) AS n, current_setting('plan_cache_mode') AS mode",
        n: 3,
        mode: 'auto',
      });
      assert.ok(seen.before > 0);
      assert.equal(seen.after, seen.before);
      assert.deepEqual(seen.own, [{ n: 9 }]);
    });
  });
});
