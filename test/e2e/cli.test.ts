/**
 * The admin CLI (`npm run admin`, src/cli/admin.ts) end to end: the real entry point in a child
 * process (stdout is a pipe, so plain lines, no progress bar) against a real stack over gRPC.
 */
import { strict as assert } from 'node:assert';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import type { TaskScheduler } from '../../src/tasks/task.types';
import { sharedStack } from '../support/root-hooks';
import { http, registerUser, uniq, type Stack, type TestUser } from '../support/stack';
import { createRoom, enc, sendMessage, waitFor } from './room-admin.helpers';

const ROOT = join(__dirname, '../..');

interface Run {
  code: Promise<number | null>;
  stdout: string[];
  stderr: string[];
  kill(signal: NodeJS.Signals): void;
}

function start(args: string[], env: Record<string, string>): Run {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/admin.ts', ...args], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/root', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const stdout: string[] = [];
  const stderr: string[] = [];
  child.stdout.on('data', (b: Buffer) => stdout.push(...b.toString().split('\n').filter(Boolean)));
  child.stderr.on('data', (b: Buffer) => stderr.push(...b.toString().split('\n').filter(Boolean)));
  return { code: new Promise((ok) => child.once('exit', (c) => ok(c))), stdout, stderr, kill: (sig) => child.kill(sig) };
}

