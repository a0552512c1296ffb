/**
 * Plans of the list pages that run as prepared statements (generic plans): on a table large
 * enough that hashing it is far dearer than a page of index lookups, the page statement must
 * never scan the whole `users` table nor hash-join the page back to it, whatever the order, the
 * direction, the filters, the offset or the limit. The plan is read with EXPLAIN (FORMAT JSON) of
 * the statement text the repository runs, prepared and executed as the SQL door does (under
 * `force_generic_plan`), so a statement shape that lets the planner assume a large page fails here.
 * Searches are planned for their pattern on every call (`sqlPlannedPerCall`): they are explained
 * under `force_custom_plan`, and look their page up by key. The rooms list without a search term
 * (prepared too) must likewise walk its sort index and never scan `room_stats` whole.
 */
import { strict as assert } from 'node:assert';
import { Client as PgClient } from 'pg';
import { createOrm, migrate, type Orm } from '../../src/infra/orm';
import { roomPageStatement } from '../../src/admin/room-list.repository';
import { reportPageStatement, type EventReportQuery } from '../../src/moderation/event-reports.repository';
import { ROOM_ORDER_BY, type ListRoomsQuery } from '../../src/admin/room-admin.types';
import { USER_ORDER_BY, userPageStatement, type ListUsersQuery, type UserOrderBy } from '../../src/users/user-list.repository';
import { describeNodes, explainPrepared, type PlanNode, type Statement } from '../support/plans';
import { createDatabase, dbUrl, dropDatabase } from '../support/stack';

const USERS = 20_000;
const ROOMS = 20_000;
const REPORTS = 20_000;

const ORDERS: readonly UserOrderBy[] = USER_ORDER_BY;

function query(over: Partial<ListUsersQuery>): ListUsersQuery {
  return {
    from: 0,
    limit: 100,
    userId: null,
    name: null,
    guests: true,
    deactivated: false,
    admins: null,
    locked: false,
    suspended: null,
    userTypes: [],
    notUserTypes: [],
    orderBy: 'name',
    dir: 'f',
    ...over,
  };
}

