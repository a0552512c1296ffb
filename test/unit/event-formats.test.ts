import { strict as assert } from 'node:assert';
import type { Event } from '../../gen/synapse/admin/v1/common';
import { clientEventText, toClientEvent } from '../../src/rooms/event-formats';

const base = (over: Partial<Event> & { content?: unknown; unsigned?: unknown }): Event => {
  const { content = { msgtype: 'm.text', body: 'hi' }, unsigned = { age: 5 }, ...rest } = over;
  return {
    eventId: '$e1', roomId: '!r:test', type: 'm.room.message', sender: '@a:test', originServerTs: 1_700_000_000_000,
    contentJson: JSON.stringify(content), unsignedJson: JSON.stringify(unsigned), depth: 3, streamOrdering: 9,
    prevEvents: ['$p'], authEvents: ['$a'], outlier: false, rejected: false, ...rest,
  };
};

describe('client event text', () => {
  const nested = { eventId: '$r', roomId: '!r:test', type: 'm.room.redaction', sender: '@b:test', content: { reason: 'spam' }, unsigned: { age: 1, age_ts: 3 }, originServerTs: 2, redacts: '$e1', depth: 4, streamOrdering: 10, prevEvents: [], authEvents: [], outlier: false, rejected: false };
  const cases: [string, Event][] = [
    ['a message', base({})],
    ['a state event with replaced state', base({ type: 'm.room.name', stateKey: '', content: { name: 'Zoë 🚀 "quoted"' }, unsigned: { age: 7, replaces_state: '$old', prev_content: { name: 'old' }, prev_sender: '@a:test' } })],
    ['an event with private unsigned keys', base({ unsigned: { age: 1, age_ts: 99, invite_room_state: [{ type: 'x' }], transaction_id: 't' } })],
    ['a redacted event', base({ content: {}, unsigned: { age: 2, redacted_by: '$r', redacted_because: nested } })],
    ['a redaction', base({ type: 'm.room.redaction', redacts: '$x', content: { reason: 'r' } })],
    ['a redaction with redacts in content only', base({ type: 'm.room.redaction', content: { redacts: '$y' } })],
    ['empty JSON fields', { ...base({}), contentJson: '', unsignedJson: '' }],
    ['bundled relations', base({ unsigned: { age: 3, 'm.relations': { 'm.reference': { chunk: [{ event_id: '$z' }] } } } })],
  ];
  for (const [name, e] of cases) {
    it(`matches the object serialisation for ${name}`, () => {
      assert.equal(clientEventText(e), JSON.stringify(toClientEvent(e)));
      assert.equal(clientEventText(e, { legacy: false }), JSON.stringify(toClientEvent(e, { legacy: false })));
    });
  }

  it('splices the content text without parsing it', () => {
    const e = { ...base({}), contentJson: '{"body":"x","n":1}' };
    assert.equal(JSON.parse(clientEventText(e)).content.body, 'x');
    assert.ok(clientEventText(e).startsWith('{"content":{"body":"x","n":1},'));
  });
});
