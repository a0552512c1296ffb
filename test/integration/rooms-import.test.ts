/**
 * Bulk import and the data generator: rooms built through the one write path stay consistent
 * (stats, state, depth, extremities), imports are atomic, and bad input is refused with its
 * position.
 */
import { strict as assert } from 'node:assert';
import { sharedStack } from '../support/root-hooks';
import { bearer, grpcCall, registerUser, uniq, type Stack, type TestUser } from '../support/stack';
import type { RoomService } from '../../src/rooms/room.service';
import type { Em } from '../../src/infra/orm';
import { MatrixError } from '../../src/errors';
import { generateImportBatches, DEFAULT_GENERATOR_OPTIONS } from '../../src/dev/seed/generator';
import { seedDataset } from '../../src/dev/seed/seed';
import type { ImportedRoom } from '../../src/rooms/import.service';
import { UserService } from '../../src/users/user.service';

/** Rooms whose room_stats disagree with their current state, or whose depth/extremities are off. */
async function inconsistentRooms(em: Em, roomIds: string[]): Promise<string[]> {
  const rows = await em.getConnection().execute<{ room_id: string }[]>(
    `SELECT s.room_id FROM room_stats s WHERE s.room_id IN (?) AND (
       s.joined_members <> (SELECT count(*) FROM current_state_events c WHERE c.room_id = s.room_id AND c.membership = 'join')
    OR s.joined_local_members <> (SELECT count(*) FROM current_state_events c WHERE c.room_id = s.room_id AND c.membership = 'join' AND c.state_key LIKE '%:test')
    OR s.invited_members <> (SELECT count(*) FROM current_state_events c WHERE c.room_id = s.room_id AND c.membership = 'invite')
    OR s.left_members <> (SELECT count(*) FROM current_state_events c WHERE c.room_id = s.room_id AND c.membership = 'leave')
    OR s.banned_members <> (SELECT count(*) FROM current_state_events c WHERE c.room_id = s.room_id AND c.membership = 'ban')
    OR s.state_events <> (SELECT count(*) FROM current_state_events c WHERE c.room_id = s.room_id)
    OR (SELECT count(*) FROM event_forward_extremities f WHERE f.room_id = s.room_id) <> 1
    OR (SELECT max(depth) <> count(*) OR count(DISTINCT depth) <> count(*) FROM events e WHERE e.room_id = s.room_id)
    OR (SELECT r.last_depth FROM rooms r WHERE r.room_id = s.room_id) <> (SELECT max(depth) FROM events e WHERE e.room_id = s.room_id))`,
    [roomIds],
  );
  return rows.map((r) => r.room_id);
}