describe('Admin CLI', function () {
  this.timeout(120_000);
  let s: Stack;
  let admin: TestUser;
  let env: Record<string, string>;
  let scheduler: TaskScheduler;
  const FAIL = `cli_test_fail_${process.pid}`;
  const WAIT = `cli_test_wait_${process.pid}`;

  const cli = async (...args: string[]) => {
    const r = start(args, env);
    const code = await r.code;
    return { code, stdout: r.stdout, stderr: r.stderr };
  };

  before(async () => {
    s = await sharedStack();
    admin = await registerUser(s, uniq('admin'), { admin: true });
    // The address from the environment, the token from the command line.
    env = { SRA_ADDRESS: s.grpcAddress };
    scheduler = s.app.services.scheduler;
    scheduler.registerAction(FAIL, async () => ({ status: 'failed', error: 'it broke' }));
    scheduler.registerAction(WAIT, async (run) => {
      await run.reportProgress({ phase: 'waiting', events_total: 10, events_done: 3 });
      await new Promise((ok) => run.signal.addEventListener('abort', ok, { once: true }));
      return { status: 'failed', error: 'stopped' };
    });
  });

  it('rooms list and rooms show, plain and --json', async () => {
    const name = uniq('cliroom');
    const roomId = await createRoom(s, admin.token, { name });
    const plain = await cli('rooms', 'list', '--search', name, '--token', admin.token);
    assert.equal(plain.code, 0, plain.stderr.join('\n'));
    assert.deepEqual(plain.stdout, [`${roomId}\t${name}\t\t1 members`, '1 of 1 rooms']);
    const json = await cli('rooms', 'list', '--search', name, '--json', '--token', admin.token);
    assert.equal(json.code, 0);
    assert.equal(JSON.parse(json.stdout[0]).rooms[0].roomId, roomId);
    const show = await cli('rooms', 'show', roomId, '--json', '--token', admin.token);
    assert.equal(show.code, 0, show.stderr.join('\n'));
    assert.equal(JSON.parse(show.stdout[0]).room.summary.roomId, roomId);
  });

  it('rooms delete follows the task to the end with progress lines and a summary, exit 0', async () => {
    const user = await registerUser(s, uniq('member'));
    const roomId = await createRoom(s, user.token);
    const r = await cli('rooms', 'delete', roomId, '--purge', '--block', '--token', admin.token);
    assert.equal(r.code, 0, r.stderr.join('\n') + r.stdout.join('\n'));
    const id = /^task (\w+) started$/.exec(r.stdout[0])?.[1];
    assert.ok(id, r.stdout.join('\n'));
    assert.ok(
      r.stdout.slice(1, -1).every((l) => l.startsWith(`task ${id} `)),
      r.stdout.join('\n'),
    );
    assert.ok(
      r.stdout.some(
        (l) =>
          /^task \w+ (active|complete) shutting_down \d+\/\d+ users/.test(l) ||
          /^task \w+ (active|complete) purging \d+\/\d+ events/.test(l),
      ),
      r.stdout.join('\n'),
    );
    assert.match(
      r.stdout.at(-1)!,
      new RegExp(
        `^shutdown_and_purge_room ${id} complete after [\\d.]+s; .*result: .*"kicked_users":\\["${user.userId.replace(/[.$]/g, '\\$&')}"\\]`,
      ),
    );
    assert.equal((await http(s, 'GET', `/_synapse/admin/v1/rooms/${enc(roomId)}`, { token: admin.token })).status, 404);
  });

  it('history purge --before a timestamp, --json prints the finished task', async () => {
    const user = await registerUser(s, uniq('member'));
    const roomId = await createRoom(s, user.token);
    for (let i = 0; i < 3; i++) await sendMessage(s, user.token, roomId, `m${i}`);
    const r = await cli('history', 'purge', roomId, '--before', String(Date.now()), '--json', '--token', admin.token);
    assert.equal(r.code, 0, r.stderr.join('\n') + r.stdout.join('\n'));
    const task = JSON.parse(r.stdout.at(-1)!);
    assert.equal(task.action, 'purge_history');
    assert.equal(task.status, 'TASK_STATUS_COMPLETE');
    assert.equal(task.resourceId, roomId);
    const listed = await cli('tasks', 'list', '--action', 'purge_history', '--resource', roomId, '--json', '--token', admin.token);
    assert.deepEqual(
      JSON.parse(listed.stdout[0]).tasks.map((t: { id: string }) => t.id),
      [task.id],
    );
  });

  it('exits 1 with the error when the task fails, and when the call is refused', async () => {
    const id = await scheduler.scheduleTask(s.app.orm.em.fork(), FAIL);
    const r = await cli('tasks', 'watch', id, '--token', admin.token);
    assert.equal(r.code, 1);
    assert.match(r.stdout.at(-1)!, new RegExp(`^${FAIL} ${id} failed after [\\d.]+s; error: it broke$`));
    const missing = await cli('history', 'purge', '!nope:test', '--before', '$nope', '--token', admin.token);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr[0], /^error: M_NOT_FOUND \(NOT_FOUND, HTTP 404\): /);
    const anon = await cli('tasks', 'list');
    assert.equal(anon.code, 1);
    assert.match(anon.stderr[0], /^error: M_MISSING_TOKEN \(UNAUTHENTICATED, HTTP 401\)/);
  });

  it('Ctrl-C detaches without cancelling; with --cancel-on-exit it cancels the task', async () => {
    for (const cancel of [false, true]) {
      const id = await scheduler.scheduleTask(s.app.orm.em.fork(), WAIT);
      const r = start(['tasks', 'watch', id, '--token', admin.token, ...(cancel ? ['--cancel-on-exit'] : [])], env);
      await waitFor(
        async () => r.stdout.length,
        (n) => n > 0,
      );
      assert.match(r.stdout[0], new RegExp(`^task ${id} active waiting 3/10 events$`));
      r.kill('SIGINT');
      assert.equal(await r.code, 130);
      const task = await scheduler.getTask(s.app.orm.em.fork(), id);
      if (cancel) {
        assert.match(r.stderr.join('\n'), new RegExp(`interrupted: task ${id} cancelled`));
        assert.equal(task?.status, 'cancelled');
      } else {
        assert.match(r.stderr.join('\n'), /interrupted: detached, task \w+ keeps running/);
        assert.equal(task?.status, 'active');
        const cancelled = await cli('tasks', 'cancel', id, '--token', admin.token);
        assert.deepEqual(cancelled.stdout, [`task ${id} cancelled`]);
      }
    }
  });

  it('exits 2 on bad usage', async () => {
    const r = await cli('rooms', 'remove', '!x:test');
    assert.equal(r.code, 2);
    assert.match(r.stderr[0], /^unknown command: rooms remove !x:test/);
    assert.equal((await cli('history', 'purge', '!x:test', '--token', 't')).code, 2);
  });
});
