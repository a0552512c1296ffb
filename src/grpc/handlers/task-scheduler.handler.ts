import type {
  ListTasksRequest,
  TaskStatus as PbStatus,
  Task,
  TaskSchedulerServiceServer,
} from '../../../gen/synapse/admin/v1/task_scheduler';
import { parseChoiceParam, parseIntParam } from '../../matrix/query-params';
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

/**
 * The status filter as given: `status`, or the legacy `job_status` when `status` is absent; an
 * empty value is no filter (an empty list); undefined when neither was given.
 */
function givenStatuses(req: ListTasksRequest): TaskStatus[] | null | undefined {
  const [name, raw] = req.statusParam !== undefined ? ['status', req.statusParam] : ['job_status', req.jobStatusParam];
  if (raw === undefined) return undefined;
  if (raw === '') return null;
  return [parseChoiceParam(name, raw, TASK_STATUS.words)];
}

export function taskSchedulerHandler(a: CallAdapter, scheduler: PgTaskScheduler): TaskSchedulerServiceServer {
  return {
    getTask: a.unary('admin', async (req, ctx) => {
      const task = await scheduler.getTask(ctx.em, req.taskId);
      if (!task) throw notFound('Task not found');
      return { task: toTask(task) };
    }),
    listTasks: a.unary('admin', async (req, ctx) => {
      const maxTimestamp =
        req.maxTimestampParam !== undefined ? parseIntParam('max_timestamp', req.maxTimestampParam) : (req.maxTimestampMs ?? null);
      const statuses = givenStatuses(req) ?? (req.statuses.length ? req.statuses.map(statusOf) : null);
      const tasks = await scheduler.getTasks(ctx.em, {
        actions: req.actions.length ? req.actions : null,
        resourceId: req.resourceId || null,
        statuses,
        maxTimestamp,
        limit: req.limit ?? null,
      });
      return { tasks: tasks.map(toTask) };
    }),
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
