/**
 * SIGTERM under load: kept-alive clients send messages without pause and a v2 room delete runs
 * when the real entry point (a child process) gets SIGTERM. The process must exit while the load
 * is still running (within SHUTDOWN_TIMEOUT, not when the clients stop), every answer it gave must
 * be complete, every acknowledged message must be stored, and the delete must be handed back at
 * its last checkpoint (active, lease released, progress kept) for a second instance to finish.
 */
import { strict as assert } from 'node:assert';
import http from 'node:http';
import { createHmac } from 'node:crypto';
import { Client as PgClient } from 'pg';
import { loadConfig } from '../../src/config';
import { createOrm, type Orm } from '../../src/infra/orm';
import { RoomService } from '../../src/rooms/room.service';
import type { EventDraft } from '../../src/rooms/event-persister';
import { spawnService, type ServiceProcess } from '../support/process';
import { SHARED_SECRET, createDatabase, dbUrl, dropDatabase } from '../support/stack';

const SHUTDOWN_TIMEOUT_MS = 3_000;
/** The load runs this long after SIGTERM unless the process is gone (the old code exited only then). */
const LOAD_AFTER_SIGTERM_MS = 60_000;
const CLIENTS = 24;
const MEMBERS = 1_500;
const MESSAGES = 20_000;
const DRAFTS_PER_CALL = 5_000;

interface Outcome {
  status: number | null;
  /** The answer arrived whole (headers and the full JSON body). */
  complete: boolean;
  eventId?: string;
  at: number;
  connectionClose: boolean;
}

/** One request on a kept-alive connection; null when it got no answer at all (refused, reset before any header). */
function send(agent: http.Agent, port: number, path: string, token: string, body: unknown): Promise<Outcome | null> {
  return new Promise((ok) => {
    const payload = JSON.stringify(body);
    const req = http.request({ host: '127.0.0.1', port, path, method: 'PUT', agent, headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) } }, (res) => {
      const chunks: Buffer[] = [];
      const outcome: Outcome = { status: res.statusCode ?? null, complete: false, at: Date.now(), connectionClose: res.headers.connection === 'close' };
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        try {
          const parsed = JSON.parse(Buffer.concat(chunks).toString()) as { event_id?: string };
          outcome.complete = res.complete;
          outcome.eventId = parsed.event_id;
        } catch {
          outcome.complete = false;
        }
        ok(outcome);
      });
      res.on('aborted', () => ok(outcome));
      res.on('error', () => ok(outcome));
    });
    req.on('error', () => ok(null));
    req.end(payload);
  });
}

