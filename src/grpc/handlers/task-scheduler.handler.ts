import type { TaskStatus as PbStatus, Task, TaskSchedulerServiceServer } from '../../../gen/synapse/admin/v1/task_scheduler';
import { echo, invalidParam, notFound } from '../../errors';
import type { PgTaskScheduler } from '../../tasks/task-scheduler';
import type { ScheduledTask, TaskStatus } from '../../tasks/task.types';
import type { CallAdapter } from '../adapter';
import { TASK_STATUS } from '../contract-words';

export const toTask = (t: ScheduledTask): Task => ({
  id: t.id,
  action: t.action,
  status: TASK_STATUS.value(t.status),
  timestampMs: t.timestamp,
  resourceId: t.resourceId ?? undefined,
  params: t.params ?? undefined,
  result: t.result ?? undefined,
  error: t.error ?? undefined,
  progress: t.progress ?? undefined,
});

function statusOf(s: PbStatus): TaskStatus {
  const status = TASK_STATUS.word(s);
  if (!status) throw invalidParam(`Unknown task status ${echo(s)}`);
  return status;
}

export function taskSchedulerHandler(a: CallAdapter, scheduler: PgTaskScheduler): TaskSchedulerServiceServer {
  return {
    getTask: a.unary('admin', async (req, ctx) => {
      const task = await scheduler.getTask(ctx.em, req.taskId);
      if (!task) throw notFound('Task not found');
      return { task: toTask(task) };
    }),
    listTasks: a.unary('admin', async (req, ctx) => ({
      tasks: (
        await scheduler.getTasks(ctx.em, {
          actions: req.actions.length ? req.actions : null,
          resourceId: req.resourceId || null,
          statuses: req.statuses.length ? req.statuses.map(statusOf) : null,
          maxTimestamp: req.maxTimestampMs ?? null,
          limit: req.limit ?? null,
        })
      ).map(toTask),
    })),
    cancelTask: a.unary('admin', async (req, ctx) => {
      const task = await scheduler.cancelTask(ctx.em, req.taskId);
      if (!task) throw notFound('Task not found');
      return { task: toTask(task) };
    }),
    deleteTask: a.unary('admin', async (req, ctx) => {
      await scheduler.deleteTask(ctx.em, req.taskId);
      return {};
    }),
    watchTask: a.serverStream('admin', async (req, ctx, write) => {
      let seen = false;
      for await (const task of scheduler.watchTask(ctx.em, req.taskId, ctx.signal)) {
        seen = true;
        write({ task: toTask(task) });
      }
      if (!seen) throw notFound('Task not found');
    }),
  };
}
