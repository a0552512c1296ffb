/**
 * SIGTERM under load: kept-alive clients send messages without pause and a v2 room delete runs
 * when the real entry point (a child process) gets SIGTERM. The process must exit while the load
 * is still running (within SHUTDOWN_TIMEOUT, not when the clients stop), every answer it gave must
 * be complete, every acknowledged message must be stored, and the delete must be handed back at
 * its last checkpoint (active, lease released, progress kept) for a second instance to finish.
 */
import { strict as assert } from 'node:assert';
import http from 'node:http';
import { createHmac, randomBytes } from 'node:crypto';
import { Client as PgClient } from 'pg';
import { loadConfig } from '../../src/config';
import { createOrm, type Orm } from '../../src/infra/orm';
import { createRooms } from '../../src/rooms/rooms';
import type { EventDraft } from '../../src/rooms/event-persister';
import { spawnService, type ServiceProcess } from '../support/process';
import { SHARED_SECRET, TEST_REDIS_URL, createDatabase, dbUrl, dropDatabase } from '../support/stack';

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
    const req = http.request(
      {
        host: '127.0.0.1',
        port,
        path,
        method: 'PUT',
        agent,
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) },
      },
      (res) => {
        const chunks: Buffer[] = [];
        const outcome: Outcome = {
          status: res.statusCode ?? null,
          complete: false,
          at: Date.now(),
          connectionClose: res.headers.connection === 'close',
        };
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
      },
    );
    req.on('error', () => ok(null));
    req.end(payload);
  });
}

/** Every load started (stopped by the after hooks when a test fails half-way). */
const loads: Load[] = [];

/** CLIENTS kept-alive connections sending one message after another into `roomId`. */
class Load {
  readonly outcomes: Outcome[] = [];
  unanswered = 0;
  private endAt = Infinity;
  private over = false;
  private txn = 0;
  private readonly agent = new http.Agent({ keepAlive: true, maxSockets: CLIENTS });
  private readonly done: Promise<void[]>;

  constructor(
    private readonly port: number,
    private readonly token: string,
    private readonly roomId: string,
  ) {
    this.done = Promise.all(Array.from({ length: CLIENTS }, () => this.client()));
    loads.push(this);
  }

  /** The clients go on for `ms` more (unless stopped earlier). */
  runFor(ms: number): void {
    this.endAt = Date.now() + ms;
  }

  get running(): boolean {
    return !this.over && Date.now() < this.endAt;
  }

  async until(answers: number): Promise<void> {
    while (this.outcomes.length < answers) await new Promise((r) => setTimeout(r, 20));
  }

  async stop(): Promise<void> {
    this.over = true;
    await this.done;
    this.agent.destroy();
  }

  private async client(): Promise<void> {
    while (this.running) {
      const path = `/_matrix/client/v3/rooms/${encodeURIComponent(this.roomId)}/send/m.room.message/t${++this.txn}`;
      const o = await send(this.agent, this.port, path, this.token, { msgtype: 'm.text', body: `load ${this.txn}` });
      if (o) this.outcomes.push(o);
      else {
        this.unanswered += 1;
        await new Promise((r) => setTimeout(r, 20));
      }
    }
  }
}

/**
 * SIGTERM while `load` runs: the process must exit 0 while the clients are still sending, every
 * answer must be whole (those after SIGTERM saying Connection: close) and every acknowledged
 * message stored. Prints the time from SIGTERM to exit.
 */
async function shutdownUnderLoad(svc: ServiceProcess, load: Load, pg: PgClient, what = 'one process'): Promise<void> {
  const signalledAt = Date.now();
  load.runFor(LOAD_AFTER_SIGTERM_MS);
  svc.child.kill('SIGTERM');
  const code = await svc.exited;
  const exitedAt = Date.now();
  const loadStillRunning = load.running;
  await load.stop();
  const after = load.outcomes.filter((o) => o.at >= signalledAt);
  console.log(
    `      ${what}: exit ${exitedAt - signalledAt} ms after SIGTERM (SHUTDOWN_TIMEOUT ${SHUTDOWN_TIMEOUT_MS} ms, ${CLIENTS} kept-alive clients); ${load.outcomes.length} answers, ${after.length} of them after SIGTERM, ${load.unanswered} attempts unanswered`,
  );

  assert.equal(code, 0, svc.output.slice(-20).join('\n'));
  assert.ok(loadStillRunning, 'the process must exit while the clients are still sending');
  assert.ok(svc.output.some((l) => l.includes('"msg":"stopped"')));
  assert.deepEqual(
    load.outcomes.filter((o) => !o.complete),
    [],
    'incomplete answers',
  );
  assert.ok(
    after.some((o) => o.connectionClose),
    'answers after SIGTERM carry Connection: close',
  );
  const acked = load.outcomes.filter((o) => o.status === 200).map((o) => o.eventId!);
  assert.ok(acked.length > 0);
  const { rows } = await pg.query<{ n: string }>('SELECT count(*) AS n FROM events WHERE event_id = ANY($1)', [acked]);
  assert.equal(Number(rows[0].n), acked.length, 'acknowledged messages missing from the database');
}

