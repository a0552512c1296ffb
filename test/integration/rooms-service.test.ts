/**
 * RoomService against the real stack (PostgreSQL, Redis locks): room creation, sends, membership
 * rules, blocking, forgetting, stats, concurrency.
 */
import { strict as assert } from 'node:assert';
import { sharedStack } from '../support/root-hooks';
import { registerUser, startStack, uniq, type Stack, type TestUser } from '../support/stack';
import type { RoomService } from '../../src/rooms/room.service';
import { EventWriteRepository } from '../../src/rooms/event-write.repository';
import type { Em } from '../../src/infra/orm';
import { MatrixError } from '../../src/errors';

function roomsOf(s: Stack): RoomService {
  return s.app.services.rooms;
}

async function timeline(
  em: Em,
  roomId: string,
): Promise<{ type: string; state_key: string | null; depth: number; stream: number; content: any; sender: string }[]> {
  const rows = await em
    .getConnection()
    .execute<any[]>('SELECT type, state_key, depth, stream_ordering, content, sender FROM events WHERE room_id = ? ORDER BY depth', [
      roomId,
    ]);
  return rows.map((r) => ({
    type: r.type,
    state_key: r.state_key,
    depth: Number(r.depth),
    stream: Number(r.stream_ordering),
    content: r.content,
    sender: r.sender,
  }));
}

async function stats(em: Em, roomId: string): Promise<any> {
  return (await em.getConnection().execute<any[]>('SELECT * FROM room_stats WHERE room_id = ?', [roomId]))[0];
}

async function rejects(p: Promise<unknown>, status: number, errcode: string, message?: string | RegExp): Promise<void> {
  await assert.rejects(p, (err: unknown) => {
    assert.ok(err instanceof MatrixError, `expected MatrixError, got ${String(err)}`);
    assert.equal(err.httpStatus, status, err.message);
    assert.equal(err.errcode, errcode, err.message);
    if (typeof message === 'string') assert.equal(err.message, message);
    else if (message) assert.match(err.message, message);
    return true;
  });
}

const msg = (body: string) => ({ type: 'm.room.message', content: { msgtype: 'm.text', body } });

