/**
 * Seeded randomness for tests that pick random moments (the kill -9 tests' random kill points).
 * The seed comes from an environment variable when set (to replay a run), otherwise it is drawn
 * for the run; a failing test of the suite names it, so the failure can be replayed.
 */
import { randomInt } from 'node:crypto';

export interface SeededRandom {
  readonly seed: number;
  /** An integer in [min, max). */
  int(min: number, max: number): number;
}

/** mulberry32: a small, well-spread 32-bit generator; the same seed gives the same sequence. */
export function seededRandom(seed: number): SeededRandom {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
  return { seed, int: (min, max) => min + Math.floor(next() * (max - min)) };
}

/**
 * The run's generator for `envVar` (e.g. KILL_SEED): that variable's value when set, else a fresh
 * seed. Call in a describe() body: an afterEach hook prints `envVar=<seed>` when a test fails.
 */
export function seedFor(envVar: string): SeededRandom {
  const raw = process.env[envVar];
  const seed = raw === undefined || raw === '' ? randomInt(0, 2 ** 31) : Number(raw);
  if (!Number.isSafeInteger(seed)) throw new Error(`${envVar} must be an integer, got ${JSON.stringify(raw)}`);
  const random = seededRandom(seed);
  afterEach(function () {
    if (this.currentTest?.state === 'failed')
      process.stderr.write(`      ${envVar}=${seed} replays this run's random choices (${this.currentTest.fullTitle()})\n`);
  });
  return random;
}
