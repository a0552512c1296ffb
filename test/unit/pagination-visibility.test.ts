import { strict as assert } from 'node:assert';
import { VisibilityTimeline, inRange, type Change, type Range } from '../../src/pagination/visibility';

const vis = (depth: number, value: string): Change => ({ depth, stream: depth * 10, eventId: `$v${depth}`, kind: 'visibility', value });
const mem = (depth: number, value: string): Change => ({ depth, stream: depth * 10, eventId: `$m${depth}`, kind: 'membership', value });
const at = (depth: number) => ({ depth, stream: depth * 10 });
const visible = (ranges: Range[], depth: number) => ranges.some((r) => inRange(r, at(depth)));

describe('history visibility ranges (spec §5.7)', () => {
  it('test_joined_history_visibility: a joiner sees their join, what happened while joined, and their leave', () => {
    const tl = new VisibilityTimeline([vis(5, 'joined'), mem(10, 'join'), mem(12, 'leave')], false);
    const ranges = tl.visibleRanges();
    // before (7), join (10), during (11), leave (12), after (13)
    assert.deepEqual(
      [7, 10, 11, 12, 13].map((d) => visible(ranges, d)),
      [false, true, true, true, false],
    );
    assert.deepEqual(
      [10, 11, 12].map((d) => tl.membershipAfter(at(d), d === 10 ? 'join' : d === 12 ? 'leave' : null)),
      ['join', 'join', 'leave'],
    );
    // Events before the first history-visibility event use the default, shared.
    assert.ok(visible(ranges, 3));
    assert.ok(visible(ranges, 5), 'the boundary event itself is visible (more permissive of old and new)');
    assert.equal(ranges.length, 2);
  });

  it('a continuous member sees everything', () => {
    const tl = new VisibilityTimeline([mem(2, 'join'), vis(5, 'joined')], false);
    assert.deepEqual(tl.visibleRanges(), [{ lo: null, hi: null }]);
    assert.equal(tl.membershipAfter(at(20), null), 'join');
    assert.equal(tl.membershipAfter(at(1), null), 'leave');
  });

  it('shared history is visible to non-peeking users and hidden from peekers', () => {
    assert.deepEqual(new VisibilityTimeline([vis(5, 'shared')], false).visibleRanges(), [{ lo: null, hi: null }]);
    const peek = new VisibilityTimeline([vis(5, 'shared'), vis(9, 'world_readable')], true).visibleRanges();
    assert.deepEqual(
      [4, 6, 9, 10].map((d) => visible(peek, d)),
      [false, false, true, true],
    );
  });

  it('invited visibility shows events while invited', () => {
    const tl = new VisibilityTimeline([vis(5, 'invited'), mem(8, 'invite'), mem(11, 'join')], false);
    const ranges = tl.visibleRanges();
    assert.deepEqual(
      [6, 8, 9, 11, 12].map((d) => visible(ranges, d)),
      [false, true, true, true, true],
    );
  });

  it('a rejected invite is visible to its author; a ban is not', () => {
    const r = new VisibilityTimeline([vis(5, 'joined'), mem(8, 'invite'), mem(9, 'leave')], false).visibleRanges();
    assert.deepEqual(
      [8, 9, 10].map((d) => visible(r, d)),
      [false, true, false],
    );
    const b = new VisibilityTimeline([vis(5, 'joined'), mem(8, 'ban')], false).visibleRanges();
    assert.ok(!visible(b, 8));
  });

  it('unknown visibility values count as shared', () => {
    assert.deepEqual(new VisibilityTimeline([vis(5, 'bogus')], false).visibleRanges(), [{ lo: null, hi: null }]);
  });
});
