/**
 * Side by side with another Synapse-compatible server: one fixed REST workload (seeded users,
 * rooms of 1..K members, a few big rooms), created through the same client and admin calls on each
 * server, then the same reads, writes and destructive jobs, one server at a time. Prints one table
 * (row, the other server's figure, ours, ratio with ours better > 1) and can write the figures as
 * JSON (`--out`) to compare runs later (`--baseline`).
 *
 * Servers: ours is started as `npm start` runs it, processes of its own on a private database (the
 * layout from --workers/--gateway-workers), or in this process with `--ours in-process`. The
 * other one is either given (`--url` + `--token`, or COMPARE_URL + COMPARE_TOKEN), or started from
 * the reference Synapse scripts when SYNAPSE_REF is set (start.sh/stop.sh, server name `test`).
 *
 * Options (defaults in brackets; `--quick` shrinks everything for a smoke run):
 *   --target ours|other|both [both when another server is available, else ours]
 *   --users N [50] --rooms M [300] --members K [50] --big-rooms B [3] --big-messages E [3000] --seed S [21]
 *   --n1 requests per read row at 1 client [200]   --n32 requests per read row at --clients [640]
 *   --clients [32]  --warmup untimed requests per row [20], in a pass over every row before any
 *     is timed, and again right before the row's own timing
 *   --writes createRoom calls [200]  --sends messages [1000] (both with 8 clients)
 *   --setup-concurrency rooms seeded at once [8]  --synapse-port [18008]
 *   --url URL --token TOKEN --name label of that server [synapse]
 *   --ours process|in-process [process]  --workers N [1]  --gateway-workers M [0] (our layout)
 *   --out results.json   --baseline earlier-results.json (figures of a server not measured now)
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { Client as PgClient } from 'pg';
import { readContext, readRows, type ReadRequest, type ReadRow } from './compare/rows';
import { createRoom, join, seed, send, settle, type Seeded } from './compare/seed';
import {
  RestClient,
  oursName,
  remoteTarget,
  startOurs,
  startOursProcess,
  startSynapseRef,
  type OursLayout,
  type Target,
} from './compare/target';
import { FULL_SIZES, QUICK_SIZES, planWorkload, type WorkloadPlan, type WorkloadSizes } from './compare/workload';
import { fmt, measure, settleHeap, table, transportFloor } from './support';

const WRITE_CLIENTS = 8;
const STATUS_POLL_MS = 10;
const enc = encodeURIComponent;

interface Settings {
  sizes: WorkloadSizes;
  n1: number;
  n32: number;
  clients: number;
  warmup: number;
  writes: number;
  sends: number;
  setupConcurrency: number;
  messagePages: number;
}

/** Figures of one row on one server. Latencies in ms. */
export interface RowFigures {
  kind: 'read' | 'write' | 'job';
  /** Latency at 1 client (for a job: its wall time in p50). */
  p50?: number;
  p99?: number;
  /** Requests per second with `clients` clients, and the p99 latency meanwhile. */
  rate?: number;
  rateP99?: number;
  clients?: number;
  skipped?: string;
  error?: string;
}

export interface ServerResult {
  name: string;
  baseUrl: string;
  serverVersion?: string;
  seedSeconds: number;
  rows: Record<string, RowFigures>;
  /** Ours only: raw SQL of the equivalent query on our database, p50/p99 ms at 1 client. */
  sql?: Record<string, { p50: number; p99: number }>;
}

export interface CompareOutput {
  startedAt: string;
  settings: Settings;
  /** How our service ran. */
  oursLayout?: OursLayout;
  results: Record<string, ServerResult>;
}

function parseArgs(args: string[]): { flags: Map<string, string>; quick: boolean } {
  const flags = new Map<string, string>();
  let quick = false;
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (!a.startsWith('--')) throw new Error(`unexpected argument ${a}`);
    const key = a.slice(2);
    if (key === 'quick') quick = true;
    else {
      const value = args[++i];
      if (value === undefined) throw new Error(`${a} needs a value`);
      flags.set(key, value);
    }
  }
  return { flags, quick };
}

