/**
 * Every write replaces its room's forward extremities, so `event_forward_extremities` gets a dead
 * row per write until vacuum comes by. The writer reads and deletes a room's extremities by a plain
 * index scan, which marks the index entries of dead rows; a full index page then drops them instead
 * of splitting. Read by bitmap scans instead, the primary key grew by an entry per write (1.1 MB
 * after 21,600 sends into one room, for one live row) and every write's read went through them all.
 */
import { strict as assert } from 'node:assert';
import { Client as PgClient } from 'pg';
import { createRoom, send } from '../e2e/pagination.helpers';
import { dbUrl, registerUser, startStack, type Stack } from '../support/stack';

describe('forward extremities under a stream of writes', () => {
  let s: Stack;
  let pg: PgClient;

  before(async () => {
    s = await startStack();
    pg = new PgClient({ connectionString: dbUrl(s.dbName) });
    await pg.connect();
  });

  after(async () => {
    await pg?.end();
    await s?.stop();
  });

  it('keeps the index of a busy room small, and the room one extremity: its last event', async () => {
    const owner = await registerUser(s, 'owner');
    const room = await createRoom(s, owner.token);
    const SENDS = 1600;
    const CONCURRENCY = 8;
    let next = 0;
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async () => {
        while (next < SENDS) await send(s, owner.token, room, `message ${next++}`);
      }),
    );
    const { rows: ext } = await pg.query<{ event_id: string; last: string }>(
      `SELECT f.event_id, (SELECT event_id FROM events WHERE room_id = $1 ORDER BY depth DESC, stream_ordering DESC LIMIT 1) AS last
         FROM event_forward_extremities f WHERE f.room_id = $1`,
      [room],
    );
    assert.equal(ext.length, 1);
    assert.equal(ext[0].event_id, ext[0].last);
    const { rows } = await pg.query<{ pages: string }>(
      "SELECT pg_relation_size('event_forward_extremities_pkey') / current_setting('block_size')::int AS pages",
    );
    // One live entry (and those of the other rooms: none here). An entry per write would be about 20 pages.
    assert.ok(Number(rows[0].pages) <= 4, `the index holds ${rows[0].pages} pages after ${SENDS} writes`);
  });
});
