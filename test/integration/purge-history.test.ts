/**
 * History purges under concurrency: clients paginating and sending into the room being purged,
 * purges of different rooms in parallel, purges of one room serialised by the pagination write
 * lock, and an interrupted purge resuming from its checkpoint.
 */
import { strict as assert } from 'node:assert';
import { Client as PgClient } from 'pg';
import { PURGE_PAGINATION_LOCK_NAME } from '../../src/infra/locks/lock.types';
import type { Services } from '../../src/container';
import type { PurgeCheckpoint } from '../../src/pagination/purge-history.service';
import { sharedStack } from '../support/root-hooks';
import { registerUser, uniq, type Stack, type TestUser } from '../support/stack';
import { createRoom, eventExists, eventToken, ids, messages, send, waitFor } from '../e2e/pagination.helpers';

describe('purge history under concurrency', () => {
  let s: Stack;
  let user: TestUser;
  let services: Services;

  before(async () => {
    s = await sharedStack();
    user = await registerUser(s, uniq('busy'));
    services = s.app.services;
  });

  /** A public room with `n` messages written in one bulk batch; returns their ids in order. */
  async function roomWith(n: number): Promise<{ room: string; msgs: string[] }> {
    const room = await createRoom(s, user.token, { preset: 'public_chat' });
    const rooms = s.app.services.rooms;
    const drafts = Array.from({ length: n }, (_, i) => ({
      type: 'm.room.message',
      stateKey: null,
      sender: user.userId,
      content: { msgtype: 'm.text', body: `n${i}` },
    }));
    const [persisted] = await rooms.persistBatches(s.app.orm.em.fork(), [{ roomId: room, drafts }]);
    return { room, msgs: persisted.map((p) => p.eventId) };
  }

  /** Pages backwards through the whole room as the user; checks every page is well-formed. */
  async function readAll(room: string, order: Map<string, number>): Promise<string[]> {
    const seen: string[] = [];
    let from: string | undefined;
    for (let pages = 0; pages < 1000; pages++) {
      const r = await messages(s, user.token, room, {
        dir: 'b',
        limit: 100,
        filter: { types: ['m.room.message'] },
        ...(from ? { from } : {}),
      });
      assert.equal(r.status, 200, JSON.stringify(r.body));
      const page = ids(r);
      const known = page.filter((id) => order.has(id)).map((id) => order.get(id) as number);
      for (let i = 1; i < known.length; i++) assert.ok(known[i] < known[i - 1], 'pages are in strictly decreasing order');
      seen.push(...page);
      if (!r.body.end) return seen;
      from = r.body.end;
    }
    throw new Error('pagination did not end');
  }

  it('keeps pages consistent and sends working while the room is purged', async () => {
    const { room, msgs } = await roomWith(2000);
    const order = new Map(msgs.map((id, i) => [id, i]));
    const cut = 1500;
    const sentDuring: string[] = [];
    let batches = 0;
    let done = false;
    const purge = services.purges
      .purgeHistory(room, await eventToken(s, msgs[cut]), true, {
        batchEvents: 100,
        onBatch: async () => {
          batches += 1;
          // While the purge holds the room's pagination write lock: a send and a page both work.
          sentDuring.push(await send(s, user.token, room, `during ${batches}`));
          const page = await messages(s, user.token, room, { dir: 'b', limit: 20 });
          assert.equal(page.status, 200);
          assert.equal(ids(page)[0], sentDuring[sentDuring.length - 1]);
        },
      })
      .finally(() => (done = true));
    const readers = (async () => {
      let rounds = 0;
      while (!done || rounds === 0) {
        const all = await readAll(room, order);
        assert.equal(new Set(all).size, all.length, 'no event twice');
        rounds += 1;
      }
      return rounds;
    })();
    const result = await purge;
    await readers;
    assert.ok(batches >= 15, `purged in ${batches} batches`);
    assert.equal(result.deleted, cut);
    for (const i of [0, 700, cut - 1]) assert.equal(await eventExists(s, msgs[i]), false);
    for (const i of [cut, 1999]) assert.equal(await eventExists(s, msgs[i]), true);
    const after = await readAll(room, order);
    assert.deepEqual(after, [...[...sentDuring].reverse(), ...msgs.slice(cut).reverse()]);
  });

  it('purges different rooms in parallel', async () => {
    const a = await roomWith(400);
    const b = await roomWith(400);
    const log: string[] = [];
    const seenBy = (name: string) => log.some((x) => x.startsWith(name));
    const run = (name: string, other: string, r: { room: string; msgs: string[] }) =>
      eventToken(s, r.msgs[300]).then((token) =>
        services.purges.purgeHistory(r.room, token, true, {
          batchEvents: 50,
          onBatch: async () => {
            log.push(`${name}${log.length}`);
            // Each purge waits, holding its room's write lock, until the other one made progress:
            // this only finishes if both hold their locks at the same time.
            await waitFor(
              async () => seenBy(other),
              (x) => x,
            );
          },
        }),
      );
    const [ra, rb] = await Promise.all([run('a', 'b', a), run('b', 'a', b)]);
    assert.deepEqual([ra.deleted, rb.deleted], [300, 300]);
    assert.ok(log.length >= 12);
  });

  it('serialises purges of one room on the pagination write lock', async () => {
    const { room, msgs } = await roomWith(300);
    const locks = s.app.services.locks;
    const events: string[] = [];
    let release!: () => void;
    const gate = new Promise<void>((ok) => (release = ok));
    const first = services.purges.purgeHistory(room, await eventToken(s, msgs[100]), true, {
      batchEvents: 50,
      onBatch: async () => {
        events.push('first batch');
        await gate;
      },
    });
    await waitFor(
      async () => events.length,
      (n) => n > 0,
    );
    assert.equal(await locks.tryAcquireReadWrite(PURGE_PAGINATION_LOCK_NAME, room, 'write'), null);
    assert.equal(await locks.tryAcquireReadWrite(PURGE_PAGINATION_LOCK_NAME, room, 'read'), null);
    const second = services.purges.purgeHistory(room, await eventToken(s, msgs[200]), true, {
      batchEvents: 50,
      onBatch: async () => void events.push('second batch'),
    });
    // Let the second purge try to start; it must not run while the first holds the lock.
    await new Promise((ok) => setImmediate(ok));
    assert.deepEqual(events, ['first batch']);
    release();
    const [r1, r2] = await Promise.all([first.then((r) => (events.push('first done'), r)), second]);
    assert.equal(events.indexOf('first done') < events.indexOf('second batch'), true, events.join(', '));
    assert.deepEqual([r1.deleted, r2.deleted], [100, 100]);
  });

  it('deletes the relations of purged events and keeps those of kept events', async () => {
    const room = await createRoom(s, user.token, { preset: 'public_chat' });
    const rel = (relType: string, target: string) => ({
      'm.relates_to': { rel_type: relType, event_id: target, ...(relType === 'm.annotation' ? { key: 'x' } : {}) },
    });
    const old = await send(s, user.token, room, 'old');
    const reaction = await send(s, user.token, room, rel('m.annotation', old), 'm.reaction');
    const cut = await send(s, user.token, room, 'cut');
    const reference = await send(s, user.token, room, { ...rel('m.reference', old) }, 'm.room.test');
    const thread = await send(s, user.token, room, { msgtype: 'm.text', body: 'reply', ...rel('m.thread', cut) });
    await services.purges.purgeHistory(room, await eventToken(s, cut), true, { batchEvents: 2 });
    const rows = await s.app.orm.em
      .fork()
      .getConnection()
      .execute<{ event_id: string }[]>('SELECT event_id FROM event_relations WHERE room_id = ? ORDER BY stream_ordering', [room]);
    assert.deepEqual(
      rows.map((r) => r.event_id),
      [reference, thread],
    );
    assert.equal(await eventExists(s, reaction), false);
  });

  it('resumes an interrupted purge from its checkpoint', async () => {
    const { room, msgs } = await roomWith(500);
    const token = await eventToken(s, msgs[400]);
    const stop = new AbortController();
    let checkpoint: PurgeCheckpoint | null = null;
    let calls = 0;
    await assert.rejects(
      services.purges.purgeHistory(room, token, true, {
        batchEvents: 60,
        signal: stop.signal,
        onBatch: async (cp) => {
          checkpoint = cp;
          if (++calls === 3) stop.abort(new Error('stopped'));
        },
      }),
      /stopped/,
    );
    assert.ok(checkpoint);
    const partial = checkpoint as PurgeCheckpoint;
    assert.equal(partial.purged, 180);
    assert.equal(await eventExists(s, msgs[300]), true, 'not reached yet');
    const res = await services.purges.purgeHistory(room, token, true, { batchEvents: 60, resumeFrom: partial });
    // The count covers the whole room below the cut: the 400 messages and the 5 initial state events.
    assert.equal(res.purged, 405);
    assert.equal(res.deleted, 400);
    for (const i of [0, 179, 180, 399]) assert.equal(await eventExists(s, msgs[i]), false);
    assert.equal(await eventExists(s, msgs[400]), true);
  });

  it('yields to other statements on the database, and publishes that it does', async () => {
    const { room, msgs } = await roomWith(500);
    // Another session runs a statement for the whole purge: every sample sees it.
    const other = new PgClient({ connectionString: s.app.databaseUrl });
    await other.connect();
    // Settles with the statement's fate: cancelled below (57014) means it outlasted the purge.
    const sleeping = other.query('SELECT pg_sleep(30)').then(
      () => 'finished',
      (e: { code?: string }) => e.code,
    );
    const seen: boolean[] = [];
    try {
      await waitFor(
        async () =>
          (
            await s.app.orm.em
              .fork()
              .execute<{ n: string }[]>(
                "SELECT count(*) AS n FROM pg_stat_activity WHERE query = 'SELECT pg_sleep(30)' AND state = 'active'",
              )
          )[0].n,
        (n) => n === '1',
      );
      const res = await services.purges.purgeHistory(room, await eventToken(s, msgs[400]), true, {
        batchEvents: 100,
        onBatch: async (_cp, p) => void seen.push(p.yielding),
      });
      assert.equal(res.deleted, 400);
    } finally {
      await s.app.orm.em.fork().execute("SELECT pg_cancel_backend(pid) FROM pg_stat_activity WHERE query = 'SELECT pg_sleep(30)'");
      assert.equal(await sleeping, '57014', 'the other statement ran through the whole purge');
      await other.end();
    }
    assert.ok(seen.length >= 4, `batches: ${seen.length}`);
    assert.deepEqual(
      seen,
      seen.map(() => true),
    );
  });
});