function settingsFrom(flags: Map<string, string>, quick: boolean): Settings {
  const num = (key: string, def: number) => {
    const v = flags.get(key);
    if (v === undefined) return def;
    const n = Number(v);
    if (!Number.isInteger(n) || n < 0) throw new Error(`--${key} must be a non-negative integer, got ${v}`);
    return n;
  };
  const base = quick ? QUICK_SIZES : FULL_SIZES;
  const sizes: WorkloadSizes = {
    ...base,
    users: num('users', base.users),
    rooms: num('rooms', base.rooms),
    maxMembers: num('members', base.maxMembers),
    bigRooms: num('big-rooms', base.bigRooms),
    bigRoomMessages: num('big-messages', base.bigRoomMessages),
    seed: num('seed', base.seed),
  };
  return {
    sizes,
    n1: num('n1', quick ? 20 : 200),
    n32: num('n32', quick ? 64 : 640),
    clients: num('clients', 32),
    warmup: num('warmup', quick ? 5 : 20),
    writes: num('writes', quick ? 16 : 200),
    sends: num('sends', quick ? 40 : 1000),
    setupConcurrency: num('setup-concurrency', 8),
    messagePages: quick ? 3 : 20,
  };
}

const isOk = (status: number) => status >= 200 && status < 300;

function errcodeOf(text: string): string {
  try {
    return (JSON.parse(text) as { errcode?: string }).errcode ?? '';
  } catch {
    return '';
  }
}

/** Sends each distinct request once: a server that does not serve the endpoint gets the row skipped. */
async function probe(c: RestClient, row: ReadRow): Promise<{ skipped?: string; error?: string }> {
  for (const r of row.requests) {
    const a = await c.request(r.method, r.path, row.token, r.body);
    if (isOk(a.status)) continue;
    const errcode = errcodeOf(a.text);
    if ((a.status === 404 || a.status === 405 || a.status === 400) && (errcode === 'M_UNRECOGNIZED' || errcode === ''))
      return { skipped: `not served (${a.status} ${errcode || a.text.slice(0, 40)})` };
    return { error: `${r.method} ${r.path.slice(0, 80)}: ${a.status} ${a.text.slice(0, 160)}` };
  }
  return {};
}

/**
 * One request of a row per call. A non-2xx answer is recorded, not thrown, so the other clients
 * of a timed phase finish their share before the row is marked failed.
 */
function caller(c: RestClient, token: string | undefined, requests: ReadRequest[], failures: string[]): (i: number) => Promise<void> {
  return async (i) => {
    const r = requests[i % requests.length];
    const a = await c.request(r.method, r.path, token, r.body);
    if (!isOk(a.status)) failures.push(`${r.method} ${r.path}: ${a.status} ${a.text.slice(0, 200)}`);
  };
}

/**
 * A row's warm-up requests, untimed (answers not checked: the row's own measurement probes it).
 * Every row is warmed this way before any row is timed, so the first rows timed do not also pay
 * for the server warming up (code being compiled, caches and statement plans being filled) that
 * the later rows find done.
 */
async function warmRead(c: RestClient, row: ReadRow, s: Settings): Promise<void> {
  if ((await probe(c, row)).skipped) return;
  await measure(s.warmup, 1, caller(c, row.token, row.requests, []));
}

async function measureRead(c: RestClient, row: ReadRow, s: Settings): Promise<RowFigures> {
  const p = await probe(c, row);
  if (p.skipped || p.error) return { kind: 'read', ...p };
  const failures: string[] = [];
  const call = caller(c, row.token, row.requests, failures);
  await measure(s.warmup, 1, call);
  const one = await measure(s.n1, 1, call);
  const many = await measure(s.n32, s.clients, call);
  if (failures.length > 0) return { kind: 'read', error: `${failures.length} failed requests, first: ${failures[0].slice(0, 300)}` };
  return { kind: 'read', p50: one.p50, p99: one.p99, rate: many.perSecond, rateP99: many.p99, clients: s.clients };
}

