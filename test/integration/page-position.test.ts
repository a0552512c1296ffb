/**
 * `lastPagePosition`: the stream ordering of the last row a page would return, computed by a
 * statement that does not wait for the page (an event context reads the state at that position
 * beside its two sides). It must agree with `page` for every shape of query: both directions,
 * limits around the statement's row buckets, filters, client conditions, visible ranges, and
 * empty pages; and it must decline pages that take more than one statement to read.
 */
import { strict as assert } from 'node:assert';
import { Client as PgClient } from 'pg';
import type { RoomStreamToken } from '../../src/matrix/stream-token';
import { parseRoomEventFilter } from '../../src/pagination/event-filter';
import { PaginationRepository, lastPagePosition, type PageQuery } from '../../src/pagination/pagination.repository';
import type { Range } from '../../src/pagination/visibility';
import { toNumbered } from '../../src/infra/sql';
import { createRoom, join, send, sendState } from '../e2e/pagination.helpers';
import { sharedStack } from '../support/root-hooks';
import { dbUrl, registerUser, uniq, type Stack, type TestUser } from '../support/stack';

describe('the position of the last row of a page, computed in SQL', () => {
  let s: Stack;
  let pg: PgClient;
  let alice: TestUser;
  let bob: TestUser;
  let room: string;
  /** (depth, stream) of every event of the room, in timeline order. */
  let positions: { depth: number; stream: number }[];
  const repo = new PaginationRepository();

  before(async () => {
    s = await sharedStack();
    alice = await registerUser(s, uniq('posalice'));
    bob = await registerUser(s, uniq('posbob'));
    room = await createRoom(s, alice.token, { preset: 'public_chat' });
    await join(s, bob.token, room);
    for (let i = 0; i < 40; i++) {
      await send(s, i % 3 ? alice.token : bob.token, room, `m${i}`);
      if (i % 7 === 0) await sendState(s, alice.token, room, 'm.room.topic', { topic: `t${i}` });
    }
    pg = new PgClient({ connectionString: dbUrl(s.dbName) });
    await pg.connect();
    const rows = await pg.query('SELECT depth, stream_ordering FROM events WHERE room_id = $1 ORDER BY depth, stream_ordering', [room]);
    positions = rows.rows.map((r: { depth: string; stream_ordering: string }) => ({
      depth: Number(r.depth),
      stream: Number(r.stream_ordering),
    }));
  });

  after(async () => {
    await pg?.end();
  });

  const token = (p: { depth: number; stream: number }): RoomStreamToken => ({
    topological: p.depth,
    stream: p.stream,
    instances: new Map(),
  });

  /** The computed position, with -1 standing for "the page is empty". */
  async function computed(q: PageQuery): Promise<number | null> {
    const p = lastPagePosition(q, -1);
    assert.ok(p, 'a page of one statement has a computed position');
    const r = await pg.query({ text: toNumbered(`SELECT ${p.sql} AS pos`), values: p.params });
    const pos = Number(r.rows[0].pos);
    return pos === -1 ? null : pos;
  }

  async function read(q: PageQuery): Promise<number | null> {
    const rows = await repo.page(s.app.orm.em.fork(), q, { dagFields: false, aggregationsFor: null });
    return rows.length ? rows[rows.length - 1].streamOrdering : null;
  }

  it('agrees with the page read for every direction, limit, filter, client condition and range', async () => {
    const messagesOnly = parseRoomEventFilter({ types: ['m.room.message'] }, { msc3874Enabled: false });
    const aliceOnly = parseRoomEventFilter({ senders: [alice.userId] }, { msc3874Enabled: false });
    const mid = positions[Math.floor(positions.length / 2)];
    const at = (i: number) => positions[i];
    const windows: (Range[] | null)[] = [
      null,
      [{ lo: { pos: at(3), inclusive: true }, hi: { pos: at(20), inclusive: false } }],
      [
        { lo: null, hi: { pos: at(10), inclusive: true } },
        { lo: { pos: at(25), inclusive: false }, hi: { pos: at(40), inclusive: true } },
      ],
    ];
    let checked = 0;
    let nonEmpty = 0;
    for (const dir of ['f', 'b'] as const)
      for (const from of [token(positions[0]), token(mid), token(positions[positions.length - 1])])
        for (const limit of [0, 1, 2, 5, 10, 11, 37, 100])
          for (const filter of [null, messagesOnly, aliceOnly])
            for (const ranges of windows)
              for (const client of [null, { minOriginTs: null, ignoredSenders: [bob.userId] }]) {
                const q: PageQuery = { roomId: room, dir, from, to: null, limit, filter, ranges, client };
                const label = JSON.stringify({ dir, from: from.stream, limit, filter: !!filter, ranges: ranges?.length, client: !!client });
                const want = await read(q);
                assert.equal(await computed(q), want, label);
                checked++;
                if (want !== null) nonEmpty++;
              }
    assert.ok(nonEmpty > checked / 2, `${nonEmpty} of ${checked} pages had rows`);
  });

  it('declines a page spread over more visible ranges than one statement reads', () => {
    const ranges: Range[] = positions.slice(0, 34).map((p) => ({ lo: { pos: p, inclusive: true }, hi: { pos: p, inclusive: true } }));
    const q: PageQuery = {
      roomId: room,
      dir: 'f',
      from: token({ depth: 0, stream: 0 }),
      to: null,
      limit: 10,
      filter: null,
      ranges,
      client: null,
    };
    assert.equal(lastPagePosition(q, 0), null);
    assert.ok(lastPagePosition({ ...q, ranges: ranges.slice(0, 16) }, 0));
  });
});
