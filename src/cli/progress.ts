/**
 * Following a task to its end for the CLI: WatchTask updates shown as a live progress bar on a
 * terminal (cli-progress: phase, counts, rate, ETA), as one plain line per change otherwise, or
 * not at all with --json; then a summary. Resolves with the task's last state.
 */
import { SingleBar, Presets } from 'cli-progress';
import { Task as TaskMessage, TaskStatus } from '../../gen/synapse/admin/v1/task_scheduler';
import type { AdminClient } from '../client';

export type OutputMode = 'tty' | 'plain' | 'json';

export interface Counts {
  phase: string;
  done: number;
  total: number;
  unit: string;
}

/** Reads the counts out of a task's progress (rooms: users then events; history: events). */
export function countsOf(progress: Record<string, unknown> | undefined): Counts | null {
  if (!progress) return null;
  const n = (k: string) => (typeof progress[k] === 'number' ? (progress[k] as number) : null);
  const phase = typeof progress.phase === 'string' ? progress.phase : 'running';
  for (const unit of ['users', 'events', 'rows']) {
    const total = n(`${unit}_total`);
    if (total === null) continue;
    const done = n(`${unit}_done`) ?? n(`${unit}_purged`) ?? n(`${unit}_deleted`) ?? 0;
    return { phase, done, total, unit };
  }
  return { phase, done: 0, total: 0, unit: '' };
}

export const statusName = (s: TaskStatus) => (TaskStatus[s] ?? 'UNKNOWN').replace('TASK_STATUS_', '').toLowerCase();
const terminal = (s: TaskStatus) =>
  s === TaskStatus.TASK_STATUS_COMPLETE || s === TaskStatus.TASK_STATUS_FAILED || s === TaskStatus.TASK_STATUS_CANCELLED;

/** Items per second over the updates of one phase, and the seconds left at that rate. */
class Rate {
  private start: { at: number; done: number; key: string } | null = null;

  measure(c: Counts, now = Date.now()): { rate: number; etaS: number | null } {
    const key = `${c.phase}/${c.unit}`;
    if (!this.start || this.start.key !== key || c.done < this.start.done) this.start = { at: now, done: c.done, key };
    const s = (now - this.start.at) / 1000;
    const rate = s > 0 ? (c.done - this.start.done) / s : 0;
    return { rate, etaS: rate > 0 && c.total >= c.done ? (c.total - c.done) / rate : null };
  }
}

const fmtS = (s: number | null) =>
  s === null
    ? '?'
    : s < 10
      ? `${s.toFixed(1)}s`
      : s < 60
        ? `${Math.round(s)}s`
        : `${Math.floor(s / 60)}m${String(Math.round(s % 60)).padStart(2, '0')}s`;

/**
 * Watches task `id` until it is finished (or `signal` aborts: null then). `out` writes lines.
 */
export async function followTask(
  client: AdminClient,
  id: string,
  mode: OutputMode,
  out: (line: string) => void,
  signal: AbortSignal,
): Promise<TaskMessage | null> {
  const rate = new Rate();
  let bar: SingleBar | null = null;
  let last: TaskMessage | null = null;
  let lastLine = '';
  const stream = client.tasks.watchTask({ taskId: id }, { signal });
  try {
    for await (const { task } of stream) {
      if (!task) continue;
      last = task;
      const c = countsOf(task.progress);
      const status = statusName(task.status);
      if (mode === 'tty' && c) {
        const { rate: r, etaS } = rate.measure(c);
        const payload = { status, phase: c.phase, unit: c.unit, rate: r.toFixed(0), etaText: fmtS(etaS) };
        if (!bar) {
          bar = new SingleBar(
            {
              format: '{status} {phase} |{bar}| {value}/{total} {unit} | {rate}/s | ETA {etaText}',
              hideCursor: true,
              clearOnComplete: false,
            },
            Presets.shades_classic,
          );
          bar.start(Math.max(c.total, 1), c.done, payload);
        } else {
          bar.setTotal(Math.max(c.total, 1));
          bar.update(c.done, payload);
        }
      } else if (mode === 'plain') {
        let line = `task ${id} ${status}`;
        if (c) {
          const { rate: r, etaS } = rate.measure(c);
          line += ` ${c.phase}${c.unit ? ` ${c.done}/${c.total} ${c.unit}` : ''}`;
          if (c.unit && r > 0) line += ` ${r.toFixed(0)}/s ETA ${fmtS(etaS)}`;
        }
        if (line !== lastLine) out(line);
        lastLine = line;
      }
      if (terminal(task.status)) break;
    }
  } finally {
    stream.cancel();
    bar?.stop();
  }
  return signal.aborted ? null : last;
}

/** The summary of a finished task (plain text). */
export function summary(task: TaskMessage, elapsedMs: number): string {
  const c = countsOf(task.progress);
  const parts = [`${task.action} ${task.id} ${statusName(task.status)} after ${fmtS(elapsedMs / 1000)}`];
  if (c?.unit) parts.push(`${c.done}/${c.total} ${c.unit}`);
  if (task.error) parts.push(`error: ${task.error}`);
  if (task.result && Object.keys(task.result).length > 0) parts.push(`result: ${JSON.stringify(task.result)}`);
  return parts.join('; ');
}

/** A task as JSON (status names, not numbers). */
export const taskJson = (t: TaskMessage) => TaskMessage.toJSON(t);
