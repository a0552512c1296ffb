/**
 * The scheduled-tasks admin API over real HTTP and gRPC: a port of Synapse's
 * tests/rest/admin/test_scheduled_tasks.py plus the TaskSchedulerService RPCs (get, list, cancel,
 * delete, watch) and their admin-only access.
 */
import { strict as assert } from 'node:assert';
import type * as grpc from '@grpc/grpc-js';
import { sharedStack } from '../support/root-hooks';
import { bearer, grpcCall, http, registerUser, uniq, type Stack, type TestUser } from '../support/stack';
import { TaskStatus, type WatchTaskResponse } from '../../gen/synapse/admin/v1/task_scheduler';
import type { PgTaskScheduler } from '../../src/tasks/task-scheduler';
import { until } from '../support/until';
import { checkAccessCalls } from '../support/metrics';

const waitForAbort = (signal: AbortSignal) =>
  new Promise<never>((_, ko) => signal.addEventListener('abort', () => ko(signal.reason), { once: true }));

describe('ScheduledTasksAdminApiTestCase', () => {
  let s: Stack;
  let admin: TestUser;
  let scheduler: PgTaskScheduler;
  const em = () => s.app.orm.em.fork();
  // Unique per run: the stack is shared with other suites.
  const res = { active: uniq('test'), finished: uniq('finished_task'), failed: uniq('failed_task') };
  const ids: Record<string, string> = {};

  before(async () => {
    s = await sharedStack();
    admin = await registerUser(s, uniq('admin'), { admin: true });
    scheduler = s.app.services.scheduler;
    scheduler.registerAction('test_task', async (run) => waitForAbort(run.signal));
    scheduler.registerAction('finished_test_task', async () => ({ status: 'complete' }));
    scheduler.registerAction('failed_test_task', async () => ({ status: 'failed', error: 'Everything failed' }));
    ids.active = await scheduler.scheduleTask(em(), 'test_task', { resourceId: res.active });
    ids.finished = await scheduler.scheduleTask(em(), 'finished_test_task', { resourceId: res.finished });
    ids.failed = await scheduler.scheduleTask(em(), 'failed_test_task', { resourceId: res.failed });
    await until(async () => {
      const st = await Promise.all(Object.values(ids).map(async (id) => (await scheduler.getTask(em(), id))?.status));
      return st.join() === 'active,complete,failed';
    });
  });
  after(async () => {
    await scheduler.cancelTask(em(), ids.active);
  });

  const list = (query: string, token = admin.token) => http(s, 'GET', `/_synapse/admin/v1/scheduled_tasks${query}`, { token });
  const ours = (body: { scheduled_tasks: { resource_id: string }[] }) =>
    body.scheduled_tasks.filter((t) => Object.values(res).includes(t.resource_id));

  it('test_requester_is_not_admin', async () => {
    const user = await registerUser(s, uniq('user'));
    const r = await list('', user.token);
    assert.equal(r.status, 403);
    assert.equal(r.body.errcode, 'M_FORBIDDEN');
    const bad = await list('?status=nonsense', user.token);
    assert.equal(bad.status, 403, 'authentication comes before parameter validation');
  });

  it('test_scheduled_tasks', async () => {
    const r = await list('');
    assert.equal(r.status, 200);
    const found = ours(r.body);
    assert.equal(found.length, 3);
    const byRes = Object.fromEntries(found.map((t: any) => [t.resource_id, t]));
    assert.deepEqual(Object.keys(byRes[res.failed]).sort(), ['action', 'error', 'id', 'resource_id', 'result', 'status', 'timestamp_ms']);
    assert.deepEqual([byRes[res.active].status, byRes[res.active].action], ['active', 'test_task']);
    assert.deepEqual(
      [byRes[res.finished].status, byRes[res.finished].action, byRes[res.finished].error],
      ['complete', 'finished_test_task', null],
    );
    assert.deepEqual([byRes[res.failed].status, byRes[res.failed].error, byRes[res.failed].result], ['failed', 'Everything failed', null]);
    assert.equal(byRes[res.failed].id, ids.failed);
    assert.equal(typeof byRes[res.failed].timestamp_ms, 'number');
  });

  it('test_filtering_scheduled_tasks', async () => {
    let found = ours((await list('?status=active')).body);
    assert.deepEqual(
      found.map((t: any) => t.status),
      ['active'],
    );
    found = ours((await list('?job_status=failed')).body);
    assert.deepEqual(
      found.map((t: any) => t.resource_id),
      [res.failed],
    );
    found = ours((await list('?action_name=test_task')).body);
    assert.deepEqual(
      found.map((t: any) => t.action),
      ['test_task'],
    );
    found = ours((await list('?max_timestamp=0')).body);
    assert.equal(found.length, 0);
    found = ours((await list(`?resource_id=${res.failed}`)).body);
    assert.deepEqual(
      found.map((t: any) => t.resource_id),
      [res.failed],
    );
    found = ours((await list('?status=&action_name=&resource_id=')).body);
    assert.equal(found.length, 3, 'empty values mean no filter');
  });

  it('rejects bad parameters with 400 instead of a 500', async () => {
    const st = await list('?status=nonsense');
    assert.deepEqual([st.status, st.body.errcode], [400, 'M_INVALID_PARAM']);
    assert.equal(st.body.error, "Query parameter 'status' must be one of ['scheduled', 'active', 'complete', 'failed', 'cancelled']");
    const js = await list('?job_status=nonsense');
    assert.equal(js.body.error, "Query parameter 'job_status' must be one of ['scheduled', 'active', 'complete', 'failed', 'cancelled']");
    const ts = await list('?max_timestamp=abc');
    assert.deepEqual(
      [ts.status, ts.body.errcode, ts.body.error],
      [400, 'M_INVALID_PARAM', 'Query parameter max_timestamp must be an integer'],
    );
    const neg = await list('?max_timestamp=-1');
    assert.equal(neg.body.error, 'Query parameter max_timestamp must be a positive integer.');
    // max_timestamp is checked before the status; `status` wins over `job_status`, even when empty.
    const both = await list('?status=nonsense&max_timestamp=abc');
    assert.equal(both.body.error, 'Query parameter max_timestamp must be an integer');
    assert.equal((await list('?status=&job_status=nonsense')).status, 200);
    // Authentication comes first, and the gateway needs no extra RPC to make it so.
    const checkAccess = () => checkAccessCalls(s.baseUrl);
    const before = await checkAccess();
    const user = await registerUser(s, uniq('user'));
    assert.equal((await list('?status=nonsense&max_timestamp=abc', user.token)).status, 403);
    assert.equal((await http(s, 'GET', '/_synapse/admin/v1/scheduled_tasks?max_timestamp=abc')).status, 401);
    assert.equal(await checkAccess(), before);
  });

  describe('TaskSchedulerService', () => {
    const call = <Req, Res>(
      method: (
        req: Req,
        md: grpc.Metadata,
        opts: Partial<grpc.CallOptions>,
        cb: (e: grpc.ServiceError | null, r: Res) => void,
      ) => grpc.ClientUnaryCall,
      req: Req,
      token = admin.token,
    ) => grpcCall(s.clients.tasks, method, req, bearer(token));

    it('GetTask / ListTasks', async () => {
      const got = await call(s.clients.tasks.getTask, { taskId: ids.failed });
      assert.deepEqual(
        [got.task!.status, got.task!.error, got.task!.resourceId],
        [TaskStatus.TASK_STATUS_FAILED, 'Everything failed', res.failed],
      );
      await assert.rejects(call(s.clients.tasks.getTask, { taskId: 'nosuchtask' }), (e: grpc.ServiceError) => e.code === 5);
      const listed = await call(s.clients.tasks.listTasks, {
        actions: ['finished_test_task', 'failed_test_task'],
        statuses: [TaskStatus.TASK_STATUS_COMPLETE],
        resourceId: res.finished,
      });
      assert.deepEqual(
        listed.tasks.map((t) => t.id),
        [ids.finished],
      );
    });

    it('is admin-only', async () => {
      const user = await registerUser(s, uniq('user'));
      await assert.rejects(call(s.clients.tasks.getTask, { taskId: ids.failed }, user.token), (e: grpc.ServiceError) => e.code === 7);
      await assert.rejects(
        grpcCall(s.clients.tasks, s.clients.tasks.listTasks, { actions: [], statuses: [] }),
        (e: grpc.ServiceError) => e.code === 16,
      );
    });

    it('DeleteTask refuses active tasks and deletes finished ones', async () => {
      await assert.rejects(
        call(s.clients.tasks.deleteTask, { taskId: ids.active }),
        (e: grpc.ServiceError) => e.code === 3 && e.details === 'Cannot delete an active task',
      );
      const id = await scheduler.scheduleTask(em(), 'finished_test_task', { resourceId: uniq('del') });
      await until(async () => (await scheduler.getTask(em(), id))?.status === 'complete');
      await call(s.clients.tasks.deleteTask, { taskId: id });
      assert.equal(await scheduler.getTask(em(), id), null);
      await assert.rejects(call(s.clients.tasks.deleteTask, { taskId: id }), (e: grpc.ServiceError) => e.code === 5);
    });

    it('WatchTask streams progress until the task finishes; CancelTask stops a running task', async () => {
      let release!: () => void;
      const proceed = new Promise<void>((r) => (release = r));
      scheduler.registerAction('watched_task', async (run) => {
        await run.reportProgress({ done: 1, total: 2 });
        await Promise.race([proceed, waitForAbort(run.signal)]);
        await run.reportProgress({ done: 2, total: 2 });
        return waitForAbort(run.signal);
      });
      const id = await scheduler.scheduleTask(em(), 'watched_task', { resourceId: uniq('watch') });
      await until(async () => (await scheduler.getTask(em(), id))?.progress?.done === 1);
      const seen: WatchTaskResponse[] = [];
      const stream = s.clients.tasks.watchTask({ taskId: id }, bearer(admin.token));
      const ended = new Promise<void>((ok, ko) => {
        stream.on('data', (m: WatchTaskResponse) => {
          seen.push(m);
          if (seen.length === 1) release();
          if (m.task?.progress?.done === 2) void call(s.clients.tasks.cancelTask, { taskId: id }).catch(ko);
        });
        stream.on('end', ok);
        stream.on('error', ko);
      });
      await ended;
      assert.deepEqual(seen[0].task!.progress, { done: 1, total: 2 });
      assert.equal(seen[seen.length - 1].task!.status, TaskStatus.TASK_STATUS_CANCELLED);
      await until(() => !scheduler.runningTaskIds().includes(id));
      const cancelledAgain = await call(s.clients.tasks.cancelTask, { taskId: id });
      assert.equal(cancelledAgain.task!.status, TaskStatus.TASK_STATUS_CANCELLED);
    });

    it('WatchTask of an unknown task is NOT_FOUND', async () => {
      const stream = s.clients.tasks.watchTask({ taskId: 'nosuchtask' }, bearer(admin.token));
      const err = await new Promise<grpc.ServiceError>((ok) => {
        stream.on('error', ok);
        stream.on('data', () => undefined);
      });
      assert.equal(err.code, 5);
    });
  });
});
