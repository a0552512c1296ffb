/**
 * Test stacks: the production composition root started on a private PostgreSQL database (created
 * per stack, dropped afterwards), a private Redis key prefix, and random ports. Nothing is mocked.
 */
import { randomBytes, createHmac } from 'node:crypto';
import * as grpc from '@grpc/grpc-js';
import { Client as PgClient } from 'pg';
import { loadConfig, type Config } from '../../src/config';
import { startApp, type App } from '../../src/app';
import type { DestinationStream } from 'pino';
import { createLogger, type Logger } from '../../src/logger';
import { createClients, type Clients } from '../../src/gateway/grpc-clients';

export const PG_ADMIN_URL = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
export const TEST_REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
export const SHARED_SECRET = 'test-shared-secret';

export interface Stack {
  app: App;
  config: Config;
  baseUrl: string;
  grpcAddress: string;
  clients: Clients;
  dbName: string;
  stop(): Promise<void>;
}

export function dbUrl(dbName: string): string {
  const u = new URL(PG_ADMIN_URL);
  u.pathname = `/${dbName}`;
  return u.toString();
}

export async function withPgAdmin<T>(fn: (c: PgClient) => Promise<T>): Promise<T> {
  const c = new PgClient({ connectionString: PG_ADMIN_URL });
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}

export async function createDatabase(): Promise<string> {
  const name = `sra_test_${process.pid}_${randomBytes(4).toString('hex')}`;
  await withPgAdmin((c) => c.query(`CREATE DATABASE ${name}`));
  return name;
}

export async function dropDatabase(name: string): Promise<void> {
  await withPgAdmin((c) => c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`));
}

/**
 * Starts a full stack; `env` overrides configuration variables. With `shareDatabaseWith`, the
 * stack is a second instance of the same deployment (same database and Redis prefix, which the
 * first stack owns and drops). `logDestination` receives the log lines (stdout by default).
 */
export async function startStack(
  env: Record<string, string> = {},
  opts: { shareDatabaseWith?: Stack; logDestination?: DestinationStream; log?: Logger } = {},
): Promise<Stack> {
  const shared = opts.shareDatabaseWith;
  const dbName = shared ? shared.dbName : await createDatabase();
  const config = loadConfig({
    DATABASE_URL: dbUrl(dbName),
    REDIS_URL: TEST_REDIS_URL,
    REDIS_KEY_PREFIX: shared ? shared.config.redisKeyPrefix : `sra-test-${randomBytes(4).toString('hex')}:`,
    SERVER_NAME: 'test',
    HTTP_PORT: '0',
    HTTP_HOST: '127.0.0.1',
    GRPC_PORT: '0',
    GRPC_HOST: '127.0.0.1',
    REGISTRATION_SHARED_SECRET: SHARED_SECRET,
    INSTANCE_NAME: `test-${process.pid}${shared ? `-${randomBytes(2).toString('hex')}` : ''}`,
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent',
    // Shadow-banned users' requests answer at once (tests that check the wait set their own).
    SHADOW_BAN_MAX_DELAY: '0',
    // Passwords hashed at the lowest cost the setting allows (16× cheaper than the default): tests
    // register and log in hundreds of users, and the cost is not what they test.
    PASSWORD_HASH_COST: '10',
    // No vacuum or analyze at moments of the service's choosing: a test's plans stay those of the
    // statistics it made (table-upkeep.test.ts runs the upkeep itself).
    TABLE_UPKEEP: 'off',
    ...env,
  });
  const app = await startApp(config, opts.log ?? createLogger(config.logLevel, {}, opts.logDestination));
  const grpcAddress = `127.0.0.1:${app.grpcPort}`;
  const clients = createClients(grpcAddress);
  return {
    app,
    config,
    baseUrl: `http://127.0.0.1:${app.httpPort}`,
    grpcAddress,
    clients,
    dbName,
    async stop() {
      clients.close();
      await app.stop();
      if (!shared) await dropDatabase(dbName);
    },
  };
}

export interface HttpResult {
  status: number;
  body: any;
  headers: Headers;
}

export interface HttpOptions {
  token?: string;
  body?: unknown;
  /** Sent verbatim (for malformed-JSON tests). */
  rawBody?: string;
  headers?: Record<string, string>;
}

/** A REST call over real HTTP. `path` is sent as given (encode ids yourself). */
export async function http(stack: Stack, method: string, path: string, opts: HttpOptions = {}): Promise<HttpResult> {
  const headers: Record<string, string> = { ...opts.headers };
  if (opts.token) headers.authorization = `Bearer ${opts.token}`;
  let body: string | undefined = opts.rawBody;
  if (opts.body !== undefined) {
    body = JSON.stringify(opts.body);
    headers['content-type'] = 'application/json';
  }
  const res = await fetch(stack.baseUrl + path, { method, headers, body });
  const text = await res.text();
  let parsed: unknown = text;
  try {
    parsed = text ? JSON.parse(text) : undefined;
  } catch {
    /* plain text answers (e.g. /health) */
  }
  return { status: res.status, body: parsed, headers: res.headers };
}

export interface TestUser {
  userId: string;
  token: string;
  deviceId: string;
}

/** Registers a user through shared-secret registration (the documented bootstrap path). */
export async function registerUser(stack: Stack, localpart: string, opts: { admin?: boolean; password?: string } = {}): Promise<TestUser> {
  const { body: n } = await http(stack, 'GET', '/_synapse/admin/v1/register');
  const password = opts.password ?? 'pass';
  const mac = createHmac('sha1', SHARED_SECRET)
    .update(`${n.nonce}\0${localpart}\0${password}\0${opts.admin ? 'admin' : 'notadmin'}`)
    .digest('hex');
  const res = await http(stack, 'POST', '/_synapse/admin/v1/register', {
    body: { nonce: n.nonce, username: localpart, password, admin: !!opts.admin, mac },
  });
  if (res.status !== 200) throw new Error(`register ${localpart}: ${res.status} ${JSON.stringify(res.body)}`);
  return { userId: res.body.user_id, token: res.body.access_token, deviceId: res.body.device_id };
}

/** gRPC metadata carrying a bearer token. */
export function bearer(token: string): grpc.Metadata {
  const md = new grpc.Metadata();
  md.set('authorization', `Bearer ${token}`);
  return md;
}

/** Promise wrapper for a generated unary client method. */
export function grpcCall<Req, Res>(
  client: grpc.Client,
  method: (
    req: Req,
    md: grpc.Metadata,
    opts: Partial<grpc.CallOptions>,
    cb: (e: grpc.ServiceError | null, r: Res) => void,
  ) => grpc.ClientUnaryCall,
  req: Req,
  md: grpc.Metadata = new grpc.Metadata(),
): Promise<Res> {
  return new Promise((ok, ko) => method.call(client, req, md, {}, (e, r) => (e ? ko(e) : ok(r))));
}

/** How a gRPC call that must fail was refused: its status, Matrix errcode and message. */
export async function grpcRefusal(call: Promise<unknown>): Promise<{ code: grpc.status; errcode: string; error: string }> {
  try {
    await call;
  } catch (e) {
    const err = e as grpc.ServiceError;
    return { code: err.code, errcode: String(err.metadata.get('matrix-errcode')[0]), error: err.details };
  }
  throw new Error('the call was expected to fail and succeeded');
}

/** A unique localpart per call, so tests sharing a stack never collide. */
let counter = 0;
export function uniq(prefix: string): string {
  counter += 1;
  return `${prefix}${counter}_${randomBytes(3).toString('hex')}`;
}
