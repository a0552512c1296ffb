/**
 * One shared stack for the whole run (tests use unique user and room names, so they never
 * collide); suites that need different configuration start their own with startStack().
 */
import { startStack, type Stack } from './stack';

let shared: Stack | null = null;
let starting: Promise<Stack> | null = null;

/** The run's shared stack, started on first use. */
export function sharedStack(): Promise<Stack> {
  starting ??= startStack().then((s) => (shared = s));
  return starting;
}

export const mochaHooks = {
  async afterAll() {
    if (shared) await shared.stop();
  },
};
