/**
 * History purge: the admin API purges a room of --events events (default 1,000,000, generated
 * by the bulk import) up to its latest event, as `purge_history` tasks: the first half with the
 * server otherwise idle, the second half while a client keeps reading 100-event pages of
 * /messages in *another* room. Reported: events purged per second (target ≥ 50,000/s), and the
 * other room's /messages p50/p99 during the purge beside the same reads with the server idle
 * (target: p99 ≤ 2× idle). Baseline in the same run: the same rows deleted by plain batched
 * `DELETE`s from a copy of the table with the same indexes.
 */
import http from 'node:http';
import { Client as PgClient } from 'pg';
import { generateImportBatches, DEFAULT_GENERATOR_OPTIONS, localUserIds } from '../src/dev/seed/generator';
import { PURGE_HISTORY_BATCH_EVENTS } from '../src/pagination/purge-history.service';
import { fmt, options, registerUser, settleHeap, startStack, stats, table, type Stack, type TestUser } from './support';

const PAGE = 100;
const STATUS_POLL_MS = 50;

function request(
  port: number,
  agent: http.Agent,
  method: string,
  path: string,
  token: string,
  body?: unknown,
): Promise<{ status: number; json: any }> {
  return new Promise((ok, ko) => {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const req = http.request(
      {
        host: '127.0.0.1',
        port,
        method,
        path,
        agent,
        headers: { authorization: `Bearer ${token}`, ...(payload ? { 'content-type': 'application/json' } : {}) },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => ok({ status: res.statusCode ?? 0, json: JSON.parse(Buffer.concat(chunks).toString() || '{}') }));
      },
    );
    req.on('error', ko);
    req.end(payload);
  });
}

/** Imports a generated room, stopping once `events` events are in; returns its id. */
async function importRoom(stack: Stack, events: number, locals: string[], seed: number): Promise<string> {
  const rooms = stack.app.services.rooms;
  let roomId = '';
  let imported = 0;
  // The generator draws a room size around the mean; ask for more and stop at the target.
  for (const batch of generateImportBatches({
    ...DEFAULT_GENERATOR_OPTIONS,
    serverName: 'test',
    rooms: 1,
    eventsPerRoom: events * 2,
    localUsers: locals,
    publicRatio: 1,
    spaceRatio: 0,
    aliasRatio: 0,
    encryptedRatio: 0,
    batchEvents: 20_000,
    seed,
  })) {
    roomId ||= batch[0].roomId as string;
    await rooms.importRooms(stack.app.orm.em.fork(), batch);
    imported += batch.reduce((n, r) => n + r.events.length, 0);
    if (imported >= events) break;
  }
  return roomId;
}

/** Reads pages of `roomId` backwards from random positions until `stop()`; returns latencies (ns). */
async function readWhile(
  port: number,
  agent: http.Agent,
  user: TestUser,
  roomId: string,
  depths: number[],
  stop: () => boolean,
  min = 0,
): Promise<number[]> {
  const samples: number[] = [];
  for (let i = 0; !stop() || samples.length < min; i++) {
    const path = `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/messages?dir=b&limit=${PAGE}&from=t${depths[i % depths.length]}-999999999999`;
    const t0 = process.hrtime.bigint();
    const r = await request(port, agent, 'GET', path, user.token);
    if (r.status !== 200) throw new Error(`messages: ${r.status} ${JSON.stringify(r.json)}`);
    samples.push(Number(process.hrtime.bigint() - t0));
  }
  return samples;
}

/** The same rows deleted by plain batched DELETEs from a same-indexed copy of the table. */
async function baselineDelete(pg: PgClient, roomId: string, maxDepth: number): Promise<{ rows: number; ms: number }> {
  await pg.query('DROP TABLE IF EXISTS events_baseline');
  await pg.query('CREATE TABLE events_baseline (LIKE events INCLUDING ALL)');
  await pg.query('INSERT INTO events_baseline SELECT * FROM events WHERE room_id = $1', [roomId]);
  await pg.query('ANALYZE events_baseline');
  let rows = 0;
  const t0 = process.hrtime.bigint();
  for (;;) {
    const r = await pg.query(
      `DELETE FROM events_baseline WHERE stream_ordering IN (SELECT stream_ordering FROM events_baseline WHERE room_id = $1 AND depth < $2 ORDER BY depth, stream_ordering LIMIT $3)`,
      [roomId, maxDepth, PURGE_HISTORY_BATCH_EVENTS],
    );
    rows += r.rowCount ?? 0;
    if ((r.rowCount ?? 0) < PURGE_HISTORY_BATCH_EVENTS) break;
  }
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  await pg.query('DROP TABLE events_baseline');
  return { rows, ms };
}

