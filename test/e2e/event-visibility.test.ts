/**
 * The visibility of single events to clients (`GET /event`, and the event of a client `/context`)
 * is decided from one statement that reads the event with what decides it. This checks every
 * decision, for each user and each event of a room with a varied history, against the same rule
 * (`isEventVisible`) fed from separate reads of each fact: the user's local membership, the state
 * after the event (history visibility and the user's member event), the content the event
 * replaced, the user's ignore list and the room's retention policy.
 */
import { strict as assert } from 'node:assert';
import { sharedStack } from '../support/root-hooks';
import { http, registerUser, uniq, type Stack, type TestUser } from '../support/stack';
import { C } from '../support/client';
import { createRoom, enc, invite, join, leave, send, sendState } from './pagination.helpers';
import { EventRepository } from '../../src/rooms/event.repository';
import { RoomRepository } from '../../src/rooms/room.repository';
import { isEventVisible } from '../../src/rooms/event-visibility';
import type { StoredEvent } from '../../src/rooms/room.types';

/** The decision and the membership after the event, each fact read on its own. */
async function expected(s: Stack, userId: string, e: StoredEvent): Promise<{ visible: boolean; membership: string | null }> {
  const em = s.app.orm.em.fork();
  const events = new EventRepository();
  const local = await new RoomRepository().getLocalMembership(em, e.roomId, userId);
  const state = await events.getStateAt(em, e.roomId, e.streamOrdering, {
    types: ['m.room.history_visibility', 'm.room.member'],
    memberKeys: [userId],
  });
  const prev = e.replacesState ? (await events.getContents(em, [e.replacesState])).get(e.replacesState)?.content : undefined;
  const ignores = await em
    .getConnection()
    .execute<unknown[]>('SELECT 1 FROM ignored_users WHERE ignorer_user_id = ? AND ignored_user_id = ?', [userId, e.sender]);
  const ignored = e.stateKey === null && ignores.length > 0;
  const hv = state.find((x) => x.type === 'm.room.history_visibility')?.content.history_visibility;
  const m = state.find((x) => x.type === 'm.room.member')?.content.membership;
  const membership = typeof m === 'string' ? m : null;
  const visible = isEventVisible(e, userId, {
    senderIgnored: ignored,
    visibility: typeof hv === 'string' ? hv : null,
    previousVisibility: typeof prev?.history_visibility === 'string' ? prev.history_visibility : null,
    membership,
    previousMembership: typeof prev?.membership === 'string' ? prev.membership : null,
    peeking: local?.membership !== 'join',
    maxLifetimeMs: null,
    now: Date.now(),
  });
  return { visible, membership };
}

describe('Event visibility to clients, read in one statement', () => {
  let s: Stack;
  let alice: TestUser;
  let bob: TestUser;
  let carol: TestUser;
  let dave: TestUser;
  let room: string;

  before(async () => {
    s = await sharedStack();
    [alice, bob, carol, dave] = await Promise.all(['visa', 'visb', 'visc', 'visd'].map((n) => registerUser(s, uniq(n))));
    room = await createRoom(s, alice.token, { preset: 'private_chat' });
    const hv = (v: string) => sendState(s, alice.token, room, 'm.room.history_visibility', { history_visibility: v });
    await send(s, alice.token, room, 'shared, before anyone');
    await invite(s, alice.token, room, bob.userId);
    await join(s, bob.token, room);
    await send(s, bob.token, room, 'bob joined');
    await hv('joined');
    await send(s, alice.token, room, 'joined visibility');
    await leave(s, bob.token, room);
    await send(s, alice.token, room, 'after bob left');
    await hv('invited');
    await invite(s, alice.token, room, carol.userId);
    await send(s, alice.token, room, 'carol invited');
    await join(s, carol.token, room);
    await send(s, carol.token, room, 'carol joined');
    await hv('world_readable');
    await send(s, alice.token, room, 'world readable');
    await hv('shared');
    await send(s, alice.token, room, 'shared again');
    await sendState(s, alice.token, room, 'm.room.topic', { topic: 'a state event from alice' });
    // Carol ignores alice: alice's messages disappear for her, her state events do not.
    const ignore = await http(s, 'PUT', `${C}/user/${enc(carol.userId)}/account_data/m.ignored_user_list`, {
      token: carol.token,
      body: { ignored_users: { [alice.userId]: {} } },
    });
    assert.equal(ignore.status, 200);
  });

  it('decides as the separate reads do, for every user and event, on /event and /context', async () => {
    const em = s.app.orm.em.fork();
    const ids = (
      await em
        .getConnection()
        .execute<{ event_id: string }[]>('SELECT event_id FROM events WHERE room_id = ? ORDER BY stream_ordering', [room])
    ).map((r) => r.event_id);
    const events = await new EventRepository().getEvents(em, ids);
    let shown = 0;
    let hidden = 0;
    for (const user of [alice, bob, carol, dave]) {
      for (const e of events) {
        const want = await expected(s, user.userId, e);
        const got = await http(s, 'GET', `${C}/rooms/${enc(room)}/event/${enc(e.eventId)}`, { token: user.token });
        const what = `${user.userId} reading ${e.type} ${JSON.stringify(e.content)}`;
        if (want.visible) {
          shown++;
          assert.equal(got.status, 200, what);
          const own = e.type === 'm.room.member' && e.stateKey === user.userId;
          assert.equal(got.body.unsigned.membership, own ? e.content.membership : (want.membership ?? 'leave'), what);
        } else {
          hidden++;
          assert.deepEqual([got.status, got.body.errcode], [404, 'M_NOT_FOUND'], what);
        }
        const context = await http(s, 'GET', `${C}/rooms/${enc(room)}/context/${enc(e.eventId)}?limit=2`, { token: user.token });
        assert.equal(context.status, want.visible ? 200 : 403, `context: ${what}`);
      }
    }
    // The history must exercise both answers for several users (else the comparison proves little).
    assert.ok(shown > 20 && hidden > 20, `${shown} shown, ${hidden} hidden`);
  });
});
