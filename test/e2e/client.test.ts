/**
 * The typed client (src/client, `synapse-room-admin/client`): the README's example compiled and
 * run against a real stack, typed errors from the trailers, retries of reads (never of writes) on
 * UNAVAILABLE, and default deadlines.
 */
import { strict as assert } from 'node:assert';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { RoomAdminServiceService, ListRoomsResponse } from '../../gen/synapse/admin/v1/room_admin';
import { createClient, MatrixClientError, TaskStatus } from '../../src/client';
import { http, registerUser, startStack, uniq, type Stack, type TestUser } from '../support/stack';
import { createRoom, enc } from './room-admin.helpers';

const ROOT = join(__dirname, '../..');

function run(file: string, args: string[], env: Record<string, string>): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((ok) => {
    execFile(
      process.execPath,
      ['--import', 'tsx', file, ...args],
      { cwd: ROOT, env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/root', ...env } },
      (err, stdout, stderr) => ok({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

/** A RoomAdminService whose calls fail with UNAVAILABLE `failures` times, then answer (or never answer). */
async function flakyServer(failures: number, opts: { hang?: boolean } = {}) {
  const calls: Record<string, number> = {};
  const server = new grpc.Server();
  const answer = (name: string, res: unknown) => (_call: unknown, cb: grpc.sendUnaryData<unknown>) => {
    calls[name] = (calls[name] ?? 0) + 1;
    if (opts.hang) return;
    if (calls[name] <= failures) return cb({ code: grpc.status.UNAVAILABLE, details: 'try again' });
    cb(null, res);
  };
  server.addService(RoomAdminServiceService, {
    listRooms: answer('listRooms', ListRoomsResponse.fromPartial({ totalRooms: 7 })),
    startDeleteRoom: answer('startDeleteRoom', { deleteId: 'x' }),
  } as unknown as grpc.UntypedServiceImplementation);
  const port = await new Promise<number>((ok, ko) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (e, p) => (e ? ko(e) : ok(p))),
  );
  return { address: `127.0.0.1:${port}`, calls, stop: () => server.forceShutdown() };
}

describe('Typed client', function () {
  this.timeout(120_000);
  let s: Stack;
  let admin: TestUser;

  // A stack of its own: the example prints the first page of rooms, which must hold the test's room.
  before(async () => {
    s = await startStack();
    admin = await registerUser(s, uniq('admin'), { admin: true });
  });
  after(async () => s?.stop());

  it('runs the README example: lists rooms, starts a delete and watches it to completion', async () => {
    const roomId = await createRoom(s, admin.token);
    const out = await run('examples/calling-from-another-service.ts', [roomId], { SRA_ADDRESS: s.grpcAddress, SRA_TOKEN: admin.token });
    assert.equal(out.code, 0, out.stderr + out.stdout);
    const lines = out.stdout.split('\n');
    assert.match(lines[0], /^rooms: \d+$/);
    assert.ok(
      lines.some((l) => l.startsWith(`  ${roomId} `)),
      out.stdout,
    );
    const started = lines.find((l) => l.startsWith('delete started: '));
    assert.ok(started, out.stdout);
    assert.ok(
      lines.some((l) => l.startsWith('task TASK_STATUS_COMPLETE')),
      out.stdout,
    );
    assert.equal(lines.filter(Boolean).at(-1), 'delete finished');
    const details = await http(s, 'GET', `/_synapse/admin/v1/rooms/${enc(roomId)}`, { token: admin.token });
    assert.equal(details.status, 404);
    // The README shows this very file.
    assert.ok(
      readFileSync(join(ROOT, 'README.md'), 'utf8').includes(readFileSync(join(ROOT, 'examples/calling-from-another-service.ts'), 'utf8')),
    );
  });

  it('rejects with MatrixClientError carrying the errcode and HTTP status from the trailers', async () => {
    const c = createClient({ address: s.grpcAddress, token: admin.token });
    try {
      const err = await c.roomAdmin.getRoomDetails({ roomId: '!missing:test' }).then(
        () => null,
        (e: unknown) => e,
      );
      assert.ok(err instanceof MatrixClientError);
      assert.equal(err.codeName, 'NOT_FOUND');
      assert.equal(err.errcode, 'M_NOT_FOUND');
      assert.equal(err.httpStatus, 404);
      assert.equal(err.fromService, true);
      const anon = createClient({ address: s.grpcAddress });
      const denied = await anon.roomAdmin.listRooms({}).then(
        () => null,
        (e: unknown) => e,
      );
      anon.close();
      assert.ok(denied instanceof MatrixClientError);
      assert.equal(denied.errcode, 'M_MISSING_TOKEN');
      assert.equal(denied.httpStatus, 401);
    } finally {
      c.close();
    }
  });

  it('watches a task as an async iterator until it finishes', async () => {
    const c = createClient({ address: s.grpcAddress, token: admin.token });
    try {
      const roomId = await createRoom(s, admin.token);
      const { deleteId } = await c.roomAdmin.startDeleteRoom({ roomId, options: { purge: true } });
      const seen: TaskStatus[] = [];
      for await (const { task } of c.tasks.watchTask({ taskId: deleteId })) if (task) seen.push(task.status);
      assert.equal(seen.at(-1), TaskStatus.TASK_STATUS_COMPLETE);
    } finally {
      c.close();
    }
  });

  it('retries a read on UNAVAILABLE with back-off, and never a write', async () => {
    const srv = await flakyServer(2);
    const c = createClient({ address: srv.address, token: 't' });
    try {
      const page = await c.roomAdmin.listRooms({});
      assert.equal(page.totalRooms, 7);
      assert.equal(srv.calls.listRooms, 3);
      const err = await c.roomAdmin.startDeleteRoom({ roomId: '!r:test' }).then(
        () => null,
        (e: unknown) => e,
      );
      assert.ok(err instanceof MatrixClientError);
      assert.equal(err.codeName, 'UNAVAILABLE');
      assert.equal(err.fromService, false);
      assert.equal(srv.calls.startDeleteRoom, 1);
      const noRetry = createClient({ address: srv.address, retries: 0 });
      srv.calls.listRooms = 0;
      await assert.rejects(noRetry.roomAdmin.listRooms({}), (e: unknown) => e instanceof MatrixClientError && e.codeName === 'UNAVAILABLE');
      noRetry.close();
    } finally {
      c.close();
      srv.stop();
    }
  });

  it('gives every call a deadline', async () => {
    const srv = await flakyServer(0, { hang: true });
    // A server that never answers: the call ends with DEADLINE_EXCEEDED (default 30 s, here 300 ms).
    const c = createClient({ address: srv.address, deadlineMs: 300 });
    try {
      const err = await c.roomAdmin.startDeleteRoom({ roomId: '!r:test' }).then(
        () => null,
        (e: unknown) => e,
      );
      assert.ok(err instanceof MatrixClientError);
      assert.equal(err.codeName, 'DEADLINE_EXCEEDED');
      assert.equal(err.httpStatus, 504);
    } finally {
      c.close();
      srv.stop();
    }
  });
});
