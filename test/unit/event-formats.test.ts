import { strict as assert } from 'node:assert';
import type { Event } from '../../gen/synapse/admin/v1/common';
import { presentWithRelations, toClientEvent } from '../../src/matrix/event-formats';

const base = (over: Partial<Event> & { content?: unknown; unsigned?: unknown }): Event => {
  const { content = { msgtype: 'm.text', body: 'hi' }, unsigned = { age: 5 }, ...rest } = over;
  return {
    eventId: '$e1',
    roomId: '!r:test',
    type: 'm.room.message',
    sender: '@a:test',
    originServerTs: 1_700_000_000_000,
    contentJson: JSON.stringify(content),
    unsignedJson: JSON.stringify(unsigned),
    depth: 3,
    streamOrdering: 9,
    prevEvents: ['$p'],
    authEvents: ['$a'],
    outlier: false,
    rejected: false,
    ...rest,
  };
};

describe('client event format', () => {
  it('keeps the public keys, adds the legacy copies and drops DAG fields and private unsigned keys', () => {
    const e = toClientEvent(
      base({
        type: 'm.room.name',
        stateKey: '',
        content: { name: 'n' },
        unsigned: { age: 7, age_ts: 99, replaces_state: '$old', prev_content: { name: 'o' }, invite_room_state: [] },
      }),
    );
    assert.deepEqual(e, {
      content: { name: 'n' },
      event_id: '$e1',
      origin_server_ts: 1_700_000_000_000,
      room_id: '!r:test',
      sender: '@a:test',
      type: 'm.room.name',
      state_key: '',
      user_id: '@a:test',
      age: 7,
      replaces_state: '$old',
      prev_content: { name: 'o' },
      invite_room_state: [],
      unsigned: { age: 7, replaces_state: '$old', prev_content: { name: 'o' } },
    });
    const plain = toClientEvent(base({}), { legacy: false });
    assert.ok(!('user_id' in plain) && !('age' in plain) && !('depth' in plain) && !('prev_events' in plain));
  });

  it('mirrors redacts between the top level and the content of redactions', () => {
    assert.deepEqual(toClientEvent(base({ type: 'm.room.redaction', content: { redacts: '$y' } })).redacts, '$y');
    assert.deepEqual(toClientEvent(base({ type: 'm.room.redaction', redacts: '$x', content: { reason: 'r' } })).content, {
      reason: 'r',
      redacts: '$x',
    });
  });

  it('presents events nested in unsigned in the same format', () => {
    const nested = {
      eventId: '$r',
      roomId: '!r:test',
      type: 'm.room.message',
      sender: '@b:test',
      content: { body: 'edit' },
      unsigned: { age: 1, age_ts: 3 },
      originServerTs: 2,
      depth: 4,
      streamOrdering: 10,
      prevEvents: [],
      authEvents: [],
      outlier: false,
      rejected: false,
    };
    const e = presentWithRelations(
      base({
        unsigned: {
          age: 3,
          redacted_because: nested,
          'm.relations': { 'm.replace': nested, 'm.thread': { latest_event: nested, count: 1 } },
        },
      }),
      'client',
    );
    const u = e.unsigned as Record<string, Record<string, Record<string, unknown>>>;
    assert.equal((u.redacted_because as Record<string, unknown>).user_id, '@b:test');
    assert.equal(u['m.relations']['m.replace'].user_id, '@b:test');
    assert.ok(!('age_ts' in ((u['m.relations']['m.thread'].latest_event as Record<string, unknown>).unsigned as object)));
    const fed = presentWithRelations(base({ unsigned: { 'm.relations': { 'm.replace': nested } } }), 'federation');
    assert.ok('hashes' in (fed.unsigned as Record<string, Record<string, object>>)['m.relations']['m.replace']);
  });
});
