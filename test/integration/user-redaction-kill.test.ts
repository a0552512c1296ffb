/**
 * A user redaction (redact_all_events task) interrupted by kill -9 (SIGKILL) of the service,
 * twice mid-way and once at a random moment, resumes after each restart from its checkpoint and
 * finishes with every event of the user redacted exactly once (one redaction per event, none
 * lost, none doubled) and nothing else touched.
 *
 * The service runs as the real entry point in a child process; the rooms are built beforehand in
 * this process through RoomService's bulk write path.
 *
 * The kill points (how many redactions were sent before each kill, the random moment) come from
 * KILL_SEED, drawn for the run unless set; a failure prints it, and setting it replays the choices.
 */
import { strict as assert } from 'node:assert';
import { loadConfig } from '../../src/config';
import { createOrm, type Orm } from '../../src/infra/orm';
import { createRooms } from '../../src/rooms/rooms';
import type { EventDraft } from '../../src/rooms/event-persister';
import { processCall, registerProcessAdmin, spawnService, type ServiceProcess } from '../support/process';
import { seedFor } from '../support/seed';
import { SHARED_SECRET, createDatabase, dbUrl, dropDatabase } from '../support/stack';

const ROOMS = 3;
const MESSAGES_PER_ROOM = 400;
const SPAMMER = '@spammer:test';
const POLL_MS = 20;
const MAX_POLLS = 6_000;

describe('user redaction survives kill -9', () => {
  const random = seedFor('KILL_SEED');
  let dbName: string;
  let orm: Orm;
  let svc: ServiceProcess | null = null;
  const env = () => ({
    DATABASE_URL: dbUrl(dbName),
    SERVER_NAME: 'test',
    REGISTRATION_SHARED_SECRET: SHARED_SECRET,
    INSTANCE_NAME: 'redact-kill-test',
    LOG_LEVEL: 'info',
  });
  const base = () => `http://127.0.0.1:${svc!.httpPort}`;
  const q = async (sql: string, params: unknown[] = []) => orm.em.fork().execute<Record<string, string>[]>(sql, params);

  const call = processCall(base);
  const registerAdmin = () => registerProcessAdmin(call, SHARED_SECRET);

  /** ROOMS rooms where the spammer joined and sent MESSAGES_PER_ROOM messages among others'. */
  async function buildRooms(): Promise<string[]> {
    const { rooms } = createRooms({ config: loadConfig({ SERVER_NAME: 'test' }), locks: null, scheduler: null });
    const em = orm.em.fork();
    const ids: string[] = [];
    for (let i = 0; i < ROOMS; i++) {
      const { roomId } = await rooms.createRoom(em, '@owner:test', { preset: 'public_chat' });
      const drafts: EventDraft[] = [{ type: 'm.room.member', stateKey: SPAMMER, sender: SPAMMER, content: { membership: 'join' } }];
      for (let m = 0; m < MESSAGES_PER_ROOM; m++) {
        drafts.push({ type: 'm.room.message', stateKey: null, sender: SPAMMER, content: { msgtype: 'm.text', body: `spam ${m}` } });
        if (m % 10 === 0)
          drafts.push({ type: 'm.room.message', stateKey: null, sender: '@owner:test', content: { msgtype: 'm.text', body: `fine ${m}` } });
      }
      await rooms.persistBatches(em, [{ roomId, drafts }]);
      ids.push(roomId);
    }
    return ids;
  }

  const restart = async () => {
    svc = await spawnService(env());
  };
  const kill = () => {
    const s = svc!;
    s.child.kill('SIGKILL');
    svc = null;
    return s.exited;
  };
  const redactionsSent = async () =>
    Number((await q("SELECT count(*) AS n FROM events WHERE type = 'm.room.redaction' AND sender = ?", [SPAMMER]))[0].n);

  before(async () => {
    dbName = await createDatabase();
    await restart(); // applies the migrations
    orm = await createOrm({ clientUrl: dbUrl(dbName), poolSize: 4 });
  });

  after(async () => {
    if (svc) await kill();
    await orm?.close(true);
    if (dbName) await dropDatabase(dbName);
  });

  it('resumes after every kill and redacts each event exactly once', async function () {
    this.timeout(10 * 60_000);
    const token = await registerAdmin();
    const rooms = await buildRooms();
    const start = await call('POST', `/_synapse/admin/v1/user/${encodeURIComponent(SPAMMER)}/redact`, token, { rooms: [], reason: 'spam' });
    assert.equal(start.status, 200, JSON.stringify(start.body));
    const redactId = start.body.redact_id;
    const total = ROOMS * (MESSAGES_PER_ROOM + 1);

    const kills: number[] = [];
    const killAfter = async (sent: number) => {
      for (let i = 0; i < MAX_POLLS && (await redactionsSent()) < sent; i++) await new Promise((r) => setTimeout(r, POLL_MS));
      const seen = await redactionsSent();
      if (seen >= total) return;
      await kill();
      kills.push(seen);
      await restart();
    };
    const perRoom = MESSAGES_PER_ROOM + 1;
    await killAfter(random.int(Math.floor(perRoom / 4), perRoom + Math.floor(perRoom / 2))); // in the first room or the second
    await killAfter(random.int(2 * perRoom, 2 * perRoom + Math.floor(perRoom / 2))); // in the last room
    await new Promise((r) => setTimeout(r, random.int(0, 300)));
    if ((await redactionsSent()) < total) await killAfter(0);
    assert.ok(
      kills.length >= 2,
      `the redaction must have been killed mid-way at least twice (${kills.join(', ')}; KILL_SEED=${random.seed})`,
    );

    let st: any = null;
    for (let i = 0; i < MAX_POLLS; i++) {
      st = (await call('GET', `/_synapse/admin/v1/user/redact_status/${redactId}`, token)).body;
      if (st.status !== 'active' && st.status !== 'scheduled') break;
      await new Promise((r) => setTimeout(r, POLL_MS));
    }
    assert.deepEqual(st, { status: 'complete', failed_redactions: {} });

    // Every event of the spammer (its joins and messages) is redacted, by exactly one redaction.
    const targets = await q(
      "SELECT event_id, redacted_by FROM events WHERE sender = ? AND type IN ('m.room.member', 'm.room.message') AND room_id = ANY(?::text[])",
      [SPAMMER, `{${rooms.join(',')}}`],
    );
    assert.equal(targets.length, total);
    assert.ok(
      targets.every((t) => t.redacted_by),
      'every event is redacted',
    );
    const perTarget = await q("SELECT redacts, count(*) AS n FROM events WHERE type = 'm.room.redaction' AND sender = ? GROUP BY redacts", [
      SPAMMER,
    ]);
    assert.equal(perTarget.length, total);
    assert.ok(
      perTarget.every((r) => Number(r.n) === 1),
      'no event is redacted twice',
    );
    const reasons = await q("SELECT DISTINCT content ->> 'reason' AS reason FROM events WHERE type = 'm.room.redaction' AND sender = ?", [
      SPAMMER,
    ]);
    assert.deepEqual(
      reasons.map((r) => r.reason),
      ['spam'],
    );
    const others = await q("SELECT count(*) AS n FROM events WHERE sender = '@owner:test' AND redacted_by IS NOT NULL");
    assert.equal(Number(others[0].n), 0);
  });
});