describe('RoomService.importRooms', () => {
  let s: Stack;
  let rooms: RoomService;
  let em: Em;
  let admin: TestUser;

  before(async () => {
    s = await sharedStack();
    rooms = s.app.services.rooms;
    em = s.app.orm.em.fork();
    admin = await registerUser(s, uniq('importadmin'), { admin: true });
  });

  const creator = () => admin.userId;
  const createEvents = (c: string) => [
    { type: 'm.room.create', stateKey: '', sender: c, content: { room_version: '10', creator: c } },
    { type: 'm.room.member', stateKey: c, sender: c, content: { membership: 'join' } },
    { type: 'm.room.join_rules', stateKey: '', sender: c, content: { join_rule: 'public' } },
  ];

  it('creates rooms, appends to existing ones, and keeps every derived table consistent', async () => {
    const remote = '@visitor:remote.example';
    const [created] = await rooms.importRooms(em, [
      {
        isPublic: true,
        aliases: [`#${uniq('imp')}:test`],
        events: [...createEvents(creator()), { type: 'm.room.member', stateKey: remote, sender: remote, content: { membership: 'join' } }],
      },
    ]);
    assert.equal(created.created, true);
    assert.equal(created.events, 4);
    assert.equal(created.lastDepth, 4);
    const more = Array.from({ length: 50 }, (_, i) => ({
      type: 'm.room.message',
      sender: i % 2 ? remote : creator(),
      content: { msgtype: 'm.text', body: `m${i}` },
      originServerTs: 1_600_000_000_000 + i,
    }));
    const [appended] = await rooms.importRooms(em, [{ roomId: created.roomId, events: more }], { returnEventIds: true });
    assert.equal(appended.created, false);
    assert.equal(appended.lastDepth, 54);
    assert.equal(appended.eventIds?.length, 50);
    assert.ok(appended.firstStreamOrdering > created.lastStreamOrdering);
    const first = await rooms.getEvent(em, appended.eventIds![0]);
    assert.equal(first?.originServerTs, 1_600_000_000_000);
    assert.equal(first?.depth, 5);
    assert.deepEqual(await inconsistentRooms(em, [created.roomId]), []);
    const stats = (
      await em
        .getConnection()
        .execute<any[]>('SELECT joined_members, joined_local_members, is_public FROM room_stats WHERE room_id = ?', [created.roomId])
    )[0];
    assert.deepEqual(stats, { joined_members: 2, joined_local_members: 1, is_public: true });
  });

  it('applies the auth rules and is atomic, naming the offending event', async () => {
    const outsider = '@outsider:remote.example';
    const good: ImportedRoom = { events: createEvents(creator()) };
    const bad: ImportedRoom = {
      events: [...createEvents(creator()), { type: 'm.room.message', sender: outsider, content: { msgtype: 'm.text', body: 'x' } }],
    };
    const before = Number((await em.getConnection().execute<any[]>('SELECT count(*) AS n FROM rooms'))[0].n);
    await assert.rejects(rooms.importRooms(em, [good, bad]), (err: unknown) => {
      assert.ok(err instanceof MatrixError);
      assert.equal(err.httpStatus, 403);
      assert.match(err.message, /^rooms\[1\]\.events\[3\]: User @outsider:remote\.example not in room/);
      return true;
    });
    const after = Number((await em.getConnection().execute<any[]>('SELECT count(*) AS n FROM rooms'))[0].n);
    assert.equal(after, before, 'nothing of the call was written');
  });

  it('refuses malformed input with 400s', async () => {
    const cases: [ImportedRoom[], RegExp, number][] = [
      [[{ events: [] }], /'events' must be a non-empty list/, 400],
      [[{ events: [{ type: 'm.room.message', sender: creator(), content: {} }] }], /must start with its m.room.create event/, 400],
      [
        [{ roomId: '!missing:test', events: [{ type: 'm.room.message', sender: creator(), content: {} }] }],
        /Unknown room !missing:test/,
        404,
      ],
      [[{ events: [{ type: 'm.room.create', stateKey: '', sender: 'nobody', content: {} }] }], /'sender' must be a valid user id/, 400],
      [[{ events: [{ type: '', sender: creator(), content: {} }] }], /'type' must be a non-empty string/, 400],
      [[{ roomId: 'bad', events: createEvents(creator()) }], /is not a legal room ID/, 400],
      [
        [{ events: [{ type: 'm.room.create', stateKey: '', sender: creator(), content: { room_version: '99' } }] }],
        /unsupported room version 99/,
        400,
      ],
      [[{ aliases: ['#x:elsewhere'], events: createEvents(creator()) }], /is not a local alias/, 400],
    ];
    for (const [input, message, status] of cases) {
      await assert.rejects(
        rooms.importRooms(em, input),
        (err: unknown) => err instanceof MatrixError && err.httpStatus === status && message.test(err.message),
      );
    }
    const roomId = `!${uniq('dup')}:test`;
    await assert.rejects(
      rooms.importRooms(em, [
        { roomId, events: createEvents(creator()) },
        { roomId, events: createEvents(creator()) },
      ]),
      /only once per import call/,
    );
  });

  it('ImportRooms over gRPC is for server admins', async () => {
    const user = await registerUser(s, uniq('notadmin'));
    const req = {
      rooms: [
        {
          isPublic: false,
          aliases: [],
          events: createEvents(admin.userId).map(({ content, ...e }) => ({ ...e, contentJson: JSON.stringify(content) })),
        },
      ],
      returnEventIds: true,
    };
    await assert.rejects(grpcCall(s.clients.rooms, s.clients.rooms.importRooms, req, bearer(user.token)), /You are not a server admin/);
    const res = await grpcCall(s.clients.rooms, s.clients.rooms.importRooms, req, bearer(admin.token));
    assert.equal(res.rooms[0].events, 3);
    assert.equal(res.rooms[0].eventIds.length, 3);
    assert.equal(res.rooms[0].created, true);
  });

  it('the generator builds realistic rooms that import cleanly, across batch boundaries', async () => {
    const localUsers = [admin.userId, ...(await Promise.all([1, 2, 3].map(() => registerUser(s, uniq('gen'))))).map((u) => u.userId)];
    const options = {
      ...DEFAULT_GENERATOR_OPTIONS,
      serverName: 'test',
      localUsers,
      rooms: 12,
      eventsPerRoom: 120,
      membersPerRoom: 6,
      spaceRatio: 0.2,
      stateChurn: 0.15,
      batchEvents: 400,
      seed: 7,
    };
    const ids = new Set<string>();
    let batches = 0;
    for (const batch of generateImportBatches(options)) {
      assert.ok(batch.reduce((n, r) => n + r.events.length, 0) <= 400);
      await rooms.importRooms(s.app.orm.em.fork(), batch);
      batch.forEach((r) => ids.add(r.roomId!));
      batches += 1;
    }
    assert.equal(ids.size, 12);
    assert.ok(batches > 3, 'rooms continue across batches');
    assert.deepEqual(await inconsistentRooms(em, [...ids]), []);
    const kinds = await em.getConnection().execute<any[]>(
      `SELECT count(*) FILTER (WHERE type = 'm.reaction') AS reactions, count(*) FILTER (WHERE type = 'm.room.redaction') AS redactions,
              count(*) FILTER (WHERE sender NOT LIKE '%:test') AS remote, count(*) FILTER (WHERE type = 'm.space.child') AS children
         FROM events WHERE room_id IN (?)`,
      [[...ids]],
    );
    for (const k of ['reactions', 'redactions', 'remote', 'children']) assert.ok(Number(kinds[0][k]) > 0, k);
  });

  it('seedDataset creates users and rooms through the services', async () => {
    const users = new UserService('test', null);
    const prefix = uniq('seed');
    const report = await seedDataset(() => s.app.orm.em.fork(), rooms, users, {
      ...DEFAULT_GENERATOR_OPTIONS,
      serverName: 'test',
      rooms: 3,
      eventsPerRoom: 10,
      userCount: 4,
      userPrefix: prefix,
      batchEvents: 1000,
    });
    assert.equal(report.rooms, 3);
    assert.equal(report.users, 4);
    const created = await em.getConnection().execute<any[]>('SELECT count(*) AS n FROM users WHERE name LIKE ?', [`@${prefix}%`]);
    assert.equal(Number(created[0].n), 4);
  });
});
