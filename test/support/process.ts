/**
 * Runs the real entry point (`src/main.ts`) as a child process and waits until "ready" log lines
 * have named both an HTTP and a gRPC port (one line for a full instance; with GATEWAY_WORKERS,
 * a worker's line and a gateway process's line).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { join } from 'node:path';

export interface ServiceProcess {
  child: ChildProcess;
  httpPort: number;
  grpcPort: number;
  /** Every stdout/stderr line seen so far. */
  output: string[];
  exited: Promise<number | null>;
}

const ROOT = join(__dirname, '../..');

/** Service processes started and not exited yet (a test that failed half-way may leave one). */
const live = new Set<ChildProcess>();

/**
 * Kills (SIGKILL) every service process still running and waits until each has exited, so none
 * outlives the run; the root hooks call it after the last test.
 */
export async function killLeftoverServices(): Promise<void> {
  await Promise.all(
    [...live].map(
      (child) =>
        new Promise<void>((ok) => {
          child.once('exit', () => ok());
          child.kill('SIGKILL');
        }),
    ),
  );
}

export function spawnService(env: Record<string, string>, timeoutMs = 60_000): Promise<ServiceProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
    cwd: ROOT,
    env: {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? '/root',
      LOG_LEVEL: 'info',
      HTTP_PORT: '0',
      GRPC_PORT: '0',
      HTTP_HOST: '127.0.0.1',
      GRPC_HOST: '127.0.0.1',
      PASSWORD_HASH_COST: '10',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  live.add(child);
  child.once('exit', () => live.delete(child));
  const output: string[] = [];
  let httpPort = 0;
  let grpcPort = 0;
  // Every process of the layout logs its own ready line: the service answers on its shared ports
  // once they all have (a worker still starting answers its health check with 503).
  const processes = Math.max(1, Number(env.WORKERS ?? 1)) + Number(env.GATEWAY_WORKERS ?? 0);
  let ready = 0;
  const exited = new Promise<number | null>((ok) => child.once('exit', (code) => ok(code)));
  return new Promise((ok, ko) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      ko(new Error(`service did not become ready:\n${output.join('\n')}`));
    }, timeoutMs);
    const onLine = (buf: Buffer) => {
      for (const line of buf.toString().split('\n').filter(Boolean)) {
        output.push(line);
        if (!line.startsWith('{')) continue;
        const rec = JSON.parse(line) as { msg?: string; httpPort?: number; grpcPort?: number };
        if (rec.msg !== 'ready') continue;
        ready += 1;
        httpPort ||= rec.httpPort ?? 0;
        grpcPort ||= rec.grpcPort ?? 0;
        if (httpPort && grpcPort && ready === processes) {
          clearTimeout(timer);
          ok({ child, httpPort, grpcPort, output, exited });
        }
      }
    };
    child.stdout.on('data', onLine);
    child.stderr.on('data', (b: Buffer) => output.push(...b.toString().split('\n').filter(Boolean)));
    void exited.then((code) => {
      clearTimeout(timer);
      ko(new Error(`service exited with ${code} before ready:\n${output.join('\n')}`));
    });
  });
}

/** A JSON REST call to a service process (`base()` is read at each call: the process may have been restarted). */
export type ProcessCall = (method: string, path: string, token?: string, body?: unknown) => Promise<{ status: number; body: any }>;

export function processCall(base: () => string): ProcessCall {
  return async (method, path, token, body) => {
    const res = await fetch(base() + path, {
      method,
      headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    return { status: res.status, body: await res.json() };
  };
}

/** Registers `admin` through shared-secret registration and returns its access token. */
export async function registerProcessAdmin(call: ProcessCall, sharedSecret: string): Promise<string> {
  const { body: n } = await call('GET', '/_synapse/admin/v1/register');
  const mac = createHmac('sha1', sharedSecret).update(`${n.nonce}\0admin\0pass\0admin`).digest('hex');
  const r = await call('POST', '/_synapse/admin/v1/register', undefined, {
    nonce: n.nonce,
    username: 'admin',
    password: 'pass',
    admin: true,
    mac,
  });
  return r.body.access_token;
}
