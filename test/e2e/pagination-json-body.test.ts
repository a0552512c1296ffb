/**
 * The /messages body the gateway serves (most events rendered by PostgreSQL, the rest presented
 * from their loaded content) against an expectation the test writes itself: the room's events as
 * the test made them (what it sent, in order, with the transaction ids it used, and the events
 * Synapse writes for room creation, joins, leaves and an erasing deactivation), serialised the way
 * Synapse documents client events (`format_event_for_client_v1`: `user_id`, `age`, and the
 * `replaces_state` / `prev_content` / `redacted_because` copies at the top level), with bundled
 * relations, `unsigned.membership` of the reader at each event, pruning of an erased sender for a
 * reader who was not in the room then, filters and lazy-loaded members, in both directions. No
 * code of the server builds the expectation, so a presenter bug fails here.
 *
 * `origin_server_ts` is checked against the time around each send (and to grow with the
 * timeline), `age` against `unsigned.age`; both are then taken from the body.
 */
import { strict as assert } from 'node:assert';
import { isDeepStrictEqual } from 'node:util';
import { Direction, EventFormat } from '../../gen/synapse/admin/v1/common';
import { C, enc, ok } from '../support/client';
import { bearer, grpcCall, http, registerUser, startStack, type Stack, type TestUser } from '../support/stack';
import { createRoom, join, leave, messages } from './pagination.helpers';

type Json = Record<string, any>;

/** One event of the room as the test knows it. */
interface Known {
  /** Known from the send's answer, or learned from the timeline's order (events Synapse writes). */
  id: string;
  type: string;
  sender: string;
  stateKey?: string;
  content: Json;
  /** The transaction id of a `PUT …/send/…` (shown to its sender only). */
  txn?: string;
  /** Date.now() before and after the call that made it. */
  window?: [number, number];
  redacts?: string;
  redactedBy?: string;
}

/** Removes every `age` (computed at read time), having checked each equals `unsigned.age`. */
function withoutAge(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(withoutAge);
  if (!v || typeof v !== 'object') return v;
  const o = v as Json;
  if ('age' in o && o.unsigned && typeof o.unsigned === 'object') {
    assert.ok(Number.isInteger(o.age) && o.age >= 0, `age of ${o.event_id}: ${o.age}`);
    assert.equal(o.unsigned.age, o.age, `unsigned.age of ${o.event_id}`);
  }
  return Object.fromEntries(
    Object.entries(o)
      .filter(([k]) => k !== 'age')
      .map(([k, x]) => [k, withoutAge(x)]),
  );
}