/** createRoom/s and messages/s with WRITE_CLIENTS clients (and the 1-client latency of each). */
async function measureWrites(c: RestClient, seeded: Seeded, s: Settings): Promise<Record<string, RowFigures>> {
  const writers = seeded.users.slice(0, WRITE_CLIENTS);
  const out: Record<string, RowFigures> = {};
  const rooms = (i: number) =>
    createRoom(c, writers[i % writers.length], {
      name: `write room ${i}`,
      topic: null,
      alias: null,
      preset: 'private_chat',
      directory: false,
    });
  const one = await measure(Math.max(1, Math.floor(s.writes / 4)), 1, rooms);
  const many = await measure(s.writes, writers.length, (i) => rooms(i + s.writes));
  out[`createRoom (${writers.length} clients)`] = {
    kind: 'write',
    p50: one.p50,
    p99: one.p99,
    rate: many.perSecond,
    rateP99: many.p99,
    clients: writers.length,
  };
  const roomId = await createRoom(c, writers[0], {
    name: 'write messages',
    topic: null,
    alias: null,
    preset: 'public_chat',
    directory: false,
  });
  for (const w of writers.slice(1)) await join(c, roomId, writers[0], w, false);
  const sendOne = (i: number) => send(c, roomId, writers[i % writers.length], 'm.text', `message ${i}`);
  const oneM = await measure(Math.max(1, Math.floor(s.sends / 4)), 1, sendOne);
  const manyM = await measure(s.sends, writers.length, sendOne);
  out[`send message (${writers.length} senders)`] = {
    kind: 'write',
    p50: oneM.p50,
    p99: oneM.p99,
    rate: manyM.perSecond,
    rateP99: manyM.p99,
    clients: writers.length,
  };
  return out;
}

async function pollUntil(c: RestClient, path: string, token: string, done: (status: string) => boolean): Promise<string> {
  for (;;) {
    const { status } = await c.json<{ status: string }>('GET', path, token);
    if (done(status)) return status;
    await new Promise((ok) => setTimeout(ok, STATUS_POLL_MS));
  }
}

/** purge_history of 5/6 of the second big room, and a v2 delete (purge) of the third: wall times. */
async function measureJobs(c: RestClient, t: Target, plan: WorkloadPlan, seeded: Seeded): Promise<Record<string, RowFigures>> {
  const big = plan.rooms.map((r, i) => (r.big ? i : -1)).filter((i) => i >= 0);
  const E = plan.sizes.bigRoomMessages;
  const purgeRow = `purge_history ${Math.floor((E * 5) / 6)} of ${E} messages (wall)`;
  const deleteRow = `v2 delete + purge, ${E} messages, ${plan.rooms[big[2]]?.members.length ?? 0} members (wall)`;
  if (big.length < 3 || E < 6)
    return {
      [purgeRow]: { kind: 'job', skipped: 'needs 3 big rooms of 6+ messages' },
      [deleteRow]: { kind: 'job', skipped: 'needs 3 big rooms of 6+ messages' },
    };
  const out: Record<string, RowFigures> = {};
  try {
    const room = seeded.rooms[big[1]];
    const upTo = room.messageIds[Math.floor((room.messageIds.length * 5) / 6)];
    const t0 = process.hrtime.bigint();
    const { purge_id } = await c.json<{ purge_id: string }>('POST', `/_synapse/admin/v1/purge_history/${enc(room.roomId)}`, t.adminToken, {
      delete_local_events: true,
      purge_up_to_event_id: upTo,
    });
    const status = await pollUntil(
      c,
      `/_synapse/admin/v1/purge_history_status/${enc(purge_id)}`,
      t.adminToken,
      (st) => st === 'complete' || st === 'failed',
    );
    const wall = Number(process.hrtime.bigint() - t0) / 1e6;
    out[purgeRow] = status === 'complete' ? { kind: 'job', p50: wall } : { kind: 'job', error: `purge ${status}` };
  } catch (err) {
    out[purgeRow] = { kind: 'job', error: (err as Error).message.slice(0, 300) };
  }
  try {
    const room = seeded.rooms[big[2]];
    const t0 = process.hrtime.bigint();
    const { delete_id } = await c.json<{ delete_id: string }>('DELETE', `/_synapse/admin/v2/rooms/${enc(room.roomId)}`, t.adminToken, {
      purge: true,
    });
    const status = await pollUntil(
      c,
      `/_synapse/admin/v2/rooms/delete_status/${enc(delete_id)}`,
      t.adminToken,
      (st) => st === 'complete' || st === 'failed',
    );
    const wall = Number(process.hrtime.bigint() - t0) / 1e6;
    const after = await c.request('GET', `/_synapse/admin/v1/rooms/${enc(room.roomId)}`, t.adminToken);
    if (status !== 'complete') out[deleteRow] = { kind: 'job', error: `delete ${status}` };
    else if (after.status !== 404)
      out[deleteRow] = { kind: 'job', error: `room details after the delete answered ${after.status}, not 404` };
    else out[deleteRow] = { kind: 'job', p50: wall };
  } catch (err) {
    out[deleteRow] = { kind: 'job', error: (err as Error).message.slice(0, 300) };
  }
  return out;
}