describe('list page plans', () => {
  let orm: Orm;
  let dbName: string;
  let pg: PgClient;

  before(async () => {
    dbName = await createDatabase();
    orm = await createOrm({ clientUrl: dbUrl(dbName), poolSize: 1 });
    await migrate(orm);
    pg = new PgClient({ connectionString: dbUrl(dbName) });
    await pg.connect();
    await pg.query(
      `INSERT INTO users (name, admin, deactivated, is_guest, user_type, displayname, avatar_url, locked, suspended, creation_ts, last_seen_ts)
       SELECT '@u' || lpad(i::text, 6, '0') || ':test', i % 100 = 0, i % 20 = 7, i % 50 = 3,
              CASE WHEN i % 40 = 1 THEN 'bot' END, 'Name ' || (i % 500), CASE WHEN i % 3 <> 0 THEN 'mxc://test/' || i END,
              i % 200 = 11, i % 300 = 13, 1700000000 + (hashtext(i::text) & 31535999),
              CASE WHEN i % 7 <> 0 THEN 1700000000000 + (hashtext('s' || i)::bigint & 31535999999) END
         FROM generate_series(1, $1::int) i`,
      [USERS],
    );
    await pg.query('ANALYZE users');
    await pg.query(
      `INSERT INTO rooms (room_id, room_version, creator, is_public, created_ts)
       SELECT '!r' || lpad(i::text, 6, '0') || ':test', '10', '@u' || lpad((i % 997)::text, 6, '0') || ':test', i % 9 = 0, 1700000000000 + i
         FROM generate_series(1, $1::int) i`,
      [ROOMS],
    );
    await pg.query(
      `INSERT INTO room_stats (room_id, name, canonical_alias, join_rules, history_visibility, guest_access, encryption, federatable,
                               is_public, room_version, creator, joined_members, joined_local_members, state_events)
       SELECT r.room_id, CASE WHEN i % 5 <> 0 THEN 'Room ' || (hashtext(r.room_id) & 65535) END,
              CASE WHEN i % 4 = 0 THEN '#a' || i || ':test' END, CASE WHEN i % 3 = 0 THEN 'public' ELSE 'invite' END, 'shared',
              'can_join', CASE WHEN i % 2 = 0 THEN 'm.megolm.v1.aes-sha2' END, i % 11 <> 0, r.is_public, CASE WHEN i % 7 = 0 THEN '9' ELSE '10' END,
              r.creator, (i * 7919) % 300, (i * 7919) % 150, 5 + (i * 104729) % 400
         FROM rooms r JOIN generate_series(1, $1::int) i ON r.room_id = '!r' || lpad(i::text, 6, '0') || ':test'`,
      [ROOMS],
    );
    await pg.query(
      `INSERT INTO event_reports (received_ts, room_id, event_id, user_id, reason, content)
       SELECT 1700000000000 + i * 1000, '!r' || lpad((1 + i % 5000)::text, 6, '0') || ':test', '$e' || i, '@u' || lpad((i % 300)::text, 6, '0') || ':test',
              'spam', '{}'::jsonb
         FROM generate_series(1, $1::int) i`,
      [REPORTS],
    );
    await pg.query('ANALYZE rooms, room_stats, room_stats_counts, event_reports');
  });

  after(async () => {
    await pg?.end();
    await orm?.close(true);
    if (dbName) await dropDatabase(dbName);
  });

  /** The executed plan's nodes of the statement the repository runs for `q`, planned as the door plans it. */
  async function plan(q: ListUsersQuery, shape: 'rows' | 'json'): Promise<PlanNode[]> {
    return explain(userPageStatement(q, shape), q.name !== null || q.userId !== null);
  }

  const explain = (st: Statement, search: boolean): Promise<PlanNode[]> => explainPrepared(pg, st, search ? 'custom' : 'generic');

  function assertPagePlan(all: PlanNode[], label: string, search: boolean): void {
    const types = describeNodes(all);
    assert.ok(!types.includes('Hash Join'), `${label}: the page is hash-joined to its table: ${types.join(', ')}`);
    if (!search) assert.ok(!types.includes('Seq Scan on users'), `${label}: users is scanned whole: ${types.join(', ')}`);
    assert.ok(types.includes('Nested Loop'), `${label}: the page is not joined by index lookups: ${types.join(', ')}`);
  }

  it('walks an index and looks the page up row by row, for every order and direction', async () => {
    for (const orderBy of ORDERS) {
      for (const dir of ['f', 'b'] as const) {
        for (const shape of ['json', 'rows'] as const) {
          assertPagePlan(await plan(query({ orderBy, dir }), shape), `${orderBy} ${dir} ${shape}`, false);
        }
      }
    }
  });

  it('keeps the plan for deep offsets, other limits and filters', async () => {
    const cases: [string, Partial<ListUsersQuery>][] = [
      ['from=15000', { from: 15_000 }],
      ['limit=10', { limit: 10 }],
      ['limit=500', { limit: 500 }],
      ['guests=false admins', { guests: false, admins: true }],
      ['user_types', { userTypes: ['bot', ''] }],
      ['not_user_types', { notUserTypes: ['bot'] }],
      ['deactivated any, creation_ts b', { deactivated: null, orderBy: 'creation_ts', dir: 'b' }],
    ];
    for (const [label, over] of cases) assertPagePlan(await plan(query(over), 'json'), label, false);
  });

  it('looks a search page up by key, never by hashing users', async () => {
    for (const orderBy of ['name', 'displayname', 'creation_ts'] as const) {
      for (const [label, q, shape] of [
        ['name search', { name: 'name 1', orderBy }, 'json'],
        ['user_id search', { userId: 'u01', orderBy }, 'rows'],
      ] as const) {
        const all = await plan(query(q), shape);
        const types = describeNodes(all);
        const context = `${label} by ${orderBy}: ${types.join(', ')}`;
        assert.ok(!types.includes('Hash Join'), `${context}: the page is hash-joined to its table`);
        // One pass gathers the matches; the page's rows are then index lookups, one per row.
        const visits = all.filter((n) => n['Relation Name'] === 'users');
        assert.equal(visits.length, 2, context);
        const lookup = visits.find((n) => n['Node Type'] === 'Index Scan');
        assert.ok(lookup, `${context}: no index lookup of the page`);
        assert.equal(lookup['Actual Loops'], 100, context);
      }
    }
  });

  it('walks the sort index of a rooms list page and looks its rooms up by key, whatever the order, offset or filter', async () => {
    const room = (over: Partial<ListRoomsQuery>): ListRoomsQuery => ({
      from: 0,
      limit: 100,
      orderBy: 'name',
      dir: 'f',
      searchTerm: null,
      publicRooms: null,
      emptyRooms: null,
      ...over,
    });
    const cases: [string, ListRoomsQuery][] = [
      ...ROOM_ORDER_BY.flatMap((orderBy) =>
        (['f', 'b'] as const).map((dir): [string, ListRoomsQuery] => [`${orderBy} ${dir}`, room({ orderBy, dir })]),
      ),
      ['from=15000', room({ from: 15_000 })],
      ['limit=10 by joined_members', room({ limit: 10, orderBy: 'joined_members' })],
      ['limit=500', room({ limit: 500 })],
      ['public rooms by creator', room({ publicRooms: true, orderBy: 'creator' })],
      ['non-empty rooms, dir=b', room({ emptyRooms: false, dir: 'b' })],
    ];
    for (const [label, q] of cases) {
      for (const shape of ['json', 'rows'] as const) {
        const all = await explain(roomPageStatement(q, shape), false);
        const types = describeNodes(all);
        const context = `${label} ${shape}: ${types.join(', ')}`;
        assert.ok(!types.includes('Hash Join'), `${context}: the page is hash-joined to its table`);
        assert.ok(!types.includes('Seq Scan on room_stats'), `${context}: room_stats is scanned whole`);
        // The walk follows the sort index: only the page itself may be sorted again.
        for (const n of all.filter((x) => x['Node Type'] === 'Sort'))
          assert.ok((n['Actual Rows'] ?? Infinity) <= q.limit, `${context}: more rooms than the page are sorted`);
        const lookup = all.find(
          (n) => n['Relation Name'] === 'room_stats' && n['Node Type'] === 'Index Scan' && n['Actual Loops'] === q.limit,
        );
        assert.ok(lookup, `${context}: the page's rooms are not looked up one by one`);
      }
    }
  });

  it('reads an event reports page from the received index, whatever the direction, offset or limit', async () => {
    const report = (over: Partial<EventReportQuery>): EventReportQuery => ({
      from: 0,
      limit: 100,
      forwards: false,
      userId: null,
      roomId: null,
      eventSenderUserId: null,
      ...over,
    });
    const cases: [string, EventReportQuery][] = [
      ['newest first', report({})],
      ['oldest first', report({ forwards: true })],
      ['from=15000', report({ from: 15_000 })],
      ['limit=10', report({ limit: 10 })],
    ];
    for (const [label, q] of cases) {
      const all = await explain(reportPageStatement(q), false);
      const types = describeNodes(all);
      const walk = all.find((n) => n['Index Name'] === 'event_reports_received_idx');
      assert.ok(walk, `${label}: the page does not walk the received index: ${types.join(', ')}`);
      // The walk stops at the page: the offset and at most the constant bound past it.
      assert.ok(
        (walk['Actual Rows'] ?? Infinity) <= q.from + 128,
        `${label}: the walk read ${walk['Actual Rows']} reports: ${types.join(', ')}`,
      );
    }
  });
});
