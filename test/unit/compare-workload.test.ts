import { strict as assert } from 'node:assert';
import { FULL_SIZES, QUICK_SIZES, planWorkload } from '../../bench/compare/workload';
import { spread } from '../../bench/compare/rows';

describe('side-by-side bench workload', () => {
  it('is the same plan for the same sizes and seed, and another plan for another seed', () => {
    const a = planWorkload(FULL_SIZES);
    const b = planWorkload({ ...FULL_SIZES });
    assert.deepEqual(a, b);
    const c = planWorkload({ ...FULL_SIZES, seed: FULL_SIZES.seed + 1 });
    assert.notDeepEqual(
      c.rooms.map((r) => r.members),
      a.rooms.map((r) => r.members),
    );
  });

  it('holds the sizes it was given: member counts within 1..K, big rooms full and joined by the reader', () => {
    for (const sizes of [FULL_SIZES, QUICK_SIZES, { ...QUICK_SIZES, users: 3, maxMembers: 10, seed: 5 }]) {
      const plan = planWorkload(sizes);
      const k = Math.min(sizes.maxMembers, sizes.users);
      assert.equal(plan.users.length, sizes.users);
      assert.equal(new Set(plan.users.map((u) => u.localpart)).size, sizes.users);
      assert.equal(plan.rooms.length, sizes.rooms + sizes.bigRooms);
      assert.ok(plan.rooms.every((r, i) => r.index === i && r.big === i >= sizes.rooms));
      const big = plan.rooms.filter((r) => r.big);
      assert.equal(big.length, sizes.bigRooms);
      for (const r of plan.rooms) {
        assert.ok(r.members.length >= 1 && r.members.length <= k, `room ${r.index}: ${r.members.length} members`);
        assert.equal(new Set(r.members).size, r.members.length, `room ${r.index} lists a member twice`);
        assert.ok(r.members.every((m) => m >= 0 && m < sizes.users));
        assert.ok(r.messages.every((m) => m.sender >= 0 && m.sender < r.members.length));
        if (r.big) {
          assert.equal(r.members.length, k);
          assert.ok(r.members.includes(plan.reader), `big room ${r.index} lacks the reader`);
          assert.equal(r.messages.length, sizes.bigRoomMessages);
          assert.equal(r.preset, 'public_chat');
        } else assert.ok(r.messages.length <= sizes.maxSmallMessages);
      }
      const aliases = plan.rooms.flatMap((r) => (r.alias ? [r.alias] : []));
      assert.equal(new Set(aliases).size, aliases.length, 'an alias is planned twice');
      const reported = plan.reports.map((r) => r.message);
      assert.equal(new Set(reported).size, reported.length, 'an event is reported twice');
      assert.ok(reported.every((m) => m >= 0 && m < big[0].messages.length));
      assert.ok(plan.reports.every((r) => r.score <= 0 && r.score >= -100));
    }
  });

  it('draws varied rooms: both presets, directory and unlisted rooms, with and without aliases', () => {
    const plan = planWorkload(FULL_SIZES);
    const small = plan.rooms.filter((r) => !r.big);
    assert.ok(small.some((r) => r.preset === 'private_chat') && small.some((r) => r.preset === 'public_chat'));
    assert.ok(small.some((r) => r.directory) && small.some((r) => !r.directory));
    assert.ok(small.some((r) => r.alias) && small.some((r) => !r.alias));
    assert.ok(small.every((r) => !(r.directory && r.preset === 'private_chat')));
    const sizes = new Set(small.map((r) => r.members.length));
    assert.ok(sizes.has(1) && sizes.has(FULL_SIZES.maxMembers), 'member counts do not span 1..K');
  });

  it('refuses sizes it cannot plan', () => {
    assert.throws(() => planWorkload({ ...QUICK_SIZES, users: 1 }), /at least 2 users/);
    assert.throws(() => planWorkload({ ...QUICK_SIZES, maxMembers: 0 }), /maxMembers/);
  });

  it('samples rows evenly and keeps short lists whole', () => {
    assert.deepEqual(spread([1, 2, 3], 5), [1, 2, 3]);
    assert.deepEqual(spread([0, 1, 2, 3, 4, 5, 6, 7, 8, 9], 5), [1, 3, 5, 7, 9]);
  });
});