const EVENT_COLUMNS = `event_id, room_id, type, state_key, sender, content, origin_server_ts, received_ts, depth, stream_ordering, prev_events,
  auth_events, redacts, replaces_state, outlier, rejected_reason, soft_failed, redacted_by, txn_scope, txn_id`;

/**
 * The raw SQL of two reads on our database, timed in the same run: a 100-event /messages page of
 * the first big room from each pagination position the REST rows use, and a rooms-list page
 * ordered by name with the count of the listing.
 */
async function measureSql(
  databaseUrl: string,
  plan: WorkloadPlan,
  seeded: Seeded,
  pageTokens: string[],
  s: Settings,
): Promise<Record<string, { p50: number; p99: number }>> {
  const pg = new PgClient({ connectionString: databaseUrl });
  await pg.connect();
  try {
    const roomId = seeded.rooms[plan.rooms.findIndex((r) => r.big)].roomId;
    const base = [
      'room_id = $1',
      'NOT outlier',
      'rejected_reason IS NULL',
      'NOT soft_failed',
      `type <> ALL('{org.matrix.dummy_event,m.room.aliases}')`,
    ];
    const positions = [
      null,
      ...pageTokens
        .map((tok) => /^t(\d+)-(\d+)/.exec(tok))
        .filter((m): m is RegExpExecArray => !!m)
        .map((m) => [Number(m[1]), Number(m[2])]),
    ];
    const page = (i: number) => {
      const p = positions[i % positions.length];
      const conds = p ? [...base, '(depth, stream_ordering) <= ($2, $3)'] : base;
      return pg.query(
        `SELECT ${EVENT_COLUMNS} FROM events WHERE ${conds.join(' AND ')} ORDER BY depth DESC, stream_ordering DESC LIMIT 100`,
        p ? [roomId, p[0], p[1]] : [roomId],
      );
    };
    const list = async () => {
      await pg.query(
        `SELECT room_id, name, canonical_alias, joined_members, joined_local_members, room_version, creator, encryption, federatable, is_public, join_rules, guest_access, history_visibility, state_events, room_type FROM room_stats ORDER BY name ASC, room_id ASC LIMIT 100 OFFSET 0`,
      );
      await pg.query('SELECT count(*) FROM room_stats');
    };
    await measure(s.warmup, 1, page);
    await measure(s.warmup, 1, list);
    const m = await measure(s.n1, 1, page);
    const l = await measure(s.n1, 1, list);
    return {
      '/messages 100 (first big room)': { p50: m.p50, p99: m.p99 },
      'rooms list limit=100 order name (page + count)': { p50: l.p50, p99: l.p99 },
    };
  } finally {
    await pg.end();
  }
}

