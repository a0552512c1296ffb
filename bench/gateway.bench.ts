/**
 * Gateway overhead: the same trivial authenticated admin call (GetUser) made directly over gRPC
 * and through the REST gateway (HTTP → gateway → gRPC → service), side by side in one run.
 * Target: REST ≤ 1.3× gRPC.
 *
 * With `--instrumentation`, measures instead what the per-request instrumentation (RPC and REST
 * metrics, request contexts) costs the REST path: rounds of the same call with it on and off, in
 * alternating order (on/off, off/on, ...) so that drift of the host weighs on both alike.
 * Target: ≤ 3 % fewer req/s with it on.
 */
import http from 'node:http';
import { observeHttp, observeRpc, setInstrumentation } from '../src/metrics/metrics';
import { withRequestContext } from '../src/request-context';
import { bearer, grpcCall } from '../test/support/stack';
import { fmt, measure, options, registerUser, startStack, table } from './support';

export async function run(args: string[]): Promise<void> {
  const instrumentation = args.includes('--instrumentation');
  const o = options(
    args.filter((a) => a !== '--instrumentation'),
    { n: 5000, concurrency: 16, rounds: instrumentation ? 8 : 3 },
  );
  const stack = await startStack({ LOG_LEVEL: 'silent' });
  const agent = new http.Agent({ keepAlive: true, maxSockets: o.concurrency });
  try {
    const admin = await registerUser(stack, 'benchadmin', { admin: true });
    const target = await registerUser(stack, 'benchuser');
    const md = bearer(admin.token);
    const path = `/_synapse/admin/v2/users/${encodeURIComponent(target.userId)}`;
    const port = stack.app.httpPort!;
    const viaGrpc = () => grpcCall(stack.clients.userAdmin, stack.clients.userAdmin.getUser, { userId: target.userId }, md);
    const viaRest = () =>
      new Promise<void>((ok, ko) => {
        const req = http.get({ host: '127.0.0.1', port, path, agent, headers: { authorization: `Bearer ${admin.token}` } }, (res) => {
          res.resume();
          res.on('end', () => (res.statusCode === 200 ? ok() : ko(new Error(`REST ${res.statusCode}`))));
        });
        req.on('error', ko);
      });
    // Warm both paths (JIT, connection pools, prepared plans).
    await measure(500, o.concurrency, viaGrpc);
    await measure(500, o.concurrency, viaRest);
    if (instrumentation) {
      await overhead(o, viaRest);
      return;
    }
    const rows = [];
    for (let round = 1; round <= o.rounds; round++) {
      const g = await measure(o.n, o.concurrency, viaGrpc);
      const r = await measure(o.n, o.concurrency, viaRest);
      rows.push({
        round,
        'grpc req/s': fmt(g.perSecond, 0),
        'grpc p50 ms': fmt(g.p50),
        'grpc p99 ms': fmt(g.p99),
        'rest req/s': fmt(r.perSecond, 0),
        'rest p50 ms': fmt(r.p50),
        'rest p99 ms': fmt(r.p99),
        'rest/grpc p50': fmt(r.p50 / g.p50),
        'grpc/rest throughput': fmt(g.perSecond / r.perSecond),
      });
    }
    table(`gateway overhead: GET /_synapse/admin/v2/users/<id> vs UserAdminService/GetUser (n=${o.n}, concurrency=${o.concurrency})`, rows);
  } finally {
    agent.destroy();
    await stack.stop();
  }
}

/**
 * REST req/s, latency and process CPU per request with the per-request instrumentation on and
 * off, rounds alternating. Prints the mean overhead and a 95 % interval from the paired rounds
 * (each round's on/off ratio), so that an effect smaller than the host's noise shows as such.
 */
async function overhead(o: Record<string, number>, viaRest: () => Promise<void>): Promise<void> {
  type Mode = 'on' | 'off';
  const rate: Record<Mode, number[]> = { on: [], off: [] };
  const cpu: Record<Mode, number[]> = { on: [], off: [] };
  const rows = [];
  try {
    // One more unrecorded round in each mode: the first timed round otherwise runs colder.
    for (const mode of ['off', 'on'] as const) {
      setInstrumentation(mode === 'on');
      await measure(o.n, o.concurrency, viaRest);
    }
    for (let round = 1; round <= o.rounds; round++) {
      const order: Mode[] = round % 2 ? ['on', 'off'] : ['off', 'on'];
      const row: Record<string, string | number> = { round, order: order.join('/') };
      for (const mode of order) {
        setInstrumentation(mode === 'on');
        const cpu0 = process.cpuUsage();
        const r = await measure(o.n, o.concurrency, viaRest);
        const used = process.cpuUsage(cpu0);
        rate[mode].push(r.perSecond);
        cpu[mode].push((used.user + used.system) / o.n);
        row[`${mode} req/s`] = fmt(r.perSecond, 0);
        row[`${mode} p50 ms`] = fmt(r.p50, 3);
        row[`${mode} cpu µs/req`] = fmt(cpu[mode].at(-1)!, 0);
      }
      rows.push(row);
    }
  } finally {
    setInstrumentation(true);
  }
  const mean = (xs: number[]) => xs.reduce((a, x) => a + x, 0) / xs.length;
  table(`instrumentation overhead: GET /_synapse/admin/v2/users/<id> through REST (n=${o.n}, concurrency=${o.concurrency})`, rows);
  // Paired rounds: the log of each round's throughput ratio, its mean and standard error.
  const logs = rate.on.map((on, i) => Math.log(on / rate.off[i]));
  const m = mean(logs);
  const se = Math.sqrt(logs.reduce((a, x) => a + (x - m) ** 2, 0) / (logs.length - 1) / logs.length);
  const pct = (x: number) => fmt((1 - Math.exp(x)) * 100, 1);
  console.log(
    `req/s with instrumentation ${fmt(mean(rate.on), 0)}, without ${fmt(mean(rate.off), 0)}: ` +
      `overhead ${pct(m)} % (95 % interval ${pct(m + 1.96 * se)} to ${pct(m - 1.96 * se)} %; target ≤ 3 %)`,
  );
  const cpuOn = mean(cpu.on);
  const cpuOff = mean(cpu.off);
  console.log(
    `process CPU per request (load generator included): ${fmt(cpuOn, 0)} µs with, ${fmt(cpuOff, 0)} µs without ` +
      `(${fmt((cpuOn / cpuOff - 1) * 100, 1)} %)`,
  );
  // What the instrumentation does per request, alone: one REST and one RPC observation and the
  // request context around an async handler, timed in a loop.
  const loops = 200_000;
  const direct = async () => {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < loops; i++) {
      await withRequestContext({ requestId: 'r' }, async () => {
        observeRpc('/synapse.admin.v1.UserAdminService/GetUser', 0, t0);
      });
      observeHttp('/_synapse/admin/v2/users/{userId}', 'GET', 200, t0);
    }
    return Number(process.hrtime.bigint() - t0) / loops / 1000;
  };
  await direct();
  const withIt = await direct();
  setInstrumentation(false);
  const without = await direct();
  setInstrumentation(true);
  console.log(
    `instrumentation alone: ${fmt(withIt - without, 2)} µs per request (${fmt(withIt, 2)} µs on, ${fmt(without, 2)} µs off), ` +
      `${fmt(((withIt - without) / cpuOff) * 100, 2)} % of the process CPU a request takes`,
  );
}