describe('SIGTERM under load', function () {
  this.timeout(5 * 60_000);
  let dbName: string;
  let orm: Orm;
  let pg: PgClient;
  const procs: ServiceProcess[] = [];
  const env = (name: string) => ({ DATABASE_URL: dbUrl(dbName), SERVER_NAME: 'test', REGISTRATION_SHARED_SECRET: SHARED_SECRET, INSTANCE_NAME: name, SHUTDOWN_TIMEOUT: `${SHUTDOWN_TIMEOUT_MS}` });

  async function call(svc: ServiceProcess, method: string, path: string, token?: string, body?: unknown): Promise<{ status: number; body: any }> {
    const res = await fetch(`http://127.0.0.1:${svc.httpPort}${path}`, { method, headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
    return { status: res.status, body: await res.json() };
  }

  async function register(svc: ServiceProcess, user: string, admin: boolean): Promise<string> {
    const { body: n } = await call(svc, 'GET', '/_synapse/admin/v1/register');
    const mac = createHmac('sha1', SHARED_SECRET).update(`${n.nonce}\0${user}\0pass\0${admin ? 'admin' : 'notadmin'}`).digest('hex');
    return (await call(svc, 'POST', '/_synapse/admin/v1/register', undefined, { nonce: n.nonce, username: user, password: 'pass', admin, mac })).body.access_token;
  }

  /** A room with MEMBERS members and MESSAGES messages, written in bulk, for the delete to chew on. */
  async function buildRoom(): Promise<string> {
    const rooms = new RoomService({ serverName: 'test', config: loadConfig({ SERVER_NAME: 'test' }), locks: () => undefined, scheduler: () => undefined });
    const em = orm.em.fork();
    const { roomId } = await rooms.createRoom(em, '@creator:test', { preset: 'public_chat', name: 'Doomed' });
    const members = Array.from({ length: MEMBERS }, (_, i) => `@member${i}:test`);
    await rooms.persistBatches(em, [{ roomId, drafts: members.map((u): EventDraft => ({ type: 'm.room.member', stateKey: u, sender: u, content: { membership: 'join' } })) }]);
    for (let done = 0; done < MESSAGES; done += DRAFTS_PER_CALL) {
      const drafts = Array.from({ length: DRAFTS_PER_CALL }, (_, i): EventDraft => ({ type: 'm.room.message', stateKey: null, sender: members[(done + i) % MEMBERS], content: { msgtype: 'm.text', body: `m${done + i}` } }));
      await rooms.persistBatches(em, [{ roomId, drafts }]);
    }
    return roomId;
  }

  before(async () => {
    dbName = await createDatabase();
    procs.push(await spawnService(env('shutdown-a')));
    orm = await createOrm({ clientUrl: dbUrl(dbName), poolSize: 2 });
    pg = new PgClient({ connectionString: dbUrl(dbName) });
    await pg.connect();
  });

  after(async () => {
    for (const p of procs) if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGKILL');
    await pg?.end();
    await orm?.close(true);
    if (dbName) await dropDatabase(dbName);
  });

  it('exits within SHUTDOWN_TIMEOUT while clients keep sending, loses no acknowledged write, and hands the running delete back', async () => {
    const first = procs[0];
    const admin = await register(first, 'admin', true);
    const sender = await register(first, 'sender', false);
    const doomed = await buildRoom();
    const busy = (await call(first, 'POST', '/_matrix/client/v3/createRoom', sender, { preset: 'public_chat' })).body.room_id as string;

    // The load: CLIENTS kept-alive connections sending one message after another.
    const agent = new http.Agent({ keepAlive: true, maxSockets: CLIENTS });
    const outcomes: Outcome[] = [];
    let unanswered = 0;
    let loadEnd = Infinity;
    let exitedAt = 0;
    let txn = 0;
    const path = () => `/_matrix/client/v3/rooms/${encodeURIComponent(busy)}/send/m.room.message/t${++txn}`;
    const client = async () => {
      while (Date.now() < loadEnd && !exitedAt) {
        const o = await send(agent, first.httpPort, path(), sender, { msgtype: 'm.text', body: `load ${txn}` });
        if (o) outcomes.push(o);
        else {
          unanswered += 1;
          await new Promise((r) => setTimeout(r, 20));
        }
      }
    };
    const load = Promise.all(Array.from({ length: CLIENTS }, client));
    while (outcomes.length < 200) await new Promise((r) => setTimeout(r, 20));

    // The delete runs (kicking members, then purging) when SIGTERM arrives.
    const started = await call(first, 'DELETE', `/_synapse/admin/v2/rooms/${encodeURIComponent(doomed)}`, admin, { block: true, purge: true });
    assert.equal(started.status, 200);
    const deleteId = started.body.delete_id as string;
    let progressAtSignal: any;
    for (;;) {
      const st = (await call(first, 'GET', `/_synapse/admin/v2/rooms/delete_status/${deleteId}`, admin)).body;
      assert.equal(st.status === 'complete' || st.status === 'failed', false, 'the delete finished before SIGTERM; make the room bigger');
      if ((st.progress?.users_done ?? 0) > 0 || (st.progress?.events_deleted ?? 0) > 0) {
        progressAtSignal = st.progress;
        break;
      }
      await new Promise((r) => setTimeout(r, 10));
    }
    const signalledAt = Date.now();
    loadEnd = signalledAt + LOAD_AFTER_SIGTERM_MS;
    first.child.kill('SIGTERM');
    const code = await first.exited;
    exitedAt = Date.now();
    const loadStillRunning = exitedAt < loadEnd;
    await load;
    agent.destroy();
    const after = outcomes.filter((o) => o.at >= signalledAt);
    console.log(`      exit ${exitedAt - signalledAt} ms after SIGTERM (SHUTDOWN_TIMEOUT ${SHUTDOWN_TIMEOUT_MS} ms, ${CLIENTS} kept-alive clients); ${outcomes.length} answers, ${after.length} of them after SIGTERM, ${unanswered} attempts unanswered`);

    assert.equal(code, 0, first.output.slice(-20).join('\n'));
    assert.ok(loadStillRunning, 'the process must exit while the clients are still sending');
    assert.ok(first.output.some((l) => l.includes('"msg":"stopped"')));
    // Every answer given, before or after SIGTERM, is whole; the answers after SIGTERM close their connection.
    assert.deepEqual(outcomes.filter((o) => !o.complete), [], 'incomplete answers');
    assert.ok(after.some((o) => o.connectionClose), 'answers after SIGTERM carry Connection: close');
    // Every acknowledged message is stored.
    const acked = outcomes.filter((o) => o.status === 200).map((o) => o.eventId!);
    assert.ok(acked.length > 0);
    const { rows } = await pg.query<{ n: string }>('SELECT count(*) AS n FROM events WHERE event_id = ANY($1)', [acked]);
    assert.equal(Number(rows[0].n), acked.length, 'acknowledged messages missing from the database');

    // The delete went back at its checkpoint: active, no lease, progress kept.
    const task = (await pg.query('SELECT status, lease_owner, lease_id, result, progress FROM scheduled_tasks WHERE id = $1', [deleteId])).rows[0];
    assert.equal(task.status, 'active', JSON.stringify(task));
    assert.equal(task.lease_owner, null);
    assert.equal(task.lease_id, null);
    assert.ok(task.result || task.progress, 'checkpoint kept');

    // A second instance resumes and completes it.
    const second = await spawnService(env('shutdown-b'));
    procs.push(second);
    let final: any;
    for (let i = 0; i < 3_000; i++) {
      final = (await call(second, 'GET', `/_synapse/admin/v2/rooms/delete_status/${deleteId}`, admin)).body;
      if (final.status === 'complete' || final.status === 'failed') break;
      await new Promise((r) => setTimeout(r, 50));
    }
    assert.equal(final.status, 'complete', JSON.stringify(final));
    const left = await pg.query('SELECT count(*) AS n FROM events WHERE room_id = $1', [doomed]);
    assert.equal(Number(left.rows[0].n), 0);
    assert.ok(progressAtSignal);
    second.child.kill('SIGTERM');
    assert.equal(await second.exited, 0);
  });
});
