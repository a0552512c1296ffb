/**
 * The one way tests wait for something to happen: poll a value until it satisfies a predicate,
 * with a bound below mocha's 60 s timeout, so a condition that never holds fails with its own
 * message (and the last value seen) instead of a bare test timeout.
 */
export interface PollOptions {
  /** Give up after this long (default 45 s). */
  timeoutMs?: number;
  /** Pause between polls (default 25 ms). */
  stepMs?: number;
  /** Names the condition in the failure message. */
  what?: string;
}

export const DEFAULT_POLL_TIMEOUT_MS = 45_000;

/** Polls `fn` until `done(value)` holds and returns that value; throws once `timeoutMs` has passed. */
export async function waitFor<T>(fn: () => T | Promise<T>, done: (v: T) => boolean, opts: PollOptions = {}): Promise<T> {
  const { timeoutMs = DEFAULT_POLL_TIMEOUT_MS, stepMs = 25, what = 'condition' } = opts;
  const deadline = Date.now() + timeoutMs;
  let last: T | undefined;
  for (;;) {
    last = await fn();
    if (done(last)) return last;
    if (Date.now() >= deadline) throw new Error(`${what} not reached within ${timeoutMs} ms; last value: ${JSON.stringify(last)}`);
    await new Promise((r) => setTimeout(r, stepMs));
  }
}

/** Waits until `cond` holds. */
export async function until(cond: () => boolean | Promise<boolean>, opts: PollOptions = {}): Promise<void> {
  await waitFor(cond, (v) => v, opts);
}

/** Waits until `fn` returns something other than null, and returns it. */
export async function untilValue<T>(fn: () => Promise<T | null>, opts: PollOptions = {}): Promise<T> {
  return (await waitFor(fn, (v) => v !== null, opts)) as T;
}
