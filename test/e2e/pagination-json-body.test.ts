/**
 * The /messages body the gateway serves is written by the pagination service (most events rendered
 * by PostgreSQL, the rest presented from their loaded content). It must equal, key for key, the
 * typed gRPC page presented the way Synapse serialises events: for every kind of event a room
 * holds (state with prev_content, own sends with transaction ids, edits, threads, references,
 * reactions, redactions and redacted events, own member events, an erased sender), for members,
 * a reader who joined later, the admin API, filters and lazy-loaded members, in both directions.
 */
import { strict as assert } from 'node:assert';
import { Direction, EventFormat } from '../../gen/synapse/admin/v1/common';
import { presentWithRelations } from '../../src/matrix/event-formats';
import { C, enc, ok } from '../support/client';
import { bearer, grpcCall, http, registerUser, startStack, type Stack, type TestUser } from '../support/stack';
import { createRoom, join, leave, messages, send, sendState } from './pagination.helpers';

type Json = Record<string, unknown>;

/** A copy without `age` anywhere (it is computed at read time, so two reads differ). */
function withoutAge(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(withoutAge);
  if (!v || typeof v !== 'object') return v;
  return Object.fromEntries(Object.entries(v as Json).filter(([k]) => k !== 'age').map(([k, x]) => [k, withoutAge(x)]));
}

