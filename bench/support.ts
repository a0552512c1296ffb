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

/**
 * A full garbage collection (the bench runner starts node with --expose-gc). Called after a data
 * set is generated in this process, so that what the generator left on the heap is not collected
 * in the middle of one measured phase and not another.
 */
export function settleHeap(): void {
  (globalThis as { gc?: () => void }).gc?.();
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

/**
 * Runs each of `fns` `n` times, one after another in turn (f1, f2, …, f1, f2, …), one call at a
 * time; returns per-function latencies. Drift of the host during the run then weighs on every
 * function alike instead of on whichever block of calls it fell in.
 */
export async function measureInterleaved(n: number, fns: (() => Promise<unknown>)[]): Promise<LatencyStats[]> {
  const samples = fns.map(() => [] as number[]);
  const spent = fns.map(() => 0);
  for (let i = 0; i < n; i++) {
    for (const [k, fn] of fns.entries()) {
      const t0 = process.hrtime.bigint();
      await fn();
      const ns = Number(process.hrtime.bigint() - t0);
      samples[k].push(ns);
      spent[k] += ns;
    }
  }
  return samples.map((s, k) => stats(s, spent[k] / 1e6));
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

/**
 * The cost of the two hops alone, with no work behind them: a bare node:http server whose handler
 * makes one unary call to a bare grpc-js server (raw bytes, no protobuf, no auth, no database) and
 * writes the reply back, all in this process as the real stack is. Measured for a small reply and
 * for one of `bodyBytes`, so a REST/SQL ratio can be read against what the transport costs by itself.
 */
/**
 * The bare transport: an HTTP server making one grpc-js call per request (no work, same process),
 * timed at one client (small and `bodyBytes` answers) and, with `clients`, its small answer's rate
 * at that many clients (at least 20 requests per client).
 */
export async function transportFloor(
  n: number,
  bodyBytes: number,
  clients = 0,
): Promise<{ small: LatencyStats; large: LatencyStats; smallAt?: LatencyStats }> {
  const grpc = await import('@grpc/grpc-js');
  const http = await import('node:http');
  const raw = {
    path: '/floor.Echo/Get',
    requestStream: false,
    responseStream: false,
    requestSerialize: (b: Buffer) => b,
    requestDeserialize: (b: Buffer) => b,
    responseSerialize: (b: Buffer) => b,
    responseDeserialize: (b: Buffer) => b,
  };
  const bodies = {
    small: Buffer.from('{"user_id":"@floor:test"}'),
    large: Buffer.from(JSON.stringify({ chunk: 'x'.repeat(Math.max(0, bodyBytes - 14)) })),
  };
  const server = new grpc.Server();
  server.addService(
    { Get: raw },
    {
      Get: (call: { request: Buffer }, cb: (e: null, r: Buffer) => void) =>
        cb(null, call.request[0] === 0x6c ? bodies.large : bodies.small),
    },
  );
  const grpcPort = await new Promise<number>((ok, ko) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (e, p) => (e ? ko(e) : ok(p))),
  );
  const Client = grpc.makeGenericClientConstructor({ Get: raw }, 'Echo');
  const client = new Client(`127.0.0.1:${grpcPort}`, grpc.credentials.createInsecure()) as unknown as {
    Get(req: Buffer, cb: (e: Error | null, r: Buffer) => void): void;
    close(): void;
  };
  const front = http.createServer((req, res) => {
    client.Get(Buffer.from(req.url === '/large' ? 'l' : 's'), (e, body) => {
      res.writeHead(e ? 500 : 200, { 'content-type': 'application/json', 'content-length': e ? 0 : body.length });
      res.end(e ? undefined : body);
    });
  });
  await new Promise<void>((ok) => front.listen(0, '127.0.0.1', ok));
  const port = (front.address() as { port: number }).port;
  const agent = new http.Agent({ keepAlive: true, maxSockets: Math.max(1, clients) });
  const get = (path: string) =>
    new Promise<void>((ok, ko) => {
      http
        .get({ host: '127.0.0.1', port, path, agent }, (res) => {
          res.resume();
          res.on('end', () => (res.statusCode === 200 ? ok() : ko(new Error(`floor ${res.statusCode}`))));
        })
        .on('error', ko);
    });
  try {
    await measure(200, 1, () => get('/small'));
    await measure(200, 1, () => get('/large'));
    const small = await measure(n, 1, () => get('/small'));
    const large = await measure(n, 1, () => get('/large'));
    if (clients <= 1) return { small, large };
    const many = Math.max(n, 20 * clients);
    await measure(many, clients, () => get('/small'));
    return { small, large, smallAt: await measure(many, clients, () => get('/small')) };
  } finally {
    agent.destroy();
    client.close();
    await new Promise<void>((ok) => front.close(() => ok()));
    server.forceShutdown();
  }
}

/** Prints `transportFloor` for a small reply and one of `bodyBytes`. */
export async function printTransportFloor(n: number, bodyBytes: number): Promise<void> {
  const f = await transportFloor(n, bodyBytes);
  process.stdout.write(
    `transport floor (bare http server → one bare grpc-js call → reply, no work, same process): small p50 ${fmt(f.small.p50)} ms, p99 ${fmt(f.small.p99)} ms; ${bodyBytes}-byte p50 ${fmt(f.large.p50)} ms, p99 ${fmt(f.large.p99)} ms\n`,
  );
}
