/** The public room list's since tokens are Synapse's: base64 of a msgpack {m, r, d} map. */
import { strict as assert } from 'node:assert';
import { decodeRoomListToken, encodeRoomListToken } from '../../src/moderation/public-rooms.token';

describe('public room list tokens', () => {
  // Written by Synapse 1.94 (next_batch of GET /publicRooms?limit=1).
  const SYNAPSE_TOKEN = 'g6FtAaFyuCFubVd4YmZHd3RkTkVuSFFXcXU6dGVzdKFkww';

  it("reads and writes Synapse's tokens byte for byte", () => {
    assert.deepEqual(decodeRoomListToken(SYNAPSE_TOKEN), { joinedMembers: 1, roomId: '!nmWxbfGwtdNEnHQWqu:test', forwards: true });
    assert.equal(encodeRoomListToken({ joinedMembers: 1, roomId: '!nmWxbfGwtdNEnHQWqu:test', forwards: true }), SYNAPSE_TOKEN);
  });

  it('round-trips member counts and room ids of every size', () => {
    for (const joinedMembers of [0, 127, 128, 255, 256, 65_535, 65_536, 4_000_000_000]) {
      for (const roomId of ['!a:b', `!${'x'.repeat(40)}:example.org`, `!${'y'.repeat(300)}:example.org`]) {
        for (const forwards of [true, false])
          assert.deepEqual(decodeRoomListToken(encodeRoomListToken({ joinedMembers, roomId, forwards })), {
            joinedMembers,
            roomId,
            forwards,
          });
      }
    }
  });

  it('refuses anything else with 400 M_INVALID_PARAM', () => {
    for (const bad of ['zzz', '!!!', '', 'g6Ft', Buffer.from([0x93, 1, 2, 3]).toString('base64'), SYNAPSE_TOKEN + 'AA']) {
      assert.throws(
        () => decodeRoomListToken(bad),
        (e: any) => e.httpStatus === 400 && e.errcode === 'M_INVALID_PARAM',
        bad,
      );
    }
  });
});
