/**
 * A Synapse-compatible server under test, reached over REST only: our service started in this
 * process, a reference Synapse started from the synapse-ref scripts, or any server given by URL and
 * admin token.
 */
import { spawn } from 'node:child_process';
import { createHmac, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import http from 'node:http';
import { join, resolve } from 'node:path';
import { Client as PgClient } from 'pg';
import { spawnService } from '../../test/support/process';
import { createDatabase, dbUrl, dropDatabase, startStack, SHARED_SECRET, TEST_REDIS_URL } from '../../test/support/stack';

export interface Answer {
  status: number;
  text: string;
}

export interface Target {
  /** `ours` or `synapse`. */
  name: string;
  baseUrl: string;
  adminToken: string;
  serverName: string;
  /** Our database (raw SQL figures); absent for other servers. */
  databaseUrl?: string;
  /**
   * Refreshes the planner statistics of the server's database once seeding is done, as autovacuum
   * would in time, so both servers plan on the same kind of statistics. Absent when the database
   * is not reachable (a server given by URL).
   */
  analyze?: () => Promise<void>;
  stop(): Promise<void>;
}

/** One keep-alive HTTP client per target and concurrency, so sockets are reused as a real client would. */
export class RestClient {
  private readonly agent: http.Agent;
  private readonly host: string;
  private readonly port: number;

  constructor(baseUrl: string, sockets: number) {
    const u = new URL(baseUrl);
    this.host = u.hostname;
    this.port = Number(u.port || 80);
    this.agent = new http.Agent({ keepAlive: true, maxSockets: sockets });
  }

  request(method: string, path: string, token?: string, body?: unknown): Promise<Answer> {
    const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    const headers: Record<string, string | number> = {};
    if (token) headers.authorization = `Bearer ${token}`;
    if (payload) {
      headers['content-type'] = 'application/json';
      headers['content-length'] = payload.length;
    }
    return new Promise((ok, ko) => {
      const req = http.request({ host: this.host, port: this.port, method, path, agent: this.agent, headers }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => ok({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString() }));
        res.on('error', ko);
      });
      req.on('error', ko);
      req.end(payload);
    });
  }

  /** The parsed body of a 2xx answer; anything else throws with the status and body. */
  async json<T = any>(method: string, path: string, token?: string, body?: unknown): Promise<T> {
    const a = await this.request(method, path, token, body);
    if (a.status < 200 || a.status > 299) throw new Error(`${method} ${path}: ${a.status} ${a.text.slice(0, 300)}`);
    return (a.text ? JSON.parse(a.text) : {}) as T;
  }

  close(): void {
    this.agent.destroy();
  }
}

/** Shared-secret registration (nonce + HMAC-SHA1), as `register_new_matrix_user` does it. */
export async function registerWithSecret(
  client: RestClient,
  secret: string,
  localpart: string,
  password: string,
  admin: boolean,
): Promise<{ userId: string; token: string }> {
  const { nonce } = await client.json<{ nonce: string }>('GET', '/_synapse/admin/v1/register');
  const mac = createHmac('sha1', secret)
    .update(`${nonce}\0${localpart}\0${password}\0${admin ? 'admin' : 'notadmin'}`)
    .digest('hex');
  const r = await client.json<{ user_id: string; access_token: string }>('POST', '/_synapse/admin/v1/register', undefined, {
    nonce,
    username: localpart,
    password,
    admin,
    mac,
  });
  return { userId: r.user_id, token: r.access_token };
}

async function serverNameOf(baseUrl: string, token: string): Promise<string> {
  const c = new RestClient(baseUrl, 1);
  try {
    const { user_id } = await c.json<{ user_id: string }>('GET', '/_matrix/client/v3/account/whoami', token);
    return user_id.slice(user_id.indexOf(':') + 1);
  } finally {
    c.close();
  }
}

async function analyzeDatabase(url: string): Promise<void> {
  const pg = new PgClient({ connectionString: url });
  await pg.connect();
  try {
    await pg.query('ANALYZE');
  } finally {
    await pg.end();
  }
}

/**
 * A started server as a target: registers the bench's admin with the server's shared secret, or
 * stops the server when that fails.
 */
async function withAdmin(server: Omit<Target, 'adminToken'>, secret: string): Promise<Target> {
  const client = new RestClient(server.baseUrl, 1);
  try {
    const admin = await registerWithSecret(client, secret, 'cmp_admin', 'cmp-admin-password', true);
    return { ...server, adminToken: admin.token };
  } catch (err) {
    await server.stop();
    throw err;
  } finally {
    client.close();
  }
}

/** Our service, started in this process on a private database (as the other benches do): `--ours in-process`. */
export async function startOurs(): Promise<Target> {
  const stack = await startStack({ LOG_LEVEL: 'silent' });
  return withAdmin(
    {
      name: 'ours (in-process)',
      baseUrl: stack.baseUrl,
      serverName: stack.config.serverName,
      databaseUrl: stack.app.databaseUrl,
      analyze: () => analyzeDatabase(stack.app.databaseUrl),
      stop: () => stack.stop(),
    },
    SHARED_SECRET,
  );
}