describe('SIGTERM under load', function () {
  this.timeout(5 * 60_000);
  let dbName: string;
  let orm: Orm;
  let pg: PgClient;
  const procs: ServiceProcess[] = [];
  const env = (name: string) => ({
    DATABASE_URL: dbUrl(dbName),
    SERVER_NAME: 'test',
    REGISTRATION_SHARED_SECRET: SHARED_SECRET,
    INSTANCE_NAME: name,
    SHUTDOWN_TIMEOUT: `${SHUTDOWN_TIMEOUT_MS}`,
  });

  async function call(
    svc: ServiceProcess,
    method: string,
    path: string,
    token?: string,
    body?: unknown,
  ): Promise<{ status: number; body: any }> {
    const res = await fetch(`http://127.0.0.1:${svc.httpPort}${path}`, {
      method,
      headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    return { status: res.status, body: await res.json() };
  }

  async function register(svc: ServiceProcess, user: string, admin: boolean): Promise<string> {
    const { body: n } = await call(svc, 'GET', '/_synapse/admin/v1/register');
    const mac = createHmac('sha1', SHARED_SECRET)
      .update(`${n.nonce}\0${user}\0pass\0${admin ? 'admin' : 'notadmin'}`)
      .digest('hex');
    return (
      await call(svc, 'POST', '/_synapse/admin/v1/register', undefined, { nonce: n.nonce, username: user, password: 'pass', admin, mac })
    ).body.access_token;
  }

  /** A room with MEMBERS members and MESSAGES messages, written in bulk, for the delete to chew on. */
  async function buildRoom(): Promise<string> {
    const { rooms } = createRooms({ config: loadConfig({ SERVER_NAME: 'test' }), locks: null, scheduler: null });
    const em = orm.em.fork();
    const { roomId } = await rooms.createRoom(em, '@creator:test', { preset: 'public_chat', name: 'Doomed' });
    const members = Array.from({ length: MEMBERS }, (_, i) => `@member${i}:test`);
    await rooms.persistBatches(em, [
      {
        roomId,
        drafts: members.map((u): EventDraft => ({ type: 'm.room.member', stateKey: u, sender: u, content: { membership: 'join' } })),
      },
    ]);
    for (let done = 0; done < MESSAGES; done += DRAFTS_PER_CALL) {
      const drafts = Array.from({ length: DRAFTS_PER_CALL }, (_, i): EventDraft => ({
        type: 'm.room.message',
        stateKey: null,
        sender: members[(done + i) % MEMBERS],
        content: { msgtype: 'm.text', body: `m${done + i}` },
      }));
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
    await Promise.all(loads.map((l) => l.stop()));
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

    const load = new Load(first.httpPort, sender, busy);
    await load.until(200);

    // The delete runs (kicking members, then purging) when SIGTERM arrives.
    const started = await call(first, 'DELETE', `/_synapse/admin/v2/rooms/${encodeURIComponent(doomed)}`, admin, {
      block: true,
      purge: true,
    });
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
    await shutdownUnderLoad(first, load, pg);

    // The delete went back at its checkpoint: active, no lease, progress kept.
    const task = (await pg.query('SELECT status, lease_owner, lease_id, result, progress FROM scheduled_tasks WHERE id = $1', [deleteId]))
      .rows[0];
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

describe('SIGTERM under load, multi-process layouts', function () {
  this.timeout(3 * 60_000);
  const layouts: [string, Record<string, string>][] = [
    ['WORKERS=2', { WORKERS: '2' }],
    ['WORKERS=2, GATEWAY_WORKERS=1', { WORKERS: '2', GATEWAY_WORKERS: '1' }],
  ];
  for (const [what, layout] of layouts) {
    it(`${what}: every process stops within SHUTDOWN_TIMEOUT while clients keep sending, losing no acknowledged write`, async () => {
      const dbName = await createDatabase();
      const pg = new PgClient({ connectionString: dbUrl(dbName) });
      let svc: ServiceProcess | null = null;
      try {
        const name = `s${randomBytes(3).toString('hex')}`;
        svc = await spawnService({
          DATABASE_URL: dbUrl(dbName),
          REDIS_URL: TEST_REDIS_URL,
          REDIS_KEY_PREFIX: `sra-test-${name}:`,
          INSTANCE_NAME: name,
          SERVER_NAME: 'test',
          REGISTRATION_SHARED_SECRET: SHARED_SECRET,
          SHUTDOWN_TIMEOUT: `${SHUTDOWN_TIMEOUT_MS}`,
          ...layout,
        });
        await pg.connect();
        const base = `http://127.0.0.1:${svc.httpPort}`;
        const { nonce } = (await (await fetch(`${base}/_synapse/admin/v1/register`)).json()) as { nonce: string };
        const mac = createHmac('sha1', SHARED_SECRET).update(`${nonce}\0sender\0pass\0notadmin`).digest('hex');
        const token = (
          (await (
            await fetch(`${base}/_synapse/admin/v1/register`, {
              method: 'POST',
              body: JSON.stringify({ nonce, username: 'sender', password: 'pass', mac }),
            })
          ).json()) as { access_token: string }
        ).access_token;
        const created = await fetch(`${base}/_matrix/client/v3/createRoom`, {
          method: 'POST',
          headers: { authorization: `Bearer ${token}` },
          body: JSON.stringify({ preset: 'public_chat' }),
        });
        const roomId = ((await created.json()) as { room_id: string }).room_id;
        const load = new Load(svc.httpPort, token, roomId);
        await load.until(200);
        await shutdownUnderLoad(svc, load, pg, what);
      } finally {
        await Promise.all(loads.map((l) => l.stop()));
        if (svc && svc.child.exitCode === null && svc.child.signalCode === null) svc.child.kill('SIGKILL');
        await pg.end().catch(() => undefined);
        await dropDatabase(dbName);
      }
    });
  }
});
