import { strict as assert } from 'node:assert';
import type { Em } from '../../src/infra/orm';
import type { PersistedEvent } from '../../src/rooms/batch-builder';
import { MAX_COALESCED_SENDS, MAX_WRITES_IN_FLIGHT, SendQueue, type QueuedSend } from '../../src/rooms/room-send-queue';

/** A writer whose writes finish only when the test says so; it records what each write held. */
function controlledWriter() {
  const writes: { rooms: string[]; bodies: string[]; finish(): void }[] = [];
  let inFlight = 0;
  let maxInFlight = 0;
  const overlaps: string[] = [];
  const active = new Set<string>();
  const write = (_em: Em, sends: QueuedSend[]) =>
    new Promise<(PersistedEvent | Error)[]>((resolve) => {
      const rooms = [...new Set(sends.map((s) => s.roomId))];
      for (const r of rooms) if (active.has(r)) overlaps.push(r);
      for (const r of rooms) active.add(r);
      inFlight += 1;
      maxInFlight = Math.max(maxInFlight, inFlight);
      writes.push({
        rooms,
        bodies: sends.map((s) => String((s.draft.content as { body: string }).body)),
        finish: () => {
          for (const r of rooms) active.delete(r);
          inFlight -= 1;
          resolve(
            sends.map((s, i) => ({ eventId: `$${s.roomId}-${i}`, roomId: s.roomId, depth: i, streamOrdering: i, deduplicated: false })),
          );
        },
      });
    });
  return { write, writes, overlaps, maxInFlight: () => maxInFlight };
}

const em = {} as Em;
const draft = (body: string) => ({ type: 'm.room.message', stateKey: null, sender: '@a:test', content: { body } });
const tick = () => new Promise((r) => setImmediate(r));

describe('coalesced sends (SendQueue)', () => {
  it('never has one room in two writes at once, and writes a room’s sends in arrival order', async () => {
    const w = controlledWriter();
    const q = new SendQueue(w.write);
    const done: Promise<PersistedEvent>[] = [];
    done.push(q.submit(em, '!a:test', draft('a1')));
    await tick();
    // a1 is in flight: more sends for !a and one for !b arrive.
    done.push(q.submit(em, '!a:test', draft('a2')), q.submit(em, '!b:test', draft('b1')), q.submit(em, '!a:test', draft('a3')));
    await tick();
    assert.equal(w.writes.length, 2, 'the second write goes out while the first is in flight');
    assert.deepEqual(w.writes[1].rooms, ['!b:test'], 'the second write leaves out the room in flight');
    w.writes[0].finish();
    await tick();
    assert.equal(w.writes.length, 3);
    assert.deepEqual(w.writes[2].bodies, ['a2', 'a3']);
    w.writes[1].finish();
    w.writes[2].finish();
    const results = await Promise.all(done);
    assert.deepEqual(
      results.map((r) => r.roomId),
      ['!a:test', '!a:test', '!b:test', '!a:test'],
    );
    assert.deepEqual(w.overlaps, []);
  });

  it('keeps one room’s sends serial under load while other rooms still overlap', async () => {
    const w = controlledWriter();
    const q = new SendQueue(w.write);
    const done: Promise<PersistedEvent>[] = [];
    const order = new Map<string, string[]>();
    let finished = 0;
    // 600 sends over 3 rooms arriving while writes are in flight; finish writes in turn.
    for (let i = 0; i < 600; i++) {
      const room = `!r${i % 3}:test`;
      done.push(q.submit(em, room, draft(`${room}#${i}`)));
      if (i % 50 === 49) {
        await tick();
        const open = w.writes.slice(finished);
        open[0]?.finish();
        if (open[0]) finished += 1;
      }
    }
    let settled = false;
    void Promise.all(done).then(() => (settled = true));
    while (!settled) {
      await tick();
      if (finished < w.writes.length) w.writes[finished++].finish();
    }
    await Promise.all(done);
    for (const wr of w.writes) {
      assert.ok(wr.bodies.length <= MAX_COALESCED_SENDS);
      for (const b of wr.bodies) {
        const room = b.split('#')[0];
        order.set(room, [...(order.get(room) ?? []), b]);
      }
    }
    for (const [room, bodies] of order) {
      const seq = bodies.map((b) => Number(b.split('#')[1]));
      assert.deepEqual(
        seq,
        [...seq].sort((a, b) => a - b),
        `${room} written out of order`,
      );
      assert.equal(seq.length, 200);
    }
    assert.deepEqual(w.overlaps, []);
    assert.equal(w.maxInFlight(), MAX_WRITES_IN_FLIGHT);
  });
});
