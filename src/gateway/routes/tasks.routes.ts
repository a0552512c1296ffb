import type { Task, TaskStatus } from '../../../gen/synapse/admin/v1/task_scheduler';
import { TASK_STATUS } from '../../grpc/contract-words';
import type { Query, Route } from '../router';

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

/**
 * `status`, or the legacy `job_status` when `status` is absent. Empty means no filter; an unknown
 * status is a 400 (Synapse answers 500).
 */
function statusFilter(q: Query): TaskStatus[] {
  const name = q.has('status') ? 'status' : 'job_status';
  if (!q.string(name)) return [];
  return [TASK_STATUS.value(q.choice(name, TASK_STATUS.words)!)];
}

export const taskRoutes: Route[] = [
  {
    method: 'GET',
    path: '/_synapse/admin/v1/scheduled_tasks',
    auth: 'admin',
    handler: async (r) => {
      // Synapse's order: max_timestamp is parsed before the status is checked.
      const action = r.query.string('action_name');
      const maxTimestampMs = r.query.int('max_timestamp');
      const statuses = statusFilter(r.query);
      const res = await r.rpc(r.clients.tasks, 'listTasks', {
        actions: action ? [action] : [],
        resourceId: r.query.string('resource_id') || undefined,
        statuses,
        maxTimestampMs,
      });
      return { body: { scheduled_tasks: res.tasks.map(scheduledTaskJson) } };
    },
  },
];
