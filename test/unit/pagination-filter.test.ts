import { strict as assert } from 'node:assert';
import { MatrixError } from '../../src/errors';
import { filterToSql, matchesFilter, parseRoomEventFilter, type FilterableEvent } from '../../src/pagination/event-filter';

const on = { msc3874Enabled: true };
const ev = (type: string, sender = '@a:test', content: Record<string, unknown> = {}): FilterableEvent => ({
  type,
  sender,
  roomId: '!r:test',
  content,
});

describe('RoomEventFilter (spec §5.4)', () => {
  it('matches types with a trailing wildcard only', () => {
    const f = parseRoomEventFilter({ types: ['f.message.*', 'm.room.message'] }, on);
    assert.ok(matchesFilter(f, ev('f.message.1')));
    assert.ok(matchesFilter(f, ev('m.room.message')));
    assert.ok(!matchesFilter(f, ev('m.room.member')));
    const mid = parseRoomEventFilter({ types: ['f.*.x'] }, on);
    assert.ok(!matchesFilter(mid, ev('f.a.x')));
    assert.ok(matchesFilter(mid, ev('f.*.x')));
  });

  it('lets deny lists win and treats an empty allow list as "nothing"', () => {
    const f = parseRoomEventFilter({ types: ['m.*'], not_types: ['m.room.member'] }, on);
    assert.ok(matchesFilter(f, ev('m.room.message')));
    assert.ok(!matchesFilter(f, ev('m.room.member')));
    assert.ok(!matchesFilter(parseRoomEventFilter({ types: [] }, on), ev('m.room.message')));
    assert.ok(!matchesFilter(parseRoomEventFilter({ senders: ['@b:test'] }, on), ev('x')));
    assert.ok(!matchesFilter(parseRoomEventFilter({ not_senders: ['@a:test'] }, on), ev('x')));
  });

  it('checks labels, contains_url and relation types', () => {
    const labelled = ev('m.room.message', '@a:test', { 'org.matrix.labels': ['#fun'], url: 'mxc://x/y' });
    assert.ok(matchesFilter(parseRoomEventFilter({ 'org.matrix.labels': ['#fun'] }, on), labelled));
    assert.ok(!matchesFilter(parseRoomEventFilter({ 'org.matrix.not_labels': ['#fun'] }, on), labelled));
    assert.ok(matchesFilter(parseRoomEventFilter({ contains_url: true }, on), labelled));
    assert.ok(!matchesFilter(parseRoomEventFilter({ contains_url: false }, on), labelled));
    assert.ok(!matchesFilter(parseRoomEventFilter({ contains_url: true }, on), ev('m.room.message', '@a:test', { url: 5 })));
    const reaction = ev('m.reaction', '@a:test', { 'm.relates_to': { rel_type: 'm.annotation', event_id: '$x' } });
    assert.ok(matchesFilter(parseRoomEventFilter({ 'org.matrix.msc3874.rel_types': ['m.annotation'] }, on), reaction));
    assert.ok(!matchesFilter(parseRoomEventFilter({ 'org.matrix.msc3874.not_rel_types': ['m.annotation'] }, on), reaction));
    assert.ok(
      matchesFilter(parseRoomEventFilter({ 'org.matrix.msc3874.not_rel_types': ['m.annotation'] }, { msc3874Enabled: false }), reaction),
    );
  });

  it('rejects wrongly-typed fields with M_BAD_JSON', () => {
    for (const bad of [{ types: 'm.room.message' }, { senders: [1] }, { contains_url: 'yes' }, { lazy_load_members: 1 }]) {
      assert.throws(
        () => parseRoomEventFilter(bad, on),
        (e: unknown) => e instanceof MatrixError && e.errcode === 'M_BAD_JSON' && e.httpStatus === 400,
      );
    }
  });

  // Synapse reads event_format only as "federation" or not (it is no RoomEventFilter field of its schema).
  it('reads any event_format but "federation" as the client format', () => {
    for (const format of [5, 'client', 'foo', null, ['federation'], { a: 1 }])
      assert.equal(parseRoomEventFilter({ event_format: format }, on).federationFormat, false);
    assert.equal(parseRoomEventFilter({ event_format: 'federation' }, on).federationFormat, true);
  });

  it('builds parameterised SQL with escaped LIKE prefixes', () => {
    const sql = filterToSql(parseRoomEventFilter({ types: ['a_b%*', 'x'], not_senders: ['@z:test'], related_by_senders: ['@s:test'] }, on));
    assert.match(sql.sql, /NOT \(e\.sender = ANY/);
    assert.deepEqual(sql.params, [['x'], ['a\\_b\\%%'], ['@z:test'], ['@s:test']]);
    assert.equal(filterToSql(parseRoomEventFilter({}, on)).sql, '');
    assert.equal(filterToSql(parseRoomEventFilter({ types: [] }, on)).sql, 'false');
  });
});
