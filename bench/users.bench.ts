/**
 * The admin users list at scale: a generated set of users (default 100,000, inserted in one
 * statement), then p50/p99 of several order_by / filter / search / page combinations through the
 * REST gateway and over gRPC, beside the same listing done by the service alone (its SQL, no
 * transport) and by the plain SQL of the listing (Synapse's page query over users + erased_users,
 * then its COUNT(*) of the filter, through a bare pg client), timed in turn request by request.
 * Target: p50 ≤ 10 ms through REST.
 *
 * Options: --users N --n R (requests per case)
 */
import http from 'node:http';
import { Client as PgClient } from 'pg';
import { Direction } from '../gen/synapse/admin/v1/common';
import { UserOrderBy } from '../gen/synapse/admin/v1/user_admin_reads';
import type { UserOrderBy as OrderBy } from '../src/users/user-list.repository';
import { UserListService, type ListUsersInput } from '../src/users/user-list.service';
import { bearer, grpcCall } from '../test/support/stack';
import {
  fmt,
  measureInterleaved,
  options,
  registerUser,
  settleHeap,
  startStack,
  table,
  type LatencyStats,
  type Stack,
  type TestUser,
} from './support';

interface ListCase {
  label: string;
  /** The REST query string (v2 unless `v3`). */
  query: Record<string, string>;
  v3?: boolean;
}

const ms = (s: LatencyStats) => `${fmt(s.p50)} / ${fmt(s.p99)}`;

/**
 * Users in one statement: one in 50 a guest, one in 20 deactivated (a fifth of those erased), one
 * in 100 an admin, one in 200 locked, one in 300 suspended, one in 40 a bot and one in 90 a support
 * account; a display name from a small vocabulary (a word matches a few percent of users), an
 * avatar for two in three, creation and last-seen times spread over a year.
 */
async function seedUsers(stack: Stack, n: number): Promise<void> {
  const em = stack.app.orm.em.fork();
  const t0 = Date.now();
  await em.execute(
    `INSERT INTO users (name, password_hash, admin, deactivated, is_guest, user_type, displayname, avatar_url, locked, suspended, creation_ts, last_seen_ts)
     SELECT '@bench' || lpad(i::text, 7, '0') || '_' || substr(md5(i::text), 1, 6) || ':test', NULL, i % 100 = 0, i % 20 = 7, i % 50 = 3,
            CASE WHEN i % 40 = 1 THEN 'bot' WHEN i % 90 = 2 THEN 'support' END,
            (ARRAY['Alice','Bob','Carol','Dave','Erin','Frank','Grace','Heidi','Ivan','Judy','Mallory','Niaj','Olivia','Peggy','Rupert','Sybil','Trent','Victor','Walter','Zoë'])[1 + i % 20]
              || ' ' || (ARRAY['Smith','Jones','Brown','Taylor','Wilson','Davies','Evans','Thomas','Johnson','Roberts','Walker','Wright','Robinson','Thompson','White','Hughes','Edwards','Green','Hall','Wood','Harris','Lewis','Martin','Jackson','Clarke','Clark','Turner','Hill','Scott','Cooper','Morris','Ward'])[1 + (i / 20) % 32],
            CASE WHEN i % 3 <> 0 THEN 'mxc://test/' || md5(i::text) END,
            i % 200 = 11, i % 300 = 13,
            1700000000 + (hashtext(i::text) & 31535999), CASE WHEN i % 7 <> 0 THEN 1700000000000 + (hashtext('s' || i)::bigint & 31535999999) END
       FROM generate_series(1, ?) i`,
    [n],
  );
  await em.execute(
    'INSERT INTO erased_users (user_id) SELECT name FROM users WHERE deactivated AND hashtext(name) % 5 = 0 ON CONFLICT DO NOTHING',
  );
  const seedMs = Date.now() - t0;
  await em.execute('VACUUM ANALYZE users');
  await em.execute('VACUUM ANALYZE user_counts');
  await em.execute('VACUUM ANALYZE erased_users');
  table('data set', [{ users: n, 'insert s': fmt(seedMs / 1000, 1) }]);
}

