/**
 * GET /rooms/{roomId}/aliases, ported from Synapse's RoomAliasListTestCase
 * (tests/rest/client/test_rooms.py): server admins read the aliases of any room.
 */
import { strict as assert } from 'node:assert';
import { sharedStack } from '../support/root-hooks';
import { http, registerUser, uniq, type Stack, type TestUser } from '../support/stack';
import { createRoom, enc, sendState, setAlias } from './room-admin.helpers';

describe('RoomAliasListTestCase', () => {
  let s: Stack;
  let owner: TestUser;
  let roomId: string;

  before(async () => {
    s = await sharedStack();
  });
  beforeEach(async () => {
    owner = await registerUser(s, uniq('room_owner'));
    roomId = await createRoom(s, owner.token, {}, false);
  });

  const server = () => s.config.serverName;
  const randomAlias = () => `#${uniq('a')}:${server()}`;
  const getAliases = async (token: string, expected = 200, path = `/_matrix/client/r0/rooms/${enc(roomId)}/aliases`) => {
    const res = await http(s, 'GET', path, { token });
    assert.equal(res.status, expected, JSON.stringify(res.body));
    if (expected === 200) assert.ok(Array.isArray(res.body.aliases));
    return res.body;
  };

  it('test_no_aliases', async () => {
    assert.deepEqual((await getAliases(owner.token)).aliases, []);
  });

  it('test_not_in_room', async () => {
    const user = await registerUser(s, uniq('user'));
    assert.equal((await getAliases(user.token, 403)).errcode, 'M_FORBIDDEN');
  });

  it('test_admin_user', async () => {
    const alias1 = randomAlias();
    await setAlias(s, owner.token, alias1, roomId);
    const admin = await registerUser(s, uniq('user'), { admin: true });
    assert.deepEqual((await getAliases(admin.token)).aliases, [alias1]);
    // The unstable path is the same servlet in Synapse.
    assert.deepEqual(
      (await getAliases(admin.token, 200, `/_matrix/client/unstable/org.matrix.msc2432/rooms/${enc(roomId)}/aliases`)).aliases,
      [alias1],
    );
  });

  it('an admin reads an unknown room as no aliases; a user without a token is 401', async () => {
    const admin = await registerUser(s, uniq('user'), { admin: true });
    assert.deepEqual((await getAliases(admin.token, 200, `/_matrix/client/v3/rooms/${enc(`!nothere:${server()}`)}/aliases`)).aliases, []);
    const none = await http(s, 'GET', `/_matrix/client/v3/rooms/${enc(roomId)}/aliases`);
    assert.equal(none.status, 401);
    assert.equal(none.body.errcode, 'M_MISSING_TOKEN');
  });

  it('test_with_aliases', async () => {
    const alias1 = randomAlias();
    const alias2 = randomAlias();
    await setAlias(s, owner.token, alias1, roomId);
    await setAlias(s, owner.token, alias2, roomId);
    assert.deepEqual(new Set((await getAliases(owner.token)).aliases), new Set([alias1, alias2]));
  });

  it('test_peekable_room', async () => {
    const alias1 = randomAlias();
    await setAlias(s, owner.token, alias1, roomId);
    await sendState(s, owner.token, roomId, 'm.room.history_visibility', { history_visibility: 'world_readable' });
    const user = await registerUser(s, uniq('user'));
    assert.deepEqual((await getAliases(user.token)).aliases, [alias1]);
  });

  it('guests are refused (403 M_GUEST_ACCESS_FORBIDDEN), admins or not', async () => {
    const guest = await registerUser(s, uniq('guest'), { admin: true });
    await s.app.orm.em.fork().execute('UPDATE users SET is_guest = true WHERE name = ?', [guest.userId]);
    const res = await http(s, 'GET', `/_matrix/client/v3/rooms/${enc(roomId)}/aliases`, { token: guest.token });
    assert.equal(res.status, 403);
    assert.deepEqual(res.body, { errcode: 'M_GUEST_ACCESS_FORBIDDEN', error: 'Guest access not allowed' });
  });
});