export async function run(args: string[]): Promise<void> {
  const o = options(args, { events: 1_000_000, otherEvents: 20_000, idleReads: 1000 });
  const stack = await startStack({ LOG_LEVEL: 'silent' });
  const pg = new PgClient({ connectionString: stack.app.databaseUrl });
  await pg.connect();
  try {
    const locals = localUserIds('test', 8, 'gen');
    for (const u of locals) await registerUser(stack, u.slice(1, u.indexOf(':')));
    const admin = await registerUser(stack, 'benchadmin', { admin: true });
    const reader = await registerUser(stack, locals[0].slice(1, locals[0].indexOf(':')) + 'r');
    const started = Date.now();
    const big = await importRoom(stack, o.events, locals, 11);
    const other = await importRoom(stack, o.otherEvents, [...locals, reader.userId], 12);
    await request(stack.app.httpPort!, new http.Agent(), 'POST', `/_matrix/client/v3/join/${encodeURIComponent(other)}`, reader.token, {});
    process.stdout.write(`imported ${o.events} + ${o.otherEvents} events in ${fmt((Date.now() - started) / 1000, 1)} s\n`);
    await pg.query('ANALYZE');
    const port = stack.app.httpPort!;
    const agent = new http.Agent({ keepAlive: true, maxSockets: 2 });
    const {
      rows: [range],
    } = await pg.query('SELECT min(depth) AS min, max(depth) AS max FROM events WHERE room_id = $1', [other]);
    const depths = Array.from(
      { length: 97 },
      (_, i) => Number(range.min) + Math.floor((((i * 37) % 97) / 97) * (Number(range.max) - Number(range.min))),
    );
    settleHeap();
    await readWhile(port, agent, reader, other, depths, () => true, 50);
    const idle = stats(await readWhile(port, agent, reader, other, depths, () => true, o.idleReads), 1);

    const {
      rows: [last],
    } = await pg.query(
      'SELECT event_id, depth FROM events WHERE room_id = $1 AND NOT outlier ORDER BY depth DESC, stream_ordering DESC LIMIT 1',
      [big],
    );
    const {
      rows: [middle],
    } = await pg.query('SELECT event_id, depth FROM events WHERE room_id = $1 AND depth >= $2 ORDER BY depth LIMIT 1', [
      big,
      Math.floor(Number(last.depth) / 2),
    ]);
    const below = async (depth: number) =>
      Number(
        (await pg.query('SELECT count(*) AS n FROM events WHERE room_id = $1 AND depth < $2 AND NOT outlier', [big, depth])).rows[0].n,
      );
    const total = await below(Number(last.depth));
    const baseline = await baselineDelete(pg, big, Number(last.depth));
    const purge = async (eventId: string): Promise<number> => {
      const t0 = process.hrtime.bigint();
      const start = await request(port, agent, 'POST', `/_synapse/admin/v1/purge_history/${encodeURIComponent(big)}`, admin.token, {
        purge_up_to_event_id: eventId,
        delete_local_events: true,
      });
      if (start.status !== 200) throw new Error(`purge: ${JSON.stringify(start.json)}`);
      let status = 'active';
      while (status === 'active') {
        await new Promise((r) => setTimeout(r, STATUS_POLL_MS));
        status = (await request(port, agent, 'GET', `/_synapse/admin/v1/purge_history_status/${start.json.purge_id}`, admin.token)).json
          .status;
      }
      if (status !== 'complete') throw new Error(`purge ended ${status}`);
      return Number(process.hrtime.bigint() - t0) / 1e6;
    };
    // First half with nothing else running, second half while a client reads another room.
    const firstHalf = await below(Number(middle.depth));
    const aloneMs = await purge(middle.event_id);
    const secondHalf = await below(Number(last.depth));
    let done = false;
    settleHeap();
    const reads = readWhile(port, agent, reader, other, depths, () => done);
    const busyMs = await purge(last.event_id).finally(() => (done = true));
    const during = stats(await reads, busyMs);
    const left = await below(Number(last.depth));
    const rate = (n: number, ms: number) => fmt((n / ms) * 1000, 0);
    table(`history purge of ${total} events in two halves (batches of ${PURGE_HISTORY_BATCH_EVENTS}; state kept as outliers)`, [
      {
        what: 'purge_history task, server otherwise idle (REST start → status complete)',
        events: firstHalf,
        'events/s': rate(firstHalf, aloneMs),
        'wall s': fmt(aloneMs / 1000, 2),
      },
      {
        what: 'purge_history task, while /messages is read in another room',
        events: secondHalf,
        'events/s': rate(secondHalf, busyMs),
        'wall s': fmt(busyMs / 1000, 2),
      },
      {
        what: 'baseline: plain batched DELETE of the same rows (copy table, idle)',
        events: baseline.rows,
        'events/s': rate(baseline.rows, baseline.ms),
        'wall s': fmt(baseline.ms / 1000, 2),
      },
    ]);
    process.stdout.write(`events left in the timeline below the cut-off: ${left}\n`);
    table(`/messages in another room (${o.otherEvents} events, ${PAGE}-event pages)`, [
      { when: 'idle', n: idle.n, 'p50 ms': fmt(idle.p50), 'p99 ms': fmt(idle.p99) },
      { when: 'during the purge', n: during.n, 'p50 ms': fmt(during.p50), 'p99 ms': fmt(during.p99) },
      { when: 'during / idle', n: '', 'p50 ms': fmt(during.p50 / idle.p50), 'p99 ms': fmt(during.p99 / idle.p99) },
    ]);
    agent.destroy();
  } finally {
    await pg.end();
    await stack.stop();
  }
}