/** Synapse's statement pair for a listing (its SQL shape, on this schema). */
function plainSql(c: ListCase): { page: { text: string; values: unknown[] }; count: { text: string; values: unknown[] } } {
  const q = c.query;
  const where: string[] = [];
  const values: unknown[] = [];
  if (q.name) {
    values.push(`@%${q.name.toLowerCase()}%:%`, `%${q.name.toLowerCase()}%`);
    where.push(`(name LIKE $${values.length - 1} OR lower(displayname) LIKE $${values.length})`);
  } else if (q.user_id) {
    values.push(`%${q.user_id.toLowerCase()}%`);
    where.push(`name LIKE $${values.length}`);
  }
  if (q.guests === 'false') where.push('is_guest = false');
  if (c.v3 ? q.deactivated !== undefined : q.deactivated !== 'true')
    where.push(q.deactivated === 'true' ? 'deactivated = true' : 'deactivated = false');
  if (q.locked !== 'true') where.push('locked IS FALSE');
  if (q.admins !== undefined) where.push(q.admins === 'true' ? 'admin = true' : 'admin = false');
  if (q.not_user_type) (values.push([q.not_user_type]), where.push(`(NOT u.user_type = ANY($${values.length}) OR u.user_type IS NULL)`));
  const w = where.length ? `WHERE ${where.join(' AND ')}` : '';
  const col = q.order_by ?? 'name';
  const dir = q.dir === 'b' ? 'DESC' : 'ASC';
  const base = `FROM users AS u LEFT JOIN erased_users AS eu ON u.name = eu.user_id ${w}`;
  const n = values.length;
  return {
    page: {
      text: `SELECT name, user_type, is_guest, admin, deactivated, shadow_banned, displayname, avatar_url, creation_ts * 1000 AS creation_ts, eu.user_id IS NOT NULL AS erased, last_seen_ts, locked
               ${base} ORDER BY ${col} ${dir}, u.name ASC LIMIT $${n + 1} OFFSET $${n + 2}`,
      values: [...values, Number(q.limit ?? 100), Number(q.from ?? 0)],
    },
    count: { text: `SELECT count(*) ${base}`, values },
  };
}

function serviceInput(c: ListCase): ListUsersInput {
  const q = c.query;
  const bool = (v: string | undefined) => (v === undefined ? undefined : v === 'true');
  const deactivated = c.v3 ? bool(q.deactivated) : q.deactivated === 'true' ? undefined : false;
  return {
    from: q.from === undefined ? undefined : Number(q.from),
    limit: q.limit === undefined ? undefined : Number(q.limit),
    name: q.name,
    userId: q.user_id,
    guests: bool(q.guests),
    deactivated,
    admins: bool(q.admins),
    locked: bool(q.locked),
    notUserTypes: q.not_user_type ? [q.not_user_type] : [],
    orderBy: (q.order_by ?? 'name') as OrderBy,
    dir: q.dir === 'b' ? 'b' : 'f',
  };
}

function restGetter(stack: Stack, token: string) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 4 });
  const get = (path: string) =>
    new Promise<number>((ok, ko) => {
      const req = http.get(
        { host: '127.0.0.1', port: stack.app.httpPort!, path, agent, headers: { authorization: `Bearer ${token}` } },
        (res) => {
          res.resume();
          res.on('end', () => (res.statusCode === 200 ? ok(200) : ko(new Error(`${path} → ${res.statusCode}`))));
        },
      );
      req.on('error', ko);
    });
  return { get, close: () => agent.destroy() };
}

