/**
 * A user's rooms (`/joined_rooms`, the admin joined rooms and memberships) come from an index
 * that holds the room id: in room order, without a sort, and without reading the rows once the
 * table is vacuumed. Explained as the service runs them: prepared, on their generic plans.
 */
import { strict as assert } from 'node:assert';
import { Client as PgClient } from 'pg';
import { DEFAULT_GENERATOR_OPTIONS } from '../../src/dev/seed/generator';
import { seedDataset } from '../../src/dev/seed/seed';
import { createRooms } from '../../src/rooms/rooms';
import { JOINED_ROOM_IDS_SQL } from '../../src/rooms/room.repository';
import { membershipsStatement } from '../../src/users/user-reads.repository';
import { UserService } from '../../src/users/user.service';
import { describeNodes, explainPrepared, type PlanNode } from '../support/plans';
import { dbUrl, startStack, type Stack } from '../support/stack';

describe("a user's rooms, from the index alone", () => {
  let s: Stack;
  let pg: PgClient;
  let user: string;
  let joined: number;

  before(async () => {
    s = await startStack();
    const { rooms } = createRooms({ config: s.config, locks: s.app.services.locks, scheduler: null });
    await seedDataset(() => s.app.orm.em.fork(), rooms, new UserService('test', null), {
      ...DEFAULT_GENERATOR_OPTIONS,
      serverName: 'test',
      rooms: 300,
      eventsPerRoom: 3,
      membersPerRoom: 20,
      userCount: 40,
      batchEvents: 5000,
    });
    pg = new PgClient({ connectionString: dbUrl(s.dbName) });
    await pg.connect();
    await pg.query('VACUUM ANALYZE');
    const { rows } = await pg.query<{ user_id: string; n: string }>(
      "SELECT user_id, count(*) AS n FROM local_current_membership WHERE membership = 'join' GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT 1",
    );
    user = rows[0].user_id;
    joined = Number(rows[0].n);
  });

  after(async () => {
    await pg?.end();
    await s?.stop();
  });

  function assertIndexOnly(nodes: PlanNode[], index: string, sorted: boolean): void {
    const label = describeNodes(nodes).join(', ');
    const scan = nodes.find((n) => n['Index Name'] === index);
    assert.equal(scan?.['Node Type'], 'Index Only Scan', label);
    // Vacuumed, the rows' pages are all visible: hardly any entry needs its row (a page or two may not be marked yet).
    assert.ok(
      (scan?.['Heap Fetches'] ?? 0) <= Math.ceil((scan?.['Actual Rows'] ?? 0) / 20),
      `${scan?.['Heap Fetches']} heap fetches: ${label}`,
    );
    if (!sorted) assert.ok(!nodes.some((n) => n['Node Type'] === 'Sort'), `the index gives the order: ${label}`);
  }

  it('reads joined rooms in room order from local_current_membership_user_room_idx', async () => {
    assert.ok(joined >= 50, `the busiest user is in ${joined} rooms`);
    const nodes = await explainPrepared(pg, { text: JOINED_ROOM_IDS_SQL, params: [user] }, 'generic');
    assertIndexOnly(nodes, 'local_current_membership_user_room_idx', false);
    assert.equal(nodes[0]['Actual Rows'], joined);
  });

  it("reads the admin joined rooms in room order, and all memberships, from current state's member index", async () => {
    const st = membershipsStatement(user, 'join');
    const nodes = await explainPrepared(pg, st, 'generic');
    assertIndexOnly(nodes, 'current_state_events_member_room_idx', false);
    assert.equal(nodes[0]['Actual Rows'], joined);
    // Every membership: ordered by (membership, room) in the index, so sorted, but still not read from the rows.
    assertIndexOnly(await explainPrepared(pg, membershipsStatement(user), 'generic'), 'current_state_events_member_room_idx', true);
  });
});