async function runOn(start: () => Promise<Target>, plan: WorkloadPlan, s: Settings): Promise<ServerResult> {
  const t = await start();
  const c = new RestClient(t.baseUrl, Math.max(s.clients, s.setupConcurrency * 4, WRITE_CLIENTS));
  try {
    const version = await c.request('GET', '/_synapse/admin/v1/server_version');
    process.stdout.write(
      `\n[${t.name}] ${t.baseUrl} (server name ${t.serverName}): seeding ${plan.users.length} users, ${plan.rooms.length} rooms...\n`,
    );
    const t0 = Date.now();
    let last = 0;
    const seeded = await seed(c, t, plan, s.setupConcurrency, (done, total) => {
      if (Date.now() - last > 5000 || done === total) {
        last = Date.now();
        process.stdout.write(`  ${done}/${total} rooms\n`);
      }
    });
    const seedSeconds = (Date.now() - t0) / 1000;
    await settle(c, t, plan.rooms.length);
    await t.analyze?.();
    const ctx = await readContext(c, plan, seeded, s.messagePages);
    const rows: Record<string, RowFigures> = {};
    const reads = readRows(t, plan, seeded, ctx);
    for (const row of reads) await warmRead(c, row, s);
    settleHeap();
    for (const row of reads) {
      rows[row.name] = await measureRead(c, row, s);
      const f = rows[row.name];
      process.stdout.write(
        `  ${row.name}: ${f.skipped ? `skipped, ${f.skipped}` : f.error ? `ERROR ${f.error}` : `p50 ${fmt(f.p50!)} ms, ${fmt(f.rate!, 0)} req/s at ${f.clients}`}\n`,
      );
    }
    const sql = t.databaseUrl ? await measureSql(t.databaseUrl, plan, seeded, ctx.pageTokens, s) : undefined;
    Object.assign(rows, await measureWrites(c, seeded, s));
    Object.assign(rows, await measureJobs(c, t, plan, seeded));
    return {
      name: t.name,
      baseUrl: t.baseUrl,
      serverVersion: isOk(version.status) ? (JSON.parse(version.text) as { server_version?: string }).server_version : undefined,
      seedSeconds,
      rows,
      sql,
    };
  } finally {
    c.close();
    await t.stop();
  }
}

const ms = (f?: RowFigures) =>
  !f
    ? '—'
    : f.skipped
      ? 'skipped'
      : f.error
        ? 'error'
        : f.p50 === undefined
          ? '—'
          : f.p99 === undefined
            ? fmt(f.p50, 1)
            : `${fmt(f.p50)} / ${fmt(f.p99)}`;
const rate = (f?: RowFigures) => (!f || f.rate === undefined ? '—' : `${fmt(f.rate, 0)} (${fmt(f.rateP99!, 1)})`);
const ratio = (a?: number, b?: number) => (a === undefined || b === undefined || b === 0 ? '—' : `${fmt(a / b, 1)}×`);

/** The table: other server and ours side by side; ratios > 1 when ours is better. */
export function printComparison(out: CompareOutput, otherName: string | undefined): void {
  const ours = out.results.ours;
  const other = otherName ? out.results[otherName] : undefined;
  const names = [...new Set([...Object.keys(other?.rows ?? {}), ...Object.keys(ours?.rows ?? {})])];
  const kindOrder = { read: 2, write: 0, job: 1 } as const;
  const kindOf = (n: string) => (ours?.rows[n] ?? other?.rows[n])!.kind;
  names.sort((a, b) => kindOrder[kindOf(a)] - kindOrder[kindOf(b)]);
  const o = otherName ?? 'other';
  const rows = names.map((n) => {
    const a = other?.rows[n];
    const b = ours?.rows[n];
    return {
      row: n,
      [`${o} 1 client p50/p99 ms`]: ms(a),
      'ours 1 client p50/p99 ms': ms(b),
      'p50 ratio': ratio(a?.p50, b?.p50),
      [`${o} req/s (p99 ms)`]: rate(a),
      'ours req/s (p99 ms)': rate(b),
      'req/s ratio': ratio(b?.rate, a?.rate),
    };
  });
  table(
    `side by side (writes at ${WRITE_CLIENTS} clients, reads at 1 and ${out.settings.clients} clients; jobs: wall ms in the p50 column; ratio > 1: ours better)`,
    rows,
  );
  const notes = names.flatMap((n) =>
    [other, ours].flatMap((r) => {
      const f = r?.rows[n];
      return f?.skipped ? [`  ${r!.name}: ${n}: skipped, ${f.skipped}`] : f?.error ? [`  ${r!.name}: ${n}: ERROR ${f.error}`] : [];
    }),
  );
  if (notes.length) process.stdout.write(`\nskipped / failed rows:\n${notes.join('\n')}\n`);
  if (ours?.sql) {
    const rest = (n: string) => ours.rows[n]?.p50;
    const lines = [
      ['/messages 100 (first big room)', 'client /messages 100'],
      ['rooms list limit=100 order name (page + count)', 'rooms list ?limit=100 order name'],
    ].map(([sqlName, restName]) => {
      const q = ours.sql![sqlName];
      const r = rest(restName);
      return `  ${sqlName}: raw SQL p50 ${fmt(q.p50)} ms, p99 ${fmt(q.p99)} ms; REST p50 ${r === undefined ? '—' : fmt(r)} ms (REST/SQL ${r === undefined ? '—' : fmt(r / q.p50, 1)})`;
    });
    process.stdout.write(`\nour database, same run:\n${lines.join('\n')}\n`);
  }
  for (const r of [other, ours])
    if (r)
      process.stdout.write(`${r.name}: ${r.baseUrl}, server_version ${r.serverVersion ?? '?'}, seeded in ${fmt(r.seedSeconds, 1)} s\n`);
}

