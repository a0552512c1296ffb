/** Shared helpers for benchmarks: a private stack, latency statistics and table output. */
import { startStack, registerUser, type Stack, type TestUser } from '../test/support/stack';

export { startStack, registerUser, type Stack, type TestUser };

export interface LatencyStats {
  n: number;
  p50: number;
  p99: number;
  mean: number;
  perSecond: number;
}

/** Percentiles in milliseconds from samples in nanoseconds (bigint hrtime deltas). */
export function stats(samplesNs: number[], wallMs: number): LatencyStats {
  const sorted = [...samplesNs].sort((a, b) => a - b);
  const pick = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] / 1e6;
  const mean = sorted.reduce((a, b) => a + b, 0) / sorted.length / 1e6;
  return { n: sorted.length, p50: pick(0.5), p99: pick(0.99), mean, perSecond: (sorted.length / wallMs) * 1000 };
}

/** Runs `fn` `n` times with `concurrency` workers; returns per-call latencies. */
export async function measure(n: number, concurrency: number, fn: (i: number) => Promise<unknown>): Promise<LatencyStats> {
  const samples: number[] = [];
  let next = 0;
  const started = process.hrtime.bigint();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < n) {
        const i = next++;
        const t0 = process.hrtime.bigint();
        await fn(i);
        samples.push(Number(process.hrtime.bigint() - t0));
      }
    }),
  );
  return stats(samples, Number(process.hrtime.bigint() - started) / 1e6);
}

export function fmt(n: number, digits = 2): string {
  return n.toFixed(digits);
}

/** Prints a fixed-width table. */
export function table(title: string, rows: Record<string, string | number>[]): void {
  process.stdout.write(`\n${title}\n`);
  if (rows.length === 0) return;
  const cols = Object.keys(rows[0]);
  const width = cols.map((c) => Math.max(c.length, ...rows.map((r) => String(r[c]).length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(width[i])).join('  ');
  process.stdout.write(`${line(cols)}\n${line(width.map((w) => '-'.repeat(w)))}\n`);
  for (const r of rows) process.stdout.write(`${line(cols.map((c) => String(r[c])))}\n`);
}

/** Parses `--key value` options. */
export function options(args: string[], defaults: Record<string, number>): Record<string, number> {
  const out = { ...defaults };
  for (let i = 0; i < args.length; i += 2) {
    const key = args[i]?.replace(/^--/, '');
    if (key && key in out) out[key] = Number(args[i + 1]);
  }
  return out;
}
