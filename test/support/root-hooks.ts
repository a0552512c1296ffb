/**
 * One shared stack for the whole run (tests use unique user and room names, so they never
 * collide); suites that need different configuration start their own with startStack().
 * Once mocha has finished, the leak check (leak-check.ts) fails the run if anything the tests
 * started still keeps the process alive.
 */
import { armLeakCheck } from './leak-check';
import { killLeftoverServices } from './process';
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
    await killLeftoverServices();
  },
};

/** Runs once mocha has finished every test and hook. */
export function mochaGlobalTeardown(): void {
  armLeakCheck();
}
