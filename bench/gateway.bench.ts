/**
 * Gateway overhead: the same trivial authenticated admin call (GetUser) made directly over gRPC
 * and through the REST gateway (HTTP → gateway → gRPC → service), side by side in one run.
 * Target: REST ≤ 1.3× gRPC.
 */
import http from 'node:http';
import { bearer, grpcCall } from '../test/support/stack';
import { fmt, measure, options, registerUser, startStack, table } from './support';

export async function run(args: string[]): Promise<void> {
  const o = options(args, { n: 5000, concurrency: 16, rounds: 3 });
  const stack = await startStack({ LOG_LEVEL: 'silent' });
  try {
    const admin = await registerUser(stack, 'benchadmin', { admin: true });
    const target = await registerUser(stack, 'benchuser');
    const md = bearer(admin.token);
    const path = `/_synapse/admin/v2/users/${encodeURIComponent(target.userId)}`;
    const agent = new http.Agent({ keepAlive: true, maxSockets: o.concurrency });
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
    agent.destroy();
  } finally {
    await stack.stop();
  }
}
