/**
 * A user's rooms (`/joined_rooms`, the admin joined rooms and memberships) come from an index
 * that holds the room id: in room order, without a sort, and without reading the rows once the
 * table is vacuumed; the admin counts of invites sent and rooms joined since a time walk an index
 * of the memberships that holds their time, without visiting the events. Explained as the service
 * runs them: prepared, on their generic plans.
 */
import { strict as assert } from 'node:assert';
import { Client as PgClient } from 'pg';
import { DEFAULT_GENERATOR_OPTIONS } from '../../src/dev/seed/generator';
import { seedDataset } from '../../src/dev/seed/seed';
import { createRooms } from '../../src/rooms/rooms';
import { JOINED_ROOM_IDS_SQL } from '../../src/rooms/room.repository';
import { CUMULATIVE_JOINED_ROOM_COUNT_SQL, SENT_INVITE_COUNT_SQL, membershipsStatement } from '../../src/users/user-reads.repository';
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

  /** What the counts counted when they joined each membership to its event for the time. */
  async function countedFromEvents(kind: 'join' | 'invite', who: string, fromTs: number): Promise<number> {
    const { rows } = await pg.query<{ n: string }>(
      kind === 'join'
        ? `SELECT count(DISTINCT rm.room_id) AS n FROM room_memberships rm JOIN events e ON e.event_id = rm.event_id
            WHERE rm.user_id = $1 AND rm.membership = 'join' AND e.received_ts >= $2`
        : `SELECT count(*) AS n FROM room_memberships rm JOIN events e ON e.event_id = rm.event_id
            WHERE rm.sender = $1 AND rm.membership = 'invite' AND e.received_ts >= $2`,
      [who, fromTs],
    );
    return Number(rows[0].n);
  }

  it('counts the rooms a user joined since a time from room_memberships_join_user_ts_idx, never reading an event', async () => {
    const { rows } = await pg.query<{ lo: string; mid: string }>(
      `SELECT min(received_ts) AS lo, percentile_disc(0.5) WITHIN GROUP (ORDER BY received_ts) AS mid
         FROM events WHERE type = 'm.room.member' AND state_key = $1`,
      [user],
    );
    for (const fromTs of [0, Number(rows[0].mid), Number(rows[0].mid) + 1, Date.now() + 60_000]) {
      const nodes = await explainPrepared(pg, { text: CUMULATIVE_JOINED_ROOM_COUNT_SQL, params: [user, fromTs] }, 'generic');
      const label = describeNodes(nodes).join(', ');
      assertIndexOnly(nodes, 'room_memberships_join_user_ts_idx', true);
      assert.ok(!label.includes('events'), `no event is read: ${label}`);
      const { rows: counted } = await pg.query<{ n: string }>(CUMULATIVE_JOINED_ROOM_COUNT_SQL.replace('?', '$1').replace('?', '$2'), [
        user,
        fromTs,
      ]);
      assert.equal(Number(counted[0].n), await countedFromEvents('join', user, fromTs), `from ${fromTs}`);
    }
    assert.ok(Number(rows[0].lo) > 0);
    assert.equal(await countedFromEvents('join', user, 0), joined, 'every room joined is counted from the start');
  });

  it('counts the invites a user sent since a time from room_memberships_invite_sender_ts_idx, never reading an event', async () => {
    const { rows } = await pg.query<{ sender: string; n: string }>(
      "SELECT sender, count(*) AS n FROM room_memberships WHERE membership = 'invite' GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT 1",
    );
    assert.ok(rows.length === 1 && Number(rows[0].n) >= 2, 'the data set has a user who sent invites');
    const sender = rows[0].sender;
    const nodes = await explainPrepared(pg, { text: SENT_INVITE_COUNT_SQL, params: [sender, 0] }, 'generic');
    const label = describeNodes(nodes).join(', ');
    assertIndexOnly(nodes, 'room_memberships_invite_sender_ts_idx', true);
    assert.ok(!label.includes('events'), `no event is read: ${label}`);
    const { rows: counted } = await pg.query<{ n: string }>(SENT_INVITE_COUNT_SQL.replace('?', '$1').replace('?', '$2'), [sender, 0]);
    assert.equal(Number(counted[0].n), await countedFromEvents('invite', sender, 0));
    assert.equal(Number(counted[0].n), Number(rows[0].n));
  });
});
