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
import { currentStateStatement, stateAtComputedStatement } from '../../src/pagination/page-rows';
import { createRoom, send } from '../e2e/pagination.helpers';
import { describeNodes, explainPrepared, type PlanNode, type Statement } from '../support/plans';
import { dbUrl, registerUser, startStack, type Stack, type TestUser } from '../support/stack';

describe('page-row plans on a small database', () => {
  let s: Stack;
  let pg: PgClient;
  let owner: TestUser;
  let room: string;

  before(async () => {
    s = await startStack();
    owner = await registerUser(s, 'owner');
    room = await createRoom(s, owner.token);
    for (let i = 0; i < 1000; i += 20)
      await Promise.all(Array.from({ length: 20 }, (_, j) => send(s, owner.token, room, `message ${i + j}`)));
    pg = new PgClient({ connectionString: dbUrl(s.dbName) });
    await pg.connect();
    await pg.query('ANALYZE');
  });

  after(async () => {
    await pg?.end();
    await s?.stop();
  });

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
});