async function listUsersBench(stack: Stack, admin: TestUser, o: Record<string, number>): Promise<void> {
  const mid = String(Math.floor(o.users / 2));
  const cases: ListCase[] = [
    { label: 'default (name), page 1', query: {} },
    { label: `name, page at ${mid}`, query: { from: mid } },
    { label: 'name b, page 1', query: { dir: 'b' } },
    { label: 'displayname, page 1', query: { order_by: 'displayname' } },
    { label: 'displayname b, page 1', query: { order_by: 'displayname', dir: 'b' } },
    { label: 'last_seen_ts b, page 1', query: { order_by: 'last_seen_ts', dir: 'b' } },
    { label: 'creation_ts, page 1', query: { order_by: 'creation_ts' } },
    { label: 'admin b, page 1', query: { order_by: 'admin', dir: 'b' } },
    { label: 'deactivated=true (v2: all), avatar_url', query: { deactivated: 'true', order_by: 'avatar_url' } },
    { label: 'v3 default, 50/page, page 3', query: { from: '100', limit: '50' }, v3: true },
    { label: 'v3 deactivated=true', query: { deactivated: 'true' }, v3: true },
    { label: 'admins=true', query: { admins: 'true' } },
    { label: 'guests=false, not_user_type=bot', query: { guests: 'false', not_user_type: 'bot' } },
    { label: 'name search "olivia"', query: { name: 'olivia' } },
    { label: 'name search "bench0004"', query: { name: 'bench0004' } },
    { label: 'user_id search "_ab"', query: { user_id: '_ab' } },
    { label: 'name search no match', query: { name: 'qzxwv' } },
  ];
  const rest = restGetter(stack, admin.token);
  const md = bearer(admin.token);
  const pg = new PgClient({ connectionString: stack.app.databaseUrl });
  await pg.connect();
  const service = new UserListService();
  const rows = [];
  try {
    for (const c of cases) {
      const sql = plainSql(c);
      const input = serviceInput(c);
      const path = `/_synapse/admin/${c.v3 ? 'v3' : 'v2'}/users?${new URLSearchParams(c.query)}`;
      const grpcReq = {
        ...input,
        userTypes: [],
        notUserTypes: input.notUserTypes ?? [],
        orderBy: UserOrderBy[`USER_ORDER_BY_${(input.orderBy ?? 'name').toUpperCase()}` as keyof typeof UserOrderBy],
        dir: input.dir === 'b' ? Direction.DIRECTION_BACKWARDS : Direction.DIRECTION_FORWARDS,
        asJsonBody: true,
      };
      const viaRest = () => rest.get(path);
      const viaGrpc = () => grpcCall(stack.clients.userAdmin, stack.clients.userAdmin.listUsers, grpcReq, md);
      const viaService = () => service.listUsersJson(stack.app.orm.em.fork(), input);
      const viaSql = async () => {
        await pg.query(sql.page);
        await pg.query(sql.count);
      };
      await measureInterleaved(20, [viaRest, viaGrpc, viaService, viaSql]);
      const [r, g, p, b] = await measureInterleaved(o.n, [viaRest, viaGrpc, viaService, viaSql]);
      const total = (await service.listUsers(stack.app.orm.em.fork(), { ...input, limit: 0 })).total;
      rows.push({
        case: c.label,
        matches: total,
        'REST p50/p99 ms': ms(r),
        'gRPC p50/p99 ms': ms(g),
        'service p50/p99 ms': ms(p),
        'plain SQL p50/p99 ms': ms(b),
        'REST/plain p50': fmt(r.p50 / b.p50),
      });
    }
  } finally {
    rest.close();
    await pg.end();
  }
  table(`list users over ${o.users} users (n=${o.n} sequential requests per column)`, rows);
}

export async function run(args: string[]): Promise<void> {
  const o = options(args, { users: 100_000, n: 200 });
  const stack = await startStack({ LOG_LEVEL: 'silent' });
  try {
    const admin = await registerUser(stack, 'benchadmin', { admin: true });
    await seedUsers(stack, o.users);
    settleHeap();
    await listUsersBench(stack, admin, o);
  } finally {
    await stack.stop();
  }
}
