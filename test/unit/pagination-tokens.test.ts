import { strict as assert } from 'node:assert';
import {
  InvalidTokenError,
  START_TOKEN,
  isBeforeOrEq,
  maxStreamPos,
  parseRoomToken,
  parseStreamToken,
  roomTokenToString,
  streamTokenToString,
  withRoomKey,
  historicToken,
} from '../../src/matrix/stream-token';

describe('pagination stream tokens (spec §5.2)', () => {
  it('echoes canonical 10-part tokens byte for byte', () => {
    for (const t of [
      's0_0_0_0_0_0_0_0_0_0',
      't1-0_0_0_0_0_0_0_0_0_0',
      't426-2633508_1_2_3_4_5_6_7_8_9',
      'm56~2.58~3.59_0_0_m3~1.4_0_0_0_0_0_0',
      's5_0_0_7_0_0_0_0_0_0',
    ]) {
      assert.equal(streamTokenToString(parseStreamToken(t)), t);
    }
  });

  it('pads short tokens with zero parts', () => {
    assert.equal(streamTokenToString(parseStreamToken('t12-345')), 't12-345_0_0_0_0_0_0_0_0_0');
    assert.equal(streamTokenToString(parseStreamToken('s7_1')), 's7_1_0_0_0_0_0_0_0_0');
  });

  it('parses the three room key forms', () => {
    assert.deepEqual(parseRoomToken('s42'), { topological: null, stream: 42, instances: new Map() });
    assert.deepEqual(parseRoomToken('t3-9'), { topological: 3, stream: 9, instances: new Map() });
    const m = parseRoomToken('m5~1.7~~2.9~');
    assert.equal(m.stream, 5);
    assert.deepEqual(
      [...m.instances],
      [
        [1, 7],
        [2, 9],
      ],
    );
    assert.equal(maxStreamPos(m), 9);
    assert.equal(roomTokenToString(m), 'm5~1.7~2.9');
    assert.equal(roomTokenToString(parseRoomToken('m5~')), 's5');
  });

  it('rejects malformed tokens', () => {
    const bad = [
      '',
      'x1',
      's',
      's1.5',
      's--1',
      's+-1',
      's1 2',
      't1',
      't-1-2',
      't-1--1',
      't1-',
      't1-2-3',
      'ta-1',
      'm5~1.5',
      'm5~1.4',
      'm5~1',
      'm5~a.9',
      'm',
      's1_0_0_0_0_0_0_0_0_0_0',
      's1__0',
      's1_x',
      's1_0_0_m2~1.1',
      's1_0_0_-1',
      's1_0_0_+1',
      's1_0_0_ 1',
      'END',
    ];
    for (const t of bad) assert.throws(() => parseStreamToken(t), InvalidTokenError, t);
  });

  it("reads positions as Synapse's int() does: signs, surrounding whitespace, any size", () => {
    const read: [string, string][] = [
      ['s-1', 's-1_0_0_0_0_0_0_0_0_0'],
      ['s-0', 's0_0_0_0_0_0_0_0_0_0'],
      ['s+1', 's1_0_0_0_0_0_0_0_0_0'],
      ['s 1 ', 's1_0_0_0_0_0_0_0_0_0'],
      ['t1--2', 't1--2_0_0_0_0_0_0_0_0_0'],
      ['s1_-1', 's1_-1_0_0_0_0_0_0_0_0'],
      // Beyond the safe integers: held as the bound, which lies beyond every event all the same.
      ['s99999999999999999999', `s${Number.MAX_SAFE_INTEGER}_0_0_0_0_0_0_0_0_0`],
      ['t1-99999999999999999999', `t1-${Number.MAX_SAFE_INTEGER}_0_0_0_0_0_0_0_0_0`],
      ['s-99999999999999999999', `s-${Number.MAX_SAFE_INTEGER}_0_0_0_0_0_0_0_0_0`],
    ];
    for (const [text, canonical] of read) assert.equal(streamTokenToString(parseStreamToken(text)), canonical, text);
  });

  it('compares stream positions only', () => {
    assert.ok(isBeforeOrEq(parseRoomToken('t9-5'), parseRoomToken('t1-5')));
    assert.ok(!isBeforeOrEq(parseRoomToken('s6'), parseRoomToken('s5')));
    assert.ok(!isBeforeOrEq(parseRoomToken('m5~1.9'), parseRoomToken('m5~1.8')));
    assert.ok(isBeforeOrEq(parseRoomToken('s5'), parseRoomToken('m5~1.8')));
  });

  it('replaces the room key and keeps the other parts', () => {
    const t = parseStreamToken('s5_1_2_3_4_5_6_7_8_9');
    assert.equal(streamTokenToString(withRoomKey(t, historicToken(3, 4))), 't3-4_1_2_3_4_5_6_7_8_9');
    assert.equal(streamTokenToString(START_TOKEN), 's0_0_0_0_0_0_0_0_0_0');
  });
});
