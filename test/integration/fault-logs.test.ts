/**
 * Logs during faults. A stack whose only Redis node is a private redis-server, killed while
 * clients keep sending (every send needs a lock): the outage must be logged by its state changes
 * (down, back up with its duration) and a bounded number of summaries, not once per failed call.
 * A driver error carrying values (an SQL error of a statement with a user id and content as
 * parameters) must be logged without them.
 */
import { strict as assert } from 'node:assert';
import { toServiceError } from '../../src/grpc/adapter';
import { FAULT_SUMMARY_MS } from '../../src/logger';
import { http, registerUser, startStack, type Stack } from '../support/stack';
import { startRedisServer, type RedisServer } from '../support/redis-server';
import { freePort } from '../../src/infra/free-port';

describe('logs during faults', function () {
  this.timeout(120_000);
  let stack: Stack;
  let redis: RedisServer;
  let port: number;
  const lines: Record<string, any>[] = [];

  before(async () => {
    port = await freePort();
    redis = await startRedisServer(port);
    stack = await startStack(
      { REDIS_URL: `redis://127.0.0.1:${port}`, LOG_LEVEL: 'info' },
      { logDestination: { write: (s: string) => void lines.push(JSON.parse(s)) } },
    );
  });
  after(async () => {
    await stack?.stop();
    await redis?.kill();
  });

  it('logs a Redis outage by its state changes and summaries, not once per failed call', async () => {
    const user = await registerUser(stack, 'sender');
    const roomId = (await http(stack, 'POST', '/_matrix/client/v3/createRoom', { token: user.token, body: {} })).body.room_id as string;
    let txn = 0;
    const sendOne = () =>
      http(stack, 'PUT', `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/send/m.room.message/t${++txn}`, {
        token: user.token,
        body: { msgtype: 'm.text', body: 'hi' },
      });
    assert.equal((await sendOne()).status, 200);
    const before = lines.length;

    await redis.kill();
    // Clients keep sending until 150 sends have failed for want of their lock (a count, not a
    // duration, so a slow host changes how long the outage lasts but not how many failures it logs).
    const statuses: number[] = [];
    let failed = 0;
    await Promise.all(
      Array.from({ length: 8 }, async () => {
        while (failed < 150) {
          const { status } = await sendOne();
          statuses.push(status);
          if (status >= 500) failed++;
          else assert.fail(`a send succeeded while Redis was down (${status})`);
        }
      }),
    );

    redis = await startRedisServer(port);
    // Sends work again once the client has reconnected (no time limit: the test timeout bounds it).
    while ((await sendOne()).status !== 200) await new Promise((r) => setTimeout(r, 100));

    const outage = lines.slice(before);
    const outageMs = outage.length ? outage[outage.length - 1].time - outage[0].time : 0;
    const msgs = outage.map((l) => l.msg as string);
    const count = (m: string) => msgs.filter((x) => x === m).length;
    console.log(
      `      ${failed} failed sends; ${outage.length} log lines: ${[...new Set(msgs)].map((m) => `${m} ×${count(m)}`).join(', ')}`,
    );

    assert.equal(count('lock node down'), 1, msgs.join('\n'));
    const up = outage.filter((l) => l.msg === 'lock node back up');
    assert.equal(up.length, 1, msgs.join('\n'));
    assert.ok(up[0].downMs > 0 && up[0].failed >= failed, JSON.stringify(up[0]));
    assert.equal(count('lock quorum unreachable'), 1);
    assert.equal(count('request failed'), 1);
    // At most one summary per fault and summary period (plus one), whatever the number of failures.
    const summaries = msgs.filter((m) => / still /.test(m)).length;
    assert.ok(summaries <= 6 * (Math.floor(outageMs / FAULT_SUMMARY_MS) + 1), `${summaries} summaries`);
    assert.ok(outage.filter((l) => l.level >= 40).length <= 20, `${outage.length} lines for ${failed} failures:\n${msgs.join('\n')}`);
  });

  it('logs a driver error without the values of its statement', async () => {
    const secrets = ['@very-private-user:test', 'DEVICESECRET', 'my private account data'];
    const err = await stack.app.orm.em
      .fork()
      .execute('SELECT ?::int AS device, ? AS user_id, ? AS content', [secrets[1], secrets[0], secrets[2]])
      .then(
        () => null,
        (e: unknown) => e,
      );
    assert.ok(err instanceof Error && err.message.includes(secrets[0]), 'the driver error carries the values');
    const before = lines.length;
    const status = toServiceError(err, stack.app.log.child({ method: '/test' }));
    assert.equal(status.details, 'Internal server error');
    const logged = lines.slice(before);
    assert.equal(logged.length, 1);
    assert.equal(logged[0].msg, 'unexpected error');
    const text = JSON.stringify(logged[0]);
    for (const s of secrets) assert.ok(!text.includes(s), `${s} logged: ${text}`);
    assert.match(
      logged[0].err.message,
      /SELECT \?::int AS device, \? AS user_id, \? AS content - invalid input syntax for type integer: "\?"/,
    );
    assert.equal(logged[0].err.code, '22P02');
  });
});