/** How our service runs for a comparison: in the bench's own process, or as processes of its own. */
export interface OursLayout {
  /** In the bench's process (shares its event loop with the load generator), as the other benches run. */
  inProcess: boolean;
  /** `WORKERS` and `GATEWAY_WORKERS` of the service processes (separate processes only). */
  workers: number;
  gatewayWorkers: number;
}

/** The label of a layout in the results (`ours` for the default layout: one process of its own). */
export function oursName(l: OursLayout): string {
  if (l.inProcess) return 'ours (in-process)';
  if (l.workers === 1 && l.gatewayWorkers === 0) return 'ours';
  return `ours (WORKERS=${l.workers}${l.gatewayWorkers ? `, GATEWAY_WORKERS=${l.gatewayWorkers}` : ''})`;
}

/**
 * Our service as `npm start` runs it (`src/main.ts`, its own processes, like the other server), on
 * a private database and Redis key prefix, with the given layout.
 */
export async function startOursProcess(layout: OursLayout): Promise<Target> {
  const dbName = await createDatabase();
  const databaseUrl = dbUrl(dbName);
  let service;
  try {
    service = await spawnService({
      DATABASE_URL: databaseUrl,
      REDIS_URL: TEST_REDIS_URL,
      REDIS_KEY_PREFIX: `sra-compare-${randomBytes(4).toString('hex')}:`,
      SERVER_NAME: 'test',
      REGISTRATION_SHARED_SECRET: SHARED_SECRET,
      WORKERS: String(layout.workers),
      GATEWAY_WORKERS: String(layout.gatewayWorkers),
    });
  } catch (err) {
    await dropDatabase(dbName);
    throw err;
  }
  const child = service.child;
  const stop = async () => {
    if (child.exitCode === null) {
      child.kill('SIGTERM');
      await service.exited;
    }
    await dropDatabase(dbName);
  };
  const baseUrl = `http://127.0.0.1:${service.httpPort}`;
  return withAdmin(
    { name: oursName(layout), baseUrl, serverName: 'test', databaseUrl, analyze: () => analyzeDatabase(databaseUrl), stop },
    SHARED_SECRET,
  );
}

/** A server that is already running; nothing is started or stopped. */
export async function remoteTarget(name: string, baseUrl: string, adminToken: string): Promise<Target> {
  const url = baseUrl.replace(/\/+$/, '');
  return { name, baseUrl: url, adminToken, serverName: await serverNameOf(url, adminToken), stop: async () => {} };
}

/** The folder holding start.sh/stop.sh of the reference Synapse. */
function synapseRefTools(ref: string): string {
  const candidates = [
    process.env.SYNAPSE_REF_TOOLS,
    ref,
    resolve(__dirname, '../../../shared/tools/synapse-ref'),
    resolve(__dirname, '../../../../shared/tools/synapse-ref'),
  ];
  const found = candidates.find((d): d is string => !!d && existsSync(join(d, 'start.sh')) && existsSync(join(d, 'stop.sh')));
  if (!found)
    throw new Error(
      `start.sh/stop.sh of the reference Synapse not found (set SYNAPSE_REF_TOOLS); looked in ${candidates.filter(Boolean).join(', ')}`,
    );
  return found;
}

function runScript(script: string, args: string[], env: Record<string, string>, until?: RegExp): Promise<string> {
  return new Promise((ok, ko) => {
    const child = spawn('bash', [script, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    const onData = (c: Buffer) => {
      out += c.toString();
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('error', ko);
    child.on('exit', (code) =>
      code === 0 && (!until || until.test(out))
        ? ok(out)
        : ko(new Error(`${script} ${args.join(' ')} exited ${code}: ${out.slice(-2000)}`)),
    );
  });
}

/** The registration shared secret the synapse-ref scripts configure. */
export const SYNAPSE_REF_SECRET = 'accept-shared-secret';

/** A fresh reference Synapse from `$SYNAPSE_REF` on `port` (its own database, dropped by stop). */
export async function startSynapseRef(ref: string, port: number): Promise<Target> {
  const tools = synapseRefTools(ref);
  const env = { SYNAPSE_REF: ref, LOG_LEVEL: process.env.SYNAPSE_LOG_LEVEL ?? 'WARNING', SERVER_NAME: 'test' };
  const stop = async () => {
    await runScript(join(tools, 'stop.sh'), [String(port)], env);
  };
  await runScript(join(tools, 'start.sh'), [String(port)], env, /READY http/);
  return withAdmin(
    {
      name: 'synapse',
      baseUrl: `http://127.0.0.1:${port}`,
      serverName: 'test',
      analyze: () => analyzeDatabase(dbUrl(`synapse_ref_${port}`)),
      stop,
    },
    SYNAPSE_REF_SECRET,
  );
}
