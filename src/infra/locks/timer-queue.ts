/**
 * Many timeouts on one Node timer: lock lease extensions and per-node answer deadlines are
 * scheduled and cancelled at every acquisition and release, and almost never fire. Scheduling or
 * cancelling here is a Map write; the single timer is re-armed only when a new entry is due
 * earlier than the one it is armed for, and when it fires. The timer is unref'd: pending entries
 * do not keep the process alive. Times are monotonic (performance.now()), as a setTimeout of
 * its own would be: a wall-clock step never delays an extension.
 */
interface Entry {
  at: number;
  fn: () => void;
}

export class TimerQueue {
  private readonly entries = new Map<object, Entry>();
  private timer: NodeJS.Timeout | null = null;
  private armedFor = Infinity;

  /** Runs `fn` in `ms` (never before) unless cancelled; replaces what `key` had scheduled. */
  schedule(key: object, ms: number, fn: () => void): void {
    const at = performance.now() + ms;
    this.entries.set(key, { at, fn });
    if (at < this.armedFor) this.arm(at);
  }

  /** Cancels what `key` had scheduled (nothing when it fired already). */
  cancel(key: object): void {
    this.entries.delete(key);
  }

  private arm(at: number): void {
    if (this.timer) clearTimeout(this.timer);
    this.armedFor = at;
    this.timer = setTimeout(() => this.fire(), Math.max(0, at - performance.now()));
    this.timer.unref();
  }

  private fire(): void {
    this.timer = null;
    this.armedFor = Infinity;
    const now = performance.now();
    const due: Entry[] = [];
    let next = Infinity;
    for (const [key, e] of this.entries) {
      if (e.at <= now) {
        due.push(e);
        this.entries.delete(key);
      } else if (e.at < next) next = e.at;
    }
    if (next < Infinity) this.arm(next);
    for (const e of due) e.fn();
  }
}