describe('/messages JSON bodies', () => {
  let s: Stack;
  let admin: TestUser;
  let author: TestUser;
  let reader: TestUser;
  let erased: TestUser;
  let late: TestUser;
  let room: string;
  const known: Known[] = [];
  const ts = new Map<string, number>();
  let txnSeq = 0;

  /** Records an event the server writes by itself (its id comes from the timeline). */
  const made = (sender: TestUser, type: string, stateKey: string | undefined, content: Json) =>
    known.push({ id: '', type, sender: sender.userId, stateKey, content });
  const member = (u: TestUser, content: Json) => made(u, 'm.room.member', u.userId, content);

  async function timed<T>(fn: () => Promise<T>): Promise<[T, [number, number]]> {
    const before = Date.now();
    const r = await fn();
    return [r, [before, Date.now()]];
  }

  async function send(u: TestUser, content: Json, type = 'm.room.message'): Promise<string> {
    const txn = `body${++txnSeq}`;
    const [r, window] = await timed(() =>
      ok(http(s, 'PUT', `${C}/rooms/${enc(room)}/send/${enc(type)}/${txn}`, { token: u.token, body: content }), `send ${type}`),
    );
    known.push({ id: r.body.event_id, type, sender: u.userId, content, txn, window });
    return r.body.event_id;
  }

  async function state(u: TestUser, type: string, content: Json, stateKey = ''): Promise<void> {
    const [r, window] = await timed(() =>
      ok(http(s, 'PUT', `${C}/rooms/${enc(room)}/state/${enc(type)}/${enc(stateKey)}`, { token: u.token, body: content }), `state ${type}`),
    );
    // Setting a state to what it already is makes no event (Synapse answers the current one's id).
    const current = [...known].reverse().find((k) => k.type === type && k.stateKey === stateKey);
    if (current && isDeepStrictEqual(current.content, content)) {
      if (current.id) assert.equal(r.body.event_id, current.id);
      else current.id = r.body.event_id;
      return;
    }
    known.push({ id: r.body.event_id, type, sender: u.userId, stateKey, content, window });
  }

  before(async () => {
    s = await startStack();
    admin = await registerUser(s, 'admin', { admin: true });
    author = await registerUser(s, 'author');
    reader = await registerUser(s, 'reader');
    erased = await registerUser(s, 'erased');
    late = await registerUser(s, 'late');
    room = await createRoom(s, author.token, { preset: 'public_chat', name: 'Bodies' });
    // createRoom's events, in Synapse's order; a user's display name starts as its localpart.
    made(author, 'm.room.create', '', { creator: author.userId, room_version: '10' });
    member(author, { membership: 'join', displayname: 'author' });
    made(author, 'm.room.power_levels', '', {}); // judged on its own below
    made(author, 'm.room.join_rules', '', { join_rule: 'public' });
    made(author, 'm.room.history_visibility', '', { history_visibility: 'shared' });
    made(author, 'm.room.name', '', { name: 'Bodies' });
    await state(author, 'm.room.history_visibility', { history_visibility: 'shared' });
    await join(s, reader.token, room);
    member(reader, { membership: 'join', displayname: 'reader' });
    await join(s, erased.token, room);
    member(erased, { membership: 'join', displayname: 'erased' });
    const first = await send(author, { msgtype: 'm.text', body: 'first' });
    await state(author, 'm.room.topic', { topic: 'one' });
    await state(author, 'm.room.topic', { topic: 'two' });
    const own = await send(reader, { msgtype: 'm.text', body: 'mine, with a transaction id' });
    await send(reader, {
      msgtype: 'm.text',
      body: '* edited',
      'm.new_content': { msgtype: 'm.text', body: 'edited' },
      'm.relates_to': { rel_type: 'm.replace', event_id: own },
    });
    await send(author, { msgtype: 'm.text', body: 'in a thread', 'm.relates_to': { rel_type: 'm.thread', event_id: first } });
    await send(reader, { msgtype: 'm.text', body: 'a reply in the thread', 'm.relates_to': { rel_type: 'm.thread', event_id: first } });
    await send(author, { 'm.relates_to': { rel_type: 'm.reference', event_id: own } }, 'm.room.test');
    await send(author, { 'm.relates_to': { rel_type: 'm.annotation', event_id: own, key: '👍' } }, 'm.reaction');
    const doomed = await send(author, { msgtype: 'm.text', body: 'to be redacted' });
    const [red, window] = await timed(() =>
      ok(http(s, 'PUT', `${C}/rooms/${enc(room)}/redact/${enc(doomed)}/r1`, { token: author.token, body: { reason: 'oops' } }), 'redact'),
    );
    known.push({
      id: red.body.event_id,
      type: 'm.room.redaction',
      sender: author.userId,
      content: { reason: 'oops' },
      redacts: doomed,
      txn: 'r1',
      window,
    });
    known.find((k) => k.id === doomed)!.redactedBy = red.body.event_id;
    await send(author, { msgtype: 'm.image', body: 'a picture', url: 'mxc://test/abc', 'org.matrix.labels': ['#fun'] });
    await send(erased, { msgtype: 'm.text', body: 'from a user about to be erased' });
    await state(erased, 'm.room.member', { membership: 'join', displayname: 'Soon gone' }, erased.userId);
    await leave(s, reader.token, room);
    member(reader, { membership: 'leave' });
    await join(s, reader.token, room);
    member(reader, { membership: 'join', displayname: 'reader' });
    await send(author, { msgtype: 'm.text', body: 'unicode: ünïcödé ☃ \u2028 "quoted" \\ back' });
    await ok(
      http(s, 'POST', `/_synapse/admin/v1/deactivate/${enc(erased.userId)}`, { token: admin.token, body: { erase: true } }),
      'erase',
    );
    // Synapse's erasing deactivation: the avatar removed (the room's name falls back to the
    // profile's), then the display name, then the user leaves its rooms.
    member(erased, { membership: 'join', displayname: 'erased' });
    member(erased, { membership: 'join' });
    member(erased, { membership: 'leave' });
    await join(s, late.token, room);
    member(late, { membership: 'join', displayname: 'late' });
    await learnTimeline();
  });

  after(async () => s?.stop());

  /**
   * Reads the whole timeline once (admin API, oldest first) to learn the ids of the events the
   * server wrote and every origin_server_ts, checking the order, senders and send times.
   */
  async function learnTimeline(): Promise<void> {
    const r = await messages(s, admin.token, room, { dir: 'f', limit: 100 }, true);
    assert.equal(r.status, 200, JSON.stringify(r.body));
    const chunk = r.body.chunk as Json[];
    assert.deepEqual(
      chunk.map((e) => [e.type, e.sender, e.state_key]),
      known.map((k) => [k.type, k.sender, k.stateKey]),
      'the timeline holds the events made, in order',
    );
    let last = 0;
    chunk.forEach((e, i) => {
      const k = known[i];
      if (k.id) assert.equal(e.event_id, k.id);
      else k.id = e.event_id;
      assert.ok(
        typeof e.origin_server_ts === 'number' && e.origin_server_ts >= last,
        `origin_server_ts of ${e.event_id} grows with the timeline`,
      );
      if (k.window)
        assert.ok(
          e.origin_server_ts >= k.window[0] && e.origin_server_ts <= k.window[1],
          `origin_server_ts of ${e.event_id} falls within its send`,
        );
      last = e.origin_server_ts;
      ts.set(e.event_id, e.origin_server_ts);
    });
    const pl = known.find((k) => k.type === 'm.room.power_levels')!;
    const plContent = chunk.find((e) => e.event_id === pl.id)!.content;
    assert.deepEqual(plContent.users, { [author.userId]: 100 });
    for (const key of ['ban', 'kick', 'redact', 'invite', 'state_default']) assert.equal(plContent[key], 50, key);
    assert.deepEqual([plContent.users_default, plContent.events_default], [0, 0]);
    pl.content = plContent;
  }

  const at = (id: string) => known.findIndex((k) => k.id === id);

  /** The viewer's membership once the event at `i` is in the room ('leave' before any). */
  function membershipAt(viewer: string, i: number): string {
    for (let j = i; j >= 0; j--) if (known[j].type === 'm.room.member' && known[j].stateKey === viewer) return known[j].content.membership;
    return 'leave';
  }

  /** An erased sender's events are pruned for a reader who was not in the room at the time. */
  function prunedFor(viewer: TestUser | null, i: number): boolean {
    return known[i].sender === erased.userId && viewer !== null && membershipAt(viewer.userId, i) !== 'join';
  }

  /** The redaction algorithm (room v10) for the event types an erased user sends here. */
  function pruned(k: Known): Json {
    return k.type === 'm.room.member' ? { membership: k.content.membership } : {};
  }

  /** The previous state event of the same type and key, if any. */
  function previousState(i: number): Known | undefined {
    const k = known[i];
    if (k.stateKey === undefined) return undefined;
    for (let j = i - 1; j >= 0; j--) if (known[j].type === k.type && known[j].stateKey === k.stateKey) return known[j];
    return undefined;
  }

  /**
   * The client event Synapse serves for `known[i]` to `viewer` (null: the admin API). `nested`
   * events (bundled in another's unsigned) carry only their own age and transaction id there.
   */
  function expected(i: number, viewer: TestUser | null, opts: { nested?: boolean; asState?: boolean } = {}): Json {
    const k = known[i];
    const prune = prunedFor(viewer, i);
    let content = k.content;
    if (prune) content = pruned(k);
    else if (k.redactedBy) content = {};
    else if (k.type === 'm.room.redaction') content = { ...k.content, redacts: k.redacts };
    const e: Json = {
      content,
      event_id: k.id,
      origin_server_ts: ts.get(k.id),
      room_id: room,
      sender: k.sender,
      type: k.type,
      user_id: k.sender,
    };
    if (k.stateKey !== undefined) e.state_key = k.stateKey;
    if (k.redacts) e.redacts = k.redacts;
    const unsigned: Json = {};
    if (k.txn && viewer?.userId === k.sender) unsigned.transaction_id = k.txn;
    if (!opts.nested) {
      const prev = previousState(i);
      if (prev) {
        unsigned.replaces_state = prev.id;
        if (!prune) Object.assign(unsigned, { prev_content: prev.content, prev_sender: prev.sender });
      }
      if (k.redactedBy)
        Object.assign(unsigned, { redacted_by: k.redactedBy, redacted_because: expected(at(k.redactedBy), viewer, { nested: true }) });
      const relations = bundled(k, viewer);
      if (relations) unsigned['m.relations'] = relations;
      if (viewer && !opts.asState) unsigned.membership = membershipAt(viewer.userId, i);
    }
    for (const key of ['replaces_state', 'prev_content', 'redacted_because']) if (key in unsigned) e[key] = unsigned[key];
    e.unsigned = unsigned;
    return e;
  }

  /** Synapse's bundled aggregations: the thread summary, the latest edit, references. */
  function bundled(k: Known, viewer: TestUser | null): Json | null {
    const related = (rel: string) =>
      known.filter((r) => r.content['m.relates_to']?.event_id === k.id && r.content['m.relates_to']?.rel_type === rel);
    const out: Json = {};
    const thread = related('m.thread');
    if (thread.length > 0) {
      const participants = [k.sender, ...thread.map((r) => r.sender)];
      out['m.thread'] = {
        latest_event: expected(at(thread[thread.length - 1].id), viewer, { nested: true }),
        count: thread.length,
        current_user_participated: viewer !== null && participants.includes(viewer.userId),
      };
    }
    const refs = related('m.reference');
    if (refs.length > 0) out['m.reference'] = { chunk: refs.map((r) => ({ event_id: r.id })) };
    const edits = related('m.replace');
    if (edits.length > 0) out['m.replace'] = expected(at(edits[edits.length - 1].id), viewer, { nested: true });
    return Object.keys(out).length > 0 ? out : null;
  }

  /** The expected page for a whole-timeline query (limit above the room's size). */
  function expectedPage(viewer: TestUser | null, dir: 'b' | 'f', filter: Json | undefined, actual: Json): Json {
    let idx = known.map((_, i) => i);
    if (filter?.types)
      idx = idx.filter((i) =>
        (filter.types as string[]).some((t) => (t.endsWith('*') ? known[i].type.startsWith(t.slice(0, -1)) : known[i].type === t)),
      );
    if (filter?.contains_url) idx = idx.filter((i) => typeof known[i].content.url === 'string');
    if (dir === 'b') idx.reverse();
    const page: Json = { chunk: idx.map((i) => expected(i, viewer)) };
    assert.equal(typeof actual.start, 'string');
    page.start = actual.start;
    if (actual.end !== undefined) {
      assert.equal(typeof actual.end, 'string');
      page.end = actual.end;
    }
    if (filter?.lazy_load_members) {
      // The members among the page's senders, as of its first event.
      const first = idx[0];
      const senders = new Set(idx.map((i) => known[i].sender));
      const members: number[] = [];
      for (const u of senders) {
        for (let j = first; j >= 0; j--)
          if (known[j].type === 'm.room.member' && known[j].stateKey === u) {
            members.push(j);
            break;
          }
      }
      if (members.length > 0) page.state = members.map((j) => expected(j, viewer, { asState: true }));
    }
    return page;
  }

  const sortedState = (page: Json) =>
    page.state
      ? { ...page, state: [...(page.state as Json[])].sort((a, b) => String(a.state_key).localeCompare(String(b.state_key))) }
      : page;

  async function rest(
    user: TestUser,
    asAdmin: boolean,
    dir: 'b' | 'f',
    q: { limit?: number; filter?: Json; from?: string },
  ): Promise<Json> {
    const r = await messages(
      s,
      user.token,
      room,
      { dir, limit: q.limit ?? 100, ...(q.filter ? { filter: q.filter } : {}), ...(q.from ? { from: q.from } : {}) },
      asAdmin,
    );
    assert.equal(r.status, 200, JSON.stringify(r.body));
    return r.body as Json;
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
      it(`serves Synapse's body for ${c.name}, dir=${dir}`, async () => {
        const body = await rest(c.who(), c.admin, dir, { filter: c.filter });
        assert.ok((body.chunk as unknown[]).length > 0);
        const want = expectedPage(c.admin ? null : c.who(), dir, c.filter, body);
        assert.deepEqual(sortedState(withoutAge(body) as Json), sortedState(want));
      });
    }
  }

  it('covers the kinds of events it is meant to (the expectation is not vacuous)', () => {
    const reader0 = known.map((_, i) => expected(i, reader));
    assert.ok(
      reader0.some((e) => typeof e.unsigned.transaction_id === 'string'),
      'own sends carry their transaction id',
    );
    assert.ok(reader0.some((e) => e.type === 'm.room.topic' && e.prev_content?.topic === 'one'));
    for (const rel of ['m.thread', 'm.replace', 'm.reference'])
      assert.ok(
        reader0.some((e) => e.unsigned['m.relations']?.[rel]),
        rel,
      );
    assert.ok(reader0.some((e) => e.redacted_because));
    assert.ok(reader0.some((e) => e.unsigned.membership === 'leave') && reader0.some((e) => e.unsigned.membership === 'join'));
    const forLate = known.map((_, i) => expected(i, late));
    const fromErased = forLate.filter((e) => e.sender === erased.userId && e.type === 'm.room.message');
    assert.ok(
      fromErased.length > 0 && fromErased.every((e) => Object.keys(e.content).length === 0),
      'an erased sender is pruned for a later reader',
    );
  });

  it('pages through the same events with small pages and their tokens, in both directions', async () => {
    for (const dir of ['b', 'f'] as const) {
      let from: string | undefined;
      const seen: Json[] = [];
      for (let i = 0; i < 30; i++) {
        const body = await rest(reader, false, dir, { limit: 3, from });
        assert.ok((body.chunk as Json[]).length <= 3);
        seen.push(...(withoutAge(body.chunk) as Json[]));
        if (!body.end || (body.chunk as Json[]).length === 0) break;
        from = body.end as string;
      }
      const order = known.map((_, i) => i);
      if (dir === 'b') order.reverse();
      assert.deepEqual(
        seen,
        order.map((i) => expected(i, reader)),
      );
    }
  });

  it('serves the same events over gRPC, as JSON text and as typed events', async () => {
    const p = s.clients.pagination;
    const query = { roomId: room, dir: Direction.DIRECTION_BACKWARDS, limit: 100, format: EventFormat.EVENT_FORMAT_CLIENT };
    const asJson = await grpcCall(p, p.getRoomMessages, { query: { ...query, asJsonBody: true } }, bearer(reader.token));
    const body = JSON.parse(asJson.page!.jsonBody!.toString()) as Json;
    const want = expectedPage(reader, 'b', undefined, body);
    assert.deepEqual(withoutAge(body), want);
    const typed = (await grpcCall(p, p.getRoomMessages, { query }, bearer(reader.token))).page!;
    assert.deepEqual(
      typed.chunk.map((e) => e.eventId),
      (want.chunk as Json[]).map((e) => e.event_id),
    );
    typed.chunk.forEach((e, i) => {
      const w = (want.chunk as Json[])[i];
      // A typed event carries its stored content: no client-format copy of `redacts` in it.
      const content =
        w.type === 'm.room.redaction' ? Object.fromEntries(Object.entries(w.content).filter(([k]) => k !== 'redacts')) : w.content;
      assert.deepEqual(
        {
          type: e.type,
          sender: e.sender,
          state_key: e.stateKey,
          content: JSON.parse(e.contentJson),
          origin_server_ts: Number(e.originServerTs),
          redacts: e.redacts,
        },
        { type: w.type, sender: w.sender, state_key: w.state_key, content, origin_server_ts: w.origin_server_ts, redacts: w.redacts },
        e.eventId,
      );
    });
    typed.chunk.forEach((e, i) => {
      const u = JSON.parse(e.unsignedJson) as Json;
      const w = (want.chunk as Json[])[i].unsigned as Json;
      for (const key of ['transaction_id', 'membership', 'replaces_state', 'prev_content', 'redacted_by'])
        assert.deepEqual(u[key], w[key], `${key} of ${e.eventId}`);
    });
  });
});
