/**
 * Plans of the page-row statements (a `/messages` page, a room's current state) on a small
 * database: one room of 1,000 messages. At that size a generic plan can find a scan of the whole
 * `events` table cheaper than a page of index probes, and hash it to join each row to the event it
 * replaced, or each state entry to its event: the page statement with a plain join to the
 * replaced event does so here. The statements are explained as the SQL door runs them (prepared,
 * `force_generic_plan`); every read of `events` other than the page itself must be a probe by key.
 */
import { strict as assert } from 'node:assert';
import { Client as PgClient } from 'pg';
import type { RoomStreamToken } from '../../src/matrix/stream-token';
import { lastPagePosition, rangePageStatement, type PageQuery } from '../../src/pagination/pagination.repository';
import { parseRoomEventFilter } from '../../src/pagination/event-filter';
import { currentStateStatement, stateAtComputedStatement } from '../../src/pagination/page-rows';
import { forwardExtremitiesStatement } from '../../src/admin/room-admin.repository';
import { toNumbered } from '../../src/infra/sql';
import { createRoom, send } from '../e2e/pagination.helpers';
import { describeNodes, explainPrepared, type PlanNode, type Statement } from '../support/plans';
import { dbUrl, registerUser, startStack, type Stack, type TestUser } from '../support/stack';

/** A stack whose database holds a room of 1,000 messages (`room`), and `others` rooms of `otherMessages` each, analyzed. */
interface PlanDatabase {
  s: Stack;
  pg: PgClient;
  owner: TestUser;
  room: string;
  close(): Promise<void>;
}

async function planDatabase(others: number, otherMessages: number): Promise<PlanDatabase> {
  const s = await startStack();
  const owner = await registerUser(s, 'owner');
  const fill = async (roomId: string, n: number) => {
    for (let i = 0; i < n; i += 20)
      await Promise.all(Array.from({ length: Math.min(20, n - i) }, (_, j) => send(s, owner.token, roomId, `message ${i + j}`)));
  };
  const room = await createRoom(s, owner.token);
  await fill(room, 1000);
  for (let i = 0; i < others; i++) await fill(await createRoom(s, owner.token), otherMessages);
  const pg = new PgClient({ connectionString: dbUrl(s.dbName) });
  await pg.connect();
  await pg.query('ANALYZE');
  return {
    s,
    pg,
    owner,
    room,
    close: async () => {
      await pg.end();
      await s.stop();
    },
  };
}

describe('page-row plans on a small database', () => {
  let db: PlanDatabase;
  let pg: PgClient;
  let owner: TestUser;
  let room: string;

  before(async () => {
    db = await planDatabase(0, 0);
    ({ pg, owner, room } = db);
  });

  after(() => db?.close());

  const explain = (st: Statement): Promise<PlanNode[]> => explainPrepared(pg, st, 'generic');

  /** Every read of `events` but the page's own (aliased `pageAlias`) is a probe by key. */
  function assertProbes(all: PlanNode[], label: string, pageAlias: string | null): void {
    const types = describeNodes(all, true);
    for (const n of all) {
      if (n['Relation Name'] !== 'events' || n.Alias === pageAlias) continue;
      assert.match(
        n['Node Type'],
        /^Index (Only )?Scan$/,
        `${label}: events ${n.Alias} is read by a ${n['Node Type']}: ${types.join(', ')}`,
      );
    }
    assert.ok(
      !types.includes('Hash Join') && !types.includes('Hash Right Join') && !types.includes('Hash Left Join'),
      `${label}: ${types.join(', ')}`,
    );
  }

  it('reads the event each row of a /messages page replaced by key, never by hashing events', async () => {
    // Historic tokens: the end of the room backwards, its start forwards.
    const token = (at: number): RoomStreamToken => ({ topological: at, stream: at, instances: new Map() });
    for (const dir of ['b', 'f'] as const) {
      for (const aggregationsFor of [owner.userId, null]) {
        const q: PageQuery = {
          roomId: room,
          dir,
          from: token(dir === 'b' ? Number.MAX_SAFE_INTEGER : 0),
          to: null,
          limit: 100,
          filter: null,
          ranges: null,
          client: null,
        };
        const st = rangePageStatement(q, undefined, 100, { dagFields: false, aggregationsFor });
        assertProbes(await explain(st), `dir=${dir}${aggregationsFor ? ' with bundles' : ''}`, 'e');
      }
    }
  });

  it("reads a room's current state entries and the events they replaced by key", async () => {
    for (const [label, type] of [
      ['all state', null],
      ['members', 'm.room.member'],
    ] as const) {
      assertProbes(await explain(currentStateStatement(room, type, { dagFields: false, aggregationsFor: null })), label, null);
    }
  });

  it("reads the state after an event context's last event, at the position it computes, by key", async () => {
    const token = (at: number): RoomStreamToken => ({ topological: at, stream: at, instances: new Map() });
    const q: PageQuery = { roomId: room, dir: 'f', from: token(500), to: null, limit: 5, filter: null, ranges: null, client: null };
    const st = stateAtComputedStatement(room, lastPagePosition(q, 500)!, { dagFields: false, aggregationsFor: null });
    // The page walk and the state selection are both over `events e`: the rest must be probes.
    assertProbes(await explain(st), 'state at the computed position', 'e');
  });

  it("finds a forward extremity's state group in one index entry, not by skipping the messages after it", async () => {
    const st = forwardExtremitiesStatement(room);
    const nodes = await explainPrepared(pg, st, 'generic');
    const walk = nodes.find((n) => n['Relation Name'] === 'events' && n.Alias === 's');
    assert.ok(walk, describeNodes(nodes, true).join(', '));
    const read = (walk['Actual Rows'] ?? 0) + (walk['Rows Removed by Filter'] ?? 0);
    assert.ok(read <= 1, `the state group lookup read ${read} rows by ${walk['Node Type']} on ${walk['Index Name']}`);
    // And it names the room's last state event: the 1,000 messages came after it.
    const { rows } = await pg.query<{ state_group: string }>(toNumbered(st.text), st.params);
    const { rows: last } = await pg.query<{ so: string }>(
      'SELECT max(stream_ordering) AS so FROM events WHERE room_id = $1 AND state_key IS NOT NULL',
      [room],
    );
    assert.equal(rows.length, 1);
    assert.equal(rows[0].state_group, last[0].so);
  });
});

