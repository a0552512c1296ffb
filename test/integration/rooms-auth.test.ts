/**
 * Every event auth rule a room administrator relies on, each exercised against the real write
 * path (RoomService, bulk import for remote senders), with Synapse's status, errcode and text.
 */
import { strict as assert } from 'node:assert';
import { sharedStack } from '../support/root-hooks';
import { registerUser, uniq, type Stack, type TestUser } from '../support/stack';
import type { RoomService } from '../../src/rooms/room.service';
import type { Em } from '../../src/infra/orm';
import { MatrixError } from '../../src/errors';

async function rejects(p: Promise<unknown>, status: number, errcode: string, message: string | RegExp): Promise<void> {
  await assert.rejects(p, (err: unknown) => {
    assert.ok(err instanceof MatrixError, `expected MatrixError, got ${String(err)}`);
    assert.deepEqual([err.httpStatus, err.errcode], [status, errcode], err.message);
    if (typeof message === 'string') assert.equal(err.message, message);
    else assert.match(err.message, message);
    return true;
  });
}

describe('event auth rules', () => {
  let s: Stack;
  let rooms: RoomService;
  let em: Em;
  let owner: TestUser;
  let mod: TestUser;
  let member: TestUser;
  let outsider: TestUser;

  before(async () => {
    s = await sharedStack();
    rooms = s.app.services.rooms;
    em = s.app.orm.em.fork();
    [owner, mod, member, outsider] = await Promise.all(['owner', 'mod', 'member', 'outsider'].map((n) => registerUser(s, uniq(n))));
  });

  const state = (sender: TestUser, roomId: string, type: string, content: Record<string, unknown>, stateKey = '') =>
    rooms.sendEvent(em, sender.userId, roomId, { type, stateKey, content });
  const msg = (sender: TestUser, roomId: string) =>
    rooms.sendEvent(em, sender.userId, roomId, { type: 'm.room.message', content: { msgtype: 'm.text', body: 'hi' } });
  const act = (actor: TestUser, target: TestUser, roomId: string, action: Parameters<RoomService['updateMembership']>[4]) =>
    rooms.updateMembership(em, actor.userId, target.userId, roomId, action);

  /** A public room: owner 100, mod 50, member 0, all joined. */
  async function room(extra: Record<string, unknown> = {}): Promise<string> {
    const { roomId } = await rooms.createRoom(em, owner.userId, {
      preset: 'public_chat',
      powerLevelContentOverride: { users: { [owner.userId]: 100, [mod.userId]: 50 }, ...extra },
    });
    await act(mod, mod, roomId, 'join');
    await act(member, member, roomId, 'join');
    return roomId;
  }

  describe('power levels', () => {
    it('send levels: events_default, state_default and per-type levels', async () => {
      const roomId = await room({ events_default: 10 });
      await rejects(
        msg(member, roomId),
        403,
        'M_FORBIDDEN',
        "You don't have permission to post that to the room. user_level (0) < send_level (10)",
      );
      await msg(mod, roomId);
      await rejects(state(member, roomId, 'org.example.custom', {}), 403, 'M_FORBIDDEN', /user_level \(0\) < send_level \(50\)/);
      await rejects(
        state(mod, roomId, 'm.room.history_visibility', { history_visibility: 'joined' }),
        403,
        'M_FORBIDDEN',
        /user_level \(50\) < send_level \(100\)/,
      );
    });

    it('a state key naming another user is only for that user', async () => {
      const roomId = await room();
      await rejects(
        state(owner, roomId, 'org.example.profile', {}, mod.userId),
        403,
        'M_FORBIDDEN',
        'You are not allowed to set others state',
      );
      await state(owner, roomId, 'org.example.profile', {}, owner.userId);
    });

    it('cannot raise anyone above, or remove someone at, your own level', async () => {
      const roomId = await room({ events: { 'm.room.power_levels': 50 } });
      const current = (await rooms.getStateEvent(em, roomId, 'm.room.power_levels'))!.content as { users: Record<string, number> };
      await rejects(
        state(mod, roomId, 'm.room.power_levels', { ...current, users: { ...current.users, [member.userId]: 75 } }),
        403,
        'M_FORBIDDEN',
        "You don't have permission to add ops level greater than your own",
      );
      const withPeer = { ...current, users: { ...current.users, [member.userId]: 50 } };
      await state(owner, roomId, 'm.room.power_levels', withPeer);
      await rejects(
        state(mod, roomId, 'm.room.power_levels', { ...withPeer, users: { ...withPeer.users, [member.userId]: 0 } }),
        403,
        'M_FORBIDDEN',
        "You don't have permission to remove ops level equal to your own",
      );
      await rejects(
        state(mod, roomId, 'm.room.power_levels', { ...withPeer, users: { ...withPeer.users, [owner.userId]: 0 } }),
        403,
        'M_FORBIDDEN',
        "You don't have permission to add ops level greater than your own",
      );
      await state(mod, roomId, 'm.room.power_levels', { ...withPeer, users: { ...withPeer.users, [mod.userId]: 10 } });
    });

    it('malformed power levels are 400', async () => {
      const roomId = await room();
      await rejects(
        state(owner, roomId, 'm.room.power_levels', { users: { nobody: 5, [owner.userId]: 100 } }),
        400,
        'M_UNKNOWN',
        'Not a valid user_id: nobody',
      );
      await rejects(
        state(owner, roomId, 'm.room.power_levels', { users: { [owner.userId]: '100' } }),
        400,
        'M_BAD_JSON',
        `"${owner.userId}": '100' is not of type 'integer'`,
      );
      await rejects(
        state(owner, roomId, 'm.room.power_levels', { users: { [owner.userId]: 1.5 } }),
        400,
        'M_BAD_JSON',
        'Bad JSON value: float',
      );
      await rejects(state(owner, roomId, 'm.room.power_levels', { events: [] }), 400, 'M_BAD_JSON', `"events": [] is not of type 'object'`);
    });
  });

  describe('membership', () => {
    it('invites need the invite level and a joined inviter', async () => {
      const roomId = await room({ invite: 50 });
      await rejects(act(member, outsider, roomId, 'invite'), 403, 'M_FORBIDDEN', "You don't have permission to invite users");
      await rejects(act(outsider, member, roomId, 'invite'), 403, 'M_FORBIDDEN', `${outsider.userId} not in room ${roomId}.`);
      await act(mod, outsider, roomId, 'invite');
    });

    it('kicks and bans need the level and a strictly higher level than the target', async () => {
      const roomId = await room();
      await rejects(act(member, mod, roomId, 'kick'), 403, 'M_FORBIDDEN', `You cannot kick user ${mod.userId}.`);
      await rejects(act(mod, owner, roomId, 'kick'), 403, 'M_FORBIDDEN', `You cannot kick user ${owner.userId}.`);
      await rejects(act(mod, owner, roomId, 'ban'), 403, 'M_FORBIDDEN', "You don't have permission to ban this user");
      await rejects(act(member, outsider, roomId, 'ban'), 403, 'M_FORBIDDEN', "You don't have permission to ban");
      await act(mod, outsider, roomId, 'ban');
      await rejects(act(member, outsider, roomId, 'unban'), 403, 'M_FORBIDDEN', `You cannot unban user ${outsider.userId}.`);
      await act(mod, outsider, roomId, 'unban');
      await act(mod, member, roomId, 'kick');
    });

    it('banned users cannot join, be invited or knock', async () => {
      const roomId = await room();
      await act(owner, outsider, roomId, 'ban');
      await rejects(act(outsider, outsider, roomId, 'join'), 403, 'M_BAD_STATE', 'Cannot join user who was banned');
      await rejects(act(owner, outsider, roomId, 'invite'), 403, 'M_BAD_STATE', 'Cannot invite user who was banned');
      await rejects(act(outsider, outsider, roomId, 'knock'), 403, 'M_BAD_STATE', 'Cannot knock user who was banned');
    });

    it('nobody can join for someone else', async () => {
      const roomId = await room();
      await rejects(act(owner, outsider, roomId, 'join'), 403, 'M_FORBIDDEN', 'Cannot force another user to join.');
    });

    it('invite-only rooms: invited users join, may reject, and cannot be re-invited once joined', async () => {
      const { roomId } = await rooms.createRoom(em, owner.userId, { preset: 'private_chat' });
      await act(owner, member, roomId, 'invite');
      await act(member, member, roomId, 'leave');
      assert.equal((await rooms.getLocalMembership(em, roomId, member.userId))?.membership, 'leave');
      await rejects(act(member, member, roomId, 'join'), 403, 'M_FORBIDDEN', 'You are not invited to this room.');
      await act(owner, member, roomId, 'invite');
      await act(member, member, roomId, 'join');
      await rejects(act(owner, member, roomId, 'invite'), 403, 'M_FORBIDDEN', `${member.userId} is already in the room.`);
    });

    it('knock rooms: knock, rescind, and the knock refusals', async () => {
      const { roomId } = await rooms.createRoom(em, owner.userId, {
        preset: 'private_chat',
        initialState: [{ type: 'm.room.join_rules', content: { join_rule: 'knock' } }],
      });
      await rooms.updateMembership(em, member.userId, member.userId, roomId, 'knock', { reason: 'please' });
      await act(member, member, roomId, 'leave');
      await act(owner, outsider, roomId, 'invite');
      await rejects(act(outsider, outsider, roomId, 'knock'), 403, 'M_FORBIDDEN', 'You are already invited to this room');
      await act(outsider, outsider, roomId, 'join');
      await rejects(act(outsider, outsider, roomId, 'knock'), 403, 'M_FORBIDDEN', 'You cannot knock on a room you are already in');
      const { roomId: v6 } = await rooms.createRoom(em, owner.userId, { preset: 'public_chat', roomVersion: '6' });
      await rejects(act(member, member, v6, 'knock'), 403, 'M_FORBIDDEN', "You don't have permission to knock");
      await rejects(act(member, member, v6, 'leave'), 403, 'M_FORBIDDEN', `${member.userId} not in room ${v6}.`);
    });

    it('restricted rooms need an authorising member unless invited', async () => {
      const { roomId } = await rooms.createRoom(em, owner.userId, {
        preset: 'private_chat',
        initialState: [{ type: 'm.room.join_rules', content: { join_rule: 'restricted', allow: [] } }],
      });
      await rejects(act(member, member, roomId, 'join'), 403, 'M_FORBIDDEN', 'Join event is missing authorising user.');
      await act(owner, member, roomId, 'invite');
      await act(member, member, roomId, 'join');
    });

    it('guests join only rooms with guest access can_join, and may not invite', async () => {
      const { roomId } = await rooms.createRoom(em, owner.userId, { preset: 'public_chat' });
      await rejects(
        rooms.updateMembership(em, outsider.userId, outsider.userId, roomId, 'join', { isGuest: true }),
        403,
        'M_FORBIDDEN',
        'Guest access not allowed',
      );
      await state(owner, roomId, 'm.room.guest_access', { guest_access: 'can_join' });
      await rooms.updateMembership(em, outsider.userId, outsider.userId, roomId, 'join', { isGuest: true });
      await rejects(
        rooms.updateMembership(em, outsider.userId, member.userId, roomId, 'invite', { isGuest: true }),
        403,
        'M_FORBIDDEN',
        'Guest access not allowed',
      );
      await rejects(
        rooms.updateMembership(em, outsider.userId, outsider.userId, roomId, 'knock', { isGuest: true }),
        403,
        'M_GUEST_ACCESS_FORBIDDEN',
        'Guest access not allowed',
      );
    });
  });

  describe('federation and import', () => {
    it('m.federate false keeps remote users out; the create event must come first and only once', async () => {
      const creator = owner.userId;
      const create = {
        type: 'm.room.create',
        stateKey: '',
        sender: creator,
        content: { room_version: '10', creator, 'm.federate': false },
      };
      const join = { type: 'm.room.member', stateKey: creator, sender: creator, content: { membership: 'join' } };
      const rules = { type: 'm.room.join_rules', stateKey: '', sender: creator, content: { join_rule: 'public' } };
      const remoteJoin = {
        type: 'm.room.member',
        stateKey: '@x:remote.example',
        sender: '@x:remote.example',
        content: { membership: 'join' },
      };
      await rejects(
        rooms.importRooms(em, [{ events: [create, join, rules, remoteJoin] }]),
        403,
        'M_FORBIDDEN',
        'rooms[0].events[3]: This room has been marked as unfederatable.',
      );
      const [r] = await rooms.importRooms(em, [{ events: [create, join, rules] }]);
      await rejects(
        rooms.importRooms(em, [{ roomId: r.roomId, events: [create] }]),
        403,
        'M_FORBIDDEN',
        'rooms[0].events[0]: Create event has prev events',
      );
      await rejects(
        rooms.importRooms(em, [{ roomId: `!${uniq('r')}:test`, events: [{ ...create, sender: '@x:remote.example' }] }]),
        403,
        'M_FORBIDDEN',
        "rooms[0].events[0]: Creation event's room_id domain does not match sender's",
      );
      await rejects(
        rooms.importRooms(em, [{ events: [{ ...create, content: { room_version: '10' } }] }]),
        403,
        'M_FORBIDDEN',
        "rooms[0].events[0]: Create event lacks a 'creator' property",
      );
    });

    it('without a power levels event the creator has 100 and everyone else 0', async () => {
      const c = owner.userId;
      const [r] = await rooms.importRooms(em, [
        {
          events: [
            { type: 'm.room.create', stateKey: '', sender: c, content: { room_version: '10', creator: c } },
            { type: 'm.room.member', stateKey: c, sender: c, content: { membership: 'join' } },
            { type: 'm.room.join_rules', stateKey: '', sender: c, content: { join_rule: 'public' } },
            { type: 'm.room.member', stateKey: member.userId, sender: member.userId, content: { membership: 'join' } },
          ],
        },
      ]);
      await state(owner, r.roomId, 'm.room.topic', { topic: 'creator may' });
      await rejects(
        state(member, r.roomId, 'm.room.topic', { topic: 'member may not' }),
        403,
        'M_FORBIDDEN',
        /user_level \(0\) < send_level \(50\)/,
      );
    });
  });

  describe('redactions', () => {
    it('moderators redact anyone; members only themselves', async () => {
      const roomId = await room();
      const a = await msg(member, roomId);
      const b = await msg(owner, roomId);
      await rooms.redactEvent(em, mod.userId, roomId, a.eventId);
      await rejects(
        rooms.redactEvent(em, member.userId, roomId, b.eventId),
        403,
        'M_FORBIDDEN',
        "You don't have permission to redact events",
      );
      const own = await msg(member, roomId);
      await rooms.redactEvent(em, member.userId, roomId, own.eventId);
      assert.ok((await rooms.getEvent(em, own.eventId))?.redactedBy);
    });
  });
});
