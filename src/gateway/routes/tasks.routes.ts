import type { Task, TaskStatus } from '../../../gen/synapse/admin/v1/task_scheduler';
import { TASK_STATUS } from '../../grpc/contract-words';
import type { Route } from '../router';

/** Synapse's status string of a task. */
const statusName = (s: TaskStatus): string => TASK_STATUS.word(s) ?? 'unknown';

/** Synapse's JSON of a scheduled task (admin API). */
export function scheduledTaskJson(t: Task): Record<string, unknown> {
  return {
    id: t.id,
    action: t.action,
    status: statusName(t.status),
    timestamp_ms: t.timestampMs,
    resource_id: t.resourceId ?? null,
    result: t.result ?? null,
    error: t.error ?? null,
  };
}

export const taskRoutes: Route[] = [
  {
    method: 'GET',
    path: '/_synapse/admin/v1/scheduled_tasks',
    auth: 'admin',
    handler: async (r) => {
      // Passed on as given: the service checks max_timestamp, then the status, after authentication.
      const action = r.query.string('action_name');
      const res = await r.rpc(r.clients.tasks, 'listTasks', {
        actions: action ? [action] : [],
        resourceId: r.query.string('resource_id') || undefined,
        statuses: [],
        maxTimestampParam: r.query.string('max_timestamp'),
        statusParam: r.query.string('status'),
        jobStatusParam: r.query.string('job_status'),
      });
      return { body: { scheduled_tasks: res.tasks.map(scheduledTaskJson) } };
    },
  },
];