/**
 * The page walk itself on a database of many rooms. A generic plan estimates any room's rows as
 * the table's average; with one big room among many small ones that is a few dozen rows, and a
 * bitmap scan of the room's index entries plus a sort then looks cheaper than walking the index
 * in order. That plan reads the whole room for every page. Each range must be walked in index
 * order and stop after its page's rows, for admins and for clients, with and without a filter.
 * (Retention and ignored users shrink a client's estimate further; on a database this small
 * their pages can still be sorted, see pageSelection.)
 */
describe('the page walk on a database of several rooms', () => {
  let db: PlanDatabase;
  let pg: PgClient;
  let room: string;

  // Ten rooms of a thousand, a hundred and some events: the average room, a third of which is
  // what the planner expects before a position, is then below the page but large enough that
  // sorting a bitmap scan's rows looks clearly cheaper than walking them in order.
  before(async () => {
    db = await planDatabase(9, 100);
    ({ pg, room } = db);
  });

  after(() => db?.close());

  it('walks each visible range in index order and reads no more than a page of it', async () => {
    const token = (at: number): RoomStreamToken => ({ topological: at, stream: at, instances: new Map() });
    const { rows } = await pg.query<{ depth: string; stream: string }>(
      'SELECT depth, stream_ordering AS stream FROM events WHERE room_id = $1 ORDER BY depth, stream_ordering',
      [room],
    );
    const at = (i: number) => ({ depth: Number(rows[i].depth), stream: Number(rows[i].stream) });
    // A walk in order yields a filtered page after reading at most the page plus the rows the filter drops.
    const { rows: dropped } = await pg.query<{ n: string }>(
      "SELECT count(*) AS n FROM events WHERE room_id = $1 AND type <> 'm.room.message'",
      [room],
    );
    // Two visible stretches of 400 events each, as history visibility and membership make them.
    const twoRanges = [
      { lo: { pos: at(50), inclusive: true }, hi: { pos: at(450), inclusive: false } },
      { lo: { pos: at(550), inclusive: true }, hi: { pos: at(950), inclusive: false } },
    ];
    let checked = 0;
    for (const dir of ['b', 'f'] as const) {
      for (const client of [null, { minOriginTs: null, ignoredSenders: [] }]) {
        for (const filter of [null, parseRoomEventFilter({ types: ['m.room.message'] }, { msc3874Enabled: false })]) {
          for (const [ranges, limit] of [
            [null, 100],
            [null, 10],
            [twoRanges, 100],
          ] as const) {
            const q: PageQuery = {
              roomId: room,
              dir,
              from: token(dir === 'b' ? Number.MAX_SAFE_INTEGER : 0),
              to: null,
              limit,
              filter,
              ranges,
              client,
            };
            const label = `dir=${dir} ${client ? 'client' : 'admin'}${filter ? ' filtered' : ''} limit=${limit}${ranges ? ' two ranges' : ''}`;
            const nodes = await explainPrepared(pg, rangePageStatement(q, undefined, limit), 'generic');
            // Every other read of events is a probe of one event by id.
            const walks = nodes.filter((n) => n['Relation Name'] === 'events' && n['Index Name'] !== 'events_event_id_key');
            assert.equal(walks.length, ranges?.length ?? 1, `${label}: ${describeNodes(nodes, true).join(', ')}`);
            for (const w of walks) {
              assert.equal(w['Node Type'], 'Index Scan', `${label}: ${describeNodes(nodes, true).join(', ')}`);
              assert.equal(w['Index Name'], 'events_room_topo_idx', label);
              const most = limit + (filter ? Number(dropped[0].n) : 0);
              assert.ok((w['Actual Rows'] ?? 0) <= most, `${label}: the walk read ${w['Actual Rows']} rows`);
            }
            checked += 1;
          }
        }
      }
    }
    assert.equal(checked, 24);
  });
});
