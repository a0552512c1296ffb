/**
 * Relation filters of `/messages` (Synapse's RelationsTestCase, spec §9.4, with MSC3874 enabled as
 * in that test) and the bundled aggregations `/messages` attaches.
 */
import { strict as assert } from 'node:assert';
import { http, registerUser, startStack, type Stack, type TestUser } from '../support/stack';
import { C, enc } from '../support/client';
import { createRoom, ids, join, messages, send } from './pagination.helpers';

const rel = (relType: string, eventId: string, extra: Record<string, unknown> = {}) => ({
  ...extra,
  'm.relates_to': { rel_type: relType, event_id: eventId, ...(relType === 'm.annotation' ? { key: '👍' } : {}) },
});

describe('RelationsTestCase', () => {
  let s: Stack;
  let test: TestUser;
  let second: TestUser;
  let third: TestUser;
  let room: string;
  let from: string;
  const ev: Record<'E1' | 'A' | 'E2' | 'R' | 'N', string> = { E1: '', A: '', E2: '', R: '', N: '' };

  before(async () => {
    s = await startStack({ EXPERIMENTAL_MSC3874_ENABLED: 'true' });
    test = await registerUser(s, 'test');
    second = await registerUser(s, 'second');
    third = await registerUser(s, 'third');
    room = await createRoom(s, test.token, { preset: 'public_chat' });
    await join(s, second.token, room);
    await join(s, third.token, room);
    from = (await messages(s, test.token, room, { dir: 'b', limit: 0 })).body.start;
    ev.E1 = await send(s, test.token, room, 'Message 1');
    ev.A = await send(s, second.token, room, rel('m.annotation', ev.E1), 'm.reaction');
    ev.E2 = await send(s, test.token, room, 'Message 2');
    ev.R = await send(s, third.token, room, rel('m.reference', ev.E2), 'm.room.test');
    ev.N = await send(s, test.token, room, 'No relations');
  });

  after(async () => s?.stop());

  const filtered = async (filter: Record<string, unknown>) => {
    const r = await messages(s, test.token, room, { dir: 'f', from, filter });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    return ids(r);
  };
  const set = (xs: string[]) => [...xs].sort();

  it('test_filter_relation_senders', async () => {
    assert.deepEqual(await filtered({ related_by_senders: [second.userId] }), [ev.E1]);
    assert.deepEqual(await filtered({ related_by_senders: [third.userId] }), [ev.E2]);
    assert.deepEqual(set(await filtered({ related_by_senders: [second.userId, third.userId] })), set([ev.E1, ev.E2]));
  });

  it('test_filter_relation_type', async () => {
    assert.deepEqual(await filtered({ related_by_rel_types: ['m.annotation'] }), [ev.E1]);
    assert.deepEqual(await filtered({ related_by_rel_types: ['m.reference'] }), [ev.E2]);
    assert.deepEqual(set(await filtered({ related_by_rel_types: ['m.annotation', 'm.reference'] })), set([ev.E1, ev.E2]));
  });

  it('test_filter_relation_senders_and_type', async () => {
    assert.deepEqual(await filtered({ related_by_senders: [second.userId], related_by_rel_types: ['m.annotation'] }), [ev.E1]);
  });

  it('test_filter_rel_types', async () => {
    assert.deepEqual(await filtered({ 'org.matrix.msc3874.rel_types': ['m.annotation'] }), [ev.A]);
    assert.deepEqual(await filtered({ 'org.matrix.msc3874.rel_types': ['m.reference'] }), [ev.R]);
    assert.deepEqual(set(await filtered({ 'org.matrix.msc3874.rel_types': ['m.annotation', 'm.reference'] })), set([ev.A, ev.R]));
  });

  it('test_filter_not_rel_types', async () => {
    assert.deepEqual(await filtered({ 'org.matrix.msc3874.not_rel_types': ['m.annotation'] }), [ev.E1, ev.E2, ev.R, ev.N]);
    assert.deepEqual(await filtered({ 'org.matrix.msc3874.not_rel_types': ['m.reference'] }), [ev.E1, ev.A, ev.E2, ev.N]);
    assert.deepEqual(await filtered({ 'org.matrix.msc3874.not_rel_types': ['m.annotation', 'm.reference'] }), [ev.E1, ev.E2, ev.N]);
  });

  // Last: it adds an annotation to the room.
  it('test_duplicate_relation', async () => {
    await send(s, second.token, room, { 'm.relates_to': { rel_type: 'm.annotation', event_id: ev.E1, key: '👎' } }, 'm.reaction');
    assert.deepEqual(await filtered({ related_by_senders: [second.userId] }), [ev.E1]);
  });

  describe('bundled aggregations', () => {
    let bundles: Record<string, { unsigned: Record<string, any>; content: Record<string, any> }>;
    let root: string;
    let reply: string;
    let edit: string;
    let original: string;

    before(async () => {
      original = await send(s, test.token, room, 'typo');
      edit = await send(
        s,
        test.token,
        room,
        rel('m.replace', original, { msgtype: 'm.text', body: '* fixed', 'm.new_content': { msgtype: 'm.text', body: 'fixed' } }),
      );
      root = await send(s, test.token, room, 'thread root');
      await send(s, second.token, room, rel('m.thread', root, { msgtype: 'm.text', body: 'first reply' }));
      reply = await send(s, third.token, room, rel('m.thread', root, { msgtype: 'm.text', body: 'second reply' }));
      const r = await messages(s, second.token, room, { dir: 'b', limit: 50 });
      bundles = Object.fromEntries(r.body.chunk.map((e: { event_id: string }) => [e.event_id, e]));
    });

    it('bundles references', () => {
      assert.deepEqual(bundles[ev.E2].unsigned['m.relations'], { 'm.reference': { chunk: [{ event_id: ev.R }] } });
      assert.ok(!('m.relations' in bundles[ev.E1].unsigned), 'annotations are not bundled');
      assert.ok(!('m.relations' in bundles[ev.N].unsigned));
    });

    it('bundles the latest edit as a whole client event', () => {
      const replace = bundles[original].unsigned['m.relations']['m.replace'];
      assert.equal(replace.event_id, edit);
      assert.equal(replace.content['m.new_content'].body, 'fixed');
      assert.equal(replace.user_id, test.userId, 'nested events are presented in client format');
      assert.equal(bundles[original].content.body, 'typo', 'the original content is not replaced');
    });

    it('bundles thread summaries for the requester', () => {
      const thread = bundles[root].unsigned['m.relations']['m.thread'];
      assert.equal(thread.count, 2);
      assert.equal(thread.current_user_participated, true);
      assert.equal(thread.latest_event.event_id, reply);
      assert.equal(thread.latest_event.content.body, 'second reply');
    });

    // Synapse 1.94: GET /event of an edited message carries m.relations.m.replace, a thread root m.thread.
    it('bundles the same aggregations into an event fetched alone', async () => {
      const strip = (v: any): any =>
        Array.isArray(v)
          ? v.map(strip)
          : v && typeof v === 'object'
            ? Object.fromEntries(
                Object.entries(v)
                  .filter(([k]) => k !== 'age')
                  .map(([k, x]) => [k, strip(x)]),
              )
            : v;
      for (const id of [original, root, ev.E2]) {
        const r = await http(s, 'GET', `${C}/rooms/${enc(room)}/event/${enc(id)}`, { token: second.token });
        assert.equal(r.status, 200, JSON.stringify(r.body));
        assert.ok(r.body.unsigned['m.relations'], `${id} has its bundle`);
        assert.deepEqual(strip(r.body.unsigned['m.relations']), strip(bundles[id].unsigned['m.relations']));
      }
      const alone = await http(s, 'GET', `${C}/rooms/${enc(room)}/event/${enc(original)}`, { token: second.token });
      assert.equal(alone.body.unsigned['m.relations']['m.replace'].user_id, test.userId, 'the edit is presented in client format');
      const plain = await http(s, 'GET', `${C}/rooms/${enc(room)}/event/${enc(ev.N)}`, { token: second.token });
      assert.ok(!('m.relations' in plain.body.unsigned));
    });
  });
});