export async function run(args: string[]): Promise<void> {
  const { flags, quick } = parseArgs(args);
  const s = settingsFrom(flags, quick);
  const url = flags.get('url') ?? process.env.COMPARE_URL;
  const token = flags.get('token') ?? process.env.COMPARE_TOKEN;
  const ref = process.env.SYNAPSE_REF;
  if (url && !token) throw new Error('--url needs --token (or COMPARE_TOKEN): an admin access token on that server');
  const otherName = url ? (flags.get('name') ?? 'synapse') : ref ? 'synapse' : undefined;
  const startOther = url
    ? () => remoteTarget(otherName!, url, token!)
    : ref
      ? () => startSynapseRef(ref, Number(flags.get('synapse-port') ?? 18008))
      : undefined;
  const which = flags.get('target') ?? (startOther ? 'both' : 'ours');
  if (!['ours', 'other', 'both'].includes(which)) throw new Error('--target is ours, other or both');
  if (which !== 'ours' && !startOther) throw new Error('no other server: give --url and --token, or set SYNAPSE_REF');
  const mode = flags.get('ours') ?? 'process';
  if (!['process', 'in-process'].includes(mode)) throw new Error('--ours is process or in-process');
  const layout: OursLayout = {
    inProcess: mode === 'in-process',
    workers: Number(flags.get('workers') ?? 1),
    gatewayWorkers: Number(flags.get('gateway-workers') ?? 0),
  };
  if (!Number.isInteger(layout.workers) || layout.workers < 1 || !Number.isInteger(layout.gatewayWorkers) || layout.gatewayWorkers < 0)
    throw new Error('--workers is at least 1 and --gateway-workers at least 0');
  const plan = planWorkload(s.sizes);
  const out: CompareOutput = { startedAt: new Date().toISOString(), settings: s, oursLayout: layout, results: {} };
  const baseline = flags.get('baseline');
  if (baseline) {
    const earlier = JSON.parse(readFileSync(baseline, 'utf8')) as CompareOutput;
    if (JSON.stringify(earlier.settings) !== JSON.stringify(s))
      process.stdout.write(`warning: ${baseline} was measured with other settings: ${JSON.stringify(earlier.settings)}\n`);
    Object.assign(out.results, earlier.results);
  }
  if (which !== 'ours') out.results[otherName!] = await runOn(startOther!, plan, s);
  if (which !== 'other') out.results.ours = await runOn(layout.inProcess ? startOurs : () => startOursProcess(layout), plan, s);
  if (which !== 'other') process.stdout.write(`\nours ran as: ${oursName(layout)}\n`);
  const floor = await transportFloor(s.n1, 45_000, s.clients);
  printComparison(out, otherName ?? Object.keys(out.results).find((n) => n !== 'ours'));
  process.stdout.write(
    `bare node transport floor (http → one grpc-js call → reply, no work): small p50 ${fmt(floor.small.p50)} ms, 45 kB p50 ${fmt(floor.large.p50)} ms` +
      `${floor.smallAt ? `; small at ${s.clients} clients ${fmt(floor.smallAt.perSecond, 0)} req/s (load generator in the same process)` : ''}\n`,
  );
  const file = flags.get('out');
  if (file) {
    writeFileSync(file, `${JSON.stringify(out, null, 2)}\n`);
    process.stdout.write(`figures written to ${file}\n`);
  }
}