describe('/messages JSON bodies', () => {
  let s: Stack;
  let admin: TestUser;
  let author: TestUser;
  let reader: TestUser;
  let erased: TestUser;
  let late: TestUser;
  let room: string;

  before(async () => {
    s = await startStack();
    admin = await registerUser(s, 'admin', { admin: true });
    author = await registerUser(s, 'author');
    reader = await registerUser(s, 'reader');
    erased = await registerUser(s, 'erased');
    late = await registerUser(s, 'late');
    room = await createRoom(s, author.token, { preset: 'public_chat', name: 'Bodies' });
    await sendState(s, author.token, room, 'm.room.history_visibility', { history_visibility: 'shared' });
    await join(s, reader.token, room);
    await join(s, erased.token, room);
    const first = await send(s, author.token, room, 'first');
    await sendState(s, author.token, room, 'm.room.topic', { topic: 'one' });
    await sendState(s, author.token, room, 'm.room.topic', { topic: 'two' });
    const own = await send(s, reader.token, room, 'mine, with a transaction id');
    await send(s, reader.token, room, { msgtype: 'm.text', body: '* edited', 'm.new_content': { msgtype: 'm.text', body: 'edited' }, 'm.relates_to': { rel_type: 'm.replace', event_id: own } });
    await send(s, author.token, room, { msgtype: 'm.text', body: 'in a thread', 'm.relates_to': { rel_type: 'm.thread', event_id: first } });
    await send(s, reader.token, room, { msgtype: 'm.text', body: 'a reply in the thread', 'm.relates_to': { rel_type: 'm.thread', event_id: first } });
    await send(s, author.token, room, { 'm.relates_to': { rel_type: 'm.reference', event_id: own } }, 'm.room.test');
    await send(s, author.token, room, { 'm.relates_to': { rel_type: 'm.annotation', event_id: own, key: '👍' } }, 'm.reaction');
    const doomed = await send(s, author.token, room, 'to be redacted');
    await ok(http(s, 'PUT', `${C}/rooms/${enc(room)}/redact/${enc(doomed)}/r1`, { token: author.token, body: { reason: 'oops' } }), 'redact');
    await send(s, author.token, room, { msgtype: 'm.image', body: 'a picture', url: 'mxc://test/abc', 'org.matrix.labels': ['#fun'] });
    await send(s, erased.token, room, 'from a user about to be erased');
    await sendState(s, erased.token, room, 'm.room.member', { membership: 'join', displayname: 'Soon gone' }, erased.userId);
    await leave(s, reader.token, room);
    await join(s, reader.token, room);
    await send(s, author.token, room, { msgtype: 'm.text', body: 'unicode: ünïcödé ☃ \u2028 "quoted" \\ back' });
    await ok(http(s, 'POST', `/_synapse/admin/v1/deactivate/${enc(erased.userId)}`, { token: admin.token, body: { erase: true } }), 'erase');
    await join(s, late.token, room);
  });

  after(async () => s?.stop());

  /** The REST body and the typed gRPC page (presented), for the same query. */
  async function both(user: TestUser, asAdmin: boolean, dir: 'b' | 'f', q: { limit?: number; filter?: Json; from?: string }) {
    const rest = await messages(s, user.token, room, { dir, limit: q.limit ?? 100, ...(q.filter ? { filter: q.filter } : {}), ...(q.from ? { from: q.from } : {}) }, asAdmin);
    assert.equal(rest.status, 200, JSON.stringify(rest.body));
    const p = s.clients.pagination;
    const query = { roomId: room, dir: dir === 'b' ? Direction.DIRECTION_BACKWARDS : Direction.DIRECTION_FORWARDS, limit: q.limit ?? 100, from: q.from, filter: q.filter, format: EventFormat.EVENT_FORMAT_CLIENT };
    const res = await grpcCall(p, asAdmin ? p.adminGetRoomMessages : p.getRoomMessages, { query }, bearer(user.token));
    const page = res.page!;
    const typed: Json = { chunk: page.chunk.map((e) => presentWithRelations(e, 'client')), start: page.start };
    if (page.end !== undefined) typed.end = page.end;
    if (page.state.length > 0) typed.state = page.state.map((e) => presentWithRelations(e, 'client'));
    return { rest: rest.body as Json, typed };
  }

  const cases: { name: string; who: () => TestUser; admin: boolean; filter?: Json }[] = [
    { name: 'a member', who: () => reader, admin: false },
    { name: 'a reader who joined after the erasure', who: () => late, admin: false },
    { name: 'the admin API', who: () => admin, admin: true },
    { name: 'a member, with a type filter', who: () => reader, admin: false, filter: { types: ['m.room.message', 'm.room.top*'] } },
    { name: 'a member, with a contains_url filter', who: () => reader, admin: false, filter: { contains_url: true } },
    { name: 'a member, with lazy-loaded members', who: () => reader, admin: false, filter: { lazy_load_members: true } },
  ];
  for (const c of cases) {
    for (const dir of ['b', 'f'] as const) {
      it(`equals the typed page for ${c.name}, dir=${dir}`, async () => {
        const { rest, typed } = await both(c.who(), c.admin, dir, { filter: c.filter });
        assert.ok((rest.chunk as unknown[]).length > 0);
        assert.deepEqual(withoutAge(rest), withoutAge(typed));
      });
    }
  }

  it('carries the kinds of events it is meant to cover, with their ages', async () => {
    const { rest } = await both(reader, false, 'b', {});
    const chunk = rest.chunk as Json[];
    const unsigned = (e: Json) => e.unsigned as Json;
    assert.ok(chunk.every((e) => typeof e.age === 'number' && unsigned(e).age === e.age));
    assert.ok(chunk.some((e) => typeof unsigned(e).transaction_id === 'string'), 'own sends carry their transaction id');
    assert.ok(chunk.some((e) => e.type === 'm.room.topic' && (e.prev_content as Json)?.topic === 'one' && (unsigned(e).prev_content as Json)?.topic === 'one'));
    assert.ok(chunk.some((e) => (unsigned(e)['m.relations'] as Json)?.['m.thread']));
    assert.ok(chunk.some((e) => (unsigned(e)['m.relations'] as Json)?.['m.replace']));
    assert.ok(chunk.some((e) => (unsigned(e)['m.relations'] as Json)?.['m.reference']));
    assert.ok(chunk.some((e) => unsigned(e).redacted_because));
    assert.ok(chunk.some((e) => e.type === 'm.room.member' && e.state_key === reader.userId && unsigned(e).membership === 'join'));
    const lazy = (await both(reader, false, 'b', { filter: { lazy_load_members: true } })).rest;
    assert.ok(Array.isArray(lazy.state) && (lazy.state as Json[]).some((e) => e.state_key === author.userId), 'lazy-loaded members come as state');
    const lateChunk = (await both(late, false, 'b', {})).rest.chunk as Json[];
    const fromErased = lateChunk.filter((e) => e.sender === erased.userId && e.type === 'm.room.message');
    assert.ok(fromErased.length > 0 && fromErased.every((e) => Object.keys(e.content as Json).length === 0), 'an erased sender is pruned for a later reader');
  });

  it('pages the same way with small pages and their tokens', async () => {
    let from: string | undefined;
    const seen: string[] = [];
    for (let i = 0; i < 30; i++) {
      const { rest, typed } = await both(reader, false, 'b', { limit: 3, from });
      assert.deepEqual(withoutAge(rest), withoutAge(typed));
      seen.push(...(rest.chunk as Json[]).map((e) => e.event_id as string));
      if (!rest.end) break;
      from = rest.end as string;
    }
    assert.equal(new Set(seen).size, seen.length);
    assert.ok(seen.length > 15);
  });
});