describe('RoomService', () => {
  let s: Stack;
  let rooms: RoomService;
  let em: Em;
  let alice: TestUser;
  let bob: TestUser;
  let carol: TestUser;

  before(async () => {
    s = await sharedStack();
    rooms = roomsOf(s);
    em = s.app.orm.em.fork();
    alice = await registerUser(s, uniq('alice'));
    bob = await registerUser(s, uniq('bob'));
    carol = await registerUser(s, uniq('carol'));
  });

  describe('createRoom', () => {
    it('a public room by one user has exactly the 5 state events, in order', async () => {
      const { roomId } = await rooms.createRoom(em, alice.userId, { preset: 'public_chat' });
      assert.match(roomId, /^![A-Za-z]{18}:test$/);
      const tl = await timeline(em, roomId);
      assert.deepEqual(
        tl.map((e) => e.type),
        ['m.room.create', 'm.room.member', 'm.room.power_levels', 'm.room.join_rules', 'm.room.history_visibility'],
      );
      assert.deepEqual(
        tl.map((e) => e.depth),
        [1, 2, 3, 4, 5],
      );
      for (let i = 1; i < tl.length; i++) assert.ok(tl[i].stream > tl[i - 1].stream);
      assert.deepEqual(tl[0].content, { room_version: '10', creator: alice.userId });
      assert.equal(tl[1].content.membership, 'join');
      assert.equal(tl[2].content.users[alice.userId], 100);
      assert.equal(tl[3].content.join_rule, 'public');
      assert.equal(tl[4].content.history_visibility, 'shared');
      const st = await stats(em, roomId);
      assert.equal(st.joined_members, 1);
      assert.equal(st.joined_local_members, 1);
      assert.equal(st.state_events, 5);
      assert.equal(st.join_rules, 'public');
      assert.equal(st.history_visibility, 'shared');
      assert.equal(st.creator, alice.userId);
      assert.equal(st.room_version, '10');
      assert.equal(st.federatable, true);
      assert.equal(st.is_public, false, 'visibility defaults to private');
      const extremities = await em
        .getConnection()
        .execute<any[]>('SELECT event_id FROM event_forward_extremities WHERE room_id = ?', [roomId]);
      assert.equal(extremities.length, 1);
    });

    it('private_chat adds guest access; alias, initial state, name, topic and invites follow Synapse order', async () => {
      const alias = uniq('alias');
      const { roomId, roomAlias } = await rooms.createRoom(em, alice.userId, {
        roomAliasName: alias,
        name: 'Room',
        topic: 'About',
        invite: [bob.userId],
        isDirect: true,
        initialState: [{ type: 'm.room.encryption', content: { algorithm: 'm.megolm.v1.aes-sha2' } }],
      });
      assert.equal(roomAlias, `#${alias}:test`);
      const tl = await timeline(em, roomId);
      assert.deepEqual(
        tl.map((e) => `${e.type}|${e.state_key}`),
        [
          `m.room.create|`,
          `m.room.member|${alice.userId}`,
          'm.room.power_levels|',
          'm.room.canonical_alias|',
          'm.room.join_rules|',
          'm.room.history_visibility|',
          'm.room.guest_access|',
          'm.room.encryption|',
          'm.room.name|',
          'm.room.topic|',
          `m.room.member|${bob.userId}`,
        ],
      );
      assert.equal(tl[2].content.invite, 0, 'private_chat lets members invite');
      assert.equal(tl[10].content.membership, 'invite');
      assert.equal(tl[10].content.is_direct, true);
      const st = await stats(em, roomId);
      assert.deepEqual(
        [st.name, st.topic, st.canonical_alias, st.encryption, st.guest_access, st.join_rules],
        ['Room', 'About', `#${alias}:test`, 'm.megolm.v1.aes-sha2', 'can_join', 'invite'],
      );
      assert.deepEqual([st.joined_members, st.invited_members, st.state_events], [1, 1, 11]);
      assert.equal((await rooms.resolveAlias(em, `#${alias}:test`)).roomId, roomId);
    });

    it('records the room type of spaces and the public flag', async () => {
      const { roomId } = await rooms.createRoom(em, alice.userId, { visibility: 'public', creationContent: { type: 'm.space' } });
      const room = await rooms.getRoom(em, roomId);
      assert.equal(room?.roomType, 'm.space');
      assert.equal(room?.isPublic, true);
      const st = await stats(em, roomId);
      assert.deepEqual([st.room_type, st.is_public, st.join_rules], ['m.space', true, 'public']);
    });

    it('refuses bad options with Synapse errors', async () => {
      await rejects(
        rooms.createRoom(em, alice.userId, { roomVersion: '99' }),
        400,
        'M_UNSUPPORTED_ROOM_VERSION',
        'Your homeserver does not support this room version',
      );
      await rejects(rooms.createRoom(em, alice.userId, { preset: 'nope' }), 400, 'M_BAD_JSON', "'nope' is not a valid preset");
      await rejects(rooms.createRoom(em, alice.userId, { roomAliasName: 'a b' }), 400, 'M_UNKNOWN', 'Invalid characters in room alias');
      await rejects(rooms.createRoom(em, alice.userId, { roomAliasName: 'a:b' }), 400, 'M_UNKNOWN', /':' is not permitted/);
      await rejects(rooms.createRoom(em, alice.userId, { invite: ['bob'] }), 400, 'M_UNKNOWN', 'Invalid user_id: bob');
      await rejects(
        rooms.createRoom(em, alice.userId, { powerLevelContentOverride: { users: { [bob.userId]: 100 } } }),
        400,
        'M_UNKNOWN',
        /'users' did not contain/,
      );
      await rejects(
        rooms.createRoom(em, alice.userId, { initialState: [{ type: 'm.room.name', content: { name: 5 } }] }),
        400,
        'M_UNKNOWN',
        "'name' not a string type",
      );
      const alias = uniq('taken');
      await rooms.createRoom(em, alice.userId, { roomAliasName: alias });
      await rejects(rooms.createRoom(em, bob.userId, { roomAliasName: alias }), 400, 'M_ROOM_IN_USE', 'Room alias already taken');
    });

    it('room version 11 uses the implicit creator', async () => {
      const { roomId } = await rooms.createRoom(em, alice.userId, { roomVersion: '11', preset: 'public_chat' });
      const tl = await timeline(em, roomId);
      assert.deepEqual(tl[0].content, { room_version: '11' });
      await rooms.sendEvent(em, alice.userId, roomId, msg('v11'));
    });
  });

  describe('sendEvent', () => {
    let roomId: string;
    before(async () => {
      roomId = (await rooms.createRoom(em, alice.userId, { preset: 'public_chat' })).roomId;
      await rooms.updateMembership(em, bob.userId, bob.userId, roomId, 'join');
    });

    it('is idempotent per (sender, device, txn id) and scoped per device', async () => {
      const a = await rooms.sendEvent(em, alice.userId, roomId, { ...msg('once'), txnId: 'txn1', deviceId: 'DEV1' });
      const b = await rooms.sendEvent(em, alice.userId, roomId, { ...msg('twice'), txnId: 'txn1', deviceId: 'DEV1' });
      assert.equal(b.eventId, a.eventId);
      assert.equal(b.deduplicated, true);
      const c = await rooms.sendEvent(em, alice.userId, roomId, { ...msg('other device'), txnId: 'txn1', deviceId: 'DEV2' });
      assert.notEqual(c.eventId, a.eventId);
      const d = await rooms.sendEvent(em, bob.userId, roomId, { ...msg('other user'), txnId: 'txn1', deviceId: 'DEV1' });
      assert.notEqual(d.eventId, a.eventId);
      const e = await rooms.sendEvent(em, alice.userId, roomId, { ...msg('token scope'), txnId: 'txn1', tokenId: 77 });
      const f = await rooms.sendEvent(em, alice.userId, roomId, { ...msg('token scope again'), txnId: 'txn1', tokenId: 77 });
      assert.equal(f.eventId, e.eventId);
    });

    it('concurrent identical transactions create one event', async () => {
      const results = await Promise.all(
        Array.from({ length: 8 }, () =>
          rooms.sendEvent(s.app.orm.em.fork(), alice.userId, roomId, { ...msg('race'), txnId: 'race1', deviceId: 'DEVR' }),
        ),
      );
      assert.equal(new Set(results.map((r) => r.eventId)).size, 1);
    });

    it('concurrent sends into one room get distinct, gap-free depths and ordered stream positions', async () => {
      const { roomId: r } = await rooms.createRoom(em, alice.userId, { preset: 'public_chat' });
      const n = 60;
      await Promise.all(Array.from({ length: n }, (_, i) => rooms.sendEvent(s.app.orm.em.fork(), alice.userId, r, msg(`m${i}`))));
      const tl = await timeline(em, r);
      assert.equal(tl.length, 5 + n);
      assert.deepEqual(
        tl.map((e) => e.depth),
        Array.from({ length: 5 + n }, (_, i) => i + 1),
      );
      for (let i = 1; i < tl.length; i++) assert.ok(tl[i].stream > tl[i - 1].stream, 'stream ordering increases with depth');
      const ext = await em
        .getConnection()
        .execute<any[]>('SELECT e.depth FROM event_forward_extremities f JOIN events e USING (event_id) WHERE f.room_id = ?', [r]);
      assert.deepEqual(
        ext.map((x) => Number(x.depth)),
        [5 + n],
      );
    });

    it('concurrent sends into one room are accepted or refused one by one', async () => {
      const { roomId: r } = await rooms.createRoom(em, alice.userId, { preset: 'public_chat' });
      const fork = () => s.app.orm.em.fork();
      const outcomes = await Promise.allSettled([
        ...Array.from({ length: 12 }, (_, i) => rooms.sendEvent(fork(), alice.userId, r, msg(`ok ${i}`))),
        ...Array.from({ length: 4 }, () => rooms.sendEvent(fork(), carol.userId, r, msg('not a member'))),
        ...Array.from({ length: 4 }, () =>
          rooms.sendEvent(fork(), alice.userId, r, { type: 'm.room.message', content: { body: 'no msgtype' } }),
        ),
      ]);
      assert.equal(outcomes.slice(0, 12).filter((o) => o.status === 'fulfilled').length, 12);
      for (const o of outcomes.slice(12, 16)) assert.ok(o.status === 'rejected' && (o.reason as MatrixError).httpStatus === 403);
      for (const o of outcomes.slice(16)) assert.ok(o.status === 'rejected' && (o.reason as MatrixError).httpStatus === 400);
      const tl = await timeline(em, r);
      assert.equal(tl.length, 5 + 12);
      assert.deepEqual(
        tl.map((e) => e.depth),
        Array.from({ length: 17 }, (_, i) => i + 1),
      );
    });

    it('concurrent sends into many rooms (and an unknown one) each get their own outcome', async () => {
      const ids = await Promise.all(
        [1, 2, 3, 4].map(async () => (await rooms.createRoom(s.app.orm.em.fork(), alice.userId, { preset: 'public_chat' })).roomId),
      );
      const fork = () => s.app.orm.em.fork();
      const sends = [...ids, '!unknown:test'].flatMap((r) =>
        Array.from({ length: 6 }, (_, i) => ({ r, p: rooms.sendEvent(fork(), alice.userId, r, msg(`${r} ${i}`)) })),
      );
      const outcomes = await Promise.allSettled(sends.map((x) => x.p));
      outcomes.forEach((o, i) => {
        if (sends[i].r === '!unknown:test')
          assert.ok(o.status === 'rejected' && (o.reason as MatrixError).message === `User ${alice.userId} not in room !unknown:test`);
        else assert.equal(o.status, 'fulfilled');
      });
      for (const r of ids)
        assert.deepEqual(
          (await timeline(em, r)).map((e) => e.depth),
          Array.from({ length: 11 }, (_, i) => i + 1),
        );
    });

    it('overlapping multi-room writes keep every room gap-free (optimistic guards lost and retried)', async () => {
      const ids = await Promise.all(
        [1, 2, 3].map(async () => (await rooms.createRoom(s.app.orm.em.fork(), alice.userId, { preset: 'public_chat' })).roomId),
      );
      const draft = (body: string) => ({ ...msg(body), stateKey: null, sender: alice.userId });
      // Each call writes two rooms; every pair of calls shares a room, so optimistic guards collide.
      const pairs = Array.from({ length: 24 }, (_, i) => [ids[i % 3], ids[(i + 1) % 3]]);
      await Promise.all(
        pairs.map((pair, i) =>
          rooms.persistBatches(
            s.app.orm.em.fork(),
            pair.map((roomId) => ({ roomId, drafts: [draft(`w${i}`), draft(`w${i}b`)] })),
          ),
        ),
      );
      for (const r of ids) {
        const tl = await timeline(em, r);
        assert.equal(tl.length, 5 + 16 * 2);
        assert.deepEqual(
          tl.map((e) => e.depth),
          Array.from({ length: tl.length }, (_, i) => i + 1),
        );
        const last = await em.getConnection().execute<any[]>('SELECT last_depth FROM rooms WHERE room_id = ?', [r]);
        assert.equal(Number(last[0].last_depth), tl.length);
      }
    });

    it('a write whose guards hold for only some of its rooms writes nothing at all', async () => {
      const [a, b] = await Promise.all(
        [1, 2].map(async () => (await rooms.createRoom(s.app.orm.em.fork(), alice.userId, { preset: 'public_chat' })).roomId),
      );
      const repo = new EventWriteRepository();
      const fork = s.app.orm.em.fork();
      // Stream orderings come from the sequence, so no other write can be given the same ones.
      const streams = (
        await fork.getConnection().execute<any[]>("SELECT nextval('events_stream_seq') AS n FROM generate_series(1, 4)")
      ).map((r) => Number(r.n));
      const stream = streams[0];
      const event = (roomId: string, id: string) => ({
        event_id: id,
        room_id: roomId,
        type: 'm.room.message',
        state_key: null,
        sender: alice.userId,
        content: { body: 'x' },
        origin_server_ts: 1,
        received_ts: 1,
        depth: 6,
        stream_ordering: streams[(roomId === a ? 0 : 1) + (id.startsWith('$whole') ? 2 : 0)],
        prev_events: [],
        auth_events: [],
        redacts: null,
        replaces_state: null,
        redacted_by: null,
        txn_scope: null,
        txn_id: null,
        contains_url: false,
        labels: [],
      });
      const empty = {
        newRooms: [],
        newStats: [],
        currentState: [],
        memberships: [],
        localMemberships: [],
        relations: [],
        retention: [],
        redactions: [],
        extremities: [],
        stats: [],
        aliases: [],
      };
      // Room a's guard holds (its depth is 5); room b's names a stale depth.
      const held = await repo.write(fork, {
        ...empty,
        guards: [
          { room_id: a, old_depth: 5, new_depth: 6 },
          { room_id: b, old_depth: 4, new_depth: 6 },
        ],
        events: [event(a, `$partial-a-${stream}`), event(b, `$partial-b-${stream}`)],
      });
      assert.equal(held, 0);
      const depths = await fork.getConnection().execute<any[]>('SELECT room_id, last_depth FROM rooms WHERE room_id IN (?, ?)', [a, b]);
      assert.deepEqual(
        depths.map((d) => Number(d.last_depth)),
        [5, 5],
      );
      const written = await fork
        .getConnection()
        .execute<any[]>('SELECT count(*)::int AS n FROM events WHERE event_id IN (?, ?)', [`$partial-a-${stream}`, `$partial-b-${stream}`]);
      assert.equal(written[0].n, 0);
      // The same write with both guards right goes through.
      assert.equal(
        await repo.write(fork, {
          ...empty,
          guards: [
            { room_id: a, old_depth: 5, new_depth: 6 },
            { room_id: b, old_depth: 5, new_depth: 6 },
          ],
          events: [event(a, `$whole-a-${stream}`), event(b, `$whole-b-${stream}`)],
        }),
        2,
      );
    });

    it('links prev_events to the previous event and records auth events', async () => {
      const first = await rooms.sendEvent(em, alice.userId, roomId, msg('a'));
      const second = await rooms.sendEvent(em, alice.userId, roomId, msg('b'));
      const ev = await rooms.getEvent(em, second.eventId);
      assert.deepEqual(ev?.prevEvents, [first.eventId]);
      assert.equal(ev?.authEvents.length, 3);
      assert.equal(ev?.depth, first.depth + 1);
    });

    it('refuses non-members, unknown rooms and insufficient power', async () => {
      await rejects(rooms.sendEvent(em, carol.userId, roomId, msg('x')), 403, 'M_FORBIDDEN', `User ${carol.userId} not in room ${roomId}`);
      await rejects(
        rooms.sendEvent(em, alice.userId, '!unknown:test', msg('x')),
        403,
        'M_FORBIDDEN',
        `User ${alice.userId} not in room !unknown:test`,
      );
      await rejects(
        rooms.sendEvent(em, bob.userId, roomId, { type: 'm.room.name', stateKey: '', content: { name: 'mine' } }),
        403,
        'M_FORBIDDEN',
        "You don't have permission to post that to the room. user_level (0) < send_level (50)",
      );
      await rejects(
        rooms.sendEvent(em, alice.userId, roomId, { type: 'm.custom', stateKey: bob.userId, content: {} }),
        403,
        'M_FORBIDDEN',
        'You are not allowed to set others state',
      );
    });

    it('validates content like Synapse', async () => {
      await rejects(
        rooms.sendEvent(em, alice.userId, roomId, { type: 'm.room.message', content: { body: 'no msgtype' } }),
        400,
        'M_UNKNOWN',
        "'msgtype' not in content",
      );
      await rejects(
        rooms.sendEvent(em, alice.userId, roomId, { type: 'm.room.message', content: { msgtype: 'm.text', body: 1.5 } }),
        400,
        'M_UNKNOWN',
        "'body' not a string type",
      );
      await rejects(
        rooms.sendEvent(em, alice.userId, roomId, { type: 'm.room.topic', content: { topic: 'not state' } }),
        400,
        'M_UNKNOWN',
        "'m.room.topic' must be state events",
      );
      await rejects(
        rooms.sendEvent(em, alice.userId, roomId, { type: 'm.room.power_levels', stateKey: '', content: { ban: '50' } }),
        400,
        'M_BAD_JSON',
        `"ban": '50' is not of type 'integer'`,
      );
      await rejects(rooms.sendEvent(em, alice.userId, roomId, { type: 'm.custom', content: { n: 1.5 } }), 400, 'M_BAD_JSON');
    });

    it('validates m.room.retention (spec §8.2) and records valid policies', async () => {
      await rejects(
        rooms.sendEvent(em, alice.userId, roomId, { type: 'm.room.retention', content: { max_lifetime: 1 } }),
        400,
        'M_UNKNOWN',
        'must be a state event',
      );
      await rejects(
        rooms.sendEvent(em, alice.userId, roomId, { type: 'm.room.retention', stateKey: '', content: { min_lifetime: '1' } }),
        400,
        'M_BAD_JSON',
        "'min_lifetime' must be an integer",
      );
      await rejects(
        rooms.sendEvent(em, alice.userId, roomId, { type: 'm.room.retention', stateKey: '', content: { max_lifetime: true } }),
        400,
        'M_BAD_JSON',
        "'max_lifetime' must be an integer",
      );
      await rejects(
        rooms.sendEvent(em, alice.userId, roomId, {
          type: 'm.room.retention',
          stateKey: '',
          content: { min_lifetime: 10, max_lifetime: 5 },
        }),
        400,
        'M_BAD_JSON',
        "'min_lifetime' can't be greater than 'max_lifetime",
      );
      const ok = await rooms.sendEvent(em, alice.userId, roomId, {
        type: 'm.room.retention',
        stateKey: '',
        content: { max_lifetime: 86_400_000 },
      });
      const rows = await em
        .getConnection()
        .execute<any[]>('SELECT room_id, min_lifetime, max_lifetime FROM room_retention WHERE event_id = ?', [ok.eventId]);
      assert.deepEqual(
        rows.map((r) => [r.room_id, r.min_lifetime, Number(r.max_lifetime)]),
        [[roomId, null, 86_400_000]],
      );
    });

    it('deduplicates identical state and tracks replaces_state / prev_content', async () => {
      const a = await rooms.sendEvent(em, alice.userId, roomId, { type: 'm.room.topic', stateKey: '', content: { topic: 't1' } });
      const again = await rooms.sendEvent(em, alice.userId, roomId, { type: 'm.room.topic', stateKey: '', content: { topic: 't1' } });
      assert.equal(again.eventId, a.eventId);
      assert.equal(again.deduplicated, true);
      const b = await rooms.sendEvent(em, alice.userId, roomId, { type: 'm.room.topic', stateKey: '', content: { topic: 't2' } });
      const [view] = await rooms.serializeEvents(em, [(await rooms.getEvent(em, b.eventId))!]);
      assert.equal(view.unsigned.replaces_state, a.eventId);
      assert.deepEqual(view.unsigned.prev_content, { topic: 't1' });
      assert.equal((await stats(em, roomId)).topic, 't2');
    });

    it('records relations and refuses bad ones', async () => {
      const parent = await rooms.sendEvent(em, alice.userId, roomId, msg('parent'));
      const reaction = await rooms.sendEvent(em, bob.userId, roomId, {
        type: 'm.reaction',
        content: { 'm.relates_to': { rel_type: 'm.annotation', event_id: parent.eventId, key: '👍' } },
      });
      const rel = await em
        .getConnection()
        .execute<any[]>('SELECT relates_to_id, relation_type, aggregation_key, sender FROM event_relations WHERE event_id = ?', [
          reaction.eventId,
        ]);
      assert.deepEqual(rel, [{ relates_to_id: parent.eventId, relation_type: 'm.annotation', aggregation_key: '👍', sender: bob.userId }]);
      await rejects(
        rooms.sendEvent(em, bob.userId, roomId, {
          type: 'm.reaction',
          content: { 'm.relates_to': { rel_type: 'm.annotation', event_id: parent.eventId, key: '👍' } },
        }),
        400,
        'M_DUPLICATE_ANNOTATION',
      );
      await rejects(
        rooms.sendEvent(em, bob.userId, roomId, {
          type: 'm.reaction',
          content: { 'm.relates_to': { rel_type: 'm.annotation', event_id: parent.eventId } },
        }),
        400,
        'M_UNKNOWN',
        'Missing aggregation key',
      );
      await rejects(
        rooms.sendEvent(em, bob.userId, roomId, {
          ...msg('r'),
          content: { msgtype: 'm.text', body: 'r', 'm.relates_to': { rel_type: 'm.reference', event_id: '$nope' } },
        }),
        400,
        'M_UNKNOWN',
        "Can't send relation to unknown event",
      );
      await rejects(
        rooms.sendEvent(em, bob.userId, roomId, {
          ...msg('t'),
          content: { msgtype: 'm.text', body: 't', 'm.relates_to': { rel_type: 'm.thread', event_id: reaction.eventId } },
        }),
        400,
        'M_UNKNOWN',
        'Cannot start threads from an event with a relation',
      );
    });

    it('redacts: own events without power, others only with the redact level', async () => {
      const mine = await rooms.sendEvent(em, bob.userId, roomId, msg('bob says'));
      const hers = await rooms.sendEvent(em, alice.userId, roomId, msg('alice says'));
      await rejects(
        rooms.redactEvent(em, bob.userId, roomId, hers.eventId),
        403,
        'M_FORBIDDEN',
        "You don't have permission to redact events",
      );
      const r = await rooms.redactEvent(em, bob.userId, roomId, mine.eventId, { reason: 'oops' });
      const [view] = await rooms.serializeEvents(em, [(await rooms.getEvent(em, mine.eventId))!]);
      assert.deepEqual(view.content, {});
      assert.equal(view.unsigned.redacted_by, r.eventId);
      assert.equal((view.unsigned.redacted_because as any).content.reason, 'oops');
      await rooms.redactEvent(em, alice.userId, roomId, hers.eventId);
      const create = (await rooms.getStateEvent(em, roomId, 'm.room.create'))!;
      await rejects(
        rooms.redactEvent(em, alice.userId, roomId, create.eventId),
        403,
        'M_FORBIDDEN',
        'Redacting create events is not permitted',
      );
      await rejects(rooms.redactEvent(em, bob.userId, roomId, '$missing'), 404, 'M_NOT_FOUND', 'Could not find event $missing');
    });
  });

  describe('updateMembership', () => {
    it('enforces join rules, invites, kicks, bans and unbans', async () => {
      const { roomId } = await rooms.createRoom(em, alice.userId, { preset: 'private_chat' });
      await rejects(
        rooms.updateMembership(em, bob.userId, bob.userId, roomId, 'join'),
        403,
        'M_FORBIDDEN',
        'You are not invited to this room.',
      );
      await rejects(
        rooms.updateMembership(em, bob.userId, carol.userId, roomId, 'invite'),
        403,
        'M_FORBIDDEN',
        `${bob.userId} not in room ${roomId}.`,
      );
      await rooms.updateMembership(em, alice.userId, bob.userId, roomId, 'invite');
      await rooms.updateMembership(em, bob.userId, bob.userId, roomId, 'join');
      await rejects(
        rooms.updateMembership(em, alice.userId, bob.userId, roomId, 'invite'),
        403,
        'M_FORBIDDEN',
        `${bob.userId} is already in the room.`,
      );
      await rejects(
        rooms.updateMembership(em, bob.userId, alice.userId, roomId, 'kick'),
        403,
        'M_FORBIDDEN',
        `You cannot kick user ${alice.userId}.`,
      );
      await rejects(
        rooms.updateMembership(em, bob.userId, alice.userId, roomId, 'ban'),
        403,
        'M_FORBIDDEN',
        "You don't have permission to ban",
      );
      await rooms.updateMembership(em, alice.userId, bob.userId, roomId, 'kick', { reason: 'bye' });
      await rejects(
        rooms.updateMembership(em, alice.userId, bob.userId, roomId, 'kick'),
        403,
        'M_FORBIDDEN',
        'The target user is not in the room',
      );
      await rejects(
        rooms.updateMembership(em, alice.userId, bob.userId, roomId, 'unban'),
        403,
        'M_BAD_STATE',
        'Cannot unban user who was not banned (membership=leave)',
      );
      await rooms.updateMembership(em, alice.userId, bob.userId, roomId, 'ban');
      await rejects(
        rooms.updateMembership(em, alice.userId, bob.userId, roomId, 'invite'),
        403,
        'M_BAD_STATE',
        'Cannot invite user who was banned',
      );
      await rejects(
        rooms.updateMembership(em, bob.userId, bob.userId, roomId, 'join'),
        403,
        'M_BAD_STATE',
        'Cannot join user who was banned',
      );
      await rooms.updateMembership(em, alice.userId, bob.userId, roomId, 'unban');
      const st = await stats(em, roomId);
      assert.deepEqual([st.joined_members, st.banned_members, st.left_members, st.invited_members], [1, 0, 1, 0]);
    });

    it('public rooms can be joined; repeated joins are deduplicated', async () => {
      const { roomId } = await rooms.createRoom(em, alice.userId, { preset: 'public_chat' });
      const j1 = await rooms.updateMembership(em, bob.userId, bob.userId, roomId, 'join');
      const j2 = await rooms.updateMembership(em, bob.userId, bob.userId, roomId, 'join');
      assert.equal(j2.eventId, j1.eventId);
      assert.deepEqual(await rooms.getJoinedRooms(em, bob.userId).then((r) => r.includes(roomId)), true);
      const members = await rooms.getJoinedMembers(em, roomId);
      assert.deepEqual(members.map((m) => m.userId).sort(), [alice.userId, bob.userId].sort());
      await rooms.updateMembership(em, bob.userId, bob.userId, roomId, 'leave');
      assert.equal((await rooms.getLocalMembership(em, roomId, bob.userId))?.membership, 'leave');
    });

    it('knock: only in knock rooms, then the knocker can be invited', async () => {
      const { roomId } = await rooms.createRoom(em, alice.userId, { preset: 'private_chat' });
      await rejects(
        rooms.updateMembership(em, bob.userId, bob.userId, roomId, 'knock'),
        403,
        'M_FORBIDDEN',
        "You don't have permission to knock",
      );
      await rooms.sendEvent(em, alice.userId, roomId, { type: 'm.room.join_rules', stateKey: '', content: { join_rule: 'knock' } });
      await rooms.updateMembership(em, bob.userId, bob.userId, roomId, 'knock');
      assert.equal((await stats(em, roomId)).knocked_members, 1);
      await rooms.updateMembership(em, alice.userId, bob.userId, roomId, 'invite');
      await rooms.updateMembership(em, bob.userId, bob.userId, roomId, 'join');
      assert.equal((await stats(em, roomId)).knocked_members, 0);
    });

    it('blocked rooms refuse join, invite and knock but allow leave', async () => {
      const { roomId } = await rooms.createRoom(em, alice.userId, { preset: 'public_chat' });
      await rooms.updateMembership(em, bob.userId, bob.userId, roomId, 'join');
      await rooms.blockRoom(em, roomId, alice.userId);
      assert.deepEqual(await rooms.isBlocked(em, roomId), { blocked: true, userId: alice.userId });
      for (const [actor, target, action] of [
        [carol, carol, 'join'],
        [alice, carol, 'invite'],
        [carol, carol, 'knock'],
      ] as const) {
        await rejects(
          rooms.updateMembership(em, actor.userId, target.userId, roomId, action),
          403,
          'M_UNKNOWN',
          'This room has been blocked on this server',
        );
      }
      await rooms.updateMembership(em, bob.userId, bob.userId, roomId, 'leave');
      await rooms.unblockRoom(em, roomId);
      await rooms.updateMembership(em, carol.userId, carol.userId, roomId, 'join');
    });

    it('unknown rooms: join 404 (no servers), leave 404, invite 403', async () => {
      await rejects(
        rooms.updateMembership(em, bob.userId, bob.userId, '!nope:test', 'join'),
        404,
        'M_UNKNOWN',
        "Can't join remote room because no servers that are in the room have been provided.",
      );
      await rejects(rooms.updateMembership(em, bob.userId, bob.userId, '!nope:test', 'leave'), 404, 'M_UNKNOWN', 'Not a known room');
      await rejects(rooms.updateMembership(em, bob.userId, carol.userId, '!nope:test', 'invite'), 403, 'M_FORBIDDEN', 'Unknown room');
    });

    it('forget needs the user to have left', async () => {
      const { roomId } = await rooms.createRoom(em, alice.userId, { preset: 'public_chat' });
      await rejects(
        rooms.forgetRoom(em, alice.userId, roomId, { scheduleForgottenPurge: true }),
        400,
        'M_UNKNOWN',
        `User ${alice.userId} in room ${roomId}`,
      );
      await rooms.updateMembership(em, alice.userId, alice.userId, roomId, 'leave');
      await rooms.forgetRoom(em, alice.userId, roomId, { scheduleForgottenPurge: true });
      assert.equal((await rooms.getLocalMembership(em, roomId, alice.userId))?.forgotten, true);
    });
  });

  describe('mixed concurrent workload', () => {
    it('keeps stats, current state, depth and extremities consistent', async () => {
      const users = [alice, bob, carol];
      const ids = await Promise.all(
        [1, 2, 3].map(async () => (await rooms.createRoom(s.app.orm.em.fork(), alice.userId, { preset: 'public_chat' })).roomId),
      );
      // A member who stays keeps the server in each room whatever order the leaves land in (a room
      // the server has left loses its current state, which would end the workload's other writes).
      const stays = await registerUser(s, uniq('stays'));
      for (const r of ids) await rooms.updateMembership(s.app.orm.em.fork(), stays.userId, stays.userId, r, 'join');
      const ops: Promise<unknown>[] = [];
      for (let i = 0; i < 90; i++) {
        const r = ids[i % 3];
        const u = users[i % 3];
        const fork = s.app.orm.em.fork();
        if (i % 10 === 0) ops.push(rooms.updateMembership(fork, u.userId, u.userId, r, i % 20 === 0 ? 'join' : 'leave'));
        else if (i % 7 === 0)
          ops.push(rooms.sendEvent(fork, alice.userId, r, { type: 'm.room.topic', stateKey: '', content: { topic: `t${i}` } }));
        else ops.push(rooms.sendEvent(fork, u.userId, r, msg(`m${i}`)));
      }
      await Promise.allSettled(ops);
      const bad = await em.getConnection().execute<any[]>(
        `SELECT s.room_id FROM room_stats s WHERE s.room_id IN (?) AND (
            s.joined_members <> (SELECT count(*) FROM current_state_events c WHERE c.room_id = s.room_id AND c.membership = 'join')
         OR s.left_members <> (SELECT count(*) FROM current_state_events c WHERE c.room_id = s.room_id AND c.membership = 'leave')
         OR s.state_events <> (SELECT count(*) FROM current_state_events c WHERE c.room_id = s.room_id)
         OR s.topic IS DISTINCT FROM (SELECT e.content->>'topic' FROM current_state_events c JOIN events e USING (event_id) WHERE c.room_id = s.room_id AND c.type = 'm.room.topic')
         OR (SELECT count(*) FROM event_forward_extremities f WHERE f.room_id = s.room_id) <> 1
         OR (SELECT max(depth) <> count(*) OR count(DISTINCT depth) <> count(*) FROM events e WHERE e.room_id = s.room_id)
         OR (SELECT r.last_depth FROM rooms r WHERE r.room_id = s.room_id) <> (SELECT max(depth) FROM events e WHERE e.room_id = s.room_id)
         OR EXISTS (SELECT 1 FROM local_current_membership l JOIN current_state_events c ON c.room_id = l.room_id AND c.type = 'm.room.member' AND c.state_key = l.user_id
                     WHERE l.room_id = s.room_id AND (l.event_id <> c.event_id OR l.membership <> c.membership)))`,
        [ids],
      );
      assert.deepEqual(bad, []);
    });
  });

  describe('forgotten room purge scheduling', () => {
    let s2: Stack;
    before(async () => {
      // The room delete service registers `purge_room`, so the scheduler accepts the action.
      s2 = await startStack({ FORGOTTEN_ROOM_RETENTION_PERIOD: '1d' });
    });
    after(async () => s2?.stop());

    it('schedules purge_room at now + period once every local member forgot', async () => {
      const r2 = roomsOf(s2);
      const em2 = s2.app.orm.em.fork();
      const u1 = await registerUser(s2, 'u1');
      const u2 = await registerUser(s2, 'u2');
      const scheduler = s2.app.services.scheduler;
      const { roomId } = await r2.createRoom(em2, u1.userId, { preset: 'public_chat' });
      await r2.updateMembership(em2, u2.userId, u2.userId, roomId, 'join');
      for (const u of [u1, u2]) await r2.updateMembership(em2, u.userId, u.userId, roomId, 'leave');
      await r2.forgetRoom(em2, u1.userId, roomId, { scheduleForgottenPurge: true });
      assert.equal((await scheduler.getTasks(em2, { actions: ['purge_room'], resourceId: roomId })).length, 0, 'u2 has not forgotten yet');
      const before = Date.now();
      await r2.forgetRoom(em2, u2.userId, roomId, { scheduleForgottenPurge: false });
      assert.equal((await scheduler.getTasks(em2, { actions: ['purge_room'], resourceId: roomId })).length, 0, 'suppressed');
      await r2.forgetRoom(em2, u2.userId, roomId, { scheduleForgottenPurge: true });
      const tasks = await scheduler.getTasks(em2, { actions: ['purge_room'], resourceId: roomId });
      assert.equal(tasks.length, 1);
      assert.equal(tasks[0].status, 'scheduled');
      assert.ok(tasks[0].timestamp >= before + 86_400_000 && tasks[0].timestamp <= Date.now() + 86_400_000);
    });
  });
});
