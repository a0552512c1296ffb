/**
 * Watching one task: changes made on this instance arrive at once through a local emitter;
 * changes made elsewhere are seen by re-reading the row every WATCH_POLL_MS.
 */
import { EventEmitter, setMaxListeners } from 'node:events';
import { isTerminal } from './task-run';
import type { ScheduledTask } from './task.types';

/** Re-read period of a watched task (changes made by other instances). */
export const WATCH_POLL_MS = 500;

export class TaskWatchers {
  private readonly emitter = new EventEmitter();

  constructor() {
    setMaxListeners(0, this.emitter);
  }

  /** Publishes a task's new state to its local watchers. */
  changed(task: ScheduledTask): void {
    this.emitter.emit(task.id, task);
  }

  /**
   * Yields the task now and after every change until it is finished, deleted (or missing), or
   * `signal` aborts. `read` loads the current row.
   */
  async *watch(
    id: string,
    read: () => Promise<ScheduledTask | null>,
    signal: AbortSignal,
    pollMs = WATCH_POLL_MS,
  ): AsyncGenerator<ScheduledTask> {
    let last = '';
    let pending: ScheduledTask | null = null;
    let wake: (() => void) | null = null;
    const onChange = (t: ScheduledTask) => {
      pending = t;
      wake?.();
    };
    this.emitter.on(id, onChange);
    try {
      for (;;) {
        const task = pending ?? (await read());
        pending = null;
        if (!task) return;
        const key = JSON.stringify(task);
        if (key !== last) {
          last = key;
          yield task;
        }
        if (isTerminal(task.status) || signal.aborted) return;
        await new Promise<void>((resolve) => {
          const done = () => {
            clearTimeout(t);
            signal.removeEventListener('abort', done);
            resolve();
          };
          const t = setTimeout(done, pollMs);
          wake = done;
          signal.addEventListener('abort', done, { once: true });
        });
        wake = null;
      }
    } finally {
      this.emitter.off(id, onChange);
    }
  }
}
