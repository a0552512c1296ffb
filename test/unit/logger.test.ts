import { strict as assert } from 'node:assert';
import { createLogger, FaultLog, redactSqlValues } from '../../src/logger';
import { outsideRequest, withRequestContext } from '../../src/request-context';

/** A logger whose lines are collected (parsed) instead of written to stdout. */
function capturedLogger(level = 'info'): { log: ReturnType<typeof createLogger>; lines: Record<string, any>[] } {
  const lines: Record<string, any>[] = [];
  const log = createLogger(level, {}, { write: (s: string) => void lines.push(JSON.parse(s)) });
  return { log, lines };
}

/** Waits until `n` lines were logged (no time limit of its own: the test's timeout bounds it). */
async function untilLines(lines: unknown[], n: number): Promise<void> {
  while (lines.length < n) await new Promise((r) => setTimeout(r, 5));
}

describe('logger', () => {
  describe('request context', () => {
    it('adds the request id and trace id to every line written within the request, by any child logger, across awaits and timers', async () => {
      const { log, lines } = capturedLogger();
      const moduleLog = log.child({ module: 'rooms' });
      await withRequestContext({ requestId: 'req-1', traceId: 'abc' }, async () => {
        log.info('first');
        await new Promise((r) => setTimeout(r, 1));
        moduleLog.child({ roomId: '!r:x' }).info('deep');
        await new Promise((r) => setImmediate(r));
        moduleLog.warn({ requestId: 'explicit' }, 'given');
      });
      log.info('after');
      withRequestContext({ requestId: 'req-2' }, () => {
        log.info('other');
        outsideRequest(() => log.info('none'));
      });
      assert.deepEqual(
        lines.map((l) => [l.msg, l.requestId, l.traceId]),
        [
          ['first', 'req-1', 'abc'],
          ['deep', 'req-1', 'abc'],
          ['given', 'explicit', 'abc'],
          ['after', undefined, undefined],
          ['other', 'req-2', undefined],
          ['none', undefined, undefined],
        ],
      );
      assert.equal(lines[1].module, 'rooms');
    });

    it('a fault started during a request summarises outside it', async () => {
      const { log, lines } = capturedLogger();
      const fault = new FaultLog(log, 'database', {}, { summaryMs: 50 });
      withRequestContext({ requestId: 'req-f' }, () => fault.failed(new Error('down')));
      fault.failed(new Error('down'));
      await untilLines(lines, 2);
      fault.close();
      assert.equal(lines[0].requestId, 'req-f');
      assert.equal(lines[1].msg, 'database still down');
      assert.equal(lines[1].requestId, undefined);
    });
  });

  describe('FaultLog', () => {
    it('logs the start of a fault, summaries while it lasts and its end, not every failure', async () => {
      const { log, lines } = capturedLogger();
      const fault = new FaultLog(log, 'redis node', { node: 0 }, { summaryMs: 100 });
      for (let i = 0; i < 500; i++) fault.failed(new Error('connect ECONNREFUSED'));
      assert.equal(lines.length, 1);
      await untilLines(lines, 2);
      for (let i = 0; i < 20; i++) fault.failed(new Error('connect ECONNREFUSED'));
      await untilLines(lines, 3);
      fault.ok();
      fault.ok();
      assert.deepEqual(
        lines.map((l) => l.msg),
        ['redis node down', 'redis node still down', 'redis node still down', 'redis node back up'],
      );
      assert.equal(lines[0].err, 'connect ECONNREFUSED');
      assert.equal(lines[0].node, 0);
      assert.deepEqual([lines[1].failed, lines[2].failed], [499, 20]);
      assert.equal(lines[2].failedInTotal, 520);
      assert.equal(lines[3].failed, 520);
      assert.ok(lines[3].downMs >= 200, `two summary periods passed (${lines[3].downMs} ms)`);
      // A new fault starts afresh.
      fault.failed('again');
      assert.equal(lines[lines.length - 1].msg, 'redis node down');
      fault.close();
    });

    it('with recoverWhenQuiet, ends a fault after a summary period without failures', async () => {
      const { log, lines } = capturedLogger();
      const fault = new FaultLog(log, 'requests', {}, { summaryMs: 50, recoverWhenQuiet: true });
      fault.failed('503');
      fault.failed('503');
      await untilLines(lines, 3);
      assert.deepEqual(
        lines.map((l) => l.msg),
        ['requests down', 'requests still down', 'requests back up'],
      );
      fault.close();
    });
  });

  describe('error serializer', () => {
    it('strips the values MikroORM and PostgreSQL put in error texts', () => {
      assert.equal(
        redactSqlValues(
          `insert into "account_data" ("user_id", "content") values ('@alice:test', '{"secret": "it''s mine"}') - duplicate key value violates unique constraint "account_data_pkey"`,
        ),
        'insert into "account_data" ("user_id", "content") values (?, ?) - duplicate key value violates unique constraint "account_data_pkey"',
      );
      assert.equal(
        redactSqlValues(`select ?::int - invalid input syntax for type integer: "@alice:test"`),
        'select ?::int - invalid input syntax for type integer: "?"',
      );
      assert.equal(
        redactSqlValues('Key (user_id, device_id)=(@alice:test, DEV(1)) already exists.'),
        'Key (user_id, device_id)=(?) already exists.',
      );
    });

    it('redacts parameters, row details and nested errors of any logged err', () => {
      const { log, lines } = capturedLogger();
      const err = Object.assign(new Error(`select * from users where name = '@bob:test' - boom`), {
        params: ['@bob:test'],
        detail: 'Key (name)=(@bob:test) exists',
        code: '23505',
      });
      const outer = Object.assign(new Error('wrapped'), { inner: err });
      log.error({ err: outer }, 'unexpected error');
      log.warn({ err: err.message }, 'as a string');
      const text = JSON.stringify(lines);
      assert.ok(!text.includes('@bob:test'), text);
      assert.equal(lines[0].err.inner.params, '[redacted]');
      assert.equal(lines[0].err.inner.code, '23505');
      assert.equal(lines[1].err, 'select * from users where name = ? - boom');
    });
  });
});
