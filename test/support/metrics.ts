/** Reading a Prometheus text exposition in tests. */

/** The values of the series of `name` whose labels include `labels`, in a Prometheus text exposition. */
function samples(text: string, name: string, labels: Record<string, string>): number[] {
  const values: number[] = [];
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue;
    const m = /^([a-zA-Z_:][\w:]*)(\{(.*)\})? (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const have = Object.fromEntries([...(m[3] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((x) => [x[1], x[2]]));
    if (Object.entries(labels).every(([k, v]) => have[k] === v)) values.push(Number(m[4]));
  }
  return values;
}

/** The value of one series in a Prometheus text exposition (0 when absent). */
export function sample(text: string, name: string, labels: Record<string, string> = {}): number {
  return samples(text, name, labels)[0] ?? 0;
}

/**
 * How many calls of one gRPC method (`/synapse.admin.v1.Service/Method`) the server at `baseUrl`
 * has answered, whatever their status, read from its `/metrics`.
 */
export async function rpcCalls(baseUrl: string, method: string): Promise<number> {
  const text = await (await fetch(`${baseUrl}/metrics`)).text();
  return samples(text, 'synapse_room_admin_grpc_server_handled_total', { method }).reduce((a, b) => a + b, 0);
}

/**
 * How many AuthService/CheckAccess calls the server at `baseUrl` has answered, read from its
 * `/metrics`: the gateway makes one only when it refuses a request itself, so that an auth error
 * still comes first. A route whose parameters the services check makes none.
 */
export async function checkAccessCalls(baseUrl: string): Promise<number> {
  const text = await (await fetch(`${baseUrl}/metrics`)).text();
  return ['OK', 'PERMISSION_DENIED', 'UNAUTHENTICATED']
    .map((code) =>
      sample(text, 'synapse_room_admin_grpc_server_handled_total', { method: '/synapse.admin.v1.AuthService/CheckAccess', code }),
    )
    .reduce((a, b) => a + b, 0);
}
